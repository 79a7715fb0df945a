"""`camview render`: every frame of a source through the model, the method and the overlay.

Unlike the live window, nothing is dropped: each frame of a video gives one rendered frame,
one JSON entry and one map. Outputs are checked before the model is loaded, so a bad output
path fails in a second rather than after minutes of work, and they are always finished
(Ctrl+C and faults included, each output even if another failed), so a partial video stays
playable. Decoding runs one thread ahead of the model and drawing and encoding one thread
behind it (about 20 % faster than one loop on two cores), in order.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from camview.commands.progress import Progress
from camview.drawing.explain import describe, draw, draw_compare
from camview.drawing.output_files import atomic_file, check_writable, sweep_partials
from camview.drawing.overlay import OverlayStyle
from camview.drawing.scale import MapScale
from camview.drawing.writers import VIDEO_SUFFIXES, VideoWriter, finish_each, write_image
from camview.errors import CamviewError, OutputError, SourceError
from camview.maps import (
    CAM,
    DEFAULT_METHOD,
    MapResult,
    Method,
    check_options,
    make_method,
    method_class,
)
from camview.maps.shared_pass import explain_shared
from camview.models import DEFAULT_MODEL, CamModel, known_head, load_model
from camview.sources import DEFAULT_FPS, Frame, Source, is_demo, open_source
from camview.sources.handoff import END, ReadAhead, put_unless_stopped
from camview.sources.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

DEMO_FRAMES = 150
TOP_N = 5  # the JSON always lists five classes, whatever --topk draws
#: Frames each render thread may run ahead of the next: enough to absorb a slow frame,
#: few enough that memory stays small at any resolution.
QUEUE_FRAMES = 4


@dataclass
class RenderRequest:
    """What `camview render` is asked to do; Python callers build one and call render().

    `source`: a camera index, a video, an image, a folder or "demo". At least one of
    `output` (an image, a folder or a video), `json` and `map` says what to write.

    `method_options`: the methods' options by name, as each method declares them
    (camview.maps.method_options; the command line's --patch, --samples...), e.g.
    ``RenderRequest("demo", json="x.json", method="occlusion",
    method_options={"patch": 32, "stride": 16})``. Each is checked against its declaration;
    one none of the rendered methods takes is an error; None values are left out.
    """

    source: str | int
    output: str | None = None
    json: str | None = None
    map: str | None = None
    model: str = DEFAULT_MODEL
    weights: str | None = None
    labels: str | None = None
    layer: str | None = None
    resize: str | None = None
    preprocess: str = "auto"  # how frames become network input (camview.models.preprocess)
    runtime: str | None = None  # the forward runtime (camview.models.runtimes); None: default
    method: str = DEFAULT_METHOD
    compare: list[str] | None = None  # several methods in one titled grid (the first is `method`'s
    #                                   place in the JSON and the maps)
    method_options: dict[str, object] = field(default_factory=dict)  # see above
    metrics: bool = False  # deletion/insertion scores per frame (camview.checks.faithfulness)
    sanity: bool = False  # one image: cascading randomisation of the model (camview.checks.sanity)
    target: str | int | None = None  # a label or a class index; None: each frame's top-1
    frames: int | None = None  # stop after this many; None: the whole source
    style: OverlayStyle = field(default_factory=OverlayStyle)
    progress: bool = True  # a progress bar when stderr is a terminal


@dataclass
class FrameRecord:
    """What one rendered frame contributes to --json and --map."""

    frame: int
    top: list[dict]
    target: dict
    peak: dict
    cam: np.ndarray = field(repr=False)
    problem: str | None = None
    metrics: dict | None = None  # --metrics: {method: {"deletion_auc", "insertion_auc"}}
    path: str | None = None  # the input file, when each frame is one (stills, folders)
    time: float | None = None  # the frame's media time in seconds (videos)
    details: dict | None = None  # what the method reports beside its map (MapResult.details)

    def as_json(self) -> dict:
        entry = {"frame": self.frame, "top": self.top, "target": self.target, "peak": self.peak}
        if self.path is not None:
            entry["path"] = self.path
        if self.time is not None:
            entry["time"] = round(self.time, 6)
        if self.problem:
            entry["problem"] = self.problem
        if self.metrics is not None:
            entry["metrics"] = self.metrics
        if self.details:
            entry.update(self.details)
        return entry


def peak_in_frame(cam: np.ndarray, frame_hw: tuple[int, int]) -> dict:
    """Arg-max of the map resized to the source frame, in source-frame pixels."""
    h, w = frame_hw
    safe = np.nan_to_num(cam.astype(np.float32), nan=-np.inf, posinf=np.finfo(np.float32).max)
    big = cv2.resize(safe, (w, h), interpolation=cv2.INTER_LINEAR)
    y, x = np.unravel_index(int(np.argmax(big)), big.shape)
    return {"x": int(x), "y": int(y)}


def record_of(model: CamModel, frame: Frame, result: MapResult,
              metrics: dict | None = None) -> FrameRecord:
    # JSON has no NaN: a probability that is not a number is null (and "problem" says why).
    top = [{"index": i, "label": model.short_label(i),
            "prob": round(p, 6) if np.isfinite(p) else None} for i, p in result.top(TOP_N)]
    return FrameRecord(
        frame=frame.index, top=top,
        target={"index": result.target, "label": model.short_label(result.target)},
        peak=peak_in_frame(result.cam, frame.image.shape[:2]), cam=result.cam,
        problem=result.problem, metrics=metrics, path=frame.path,
        time=None if frame.path is not None else frame.timestamp, details=result.details)


class FrameSink:
    """Where rendered views go: one image, a folder of images, or a video.

    In a folder, a frame read from a file keeps that file's stem (``cat.jpg`` ->
    ``cat_cam.png``), so a folder render's outputs can be told apart; video frames are
    numbered (``frame_000000.png``).
    """

    def __init__(self, output: str | None, source: Source, inputs: tuple[str, ...]) -> None:
        self.path = Path(output) if output else None
        self.kind = None
        self.video: VideoWriter | None = None
        self.count = 0
        self.fps = source.fps or DEFAULT_FPS
        self._names: set[str] = set()
        if self.path is None:
            return
        suffix = self.path.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            self.kind = "video"
        elif suffix in IMAGE_SUFFIXES:
            # A file whose header gives no count is found out at its second frame (write).
            if source.is_live or (source.frame_count or 1) != 1:
                many = ("runs until stopped" if source.is_live
                        else f"has {source.frame_count} frames")
                raise OutputError(f"output {self.path} is one image but {source.name} {many}: "
                                  "give a folder or a .mp4")
            self.kind = "image"
        elif suffix == "" or self.path.is_dir():
            self.kind = "folder"
        else:
            raise OutputError(f"output {self.path}: unknown kind {suffix!r} (use .png/.jpg, a "
                              f"folder or {', '.join(VIDEO_SUFFIXES)})")
        check_writable(self.path, inputs=inputs, folder=self.kind == "folder")

    def write(self, view: np.ndarray, frame: Frame) -> None:
        if self.kind == "video":
            if self.video is None:
                self.video = VideoWriter(self.path, self.fps, (view.shape[1], view.shape[0]))
            self.video.write(view)
        elif self.kind == "image":
            if self.count:
                raise OutputError(f"output {self.path} is one image but the source has more "
                                  "than one frame: give a folder or a .mp4")
            write_image(self.path, view)
        elif self.kind == "folder":
            if not self.count:  # a dead run's partial frames, once, not a listing per frame
                sweep_partials(self.path)
            write_image(self.path / self.file_name(frame), view, sweep=False)
        self.count += 1

    def file_name(self, frame: Frame) -> str:
        """A folder output's name for `frame`: its input's stem, made unique when two inputs
        share one (``cat.jpg`` and ``cat.png``: ``cat_cam.png``, ``cat_png_cam.png``)."""
        if frame.path is None:
            return f"frame_{frame.index:06d}.png"
        source = Path(frame.path)
        name = f"{source.stem}_cam.png"
        if name in self._names:
            name = f"{source.stem}_{source.suffix.lstrip('.').lower()}_cam.png"
        while name in self._names:
            name = f"{source.stem}_{frame.index:06d}_cam.png"
        self._names.add(name)
        return name

    def close(self) -> None:
        """Finish the video; OutputError if the encoder failed (the file is closed anyway)."""
        if self.video is not None:
            self.video.finish()


def _write_json(path: str, model: CamModel, methods: list[Method],
                records: list[FrameRecord]) -> None:
    doc = {"model": model.name, "preprocess": model.preprocess_name, "method": methods[0].name}
    if len(methods) > 1:  # --compare: top, target, peak and the maps are the first one's
        doc["compare"] = [m.name for m in methods]
    doc["frames"] = [r.as_json() for r in records]
    text = json.dumps(doc, indent=1, allow_nan=False)
    try:
        with atomic_file(path) as f:
            f.write(text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_maps(path: str, records: list[FrameRecord]) -> None:
    maps = [r.cam for r in records]
    shapes = {m.shape for m in maps}
    if len(shapes) > 1:
        # Images of different shapes in one folder: one array needs one map size.
        log.warning("maps of %d sizes resized to %s for %s", len(shapes), maps[0].shape, path)
        h, w = maps[0].shape
        maps = [cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in maps]
    stack = np.stack(maps).astype(np.float32) if maps else np.zeros((0, 0, 0), np.float32)
    try:
        # An open file, not the name: np.save would append ".npy" to a name without it.
        with atomic_file(path, "wb") as f:
            np.save(f, stack)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def close_outputs(request: RenderRequest, model: CamModel, methods: list[Method],
                  records: list[FrameRecord], sink: FrameSink) -> list[OutputError]:
    """Finish every output, each even if another failed, so nothing computed is lost."""
    steps = [sink.close]
    if request.json:
        steps.append(lambda: _write_json(request.json, model, methods, records))
    if request.map:
        steps.append(lambda: _write_maps(request.map, records))
    return finish_each(steps)


def request_inputs(request: RenderRequest) -> tuple[str, ...]:
    """Every file and folder the render reads: no output may be written over one."""
    return tuple(str(p) for p in (request.source, request.model, request.weights,
                                  request.labels) if p is not None)


def check_outputs(request: RenderRequest) -> None:
    """--json and --map: files that can be written, none of them an input or each other."""
    given = [(flag, path) for flag, path in (("-o", request.output), ("--json", request.json),
                                              ("--map", request.map)) if path]
    for i, (flag, path) in enumerate(given):
        for other_flag, other in given[:i]:
            if Path(path).resolve() == Path(other).resolve():
                raise OutputError(f"{flag} and {other_flag} are both {path}: give two names")
    for out in (request.json, request.map):
        if out:
            check_writable(out, inputs=request_inputs(request), folder=False)


def check_request(request: RenderRequest) -> None:
    """Faults found from the arguments alone, before a model is loaded (seconds)."""
    request.style.validate()
    if request.frames is not None and request.frames < 1:
        raise CamviewError(f"--frames must be at least 1, not {request.frames}")
    if not (request.output or request.json or request.map):
        # All the work and nothing to show for it: say so before any source or model opens.
        raise OutputError("nothing to write: give -o, --json or --map")
    names = method_names(request)
    for name in names:
        if method_class(name) is CAM:
            CAM.check_head(request.model, known_head(request.model))
    check_options(names, request.method_options)


def method_names(request: RenderRequest) -> list[str]:
    """The methods to render: the compared ones, else the one."""
    if request.compare is not None:
        names = [n.strip() for n in request.compare if n.strip()]
        if not names:
            raise CamviewError("--compare needs method names separated by commas")
        return names
    return [request.method]


def make_methods(request: RenderRequest, model: CamModel) -> list[Method]:
    """The methods to render with their options; an option none of them takes is an error,
    not silently ignored (camview.maps.check_options)."""
    names = method_names(request)
    options = check_options(names, request.method_options)
    # The model already reads --layer (load_model read_layer=): the methods read its layer.
    return [make_method(name, model, None, **options) for name in names]


def _prepared_frames(source: Source, model: CamModel, limit: int | None) -> Iterator[tuple]:
    """The frames of `source` (up to `limit`), each with its prepared input, for a reader
    thread ahead of the model."""
    count = 0
    while limit is None or count < limit:
        frame = source.read()
        if frame is None:
            return
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
                explained = [describe(self.model, r, topk=self.style.topk, pinned=self.pinned)
                             for r in results]
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
    write_image(path, figure(frame.image, result))
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
        sink = FrameSink(request.output, source, request_inputs(request))
        if request.sanity and source.frame_count != 1:
            raise CamviewError(f"--sanity takes one image, not {source.name} (it maps the "
                               "image again after each randomisation step)")
        limit = request.frames
        if limit is None and is_demo(request.source):
            limit = DEMO_FRAMES
        model = load_model(request.model, weights=request.weights, read_layer=request.layer,
                           resize=request.resize, labels=request.labels,
                           preprocess=request.preprocess, runtime=request.runtime)
        methods = make_methods(request, model)
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
