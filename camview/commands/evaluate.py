"""`camview evaluate`: the command. It checks the arguments, runs the set's batched pass and its
views' folds (camview.sets.tally) with progress bars, and writes the JSON and the HTML report
(camview.sets.report); the work and the pages are the core's."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
from pathlib import Path

from camview.commands.args import VERSUS, check_second_model, read_files
from camview.commands.progress import Progress
from camview.drawing.output_files import atomic_file, check_writable
from camview.drawing.writers import finish_each
from camview.errors import CamviewError, ModelError, OutputError, SourceError
from camview.maps import CAM, DEFAULT_METHOD, Method, fallback_method, make_method, method_class
from camview.models import DEFAULT_MODEL, CamModel, known_head, load_model
from camview.models.second_model import load_second_model
from camview.sets.classify import classify_set
from camview.sets.dataset import (
    LabelledSet,
    listed_files,
    name_classes_from_folders,
    open_labelled_set,
)
from camview.sets.markup import count_of
from camview.sets.results import ResultCache, result_json
from camview.sets.tally import Tally, evaluate_set
from camview.sets.views.base import Page, SetOptions, SetPass
from camview.sets.views.versus import versus_method_for

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The command


def check_request(args: argparse.Namespace) -> None:
    """Faults found from the arguments alone, before a model is loaded."""
    if args.batch < 1:
        raise CamviewError(f"--batch must be at least 1, not {args.batch}")
    if args.resume and args.no_cache:
        raise CamviewError("--resume reads the results kept in the cache: drop --no-cache")
    if args.ray is None:
        for flag, value in (("--ray-workers", args.ray_workers),
                            ("--ray-cpus", args.ray_cpus != 1.0 or None),
                            ("--ray-gpus", args.ray_gpus or None)):
            if value is not None:
                raise CamviewError(f"{flag} is for a run over Ray: give --ray too")
    else:
        if args.ray_workers is not None and args.ray_workers < 1:
            raise CamviewError(f"--ray-workers must be at least 1, not {args.ray_workers}")
        if args.ray_cpus < 0 or args.ray_gpus < 0 or not (args.ray_cpus or args.ray_gpus):
            raise CamviewError("--ray-cpus and --ray-gpus are 0 or more, and not both 0")
        from camview.sets.on_ray import import_ray

        import_ray()  # not installed: one line saying how, before a model is loaded
    if args.max_mistakes < 0:
        raise CamviewError(f"--max-mistakes must be 0 or more, not {args.max_mistakes}")
    check_second_model(args, VERSUS)  # the second model's name, files and options
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


def write_json(path: str | Path, model: CamModel, dataset: str, tally: Tally) -> None:
    """The summary and one entry per image, in set order, each with the views' parts. The
    entries are written one by one, so a 10 000-image set never has its whole document in
    memory as text."""
    doc = tally.summary(model, dataset)
    head = compact_numbers(json.dumps(doc, indent=1, allow_nan=False))[:-2]  # no closing "\n}"
    try:
        with atomic_file(path) as f:
            f.write(head + ',\n "images": [')
            for n, r in enumerate(tally.results):
                entry = {**result_json(model, r), **tally.image_json(n)}
                f.write(("," if n else "") + "\n  " + json.dumps(entry, allow_nan=False))
            f.write("\n ]\n}\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_report_for(path: str, model: CamModel, method: Method, dataset: LabelledSet,
                     tally: Tally) -> None:
    """The HTML report of the run: the page and every view of it (camview.sets.report)."""
    from camview.sets.report import write_set_report

    page = Page(model, method, dataset, tally, tally.summary(model, dataset.name),
                {view.name: view for view in tally.views})
    write_set_report(path, page, tally.views)


def load_versus(args: argparse.Namespace) -> CamModel | None:
    """The --versus model, loaded before any work: a model that cannot be loaded is one line
    and exit 2 with nothing written."""
    if not args.versus:
        return None
    try:
        return load_second_model(args.versus, VERSUS.kwargs(args), VERSUS.prefix)
    except ModelError as exc:
        raise ModelError(f"--versus {args.versus}: {exc}") from None


def score_methods(args: argparse.Namespace, model: CamModel) -> list[Method]:
    """The --metrics methods, built (an unknown name or an unusable one: one line, exit 2)."""
    from camview.commands.args import method_list

    if not args.metrics:
        return []
    names = method_list(args.metrics) or []
    if not names:
        raise CamviewError("--metrics needs method names separated by commas")
    return [make_method(name, model) for name in names]


def ray_run(args: argparse.Namespace, models: dict[str, CamModel | None]):
    """The Ray connection for --ray (a context manager), or a no-op one for a local run.
    `models`: {"model": the model, "versus": the second or None}, loaded from these args."""
    if args.ray is None:
        return contextlib.nullcontext(None)
    from camview.commands.args import model_kwargs
    from camview.sets.on_ray import RAY_LOCAL, ModelSpec, RayOptions, RayRun

    specs = {id(models["model"]): ModelSpec(args.model or DEFAULT_MODEL, model_kwargs(args))}
    if models.get("versus") is not None:
        specs[id(models["versus"])] = ModelSpec(args.versus, VERSUS.kwargs(args))
    return RayRun(RayOptions(address=None if args.ray == RAY_LOCAL else args.ray,
                             workers=args.ray_workers, cpus_per_worker=args.ray_cpus,
                             gpus_per_worker=args.ray_gpus), specs)


def run_evaluate(args: argparse.Namespace) -> int:
    check_request(args)
    with contextlib.ExitStack() as stack:
        return _run_evaluate(args, stack)


def _run_evaluate(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    from camview.commands.args import model_kwargs

    second = load_versus(args)  # first: an unusable second model fails before any wait
    model = load_model(args.model or DEFAULT_MODEL, **model_kwargs(args))
    asked = args.method  # None: each model's own default (a CNN's CAM beside a ViT's own)
    # The model already reads --layer (load_model read_layer=): the method reads its layer.
    if args.method is None and model.transformer is not None and CAM.applies_to(model):
        args.method = fallback_method(model)  # CAM, the default, is not defined for this ViT
        if args.report:  # said as render says it (the report's "Maps" names it too)
            log.info("CAM is not defined for %s (%s): using %s", model.name,
                     CAM.applies_to(model), method_class(args.method).title)
    method = make_method(args.method or DEFAULT_METHOD, model) if args.report else None
    named = None if args.labels else name_classes_from_folders(model, args.dataset)
    if named:
        print(f"camview: {named}", file=sys.stderr)
    # The second model by the same rule: left with "class 0.." beside a first model named by
    # the folders, no class of it would match, and a model would agree 0 % with itself.
    named = (None if args.versus_labels or second is None
             else name_classes_from_folders(second, args.dataset, "--versus-labels"))
    if named:
        print(f"camview: --versus {named}", file=sys.stderr)
    second_method = (versus_method_for(asked, second)
                     if args.report and second is not None else None)
    dataset = open_labelled_set(args.dataset, model.labels)
    cache = None if args.no_cache else ResultCache.default()
    tally = Tally(options=SetOptions(
        max_mistakes=args.max_mistakes if args.report else 0, views=not args.no_views,
        versus=second, versus_method=second_method, metrics=score_methods(args, model)))

    def progress_bar(unit: str = "images") -> Progress:
        return Progress(len(dataset), enabled=not args.no_progress and len(dataset) > 1,
                        unit=unit)

    ray = stack.enter_context(ray_run(args, {"model": model, "versus": second}))
    classify = classify_set if ray is None else ray.classify
    tally.ran_on = "local" if ray is None else ray.where
    if ray is not None:
        log.info("evaluating on %s", ray.where)
    try:
        interrupted = evaluate_set(model, dataset, tally, batch_size=args.batch, cache=cache,
                                   progress=progress_bar(), views=not args.no_views,
                                   classify=classify)
        resumed = cache.hits if cache is not None else 0
        interrupted = tally.fold(SetPass(model, dataset, args.batch, cache, progress_bar,
                                         classify, None if ray is None else ray.score),
                                 interrupted)
    finally:
        if cache is not None:
            cache.close()
    if args.resume:
        log.info("resumed: %s of %d done before, not classified again",
                 count_of(resumed, "image"), len(dataset))
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
        steps.append(lambda: write_json(args.json, model, args.dataset, tally))
    if args.report:
        steps.append(lambda: write_report_for(args.report, model, method, dataset, tally))
    errors = finish_each(steps)
    acc = tally.accuracy()
    print(f"{model.name} on {args.dataset}: top-1 {100 * acc['top1']:.1f} %, top-5 "
          f"{100 * acc['top5']:.1f} % of {count_of(tally.count, 'image')}, "
          f"{count_of(tally.mistakes, 'mistake')}"
          + (f", {len(problems)} unreadable" if problems else ""))
    for line in tally.said(model, args.dataset):
        print(line)
    for error in errors[1:]:
        log.error("%s", error)
    if errors:
        raise errors[0]
    if interrupted:
        print(f"camview: stopped after {len(tally.results)} of {len(dataset)} images",
              file=sys.stderr)
        return 130
    return 0
