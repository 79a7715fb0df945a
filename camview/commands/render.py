"""`camview render`: every frame of a source through the model, the method and the overlay.

Unlike the live window, nothing is dropped: each frame of a video gives one rendered frame,
one JSON entry and one map. Outputs are checked before the model is loaded (the request,
camview.commands.render_request), so a bad output path fails in a second rather than after
minutes of work, and they are always finished (Ctrl+C and faults included, each output even
if another failed: camview.commands.render_outputs), so a partial video stays playable.
Decoding runs one thread ahead of the model and drawing and encoding one thread behind it
(about 20 % faster than one loop on two cores), in order.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from camview.commands.progress import Progress
from camview.commands.render_outputs import FrameRecord, FrameSink, close_outputs, record_of
from camview.commands.render_request import (
    RenderRequest,
    check_outputs,
    check_request,
    make_methods,
    request_inputs,
)
from camview.drawing.explain import describe, draw, draw_compare
from camview.drawing.overlay import OverlayStyle
from camview.drawing.scale import MapScale
from camview.drawing.writers import write_image
from camview.errors import CamviewError, OutputError, SourceError
from camview.maps import MapResult, Method, check_options
from camview.maps.shared_pass import explain_shared
from camview.models import CamModel, load_model
from camview.models.runtimes import AUTO, TENSORFLOW, check_runtime, default_runtime
from camview.sources import Frame, Source, is_demo, open_source
from camview.sources.handoff import END, ReadAhead, put_unless_stopped

log = logging.getLogger(__name__)

DEMO_FRAMES = 150
#: Frames each render thread may run ahead of the next: enough to absorb a slow frame,
#: few enough that memory stays small at any resolution.
QUEUE_FRAMES = 4


def _prepared_frames(source: Source, model: CamModel, limit: int | None) -> Iterator[tuple]:
    """The frames of `source` (up to `limit`), each with its prepared input, for a reader
    thread ahead of the model."""
    count = 0
    while limit is None or count < limit:
        frame = source.read()
        if frame is None:
            return
        if count == 0 and (distorted := model.distortion(frame.image.shape[:2])):
            log.warning("%s: %s", frame.path or source.name, distorted)
        # A repeated slot shows the picture before it: its map is that one's.
        yield frame, None if frame.repeat else model.prepare(frame.image)
        count += 1


class _Writer(threading.Thread):
    """Draws, records and writes explained frames behind the model, in order."""

    def __init__(self, model: CamModel, sink: FrameSink, style: OverlayStyle,
                 progress: Progress, records: list[FrameRecord], pinned: bool,
                 titles: list[str]) -> None:
        super().__init__(name="camview-render-write", daemon=True)
        self.model, self.sink, self.style, self.pinned = model, sink, style, pinned
        self.titles = titles
        # One scale per method: a running maximum must not mix their units.
        self.scales = [MapScale(style.scale) for _ in titles]
        self.progress, self.records = progress, records
        self.box: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self.failed = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while (item := self.box.get()) is not END:
                frame, results, metrics = item
                explained = [describe(self.model, r, topk=self.style.topk, pinned=self.pinned,
                                      frame_hw=frame.image.shape[:2]) for r in results]
                if len(explained) == 1:
                    view = draw(frame.image, explained[0], self.style, scale=self.scales[0])
                else:
                    view = draw_compare(frame.image, list(zip(self.titles, explained,
                                                              strict=True)),
                                        self.style, self.scales)
                self.records.append(record_of(self.model, frame, results[0], metrics))
                self.sink.write(view, frame)
                self.progress.update(len(self.records))
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
            self.failed.set()

    def add(self, frame: Frame, results: list[MapResult], metrics: dict | None) -> None:
        if not put_unless_stopped(self.box, (frame, results, metrics), self.failed):
            raise self.error

    def finish(self) -> None:
        """Write what is queued, then stop (``error`` says if the thread failed)."""
        put_unless_stopped(self.box, END, self.failed)
        self.join()


def render_frames(model: CamModel, methods: list[Method], source: Source, sink: FrameSink,
                  target: int | None, style: OverlayStyle, limit: int | None,
                  progress: Progress, records: list[FrameRecord], metrics: bool = False) -> None:
    """Every frame of `source` (up to `limit`) through the model into `sink` and `records`.

    Several methods make a grid of the same frame; `metrics` adds each method's deletion and
    insertion scores (camview.checks.faithfulness) to the frame's record.

    Decoding and preparing run one thread ahead of the model, drawing and encoding one thread
    behind it, so the model (this thread) rarely waits: frames stay in order and none is
    dropped. However this ends (the source's end, a fault, Ctrl+C), every frame the model
    explained is written before it returns or raises.
    """
    reader = ReadAhead(_prepared_frames(source, model, limit), QUEUE_FRAMES,
                       "camview-render-read")
    writer = _Writer(model, sink, style, progress, records, pinned=target is not None,
                     titles=[m.title for m in methods])
    reader.start()
    writer.start()
    last: tuple[list[MapResult], dict | None] | None = None
    try:
        while (item := reader.box.get()) is not END:
            if isinstance(item, BaseException):
                raise item
            frame, batch = item
            if batch is None and last is not None:  # a repeated slot: the same picture
                writer.add(frame, *last)
                continue
            if batch is None:
                batch = model.prepare(frame.image)
            # Compared methods reading one layer share a forward and backward pass, as live.
            shared = explain_shared(model, methods, batch, target)
            results = [shared.get(method) or method.explain(batch, target) for method in methods]
            scores = frame_metrics(model, batch, methods, results) if metrics else None
            last = (results, scores)
            writer.add(frame, results, scores)
    finally:
        reader.close()
        writer.finish()
    if writer.error is not None:
        raise writer.error


def frame_metrics(model: CamModel, batch: np.ndarray, methods: list[Method],
                  results: list[MapResult]) -> dict:
    """{method: {"deletion_auc", "insertion_auc"}} for each method, plus "random"."""
    from camview.checks.faithfulness import score_maps

    maps = {m.name: r.cam for m, r in zip(methods, results, strict=True)}
    scores = score_maps(model, batch, maps, results[0].target)
    return {name: s.as_json() for name, s in scores.items()}


def report_problems(records: list[FrameRecord]) -> None:
    """One line when maps could not be drawn: each such frame has a banner, easy to miss."""
    problems = Counter(r.problem for r in records if r.problem)
    if problems:
        detail = ", ".join(f"{problem}: {n}" for problem, n in problems.most_common())
        log.warning("%d of %d frames have no map drawn (%s)", problems.total(), len(records),
                    detail)


def sanity_figure_path(request: RenderRequest) -> Path:
    """Where render --sanity writes its figure: beside -o (else --json, else --map), named
    after it with "-sanity.png"."""
    base = Path(request.output or request.json or request.map)
    return base.with_name(f"{base.stem}-sanity.png")


def render_sanity(request: RenderRequest, model: CamModel, methods: list[Method],
                  record: FrameRecord) -> None:
    """--sanity on the rendered image: the check's numbers into its JSON frame, the figure
    beside the output, and one verdict line per method on stdout."""
    from camview.checks.sanity import figure, sanity_check

    with open_source(request.source) as again:  # the one image, read as the render read it
        frame = again.read()
    options = check_options([m.name for m in methods], request.method_options)
    names = [m.name for m in methods]
    progress = Progress(None, enabled=request.progress, unit="maps")

    def step(done: int, total: int) -> None:
        progress.total = total
        progress.update(done)

    result = sanity_check(model, model.prepare(frame.image), names, record.target["index"],
                          options=options, progress=step)
    progress.finish(progress.total or 0)
    record.details = {**(record.details or {}), "sanity": result.as_json()}
    path = sanity_figure_path(request)
    # A centre crop's maps are drawn over the crop the model saw, not stretched over the frame.
    write_image(path, figure(frame.image, result, box=model.map_box(frame.image.shape[:2])))
    for name in names:
        print(result.verdict(name))
    print(f"camview: sanity figure written to {path}", file=sys.stderr)


def report_completeness(records: list[FrameRecord]) -> None:
    """One line when Integrated Gradients' attributions miss the score difference by more
    than 5 % on some frames: the path integral needs more --steps there."""
    from camview.maps.integrated_gradients import completeness_gap

    gaps = [g for r in records if (g := completeness_gap(r.details)) is not None]
    off = [g for g in gaps if g > 0.05]
    if off:
        log.warning("integrated gradients: on %d of %d frames the attributions miss the score "
                    "difference by more than 5 %% (worst %.0f %%): raise --steps", len(off),
                    len(gaps), 100 * max(off))


def render(request: RenderRequest) -> int:
    """Run one render to the end; the exit status (0 done, 130 a file source interrupted).

    Raises CamviewError for bad requests and inputs, after finishing every output it can.
    """
    check_request(request)
    source = open_source(request.source)
    with source:
        check_outputs(request)
        sink = FrameSink(request.output, source, request_inputs(request), request.frames)
        if request.sanity and source.frame_count != 1:
            raise CamviewError(f"--sanity takes one image, not {source.name} (it maps the "
                               "image again after each randomisation step)")
        limit = request.frames
        if limit is None and is_demo(request.source):
            limit = DEMO_FRAMES
        asked = check_runtime(request.runtime or default_runtime())
        # auto converts to OpenVINO (tens of seconds, once) only for work that will run on
        # it: the model loads on TensorFlow and switches once the methods are known.
        model = load_model(request.model, weights=request.weights, read_layer=request.layer,
                           resize=request.resize, labels=request.labels,
                           preprocess=request.preprocess, input_layout=request.input_layout,
                           runtime=TENSORFLOW if asked == AUTO else asked)
        methods = make_methods(request, model)
        if asked == AUTO:
            if request.metrics or any(m.runs_on_forward_runtime() for m in methods):
                model.use_runtime(AUTO)
            else:
                log.info("OpenVINO is not used: every map asked for needs TensorFlow's "
                         "backward pass")
        target = None if request.target is None else model.find_class(request.target)
        total = min(x for x in (limit, source.frame_count) if x) if (
            limit or source.frame_count) else None
        progress = Progress(total, enabled=request.progress and (total or 0) > 1)
        records: list[FrameRecord] = []
        interrupted = False
        errors: list[OutputError] = []
        try:
            render_frames(model, methods, source, sink, target, request.style, limit, progress,
                          records, metrics=request.metrics)
            if request.sanity and records:
                render_sanity(request, model, methods, records[0])
        except KeyboardInterrupt:
            interrupted = True
        except SourceError as exc:
            if not records:
                raise
            log.warning("%s; kept the %d frames read before", exc, len(records))
        finally:
            # However the render ended, the frames done are written; when it ended in a
            # fault, that fault is the one reported and output errors are only logged.
            progress.finish(len(records))
            errors = close_outputs(request, model, methods, records, sink)
            if sys.exc_info()[0] is not None:
                for error in errors:
                    log.warning("%s", error)
    # The source's own warnings (a truncated video, skipped images) were logged once already.
    for error in errors[1:]:
        log.error("%s", error)
    if errors:
        raise errors[0]
    if not records:
        raise SourceError(f"{source.name} gave no frames")
    report_problems(records)
    report_completeness(records)
    if interrupted and not source.is_live:
        print(f"camview: stopped after {len(records)} frames", file=sys.stderr)
        return 130
    return 0
