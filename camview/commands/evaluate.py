"""`camview evaluate`: the command. It checks the arguments, runs camview.sets.evaluation over the
set with a progress bar, and writes the JSON and the HTML report; the work is the core's."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from camview.commands.args import read_files
from camview.commands.progress import Progress
from camview.drawing.output_files import atomic_file, check_writable
from camview.drawing.overlay import OverlayStyle
from camview.drawing.writers import finish_each
from camview.errors import CamviewError, OutputError, SourceError
from camview.maps import CAM, DEFAULT_METHOD, Method, make_method, method_class
from camview.models import DEFAULT_MODEL, CamModel, known_head, load_model
from camview.sets.dataset import (
    LabelledSet,
    listed_files,
    name_classes_from_folders,
    open_labelled_set,
)
from camview.sets.evaluation import Tally, evaluate_set, explain_mistake
from camview.sets.results import ResultCache, result_json
from camview.sets.versus import Versus, versus_method_for

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The command


def check_request(args: argparse.Namespace) -> None:
    """Faults found from the arguments alone, before a model is loaded."""
    if args.batch < 1:
        raise CamviewError(f"--batch must be at least 1, not {args.batch}")
    if args.max_mistakes < 0:
        raise CamviewError(f"--max-mistakes must be 0 or more, not {args.max_mistakes}")
    for flag, value in (("--versus-labels", args.versus_labels),
                        ("--versus-preprocess", args.versus_preprocess)):
        if value is not None and not args.versus:
            raise CamviewError(f"{flag} is for the --versus model: give --versus MODEL too")
    if not Path(args.dataset).exists():
        raise SourceError(f"dataset {args.dataset}: no such folder or file")
    if args.report and method_class(args.method or "cam") is CAM:
        name = args.model or DEFAULT_MODEL
        CAM.check_head(name, known_head(name))
    if getattr(args, "metrics", None):
        from camview.commands.args import method_list

        for name in method_list(args.metrics):
            method_class(name)  # an unknown method: one line now, not after the set
    given = [(flag, p) for flag, p in (("--json", args.json), ("--report", args.report)) if p]
    if len(given) == 2 and Path(given[0][1]).resolve() == Path(given[1][1]).resolve():
        raise OutputError(f"--json and --report are both {args.json}: give two names")
    inputs = (args.dataset, *listed_files(args.dataset), *read_files(args))
    for _, out in given:
        check_writable(out, inputs=inputs, folder=False)


_NUMBER_LIST = re.compile(r"\[\s*((?:-?[0-9.e+-]+|null)(?:,\s*(?:-?[0-9.e+-]+|null))*)\s*\]")


def compact_numbers(text: str) -> str:
    """Indented JSON with each innermost list of numbers on one line (a 16x16 grid is 16
    lines, not 272)."""
    return _NUMBER_LIST.sub(
        lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)


def write_json(path: str | Path, model: CamModel, dataset: str, tally: Tally,
               set_scores: dict | None = None, versus: Versus | None = None) -> None:
    """The summary and one entry per image, in set order. The entries are written one by one,
    so a 10 000-image set never has its whole document in memory as text."""
    tally.finish_views()
    doc = tally.summary(model, dataset)
    if set_scores is not None:  # --metrics
        doc["metrics"] = set_scores
    if versus is not None:
        doc["versus"] = versus.summary(tally.results)
    head = compact_numbers(json.dumps(doc, indent=1, allow_nan=False))[:-2]  # no closing "\n}"
    points = tally.embedding_points() if tally.embedding is not None else None
    try:
        with atomic_file(path) as f:
            f.write(head + ',\n "images": [')
            for n, r in enumerate(tally.results):
                entry = result_json(model, r)
                if points is not None and np.isfinite(points[n, 0]):
                    entry["embedding"] = [round(float(v), 5) for v in points[n]]
                if versus is not None:
                    entry["versus_top"] = versus.top_json(n)
                f.write(("," if n else "") + "\n  " + json.dumps(entry, allow_nan=False))
            f.write("\n ]\n}\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_report_for(path: str, model: CamModel, method: Method, dataset: LabelledSet,
                     tally: Tally, set_scores: dict | None = None,
                     titles: dict[str, str] | None = None, versus: Versus | None = None,
                     versus_method: Method | None = None) -> None:
    from camview.sets.report import MistakeCard, image_tag, set_scores_html, write_report

    ranked = tally.ranked_mistakes()
    tally.finish_views()
    summary = tally.summary(model, dataset.name)

    def cards() -> Iterator[MistakeCard]:
        for rank, r in enumerate(ranked, 1):
            views = explain_mistake(model, method, r)
            yield MistakeCard(
                rank=rank, path=str(r.path), name=r.path.name,
                predicted=model.short_label(r.predicted), predicted_prob=r.confidence,
                true=model.short_label(r.true), true_prob=r.true_prob, photo=views.photo,
                predicted_map=views.predicted, true_map=views.true, problem=views.problem,
                top=[(model.short_label(i), p) for i, p in r.top])

    after: Iterator[str] = iter(())
    if versus is not None:
        summary["versus"] = versus.summary(tally.results)
        after = iter([versus_section(model, method, versus, versus_method or method, tally,
                                     summary, image_tag)])
    style = OverlayStyle()  # what explain_mistake draws with: the legend says its colours
    write_report(path, summary, method_title=method.title,
                 cards=cards(), shown=len(ranked), mistakes=tally.mistakes,
                 problems=[(str(r.path), r.problem) for r in tally.problems],
                 skipped=dataset.warnings, colormap=style.colormap, threshold=style.threshold,
                 extra_html=set_scores_html(set_scores, titles or {}) if set_scores else "",
                 views=set_view_sections(model, tally, summary, ranked, image_tag),
                 after=after)


def set_view_sections(model: CamModel, tally: Tally, summary: dict, ranked, image_tag
                      ) -> Iterator[str]:
    """The report's sections on the set as a whole: the scatter, the confusion matrix and
    where each class looks (the last two need no views for the matrix)."""
    from camview.sets.report_views import (
        Point,
        WhereCard,
        confusion_html,
        scatter_html,
        where_picture,
    )

    if tally.embedding is not None:
        cards = {r.index: rank for rank, r in enumerate(ranked, 1)}
        points = tally.embedding_points()
        yield scatter_html(
            [Point(float(points[n, 0]), float(points[n, 1]), r.path.name, r.true,
                   model.short_label(r.true), model.short_label(r.predicted), r.confidence,
                   not r.correct, cards.get(r.index))
             for n, r in enumerate(tally.results) if np.isfinite(points[n, 0])],
            summary["embedding"], {c: model.short_label(c) for c in tally.per_class})
    yield confusion_html(summary["confusion"])
    if "classes" in summary:
        from camview.sets.report_views import where_html

        where = []
        for c in summary["classes"]:
            if c["where"] is None:
                continue
            mean = tally.where.mean_image(c["index"])
            grid = np.asarray(c["where"]["grid"], np.float32)
            picture = None if mean is None else where_picture(mean, grid)
            where.append(WhereCard(c["label"], c["where"]["images"], c["where"], c["flag"],
                                   picture))
        yield where_html(where, image_tag)


def versus_section(model: CamModel, method: Method, versus: Versus, versus_method: Method,
                   tally: Tally, summary: dict, image_tag) -> str:
    from camview.sets.report_views import DifferenceCard, versus_html

    second = versus.second

    def cards() -> Iterator[DifferenceCard]:
        for d in versus.differences(tally.results, tally.max_mistakes):
            a = explain_mistake(model, method, d.first)
            b = explain_mistake(second, versus_method, d.second)
            yield DifferenceCard(
                d.first.path.name, str(d.first.path), model.short_label(d.first.true),
                (model.short_label(d.first.predicted), d.first.confidence, d.first.correct),
                (second.short_label(d.second.predicted), d.second.confidence,
                 d.second.correct), a.photo, a.predicted, b.predicted)

    return versus_html(model.name, summary["accuracy"], summary["versus"], cards(), image_tag)


def load_versus(args: argparse.Namespace) -> CamModel | None:
    """The --versus model, loaded before any work: a model that cannot be loaded is one line
    and exit 2 with nothing written."""
    if not args.versus:
        return None
    kwargs = {k: v for k, v in (("labels", args.versus_labels),
                                ("preprocess", args.versus_preprocess)) if v is not None}
    return load_model(args.versus, **kwargs)


# ---------------------------------------------------------------------------------------------
# --metrics: every listed method's maps scored on every image (issue 18)


def score_methods(args: argparse.Namespace, model: CamModel) -> list[Method]:
    """The --metrics methods, built (an unknown name or an unusable one: one line, exit 2)."""
    from camview.commands.args import method_list

    names = method_list(args.metrics) or []
    if not names:
        raise CamviewError("--metrics needs method names separated by commas")
    return [make_method(name, model) for name in names]


def run_set_scores(model: CamModel, dataset: LabelledSet, methods: list[Method],
                   show_progress: bool) -> tuple[dict, bool]:
    """The JSON section of --metrics and whether Ctrl+C stopped it (the images done count)."""
    from camview.sets.evaluation import score_set, set_scores_json

    progress = Progress(len(dataset), enabled=show_progress and len(dataset) > 1,
                        unit="images scored")
    scored = []
    interrupted = False
    try:
        for item in score_set(model, dataset.images, methods):
            scored.append(item)
            progress.update(len(scored))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.finish(len(scored))
    return set_scores_json(model, scored), interrupted


def run_evaluate(args: argparse.Namespace) -> int:
    from camview.commands.args import model_kwargs

    check_request(args)
    model = load_model(args.model or DEFAULT_MODEL, **model_kwargs(args))
    second = load_versus(args)
    # The model already reads --layer (load_model read_layer=): the method reads its layer.
    method = make_method(args.method or DEFAULT_METHOD, model) if args.report else None
    named = None if args.labels else name_classes_from_folders(model, args.dataset)
    if named:
        print(f"camview: {named}", file=sys.stderr)
    second_method = (versus_method_for(args.method or DEFAULT_METHOD, second)
                     if args.report and second is not None else None)
    dataset = open_labelled_set(args.dataset, model.labels)
    cache = None if args.no_cache else ResultCache.default()
    tally = Tally(args.max_mistakes if args.report else 0)
    versus = None if second is None else Versus(model, second, dataset.images)

    def progress_bar() -> Progress:
        return Progress(len(dataset), enabled=not args.no_progress and len(dataset) > 1,
                        unit="images")

    try:
        interrupted = evaluate_set(model, dataset, tally, batch_size=args.batch, cache=cache,
                                   progress=progress_bar(), views=not args.no_views)
        if versus is not None and not interrupted:
            interrupted = versus.run(batch_size=args.batch, cache=cache,
                                     progress=progress_bar())
    finally:
        if cache is not None:
            cache.close()
    set_scores, titles = None, {}
    if args.metrics and not interrupted:
        scorers = score_methods(args, model)
        titles = {m.name: m.title for m in scorers}
        set_scores, interrupted = run_set_scores(model, dataset, scorers,
                                                 not args.no_progress)
    if versus is not None and interrupted:
        versus = None  # a half-run second model would compare nothing honestly
        log.warning("the --versus model's comparison was cut short and is left out")
    if len(tally.per_class) == 1:
        log.warning("the set has one class: no confusion between classes to show")
    for c in (c for c, (n, _) in tally.per_class.items() if n == 1):
        log.debug("class %s has one image", model.short_label(c))
    problems = tally.problems
    if problems:
        log.warning("%d image(s) could not be read and were skipped, e.g. %s", len(problems),
                    problems[0].problem)
    steps = []
    if args.json:
        steps.append(lambda: write_json(args.json, model, args.dataset, tally, set_scores,
                                        versus))
    if args.report:
        steps.append(lambda: write_report_for(args.report, model, method, dataset, tally,
                                              set_scores, titles, versus, second_method))
    errors = finish_each(steps)
    acc = tally.accuracy()
    print(f"{model.name} on {args.dataset}: top-1 {100 * acc['top1']:.1f} %, top-5 "
          f"{100 * acc['top5']:.1f} % of {tally.count} images, {tally.mistakes} mistakes"
          + (f", {len(problems)} unreadable" if problems else ""))
    if set_scores and set_scores["ranking"]:
        best = set_scores["ranking"][0]
        print(f"for this model, on this set, {titles.get(best, best)}'s maps are the ones its "
              f"output supports best (of {', '.join(set_scores['ranking'])})")
    if versus is not None:
        v = versus.summary(tally.results)
        print(f"{second.name} on {args.dataset}: top-1 {100 * v['accuracy']['top1']:.1f} %, "
              f"agree {100 * v['agree']:.1f} %, only {model.name} right "
              f"{v['only_first_right']}, only {second.name} right {v['only_second_right']}")
    for error in errors[1:]:
        log.error("%s", error)
    if errors:
        raise errors[0]
    if interrupted:
        print(f"camview: stopped after {len(tally.results)} of {len(dataset)} images",
              file=sys.stderr)
        return 130
    return 0
