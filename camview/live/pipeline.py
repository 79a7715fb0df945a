"""The controller: owns the mailbox, the three worker threads and the state they share."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from camview.drawing.overlay import OverlayStyle
from camview.errors import ModelError
from camview.live.callbacks import call_safely
from camview.live.capture import Capture
from camview.live.compare import CompareSpec, check_live
from camview.live.error_kind import ErrorKind
from camview.live.inference import Config, Inference, Result
from camview.live.loader import LoadCompare, Loader, LoadMethod, LoadModel, SetRuntime
from camview.live.mailbox import Delivery, Mailbox
from camview.live.metrics import Percentiles, RateMeter, Stats
from camview.maps import DEFAULT_METHOD, Method, method_class
from camview.models import CamModel
from camview.models.runtimes import check_runtime
from camview.sources import Frame, Source

log = logging.getLogger(__name__)


def _noop(*_args) -> None:
    pass


class Pipeline:
    """Capture, inference and loading threads behind one small API.

    Callbacks are called from the pipeline's threads, never the caller's:
      on_frame(frame) for each new captured frame;
      on_result(result) for each explained frame of the current configuration;
      on_status(message) for progress ("loading…", "camera back");
      on_error(message, kind) for faults (worded for the window: an error's window_hint
        replaces its command-line advice), kind an ErrorKind (a str enum): source (the running
        source failed), open (a new source failed to open; the old one keeps running), model,
        method, internal, and notice (not a fault but must be seen: "no camera found —
        showing the demo");
      on_config() after any model/method request finished (successfully or not);
      on_source(source) after a new source opened.

    The workers see the Pipeline only through their small interfaces (CaptureHost,
    InferenceHost, LoaderHost): the methods under "used by the workers" and a few properties.
    """

    def __init__(
        self,
        *,
        on_frame: Callable[[Frame], None] | None = None,
        on_result: Callable[[Result], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_error: Callable[[str, ErrorKind], None] | None = None,
        on_config: Callable[[], None] | None = None,
        on_source: Callable[[Source], None] | None = None,
        style: OverlayStyle | None = None,
        method: str = DEFAULT_METHOD,
        smoothing: float = 0.0,
        loop_video: bool = True,
        panel_only: bool = False,
        flat_out: bool = False,
        compare_ahead: CompareSpec | None = None,
    ) -> None:
        """`panel_only`: compose only the overlay panel (the window shows the raw frame).
        `flat_out` (benchmarks): explain the newest frame again when no new one has come, to
        measure the most maps a second this machine makes beside capture and display.
        `compare_ahead`: a compare whose methods are traced after each model load, while the
        single view runs, so that set_compare(it) shows its first grid at once."""
        self.on_frame = on_frame or _noop
        self.on_result = on_result or _noop
        self.on_status = on_status or _noop
        self.on_error = on_error or _noop
        self.on_config = on_config or _noop
        self.on_source = on_source or _noop
        self.mailbox = Mailbox()
        self._lock = threading.Lock()
        self._model: CamModel | None = None
        self._method: Method | None = None
        self._method_name = method_class(method).name
        self._target: int | None = None
        self._compare: CompareSpec | None = None
        self._compare_methods: dict[str, Method] = {}
        self._versus_methods: dict[str, Method] = {}  # the compare's second model's
        self._grid_aspect: float | None = None
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
        self._capture = Capture(self, loop_video)
        self._inference = Inference(self, self.mailbox, flat_out=flat_out,
                                    panel_only=panel_only)
        self._loader = Loader(self, ahead=compare_ahead)

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
        self._loader.submit(LoadModel(name, kwargs))

    def set_runtime(self, name: str) -> None:
        """Run forward passes on runtime `name` (auto, tensorflow, openvino) from now on: the
        current model is switched on the loader thread (converted the first time, which takes
        tens of seconds, while it keeps serving on its runtime) and later models load with it.
        An unknown name fails here, in the caller."""
        self._loader.submit(SetRuntime(check_runtime(name)))

    def set_method(self, name: str, layer: str | None = None) -> None:
        """Switch to method `name` once built, at `layer` (None: the layer read now); on
        failure (CAM of a gradient-only net) the previous method stays and on_error says why."""
        method_class(name)  # an unknown name fails here, in the caller
        self._loader.submit(LoadMethod(name, layer))

    def set_layer(self, layer: str) -> None:
        """Read the current method's maps from `layer` (a path spatial_layers lists), built on
        the loader thread; a method that cannot read it (CAM) stays and on_error says why."""
        self._loader.submit(LoadMethod(None, layer))

    def set_compare(self, spec: CompareSpec | None) -> None:
        """Show several panels of each frame (camview.live.compare), None: the single view.
        Slow methods fail here, in the caller (CamviewError); the methods (and a second model)
        are built on the loader thread while the current view keeps serving; a second model
        that fails to load leaves the compare as it was, on_error saying why."""
        if spec is not None:
            check_live(spec.method_names)
        self._loader.submit(LoadCompare(spec))

    def set_grid_aspect(self, aspect: float | None) -> None:
        """Shape a compare's grid for a view this wide per unit of height (None: the default
        shape, one row up to 3), so its panels come out as large as the view allows."""
        with self._lock:
            changed = aspect != self._grid_aspect
            self._grid_aspect = aspect
        if changed:
            self._capture.kick()

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
        """Hold the current frame; a change of class, method or style is mapped on it at once
        (compare them); the unchanged frame is not explained again (see Inference)."""
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
    def layer(self) -> str | None:
        """The layer the current method reads (None before a method is built)."""
        with self._lock:
            method, model = self._method, self._model
        return method.layer if method is not None and method.model is model else None

    @property
    def target(self) -> int | None:
        return self._target

    @property
    def compare(self) -> CompareSpec | None:
        return self._compare

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

    def config(self) -> Config:
        with self._lock:
            return Config(self._model, self._method, self._target, self._style,
                          self._smoothing, self._generation, self._compare,
                          self._compare_methods, self._grid_aspect, self._versus_methods)

    def stats(self) -> Stats:
        return Stats(
            capture_fps=self.capture_rate.rate(), inference_fps=self.inference_rate.rate(),
            display_fps=self.display_rate.rate(), dropped=self.mailbox.dropped,
            frames=self.capture_rate.count, results=self.inference_rate.count,
            latency_p50_ms=self.latency.ms(50), latency_p95_ms=self.latency.ms(95),
            display_latency_p50_ms=self.display_latency.ms(50),
            display_latency_p95_ms=self.display_latency.ms(95),
            map_up_to_date=self._inference.up_to_date)

    def note_displayed(self, result: Result) -> None:
        """Called by a display when it shows a result: feeds display fps and latency."""
        now = time.monotonic()
        self.display_rate.tick(now)
        self.display_latency.add(now - result.captured_at)

    # -- used by the workers (their Host protocols)
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

    def install_compare(self, spec: CompareSpec | None, methods: dict[str, Method],
                        versus: dict[str, Method]) -> None:
        with self._lock:
            self._compare, self._compare_methods = spec, dict(methods)
            self._versus_methods = dict(versus)
            self._bump()
        self._capture.kick()

    def put(self, item: Delivery) -> None:
        self.mailbox.put(item)

    def frame_delivered(self, frame: Frame, now: float) -> None:
        self.capture_rate.tick(now)
        call_safely(self.on_frame, frame)

    def result_ready(self, result: Result, cfg: Config) -> None:
        if cfg.generation != self._generation:
            return  # computed for a configuration that changed meanwhile
        self.inference_rate.tick(result.finished_at)
        self.latency.add(result.latency_s)
        call_safely(self.on_result, result)

    def source_changed(self, source: Source) -> None:
        self._source = source
        with self._lock:
            self._bump()
        call_safely(self.on_source, source)

    def status(self, message: str, error: bool = False) -> None:
        """Progress; with error=True a source fault in progress ("lost — retrying"). The
        window's status line shows it; the terminal only under --debug."""
        log.debug("%s", message)
        if error:
            call_safely(self.on_error, message, ErrorKind.SOURCE)
        else:
            call_safely(self.on_status, message)

    def notice(self, message: str) -> None:
        """Something the user must see that is not a fault (no camera: showing the demo)."""
        log.debug("%s", message)
        call_safely(self.on_error, message, ErrorKind.NOTICE)

    def error(self, message: str, kind: ErrorKind) -> None:
        log.warning("%s", message)
        call_safely(self.on_error, message, kind)

    def config_changed(self) -> None:
        call_safely(self.on_config)
