"""The loader thread: builds and warms models and methods while the current ones keep serving."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from camview.errors import CamviewError, ModelError, for_window
from camview.live.compare import CompareSpec, Versus, explain_panels
from camview.live.error_kind import ErrorKind
from camview.maps import METHODS, Method, fallback_method, make_method, method_class
from camview.maps.closed_form import uses_closed_form
from camview.maps.read_pass import explain_rules
from camview.models import CamModel, load_model
from camview.models.second_model import COMPARE_PREFIX, load_second_model
from camview.models.whole_folder import stopping
from camview.sources import Frame

log = logging.getLogger(__name__)


@dataclass
class LoadModel:
    """Load a model by name (with load_model's keyword arguments), or install a built one."""

    name: str | CamModel
    kwargs: dict = field(default_factory=dict)
    kind: ClassVar[ErrorKind] = ErrorKind.MODEL  # how its failure is reported


@dataclass
class LoadMethod:
    """Build a method for the current model (or remember it until a model arrives).

    name None: the current method (a layer change); layer None: the layer the current
    method reads (the model's read layer when there is none)."""

    name: str | None
    layer: str | None = None
    kind: ClassVar[ErrorKind] = ErrorKind.METHOD


@dataclass
class LoadCompare:
    """Build a compare's methods for the current model (None: back to the single view)."""

    spec: CompareSpec | None
    name: ClassVar[str] = "the compare view"
    kind: ClassVar[ErrorKind] = ErrorKind.METHOD


@dataclass
class PrepareCompare:
    """Trace a compare's methods for `model` ahead, installing nothing: the compare G turns
    on first then shows at once instead of after seconds of tracing. Runs only when no other
    job waits; a failure is only logged (nobody asked for it yet)."""

    spec: CompareSpec
    model: CamModel
    name: ClassVar[str] = "the compare view, ahead"
    kind: ClassVar[ErrorKind] = ErrorKind.METHOD


@dataclass
class SetRuntime:
    """Run the current model's forward passes on another runtime (camview.models.runtimes);
    the models loaded after it get the same one."""

    name: str
    kind: ClassVar[ErrorKind] = ErrorKind.MODEL


Job = LoadModel | LoadMethod | LoadCompare | PrepareCompare | SetRuntime


class LoaderHost(Protocol):
    """All the loader thread may call on whoever runs it (the Pipeline)."""

    @property
    def current_model(self) -> CamModel | None: ...
    @property
    def method_name(self) -> str: ...
    @property
    def last_frame(self) -> Frame | None: ...
    @property
    def compare(self) -> CompareSpec | None: ...
    def layer(self) -> str | None: ...
    def install(self, *, model: CamModel | None = None, method: Method | None = None,
                method_name: str | None = None) -> None: ...
    def install_compare(self, spec: CompareSpec | None, methods: dict[str, Method],
                        versus: dict[str, Method]) -> None: ...
    def status(self, message: str) -> None: ...
    def error(self, message: str, kind: ErrorKind) -> None: ...
    def config_changed(self) -> None: ...


class Loader:
    """Builds and warms models and methods one at a time, off the capture/inference threads.

    `ahead`: a compare to trace for each model loaded, while the live view runs (the window's
    first preset), so turning it on is instant."""

    def __init__(self, host: LoaderHost, ahead: CompareSpec | None = None) -> None:
        self.host = host
        self.ahead = ahead
        self.second: CamModel | None = None  # the compare's second model, kept while asked for
        self._second_asked: tuple[str, tuple] | None = None  # its name and options, as asked
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.busy = threading.Event()  # set while any submitted job is not finished
        self._count = 0
        self._count_lock = threading.Lock()
        self.runtime: str | None = None  # the last SetRuntime's; None: load_model's default
        self.thread = threading.Thread(target=self._run, name="camview-loader", daemon=True)

    def submit(self, job: Job) -> None:
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
        backlog: list[Job | None] = []
        while True:
            if not backlog:
                backlog.append(self.jobs.get())
            backlog.extend(self._drain())
            if any(j is None for j in backlog):
                return  # stopping: queued loads are dropped
            job = backlog.pop(0)
            assert job is not None
            if isinstance(job, LoadModel) and any(isinstance(j, LoadModel) for j in backlog):
                self._finished()  # a newer model was asked for meanwhile: skip this one
                continue
            if isinstance(job, PrepareCompare) and backlog:
                backlog.append(job)  # what was asked for goes first
                continue
            try:
                if isinstance(job, LoadModel):
                    self._load_model(job)
                elif isinstance(job, LoadCompare):
                    self._load_compare(job.spec, self.host.current_model)
                elif isinstance(job, PrepareCompare):
                    self._prepare_compare(job)
                elif isinstance(job, SetRuntime):
                    self._set_runtime(job)
                else:
                    self._load_method(job)
            except CamviewError as exc:
                if stopping():  # the process ends (a conversion stopped): nobody to tell
                    log.debug("%s %s: %s", job.kind, job.name, exc)
                else:
                    self.host.error(for_window(exc), job.kind)
            except Exception as exc:
                log.exception("loading %s %s failed", job.kind, job.name)
                self.host.error(f"loading {job.name} failed: {type(exc).__name__}: {exc}",
                                job.kind)
            finally:
                self.host.config_changed()
                self._finished()

    def _drain(self) -> list[Job | None]:
        jobs = []
        while True:
            try:
                jobs.append(self.jobs.get_nowait())
            except queue.Empty:
                return jobs

    def _load_model(self, job: LoadModel) -> None:
        if isinstance(job.name, CamModel):
            model = job.name
            if self.runtime is not None:
                model.use_runtime(self.runtime, say=self.host.status)
        else:
            self.host.status(f"loading {job.name}…")
            t0 = time.monotonic()
            kwargs = dict(job.kwargs)
            if self.runtime is not None:
                kwargs.setdefault("runtime", self.runtime)
            # A download of the weights (SqueezeNet's first use) and the first conversion to
            # OpenVINO report through the status.
            model = load_model(job.name, progress=self.host.status, **kwargs)
            log.debug("loaded %s in %.1f s", model.name, time.monotonic() - t0)
        wanted = self.host.method_name
        method, note = self._method_for(model, wanted)
        self.host.status(f"warming up {model.name}…")
        self._warm(model, method)
        self.host.install(model=model, method=method)
        try:  # the compare too (its methods for this model), without failing the model
            self._load_compare(self.host.compare, model)
        except CamviewError as exc:
            self.host.install_compare(None, {}, {})  # the old one's methods cannot serve it
            if not stopping():  # a second model's conversion stopped: the process ends
                self.host.error(for_window(exc), ErrorKind.METHOD)
        notes = [n for n in (model.preprocess_note, model.runtime_note, note) if n]
        self.host.status(" — ".join([model.describe(), *notes]))
        if self.ahead is not None and self.host.compare is None:
            self.submit(PrepareCompare(self.ahead, model))

    def _set_runtime(self, job: SetRuntime) -> None:
        """Switch the current model's runtime (converted once per model; switching back is
        instant), then warm the current method on it so the next live frame does not trace."""
        self.runtime = job.name
        model = self.host.current_model
        if model is None:  # remembered for when a model arrives
            return
        method = make_method(self.host.method_name, model, self.host.layer)
        forward = model.runtime_for(job.name, say=self.host.status)
        if uses_closed_form(method, forward):  # run once before the live loop can need it
            explain_rules(model, [method], model.prepare(self._image()), None, forward)
        model.use_runtime(job.name)
        self._warm(model, method)
        if self.host.compare is not None:
            self._load_compare(self.host.compare, model)
        notes = [n for n in (model.preprocess_note, model.runtime_note) if n]
        self.host.status(" — ".join([model.describe(), *notes]))

    def _method_for(self, model: CamModel, wanted: str) -> tuple[Method, str | None]:
        """The wanted method, or the fallback (Grad-CAM; HiResCAM for a vision transformer)
        when the model cannot do it (a gradient-only head, CAM of a ViT)."""
        try:
            return make_method(wanted, model), None
        except ModelError as exc:
            if not method_class(wanted).serves_model(model):
                # HiResCAM for a vision transformer, Grad-CAM for a CNN, or for a model
                # without a backward pass under a non-linear head the first method it serves
                # (Eigen-CAM)
                fallback = next(m for m in (fallback_method(model), *METHODS)
                                if METHODS[m].live and METHODS[m].serves_model(model))
                return (make_method(fallback, model),
                        f"{for_window(exc)}; using {METHODS[fallback].title}")
            raise

    def _load_method(self, job: LoadMethod) -> None:
        model = self.host.current_model
        name = job.name or self.host.method_name
        if model is None:  # remembered for when a model arrives
            self.host.install(method_name=method_class(name).name)
            return
        layer, note = job.layer or self.host.layer, ""
        try:
            method = make_method(name, model, layer)
        except ModelError:
            if job.layer is not None or layer in (None, model.read_layer):
                raise  # the layer asked for (or the model's own) cannot serve: say why
            # A method switch that keeps an earlier layer this method cannot read (CAM
            # reads only the layer before pooling): the method wins, at the model's layer.
            method = make_method(name, model)
            note = f" (it reads only {model.read_layer!r})"
        self._warm(model, method)
        self.host.install(method=method)
        compare = self.host.compare
        if compare is not None and compare.versus is not None and not compare.method_names:
            self._load_compare(compare, model)  # the second model's row follows the method
        at = f" at {method.layer}" if method.layer != model.read_layer else ""
        self.host.status(f"method: {method.title}{at}{note}")

    def _load_compare(self, spec: CompareSpec | None, model: CamModel | None) -> None:
        """Build the compare's methods for `model` (and its second model's), trace what its
        grid calls, then install them. A method the model cannot serve ends the compare and
        says why; a second model that fails to load says why and leaves the compare as it
        was."""
        if spec is None or model is None:  # off, or remembered for when a model arrives
            self.host.install_compare(spec, {}, {})
            return
        try:
            methods = compare_methods(spec, model)
        except CamviewError:
            self.host.install_compare(None, {}, {})
            raise
        image = self._image()
        versus = self._versus(spec, model, image)
        self._trace_panels(model, methods, spec, model.prepare(image), versus)
        self.host.install_compare(spec, methods, {} if versus is None else dict(versus.methods))

    def _prepare_compare(self, job: PrepareCompare) -> None:
        model = job.model
        if model is not self.host.current_model:
            return  # another model came meanwhile: its own load prepares it
        try:
            methods = compare_methods(job.spec, model)
            self._trace_panels(model, methods, job.spec, model.prepare(self._image()), None)
        except CamviewError as exc:  # e.g. CAM of a gradient-only net: said when asked for
            log.debug("not preparing %s for %s: %s", job.name, model.name, exc)

    def _trace_panels(self, model: CamModel, methods: dict[str, Method], spec: CompareSpec,
                      batch: np.ndarray, versus: Versus | None) -> None:
        """Map the grid's panels once: exactly the compiled calls the live grid makes (the
        shared passes, and each panel mapped alone) are traced now, not on its first frame."""
        main = make_method(self.host.method_name, model, self.host.layer)
        explain_panels(model, main, methods, spec, batch, None, 1, versus)

    def _versus(self, spec: CompareSpec, model: CamModel, image: np.ndarray) -> Versus | None:
        """The second model's side of `spec` (loaded the first time it is asked for, on this
        runtime), or None without one; a failure raises ModelError naming the model."""
        if spec.versus is None:
            return None
        name, options = spec.versus, dict(spec.versus_options)
        try:
            if name == model.name and not options:  # the same network twice: no second copy
                self.second, self._second_asked = model, (name, spec.versus_options)
            elif self.second is None or self._second_asked != (name, spec.versus_options):
                # Asked with options of its own (a ViT fed its centre crop beside itself
                # squashed), the same file is loaded again, as those options make it.
                self.second = None
                self.host.status(f"loading {name} for the compare…")
                kwargs = {} if self.runtime is None else {"runtime": self.runtime}
                self.second = load_second_model(name, options, COMPARE_PREFIX,
                                                progress=self.host.status, **kwargs)
                self._second_asked = (name, spec.versus_options)
            other = self.second
            if self.runtime is not None and other.runtime_requested != self.runtime:
                other.use_runtime(self.runtime, say=self.host.status)
            methods = served_methods(spec.versus_method_names(self.host.method_name), other)
        except CamviewError as exc:
            raise ModelError(f"second model {name}: {for_window(exc)}; the compare stays as "
                             "it was") from exc
        return Versus(other, methods, other.prepare(image))

    def _image(self) -> np.ndarray:
        """The newest frame (a black one before any): what warming traces with."""
        frame = self.host.last_frame
        return frame.image if frame is not None else np.zeros((480, 640, 3), np.uint8)

    def _warm(self, model: CamModel, method: Method) -> None:
        """Trace the compiled functions now, so the first live frame does not stall."""
        method.explain(model.prepare(self._image()), None)


#: What a vision transformer's compare panel shows instead of a method that cannot map it
#: (CAM), in order of preference, each used once.
_TRANSFORMER_STAND_INS = ("hirescam", "rollout", "gradient-rollout", "gradcam", "eigencam",
                          "reciprocam")  # the last two: what an ONNX ViT serves live


def compare_methods(spec: CompareSpec, model: CamModel) -> dict[str, Method]:
    """The methods a compare's panels name, built for `model` (served_methods)."""
    return served_methods(spec.method_names, model)


def served_methods(names: tuple[str, ...] | list[str], model: CamModel) -> dict[str, Method]:
    """The methods `names`, built for `model`, by name (CamviewError: one it cannot serve).
    For a vision transformer a method that cannot map it (the presets' CAM) is replaced by a
    token method not in the grid yet, titled as itself, so the window's presets serve a ViT
    too, as the main model or as the compare's second model beside a CNN."""
    names = list(names)
    if model.transformer is not None:
        free = [n for n in _TRANSFORMER_STAND_INS
                if n not in names and method_class(n).applies_to(model) is None]
        return {name: make_method(free.pop(0) if method_class(name).applies_to(model)
                                  and free else name, model) for name in names}
    return {name: make_method(name, model) for name in names}
