"""The live pipeline: capture thread -> one-slot mailbox -> inference thread, Qt-free.

Capture reads the source at its own pace and always overwrites the mailbox, so inference works
on the newest frame and a slow model drops frames instead of falling behind. Each result carries
its own frame and an overlay composed on that frame, so a map is never drawn over a later frame.
Model and method changes are built and warmed on a loader thread while the old ones keep
serving. Everything reaches the caller through callbacks, called from these threads; the Qt
window turns them into signals (camview.app.bridge), a benchmark can use them directly.

    pipe = Pipeline(on_result=show)
    pipe.set_source("clip.mp4")
    pipe.set_model("efficientnet_lite0")
    pipe.start()
    ...
    pipe.stop()
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from camview.errors import CamviewError, ModelError, SourceError
from camview.explain import describe, draw
from camview.maps import MapResult, Method, make_method, method_class, normalise
from camview.models import CamModel, HeadKind, load_model
from camview.overlay import OverlayStyle
from camview.sources import (
    DemoSource,
    FolderSource,
    Frame,
    ImageSource,
    Source,
    open_source,
)

log = logging.getLogger(__name__)

HOLD_RATE = 5.0  # re-deliveries per second of a held frame (still image, frozen, ended video)
FOLDER_SECONDS = 2.0  # how long each image of a folder is shown
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 5.0  # back-off of a lost camera
LATE_RESET_S = 0.25  # a video this late re-anchors its clock instead of racing to catch up


def _noop(*_args) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# Small parts


@dataclass(frozen=True)
class Delivery:
    """A frame put in the mailbox: when it was captured (monotonic) and whether it is new."""

    frame: Frame
    captured_at: float
    fresh: bool = True


class Mailbox:
    """One slot, newest wins: the reader always gets the latest frame, older ones are dropped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Delivery | None = None
        self._closed = False
        self.dropped = 0  # fresh frames overwritten before anyone took them

    def put(self, item: Delivery) -> None:
        with self._cond:
            if self._item is not None and self._item.fresh:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def get(self, timeout: float | None = None, keep: bool = False) -> Delivery | None:
        """The newest item, or None on timeout or when closed. With `keep` the item stays in
        the slot (no longer fresh), so the next get returns it again at once."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item = self._item
            self._item = dataclasses.replace(item, fresh=False) if keep and item else None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class RateMeter:
    """Events per second over the last few seconds (thread-safe)."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.count = 0

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            self.count += 1
            self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            if len(self._times) < 2:
                return 0.0
            span = now - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


class Percentiles:
    """The last N values of a duration, for p50/p95 (thread-safe)."""

    def __init__(self, size: int = 300) -> None:
        self._values: collections.deque[float] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, value: float) -> None:
        with self._lock:
            self._values.append(value)

    def get(self, q: float) -> float | None:
        with self._lock:
            values = list(self._values)
        return float(np.percentile(values, q)) if values else None


@dataclass(frozen=True)
class Stats:
    """A snapshot of the pipeline's speed. Latencies in milliseconds, None before data."""

    capture_fps: float
    inference_fps: float
    display_fps: float
    dropped: int
    frames: int
    results: int
    latency_p50_ms: float | None  # capture -> result
    latency_p95_ms: float | None
    display_latency_p50_ms: float | None  # capture -> shown (as reported by note_displayed)
    display_latency_p95_ms: float | None
    inference_p50_ms: float | None  # prepare + explain + compose of one frame


@dataclass(frozen=True)
class Result:
    """One explained frame: everything needed to draw it, tagged with the config it came from."""

    frame: Frame
    map: MapResult  # the raw map and scores (map.problem says when it cannot be drawn)
    top: list[tuple[str, float]]  # top-k (short label, probability)
    top_classes: list[tuple[int, float]]  # the same as (class index, probability)
    overlay: np.ndarray  # the composed overlay panel (BGR), drawn on `frame`
    model_name: str
    method_name: str  # CAM, Grad-CAM or Grad-CAM++
    target: int | None  # the pinned class, None for each frame's top-1
    generation: int
    captured_at: float  # time.monotonic() when the frame was captured
    finished_at: float
    inference_s: float
    map_label: str = ""  # the class the map shows (the pinned target or the top-1)
    fresh: bool = True  # False when a flat-out pipeline explained a frame again
    message: str | None = None  # why no map is drawn (flat, NaN), shown in the view

    @property
    def latency_s(self) -> float:
        """Capture -> result."""
        return self.finished_at - self.captured_at


@dataclass(frozen=True)
class Config:
    """What the inference thread uses for one frame, read atomically."""

    model: CamModel | None
    method: Method | None
    target: int | None
    style: OverlayStyle
    smoothing: float
    generation: int


class Smoother:
    """Exponential moving average of the normalised small map; restarts on any switch."""

    def __init__(self) -> None:
        self._state: np.ndarray | None = None
        self._generation = -1

    def reset(self) -> None:
        self._state = None

    def update(self, cam: np.ndarray, amount: float, generation: int) -> np.ndarray:
        """amount 0 = no smoothing; 0.9 = the past weighs 90 %."""
        norm = normalise(cam)
        if norm is None:  # undrawable: callers check map_problem first
            norm = np.zeros(np.shape(cam), np.float32)
        if (amount <= 0 or self._state is None or self._generation != generation
                or self._state.shape != norm.shape):
            self._state = norm
        else:
            self._state = amount * self._state + (1.0 - amount) * norm
        self._generation = generation
        return self._state


# ---------------------------------------------------------------------------------------------
# Capture


def pace_kind(source: Source) -> str:
    """How a source is paced: 'still' (hold), 'folder' (hold each image), 'live' (as delivered),
    'timed' (videos and the demo: by their timestamps on a monotonic clock)."""
    if isinstance(source, ImageSource):
        return "still"
    if isinstance(source, FolderSource):
        return "folder"
    if source.is_live and not isinstance(source, DemoSource):
        return "live"
    return "timed"


class Capture:
    """The capture thread: reads the source at its pace, fills the mailbox, handles loss."""

    def __init__(self, pipeline: Pipeline, loop_video: bool) -> None:
        self.p = pipeline
        self.loop_video = loop_video
        self.source: Source | None = None
        self.last: Frame | None = None  # the frame held / last delivered
        self.frozen = False
        self.ended = False  # a still image shown, or a video at its end without looping
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: tuple[str | int | Source, str | int | None] | None = None
        self._step = False
        self._kick = False
        self._anchor: tuple[float, float] | None = None  # (monotonic, media time) of a frame
        self._next_hold = 0.0
        self.thread = threading.Thread(target=self._run, name="camview-capture", daemon=True)

    # -- requests (any thread)
    def request_source(self, spec: str | int | Source, fallback: str | int | None) -> None:
        with self._lock:
            self._pending = (spec, fallback)
        self._wake.set()

    def set_frozen(self, frozen: bool) -> None:
        with self._lock:
            self.frozen = frozen
            self._anchor = None
        self._wake.set()

    def request_step(self) -> None:
        with self._lock:
            self.frozen, self._step = True, True
        self._wake.set()

    def kick(self) -> None:
        """Re-deliver the held frame now (after a config change)."""
        self._kick = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # -- the thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._tick()
                except Exception as exc:  # a bug: say so, hold the frame, keep the thread
                    log.exception("capture failed")
                    self.p.error(f"internal error in capture: {type(exc).__name__}: {exc}",
                                 "internal")
                    self.ended = True
        finally:
            self._close_source()

    def _tick(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._switch(*pending)
        src = self.source
        if src is None:
            self._wait(0.1)
            return
        with self._lock:
            step, self._step = self._step, False
        if step:
            self._advance(src, paced=False)
            return
        if self.frozen or self.ended:
            if self.frozen and not self.ended and pace_kind(src) == "live":
                self._drain(src)  # keep a camera's buffer fresh and notice it going away
                self._hold_until(time.monotonic())
            else:
                self._hold_until(time.monotonic() + 1.0 / HOLD_RATE)
            return
        self._advance(src, paced=True)

    def _switch(self, spec: str | int | Source, fallback: str | int | None) -> None:
        name = spec.name if isinstance(spec, Source) else str(spec)
        self.p.status(f"opening {name}…")
        try:
            new = spec.open() if isinstance(spec, Source) else open_source(spec)
        except SourceError as exc:
            if fallback is None:
                # "open", not "source": the current source (if any) keeps running.
                self.p.error(str(exc), "open")
                return
            try:
                new = open_source(fallback)
            except SourceError as exc2:
                self.p.error(str(exc2), "open")
                return
            log.info("%s", exc)
            camera = isinstance(spec, int) or str(spec).strip().isdigit()
            self.p.notice(f"no camera found — showing the {new.name}" if camera
                          else f"{exc} — showing {new.name} instead")
        self._close_source()
        self.source, self.last, self.ended, self._anchor = new, None, False, None
        self.p.source_changed(new)
        self.p.status(f"showing {new.name}")

    def _close_source(self) -> None:
        src, self.source = self.source, None
        if src is not None:
            try:
                src.close()
            except Exception:
                log.exception("closing %s", src.name)

    def _read(self, src: Source) -> Frame | None:
        """The next frame; None when the source ended or failed (then the last one is held)."""
        kind = pace_kind(src)
        try:
            frame = src.read()
            if frame is None and (kind == "folder" or (kind == "timed" and self.loop_video
                                                       and not src.is_live)):
                src.close()  # loop: start again
                src.open()
                self._anchor = None
                frame = src.read()
        except SourceError as exc:
            self.p.error(str(exc), "source")
            if kind == "live" and self._reconnect(src):
                return None if self._stop.is_set() else self._read(src)
            frame = None
        if frame is None:
            self.ended = True
        return frame

    def _reconnect(self, src: Source) -> bool:
        """Retry a lost live source with back-off; False when stopped or replaced meanwhile."""
        delay = RETRY_FIRST_S
        while not self._stop.is_set():
            self.p.status(f"{src.name} lost — retrying in {delay:g} s", error=True)
            if self._hold_until(time.monotonic() + delay, interrupt_on_request=True):
                return False
            try:
                src.close()
                src.open()
            except SourceError as exc:
                log.info("reconnect %s: %s", src.name, exc)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.p.status(f"{src.name} is back")
            return True
        return False

    def _advance(self, src: Source, paced: bool) -> None:
        frame = self._read(src)
        if frame is None:
            return
        if paced:
            self._wait_for_due(src, frame)
            if self._stop.is_set():
                return
        self._deliver(frame)

    def _due(self, src: Source, frame: Frame) -> float | None:
        kind = pace_kind(src)
        if kind == "live":
            return None
        media = frame.timestamp
        if kind == "folder":
            media = frame.index * FOLDER_SECONDS
        elif kind == "still":
            return None
        now = time.monotonic()
        if self._anchor is None or media < self._anchor[1]:
            self._anchor = (now, media)
        due = self._anchor[0] + (media - self._anchor[1])
        if now - due > LATE_RESET_S:
            self._anchor = (now, media)
            due = now
        return due

    def _wait_for_due(self, src: Source, frame: Frame) -> None:
        due = self._due(src, frame)
        if due is not None:
            self._hold_until(due, interrupt_on_request=True)

    def _hold_until(self, until: float, interrupt_on_request: bool = False) -> bool:
        """Sleep until `until`, re-delivering the held frame at HOLD_RATE and on kicks.

        True when interrupted by stop, a new source, a step or a freeze change."""
        while True:
            now = time.monotonic()
            if self._kick or (self.last is not None and now >= self._next_hold):
                self._kick = False
                if self.last is not None:
                    self.p.put(Delivery(self.last, now, fresh=False))
                self._next_hold = now + 1.0 / HOLD_RATE
            if self._stop.is_set():
                return True
            if interrupt_on_request and (self._pending is not None or self._step):
                return True
            if now >= until:
                return False
            timeout = until - now
            if self.last is not None:
                timeout = min(timeout, self._next_hold - now)
            self._wake.wait(max(0.001, timeout))
            self._wake.clear()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _drain(self, src: Source) -> None:
        try:
            src.read()
        except SourceError as exc:
            self.p.error(str(exc), "source")
            if not self._reconnect(src):
                self.ended = True

    def _deliver(self, frame: Frame) -> None:
        now = time.monotonic()
        self.last = frame
        self._next_hold = now + 1.0 / HOLD_RATE
        self.p.put(Delivery(frame, now, fresh=True))
        self.p.frame_delivered(frame, now)


# ---------------------------------------------------------------------------------------------
# Inference


class Inference:
    """The inference thread: newest frame -> map -> smoothed -> composed overlay -> result."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self.smoother = Smoother()
        self._stop = threading.Event()
        self._last_error: str | None = None
        self.thread = threading.Thread(target=self._run, name="camview-inference", daemon=True)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self.p.mailbox.get(timeout=0.2, keep=self.p.flat_out)
            if item is None or self._stop.is_set():
                continue
            cfg = self.p.config()
            if cfg.model is None or cfg.method is None:
                continue
            try:
                result = self.explain(item, cfg)
            except CamviewError as exc:
                self._report(str(exc), "model")
                continue
            except Exception as exc:  # a bug: log it, show it, keep going
                if self._last_error is None:
                    log.exception("inference failed")
                self._report(f"internal error in inference: {type(exc).__name__}: {exc}",
                             "internal")
                continue
            self._last_error = None
            self.p.result_ready(result, cfg)

    def _report(self, message: str, kind: str) -> None:
        if message != self._last_error:  # once per distinct fault, not once per frame
            self._last_error = message
            self.p.error(message, kind)

    def explain(self, item: Delivery, cfg: Config) -> Result:
        t0 = time.monotonic()
        model, method, style = cfg.model, cfg.method, cfg.style
        assert model is not None and method is not None
        image = item.frame.image
        mapped = method.explain(model.prepare(image), cfg.target)
        explained = describe(model, mapped, topk=style.topk, pinned=cfg.target is not None)
        cam = None
        if explained.problem or cfg.smoothing <= 0:
            self.smoother.reset()
        else:
            cam = self.smoother.update(mapped.cam, cfg.smoothing, cfg.generation)
        if self.p.panel_only and style.layout != "overlay":
            style = dataclasses.replace(style, layout="overlay")
        overlay = draw(image, explained, style, cam)
        done = time.monotonic()
        return Result(frame=item.frame, map=mapped,
                      top=[(label, p) for _, label, p in explained.top],
                      top_classes=[(i, p) for i, _, p in explained.top],
                      overlay=overlay, model_name=model.name, method_name=method.title,
                      target=cfg.target, generation=cfg.generation, captured_at=item.captured_at,
                      finished_at=done, inference_s=done - t0,
                      map_label=explained.label,
                      message=explained.banner if explained.problem else None,
                      fresh=item.fresh)


# ---------------------------------------------------------------------------------------------
# Loading models and methods


@dataclass
class _Job:
    kind: str  # "model" or "method"
    name: str | CamModel
    kwargs: dict = field(default_factory=dict)


class Loader:
    """Builds and warms models and methods one at a time, off the capture/inference threads."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.busy = threading.Event()  # set while any submitted job is not finished
        self._count = 0
        self._count_lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="camview-loader", daemon=True)

    def submit(self, job: _Job) -> None:
        with self._count_lock:
            self._count += 1
            self.busy.set()
        self.jobs.put(job)

    def _finished(self) -> None:
        with self._count_lock:
            self._count -= 1
            if self._count == 0:
                self.busy.clear()

    def stop(self) -> None:
        self.jobs.put(None)

    def _run(self) -> None:
        backlog: list[_Job | None] = []
        while True:
            if not backlog:
                backlog.append(self.jobs.get())
            backlog.extend(self._drain())
            if any(j is None for j in backlog):
                return  # stopping: queued loads are dropped
            job = backlog.pop(0)
            if job.kind == "model" and any(j.kind == "model" for j in backlog):
                self._finished()  # a newer model was asked for meanwhile: skip this one
                continue
            try:
                if job.kind == "model":
                    self._load_model(job)
                else:
                    self._load_method(str(job.name))
            except CamviewError as exc:
                self.p.error(str(exc), job.kind)
            except Exception as exc:
                log.exception("loading %s %s failed", job.kind, job.name)
                self.p.error(f"loading {job.name} failed: {type(exc).__name__}: {exc}", job.kind)
            finally:
                self.p.config_changed()
                self._finished()

    def _drain(self) -> list[_Job | None]:
        jobs = []
        while True:
            try:
                jobs.append(self.jobs.get_nowait())
            except queue.Empty:
                return jobs

    def _load_model(self, job: _Job) -> None:
        if isinstance(job.name, CamModel):
            model = job.name
        else:
            self.p.status(f"loading {job.name}…")
            t0 = time.monotonic()
            model = load_model(job.name, **job.kwargs)
            log.info("loaded %s in %.1f s", model.name, time.monotonic() - t0)
        wanted = self.p.method_name
        method, note = self._method_for(model, wanted)
        self.p.status(f"warming up {model.name}…")
        self._warm(model, method)
        self.p.install(model=model, method=method)
        self.p.status(f"{model.describe()}" + (f" — {note}" if note else ""))

    def _method_for(self, model: CamModel, wanted: str) -> tuple[Method, str | None]:
        """The wanted method, or Grad-CAM when the model cannot do it (a gradient-only head)."""
        try:
            return make_method(wanted, model), None
        except ModelError as exc:
            if method_class(wanted).name == "cam" and model.head is HeadKind.GRADIENT_ONLY:
                return make_method("gradcam", model), f"{exc}; using Grad-CAM"
            raise

    def _load_method(self, name: str) -> None:
        model = self.p.current_model
        if model is None:  # remembered for when a model arrives
            method_class(name)
            self.p.install(method_name=method_class(name).name)
            return
        method = make_method(name, model)
        self._warm(model, method)
        self.p.install(method=method)
        self.p.status(f"method: {method.title}")

    def _warm(self, model: CamModel, method: Method) -> None:
        """Trace the compiled functions now, so the first live frame does not stall."""
        frame = self.p.last_frame
        image = frame.image if frame is not None else np.zeros((480, 640, 3), np.uint8)
        method.explain(model.prepare(image), None)


# ---------------------------------------------------------------------------------------------
# The controller


class Pipeline:
    """Capture, inference and loading threads behind one small API.

    Callbacks are called from the pipeline's threads, never the caller's:
      on_frame(frame) for each new captured frame;
      on_result(result) for each explained frame of the current configuration;
      on_status(message) for progress ("loading…", "camera back");
      on_error(message, kind) for faults, kind in source (the running source failed), open
        (a new source failed to open; the old one keeps running), model, method, internal,
        and notice (not a fault but must be seen: "no camera found — showing the demo");
      on_config() after any model/method request finished (successfully or not);
      on_source(source) after a new source opened.
    """

    def __init__(
        self,
        *,
        on_frame: Callable[[Frame], None] | None = None,
        on_result: Callable[[Result], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        on_config: Callable[[], None] | None = None,
        on_source: Callable[[Source], None] | None = None,
        style: OverlayStyle | None = None,
        method: str = "cam",
        smoothing: float = 0.0,
        loop_video: bool = True,
        panel_only: bool = False,
        flat_out: bool = False,
    ) -> None:
        self.on_frame = on_frame or _noop
        self.on_result = on_result or _noop
        self.on_status = on_status or _noop
        self.on_error = on_error or _noop
        self.on_config = on_config or _noop
        self.on_source = on_source or _noop
        self.panel_only = panel_only  # compose only the overlay panel (the window shows the raw)
        # Benchmarks: explain the newest frame again when no new one has come, to measure the
        # most maps a second this machine makes beside capture and display.
        self.flat_out = flat_out
        self.mailbox = Mailbox()
        self._lock = threading.Lock()
        self._model: CamModel | None = None
        self._method: Method | None = None
        self._method_name = method_class(method).name
        self._target: int | None = None
        self._style = style or OverlayStyle()
        self._smoothing = float(smoothing)
        self._generation = 0
        self._source: Source | None = None
        self._started = False
        self.capture_rate = RateMeter()
        self.inference_rate = RateMeter()
        self.display_rate = RateMeter()
        self.latency = Percentiles()
        self.display_latency = Percentiles()
        self.inference_time = Percentiles()
        self._capture = Capture(self, loop_video)
        self._inference = Inference(self)
        self._loader = Loader(self)

    # -- lifecycle
    def start(self) -> Pipeline:
        if not self._started:
            self._started = True
            self._loader.thread.start()
            self._inference.thread.start()
            self._capture.thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop and join every thread; the source (camera) is closed. True if all joined.

        A model load in progress cannot be interrupted: its thread is a daemon and its result
        is thrown away."""
        deadline = time.monotonic() + timeout
        self._capture.stop()
        self._inference.stop()
        self._loader.stop()
        self.mailbox.close()
        joined = True
        for worker in (self._capture, self._inference, self._loader):
            if worker.thread.ident is not None:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
                joined &= not worker.thread.is_alive()
        return joined

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- requests (any thread; all return at once)
    def set_source(self, spec: str | int | Source, fallback: str | int | None = None) -> None:
        """Open `spec` on the capture thread (a camera can take seconds); if it fails, show
        `fallback` instead with a notice, or keep the current source and report the error."""
        self._capture.request_source(spec, fallback)

    def set_model(self, name: str | CamModel, weights: str | None = None, **kwargs) -> None:
        """Load (name, weights, read_layer=, resize=, labels=) in the background; the current
        model keeps serving until the new one is warmed up."""
        if not isinstance(name, CamModel):
            kwargs["weights"] = weights
        self._loader.submit(_Job("model", name, kwargs))

    def set_method(self, name: str) -> None:
        """Switch to cam/gradcam/gradcam++ once built; on failure (CAM of a gradient-only
        net) the previous method stays and on_error says why."""
        method_class(name)  # an unknown name fails here, in the caller
        self._loader.submit(_Job("method", name))

    def set_target(self, index: int | None) -> None:
        """Pin class `index` (None: each frame's top-1)."""
        model = self.current_model
        if index is not None and model is not None and not 0 <= index < len(model.labels):
            raise ModelError(f"class index {index} is out of range 0..{len(model.labels) - 1}")
        with self._lock:
            self._target = None if index is None else int(index)
            self._bump()
        self._capture.kick()

    def set_style(self, style: OverlayStyle) -> None:
        with self._lock:
            self._style = style
        self._capture.kick()

    def set_smoothing(self, amount: float) -> None:
        """0 = off .. 0.95 = very smooth (the weight of the past in the moving average)."""
        with self._lock:
            self._smoothing = min(max(float(amount), 0.0), 0.99)

    def freeze(self, frozen: bool) -> None:
        """Hold the current frame; inference keeps explaining it (compare classes, methods)."""
        self._capture.set_frozen(bool(frozen))
        self._capture.kick()

    def step(self) -> None:
        """Freeze (if needed) and advance by one frame."""
        self._capture.request_step()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every queued model/method load finished (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._loader.busy.is_set():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # -- state
    @property
    def generation(self) -> int:
        return self._generation

    @property
    def current_model(self) -> CamModel | None:
        return self._model

    @property
    def method_name(self) -> str:
        return self._method_name

    @property
    def target(self) -> int | None:
        return self._target

    @property
    def style(self) -> OverlayStyle:
        return self._style

    @property
    def smoothing(self) -> float:
        return self._smoothing

    @property
    def frozen(self) -> bool:
        return self._capture.frozen

    @property
    def source(self) -> Source | None:
        return self._source

    @property
    def source_fps(self) -> float | None:
        src = self._source
        return src.fps if src is not None else None

    @property
    def last_frame(self) -> Frame | None:
        return self._capture.last

    @property
    def loading(self) -> bool:
        return self._loader.busy.is_set()

    def config(self) -> Config:
        with self._lock:
            return Config(self._model, self._method, self._target, self._style,
                          self._smoothing, self._generation)

    def stats(self) -> Stats:
        def ms(p: Percentiles, q: float) -> float | None:
            v = p.get(q)
            return None if v is None else v * 1000.0

        return Stats(
            capture_fps=self.capture_rate.rate(), inference_fps=self.inference_rate.rate(),
            display_fps=self.display_rate.rate(), dropped=self.mailbox.dropped,
            frames=self.capture_rate.count, results=self.inference_rate.count,
            latency_p50_ms=ms(self.latency, 50), latency_p95_ms=ms(self.latency, 95),
            display_latency_p50_ms=ms(self.display_latency, 50),
            display_latency_p95_ms=ms(self.display_latency, 95),
            inference_p50_ms=ms(self.inference_time, 50))

    def note_displayed(self, result: Result) -> None:
        """Called by a display when it shows a result: feeds display fps and latency."""
        now = time.monotonic()
        self.display_rate.tick(now)
        self.display_latency.add(now - result.captured_at)

    # -- used by the workers
    def _bump(self) -> None:
        self._generation += 1  # the smoother restarts when it sees a new generation

    def install(self, *, model: CamModel | None = None, method: Method | None = None,
                method_name: str | None = None) -> None:
        with self._lock:
            if model is not None:
                old = self._model
                self._model = model
                if old is None or list(old.labels) != list(model.labels):
                    self._target = None
            if method is not None:
                self._method = method
                self._method_name = method.name
            elif method_name is not None:
                self._method_name = method_name
            self._bump()
        self._capture.kick()

    def put(self, item: Delivery) -> None:
        self.mailbox.put(item)

    def frame_delivered(self, frame: Frame, now: float) -> None:
        self.capture_rate.tick(now)
        self._call(self.on_frame, frame)

    def result_ready(self, result: Result, cfg: Config) -> None:
        if cfg.generation != self._generation:
            return  # computed for a configuration that changed meanwhile
        self.inference_rate.tick(result.finished_at)
        self.latency.add(result.latency_s)
        self.inference_time.add(result.inference_s)
        self._call(self.on_result, result)

    def source_changed(self, source: Source) -> None:
        self._source = source
        with self._lock:
            self._bump()
        self._call(self.on_source, source)

    def status(self, message: str, error: bool = False) -> None:
        """Progress; with error=True a source fault in progress ("lost — retrying")."""
        log.info("%s", message)
        if error:
            self._call(self.on_error, message, "source")
        else:
            self._call(self.on_status, message)

    def notice(self, message: str) -> None:
        """Something the user must see that is not a fault (no camera: showing the demo)."""
        log.info("%s", message)
        self._call(self.on_error, message, "notice")

    def error(self, message: str, kind: str) -> None:
        log.warning("%s", message)
        self._call(self.on_error, message, kind)

    def config_changed(self) -> None:
        self._call(self.on_config)

    @staticmethod
    def _call(callback: Callable, *args) -> None:
        try:
            callback(*args)
        except Exception:  # a faulty callback must not kill a pipeline thread
            log.exception("pipeline callback %s failed", getattr(callback, "__name__", callback))
