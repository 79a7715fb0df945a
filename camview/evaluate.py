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
    given = [(flag, p) for flag, p in (("--json", args.json), ("--report", args.report)) if p]
    if len(given) == 2 and Path(given[0][1]).resolve() == Path(given[1][1]).resolve():
        raise OutputError(f"--json and --report are both {args.json}: give two names")
    for _, out in given:
        check_writable(out, inputs=(args.dataset,), folder=False)


def write_json(path: str | Path, model: CamModel, dataset: str, tally: Tally) -> None:
    """The summary and one entry per image, in set order. The entries are written one by one,
    so a 10 000-image set never has its whole document in memory as text."""
    doc = tally.summary(model, dataset)
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
                     tally: Tally) -> None:
    from camview.report import MistakeCard, write_report

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
                 skipped=dataset.warnings, colormap=style.colormap, threshold=style.threshold)


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
    problems = tally.problems
    if problems:
        log.warning("%d image(s) could not be read and were skipped, e.g. %s", len(problems),
                    problems[0].problem)
    steps = []
    if args.json:
        steps.append(lambda: write_json(args.json, model, args.dataset, tally))
    if args.report:
        steps.append(lambda: write_report_for(args.report, model, method, dataset, tally))
    errors = finish_each(steps)
    acc = tally.accuracy()
    print(f"{model.name} on {args.dataset}: top-1 {100 * acc['top1']:.1f} %, top-5 "
          f"{100 * acc['top5']:.1f} % of {tally.count} images, {tally.mistakes} mistakes"
          + (f", {len(problems)} unreadable" if problems else ""))
    for error in errors[1:]:
        log.error("%s", error)
    if errors:
        raise errors[0]
    if interrupted:
        print(f"camview: stopped after {len(tally.results)} of {len(dataset)} images",
              file=sys.stderr)
        return 130
    return 0
