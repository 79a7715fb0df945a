"""`camview evaluate`: the command. It checks the arguments, runs camview.evaluation over the
set with a progress bar, and writes the JSON and the HTML report; the work is the core's."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from camview.dataset import LabelledSet, keras_class_names, open_labelled_set
from camview.errors import CamviewError, OutputError, SourceError
from camview.evaluation import Tally, evaluate_set, explain_mistake
from camview.maps import CAM, DEFAULT_METHOD, Method, make_method, method_class
from camview.models import DEFAULT_MODEL, CamModel, known_head, load_model
from camview.overlay import OverlayStyle
from camview.progress import Progress
from camview.results import ResultCache, result_json
from camview.writers import atomic_file, check_writable, finish_each

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The command


def check_request(args: argparse.Namespace) -> None:
    """Faults found from the arguments alone, before a model is loaded."""
    if args.batch < 1:
        raise CamviewError(f"--batch must be at least 1, not {args.batch}")
    if args.max_mistakes < 0:
        raise CamviewError(f"--max-mistakes must be 0 or more, not {args.max_mistakes}")
    if not Path(args.dataset).exists():
        raise SourceError(f"dataset {args.dataset}: no such folder or file")
    if args.report and method_class(args.method or "cam") is CAM:
        name = args.model or DEFAULT_MODEL
        CAM.check_head(name, known_head(name))
    if getattr(args, "metrics", None):
        from camview.args import method_list

        for name in method_list(args.metrics):
            method_class(name)  # an unknown method: one line now, not after the set
    given = [(flag, p) for flag, p in (("--json", args.json), ("--report", args.report)) if p]
    if len(given) == 2 and Path(given[0][1]).resolve() == Path(given[1][1]).resolve():
        raise OutputError(f"--json and --report are both {args.json}: give two names")
    for _, out in given:
        check_writable(out, inputs=(args.dataset,), folder=False)


def write_json(path: str | Path, model: CamModel, dataset: str, tally: Tally,
               set_scores: dict | None = None) -> None:
    """The summary and one entry per image, in set order. The entries are written one by one,
    so a 10 000-image set never has its whole document in memory as text."""
    doc = tally.summary(model, dataset)
    if set_scores is not None:  # --metrics
        doc["metrics"] = set_scores
    head = json.dumps(doc, indent=1, allow_nan=False)[:-2]  # without the closing "\n}"
    try:
        with atomic_file(path) as f:
            f.write(head + ',\n "images": [')
            for n, r in enumerate(tally.results):
                f.write(("," if n else "") + "\n  " + json.dumps(result_json(model, r),
                                                                allow_nan=False))
            f.write("\n ]\n}\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_report_for(path: str, model: CamModel, method: Method, dataset: LabelledSet,
                     tally: Tally, set_scores: dict | None = None,
                     titles: dict[str, str] | None = None) -> None:
    from camview.report import MistakeCard, set_scores_html, write_report

    ranked = tally.ranked_mistakes()

    def cards() -> Iterator[MistakeCard]:
        for rank, r in enumerate(ranked, 1):
            views = explain_mistake(model, method, r)
            yield MistakeCard(
                rank=rank, path=str(r.path), name=r.path.name,
                predicted=model.short_label(r.predicted), predicted_prob=r.confidence,
                true=model.short_label(r.true), true_prob=r.true_prob, photo=views.photo,
                predicted_map=views.predicted, true_map=views.true, problem=views.problem,
                top=[(model.short_label(i), p) for i, p in r.top])

    style = OverlayStyle()  # what explain_mistake draws with: the legend says its colours
    write_report(path, tally.summary(model, dataset.name), method_title=method.title,
                 cards=cards(), shown=len(ranked), mistakes=tally.mistakes,
                 problems=[(str(r.path), r.problem) for r in tally.problems],
                 skipped=dataset.warnings, colormap=style.colormap, threshold=style.threshold,
                 extra_html=set_scores_html(set_scores, titles or {}) if set_scores else "")


def name_classes_from_folders(model: CamModel, args: argparse.Namespace) -> None:
    """A model saved without label names, on a class-folder set with one folder per class:
    the folders' sorted names are its labels, as Keras' image_dataset_from_directory
    numbered them when it was trained. Said in one line, since it is a convention."""
    if args.labels or model.labels_named:
        return
    names = keras_class_names(args.dataset, len(model.labels))
    if names is None:
        return
    model.name_classes(names, f"the set's {len(names)} class folders, sorted (Keras' "
                              "image_dataset_from_directory order)")
    print(f"camview: {model.name} has no label names: its {len(names)} classes are named after "
          f"the set's folders in sorted order, as Keras' image_dataset_from_directory numbers "
          f"them ({', '.join(names[:6])}{', …' if len(names) > 6 else ''}); --labels FILE to "
          "name them otherwise", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# --metrics: every listed method's maps scored on every image (issue 18)


def score_methods(args: argparse.Namespace, model: CamModel) -> list[Method]:
    """The --metrics methods, built (an unknown name or an unusable one: one line, exit 2)."""
    from camview.args import method_list

    names = method_list(args.metrics) or []
    if not names:
        raise CamviewError("--metrics needs method names separated by commas")
    return [make_method(name, model) for name in names]


def run_set_scores(model: CamModel, dataset: LabelledSet, methods: list[Method],
                   show_progress: bool) -> tuple[dict, bool]:
    """The JSON section of --metrics and whether Ctrl+C stopped it (the images done count)."""
    from camview.evaluation import score_set, set_scores_json

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
    from camview.args import model_kwargs

    check_request(args)
    model = load_model(args.model or DEFAULT_MODEL, **model_kwargs(args))
    # The model already reads --layer (load_model read_layer=): the method reads its layer.
    method = make_method(args.method or DEFAULT_METHOD, model) if args.report else None
    name_classes_from_folders(model, args)
    dataset = open_labelled_set(args.dataset, model.labels)
    cache = None if args.no_cache else ResultCache.default()
    tally = Tally(args.max_mistakes if args.report else 0)
    progress = Progress(len(dataset), enabled=not args.no_progress and len(dataset) > 1,
                        unit="images")
    try:
        interrupted = evaluate_set(model, dataset, tally, batch_size=args.batch, cache=cache,
                                   progress=progress)
    finally:
        if cache is not None:
            cache.close()
    set_scores, titles = None, {}
    if args.metrics and not interrupted:
        scorers = score_methods(args, model)
        titles = {m.name: m.title for m in scorers}
        set_scores, interrupted = run_set_scores(model, dataset, scorers,
                                                 not args.no_progress)
    problems = tally.problems
    if problems:
        log.warning("%d image(s) could not be read and were skipped, e.g. %s", len(problems),
                    problems[0].problem)
    steps = []
    if args.json:
        steps.append(lambda: write_json(args.json, model, args.dataset, tally, set_scores))
    if args.report:
        steps.append(lambda: write_report_for(args.report, model, method, dataset, tally,
                                              set_scores, titles))
    errors = finish_each(steps)
    acc = tally.accuracy()
    print(f"{model.name} on {args.dataset}: top-1 {100 * acc['top1']:.1f} %, top-5 "
          f"{100 * acc['top5']:.1f} % of {tally.count} images, {tally.mistakes} mistakes"
          + (f", {len(problems)} unreadable" if problems else ""))
    if set_scores and set_scores["ranking"]:
        best = set_scores["ranking"][0]
        print(f"for this model, on this set, {titles.get(best, best)}'s maps are the ones its "
              f"output supports best (of {', '.join(set_scores['ranking'])})")
    for error in errors[1:]:
        log.error("%s", error)
    if errors:
        raise errors[0]
    if interrupted:
        print(f"camview: stopped after {len(tally.results)} of {len(dataset)} images",
              file=sys.stderr)
        return 130
    return 0
