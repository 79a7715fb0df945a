"""The forward pass behind a CamModel: TensorFlow's compiled call, or the same graph run by
OpenVINO, which is near this CPU's floor for a forward pass (1.7-2.1x TensorFlow's here).

Either runtime takes a batch of any size (batch 1 for the live loop, larger for evaluate and
the perturbation methods) and returns, in one call, the read layer's activations and the
class scores: everything CAM, Eigen-CAM, Score-CAM, occlusion, deletion/insertion and, for a
pooling + dense head, the gradient methods need (camview.maps.closed_form).

``auto`` uses OpenVINO when the model converts, its outputs match TensorFlow's on a probe
input (checked at every load, see PROBE_TOLERANCE) and it is the faster of the two on that
input now (`race`: on a heavily shared CPU it may not be), else TensorFlow, with one line
saying why; with a GPU TensorFlow can use (the ``camview[cuda]`` install), ``auto`` keeps
TensorFlow. The conversion (Keras SavedModel export, then ``openvino.convert_model``) takes
tens of seconds, so its result is kept under the cache folder, keyed by the model's fingerprint
(graph, read layer and the weights' bytes), and OpenVINO's own CACHE_DIR keeps the compiled
blob beside it: a second start reads both back (1-2 s on two loaded cores).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from camview.errors import CamviewError, ModelError
from camview.models.cache_folder import cache_dir
from camview.models.whole_folder import check_going, write_whole


class RunnableModel(Protocol):
    """What a runtime reads of camview.models.base.CamModel (which imports this module, so
    the runtimes name only this part of it)."""

    name: str
    read_layer: str
    feature_model: Any  # keras.Model: input -> [read layer's activations, scores]
    input_spec: Any  # tf.TensorSpec of one input
    tensorflow_forward: Forward  # TensorFlow's compiled forward, built once
    runtime_race_ms: dict[str, float] | None  # what auto timed (race), when it did

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray: ...

log = logging.getLogger(__name__)

TENSORFLOW = "tensorflow"
OPENVINO = "openvino"
AUTO = "auto"
#: What --runtime takes, in the order help and menus list them.
RUNTIMES = (AUTO, TENSORFLOW, OPENVINO)
#: The runtime a model loads with unless told otherwise; tests set $CAMVIEW_RUNTIME.
RUNTIME_ENV = "CAMVIEW_RUNTIME"
#: OpenVINO is used only when its outputs on the probe input are within this fraction of the
#: output's range (scores and activations alike) of TensorFlow's.
PROBE_TOLERANCE = 1e-3
#: Said the first time a model is converted (tens of seconds on two loaded cores).
OPTIMISING = "optimising the model for this CPU (once)"
#: How the CPU plugin compiles: for one call at a time, and in float32 throughout. On a CPU
#: with AMX or AVX-512 bf16 (Xeon since Sapphire Rapids) OpenVINO's default precision is
#: bfloat16, whose scores differ from TensorFlow's by about 1 % of their range (SqueezeNet,
#: measured): the probe would refuse it, and the maps are checked to 1e-4.
COMPILE_CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
#: The same for OpenVinoForward.start: as many streams as OpenVINO finds pay on this CPU.
THROUGHPUT_CONFIG = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}
#: Threads OpenVINO's throughput model computes on: None, every core of the machine; a
#: number, that many (set_cpu_threads, for a process given a share of the machine's cores).
_cpu_threads: int | None = None
#: Calls of each runtime auto times on the probe input (race), in turns.
RACE_REPEATS = 5
#: TensorFlow's outputs on the probe input, kept beside the converted graph.
PROBE = "probe.npz"

Say = Callable[[str], None]


def set_cpu_threads(threads: int | None) -> None:
    """Compile OpenVINO's throughput model (OpenVinoForward.start) from now on for `threads`
    threads (None: every core).

    For a process given some of the machine's cores, such as a Ray worker: OpenVINO sizes
    itself to the whole machine and reads no OMP_NUM_THREADS (the variable Ray sets to a
    worker's CPUs), so two one-CPU workers on two cores ran four inference threads. Its
    threads are then not pinned to cores either: each process would pin its own to the
    first cores, stacking them there. An input's result is bitwise the same (measured: each
    call runs on one thread of a throughput stream either way). The latency model keeps
    every core: its calls split over threads, and a call on fewer threads gives other last
    digits (seen on --metrics' scores on a worker of a smaller machine)."""
    global _cpu_threads
    _cpu_threads = threads


def _throughput_config() -> dict:
    if _cpu_threads is None:
        return THROUGHPUT_CONFIG
    return {**THROUGHPUT_CONFIG, "INFERENCE_NUM_THREADS": _cpu_threads,
            "ENABLE_CPU_PINNING": False}


def default_runtime() -> str:
    """$CAMVIEW_RUNTIME when set (checked), else auto."""
    return check_runtime(os.environ.get(RUNTIME_ENV) or AUTO)


def check_runtime(name: str) -> str:
    """`name` when it is one of RUNTIMES, else one line naming them."""
    name = str(name).strip().lower()
    if name not in RUNTIMES:
        raise ModelError(f"unknown runtime {name!r}: use one of {', '.join(RUNTIMES)}")
    return name


#: A batch's (activations, scores), started: called, they are waited for (Forward.start).
Started = Callable[[], tuple[np.ndarray, np.ndarray]]


class Forward:
    """A batch of prepared inputs (n, h, w, c) float32 -> (activations (n, h', w', k),
    scores (n, classes)) as numpy arrays, in one call. `name` is the runtime, `device` what it
    runs on (shown by `camview models` and the readout).

    `borrow=True` may return the runtime's own output buffers, valid until the calling
    thread's next call: for a caller that reads them at once (a live map reads one channel
    of SqueezeNet's megabyte of activations; copying them all costs 0.1-0.2 ms a frame)."""

    name: str
    device: str
    #: Whether several inputs in one call cost less each than one at a time (see
    #: camview.sets.batches.call_size, which calls one input at a time where they do not).
    batching_pays: bool = True

    def __call__(self, x: np.ndarray, borrow: bool = False) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def start(self, x: np.ndarray) -> Started:
        """`x`'s results as a call: one call of the batch, or where batching does not pay,
        what each input gives alone (camview.sets.batches.call_size says why). Computed here;
        a runtime that computes asynchronously (OpenVinoForward) starts them and returns at
        once, and the call waits for them."""
        result = self(x) if self.batching_pays else _stacked([self(row[None]) for row in x])
        return lambda: result

    def describe(self) -> str:
        return f"{self.name} on {self.device}"


class TensorFlowForward(Forward):
    """The feature model as one compiled tf.function of any batch size (traced per shape)."""

    name = TENSORFLOW

    def __init__(self, model: RunnableModel) -> None:
        import tensorflow as tf

        feature_model = model.feature_model
        spec = tf.TensorSpec([None, *model.input_spec.shape[1:]], tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def run(x):
            return feature_model(x, training=False)

        self._run = run
        self.device = tensorflow_device()

    def __call__(self, x: np.ndarray, borrow: bool = False) -> tuple[np.ndarray, np.ndarray]:
        features, scores = self._run(np.ascontiguousarray(x, dtype=np.float32))
        return features.numpy(), scores.numpy()


class OpenVinoForward(Forward):
    """The feature model converted to OpenVINO and compiled for this CPU (latency hint).

    One infer request per calling thread: the live loop, an on-demand map and the set view
    may call at once, and a request serves one call at a time.

    Batching does not pay on a CPU here: the latency hint already spreads one input over
    every core, so an input costs the same alone or among 4 or 10 (EfficientNet-Lite0 at
    224x336 on two cores: 6.5, 6.7 and 7.0 ms each), while each new batch size is a new
    shape for the plugin to prepare (a first call costs tens of ms more). An input's result
    is also bitwise the same at any batch size.
    """

    name = OPENVINO
    batching_pays = False

    def __init__(self, compiled, device: str, source=None) -> None:
        self._compiled = compiled
        self._local = threading.local()
        self.device = device
        # (core, graph) the compiled model came from: `start` compiles it again for throughput
        self._source = source
        self._throughput = None  # that compiled model, and its idle infer requests (`start`)
        self._idle: list = []
        self._pool_lock = threading.Lock()
        ranks = [len(out.get_partial_shape()) for out in compiled.outputs]
        if ranks != [4, 2]:
            raise ModelError(f"the converted model's outputs have ranks {ranks}, not 4 and 2")

    def __call__(self, x: np.ndarray, borrow: bool = False) -> tuple[np.ndarray, np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        # share_inputs: the call is synchronous and never writes its input, so no copy.
        out = request.infer({0: np.ascontiguousarray(x, dtype=np.float32)},
                            share_inputs=True, share_outputs=borrow)
        return out[0], out[1]

    def start(self, x: np.ndarray) -> Started:
        """What calling each input of `x` alone gives, the calls run at once on OpenVINO's
        throughput streams (its documented way to more inputs a second on a CPU, where a
        batch gains nothing) while the caller goes on: `camview evaluate` explains one batch
        while the next computes. Each input is still a call of one, so bitwise independent
        of its neighbours; a batch of one input runs here too, so its result is the same as
        among others (the latency-compiled model may split an input's work otherwise).

        One infer request per input, all started now, waited for in order by the returned
        call: the streams take the queued requests one after another without coming back
        to Python. (An AsyncInferQueue's completion callback needs the GIL on the stream's
        own thread, so a stream stalled whenever the caller's other threads held it.) The
        inputs are shared, not copied: the Started call keeps `x` alive, and whoever starts
        a batch must call it (classify_set does, also when stopped), or the requests are
        never given back."""
        if self._source is None:
            return super().start(x)
        x = np.ascontiguousarray(x, dtype=np.float32)
        requests = self._take_requests(len(x))
        try:
            for request, row in zip(requests, x, strict=True):
                request.start_async({0: row[None]}, share_inputs=True)
        except BaseException:
            self._give_back(requests)
            raise
        return _Running(self, x, requests)

    def _take_requests(self, n: int) -> list:
        """`n` idle infer requests of the model compiled for throughput (compiled once): one
        set per batch in flight, so two threads' batches (or one thread's two) never share."""
        with self._pool_lock:
            if self._throughput is None:
                core, graph = self._source
                self._throughput = core.compile_model(graph, "CPU", _throughput_config())
            taken, self._idle = self._idle[:n], self._idle[n:]
            return taken + [self._throughput.create_infer_request()
                            for _ in range(n - len(taken))]

    def _give_back(self, requests: list) -> None:
        """Requests back to the pool once none of them runs any more."""
        for request in requests:
            with contextlib.suppress(Exception):
                request.wait()
        with self._pool_lock:
            self._idle.extend(requests)


class _Running:
    """A batch's requests running on OpenVINO's streams; called, their outputs (waited for
    in order, copied once straight into the batch's arrays), the requests given back."""

    def __init__(self, forward: OpenVinoForward, x: np.ndarray, requests: list) -> None:
        self._forward, self._x, self._requests = forward, x, requests

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        features = scores = None
        try:
            for i, request in enumerate(self._requests):
                request.wait()
                f, s = request.get_output_tensor(0).data, request.get_output_tensor(1).data
                if features is None:
                    features = np.empty((len(self._x), *f.shape[1:]), f.dtype)
                    scores = np.empty((len(self._x), *s.shape[1:]), s.dtype)
                features[i], scores[i] = f[0], s[0]
        finally:  # no request may be left running on the inputs
            self._forward._give_back(self._requests)
            self._requests = []
        return features, scores


def _stacked(outs: list) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


@cache
def tensorflow_device() -> str:
    """The device TensorFlow computes on: its first GPU's name, else "CPU"."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        return f"GPU {details.get('device_name', gpu.name)}"
    return "CPU"


@cache
def openvino_device() -> str:
    """This CPU's name as OpenVINO reads it."""
    import openvino

    return "CPU " + str(openvino.Core().get_property("CPU", "FULL_DEVICE_NAME")).strip()


def runtime_devices() -> str:
    """Each runtime and the device it uses here, for `camview models`: read from what is
    installed, without TensorFlow's seconds-long import."""
    try:
        openvino = openvino_device()
    except Exception as exc:  # not installed, or no CPU plugin: say so, list the rest
        openvino = f"unavailable ({type(exc).__name__}: {exc})"
    cuda = _cuda_installed()
    tensorflow = "a CUDA GPU when one is found, else CPU" if cuda else "CPU"
    return (f"{TENSORFLOW} on {tensorflow}; {OPENVINO} on {openvino}; {AUTO} (default): "
            f"{OPENVINO} when the model converts and matches TensorFlow, else {TENSORFLOW}"
            + ("; with a GPU, tensorflow" if cuda else ""))


def _cuda_installed() -> bool:
    """Whether TensorFlow's CUDA libraries are installed (the camview[cuda] extra)."""
    from importlib import metadata

    return any((d.metadata["Name"] or "").lower().startswith("nvidia-cudnn")
               for d in metadata.distributions())


def fingerprint(model: RunnableModel) -> str:
    """What the converted graph depends on, by content, not by the file's path (the same file
    at two paths converts once): the feature model's architecture, its input and outputs, its
    weights' bytes (hashed: a retrained file or random weights convert again), and the
    OpenVINO version."""
    import openvino

    digest = hashlib.blake2b(digest_size=16)
    fm = model.feature_model
    for part in (fm.to_json(), model.read_layer, str(fm.inputs[0].shape),
                 [str(o.shape) for o in fm.outputs], openvino.__version__):
        digest.update(str(part).encode())
    for weight in fm.weights:
        digest.update(memoryview(np.ascontiguousarray(weight.numpy())))
    return digest.hexdigest()


def _convert(model: RunnableModel, folder: Path) -> None:
    """Keras SavedModel export -> OpenVINO IR in `folder`, with TensorFlow's outputs on the
    probe input (PROBE file), written whole (camview.models.whole_folder: a cut conversion
    leaves nothing that could be read as done) and stopped between its steps when the process
    ends."""
    import openvino

    def write(staging: Path) -> None:
        x = probe_input(model)
        features, scores = (np.asarray(t) for t in model.feature_model(x, training=False))
        np.savez(staging / PROBE, x=x, features=features, scores=scores)
        check_going()
        saved = staging / "saved_model"
        model.feature_model.export(str(saved), format="tf_saved_model", verbose=False)
        check_going()
        converted = openvino.convert_model(str(saved))
        check_going()
        shutil.rmtree(saved)
        # Full float32: the maps are checked against TensorFlow's to 1e-4.
        openvino.save_model(converted, str(staging / "model.xml"), compress_to_fp16=False)

    write_whole(folder, write, _converted)


def _converted(folder: Path) -> bool:
    """Whether `folder` holds a whole conversion (its graph and the probe's outputs)."""
    return (folder / "model.xml").is_file() and (folder / PROBE).is_file()


def openvino_forward(model: RunnableModel, say: Say | None = None) -> OpenVinoForward:
    """The model's forward pass in OpenVINO, converted once per fingerprint and checked on
    the probe input at every load; ModelError with the reason when it cannot be converted or
    compiled, or when its outputs differ from TensorFlow's."""
    try:
        import openvino
    except ImportError as exc:
        raise ModelError(f"OpenVINO is not installed ({exc})") from None
    try:
        folder = cache_dir() / "openvino" / fingerprint(model)
        if not _converted(folder):
            (say or log.info)(f"{model.name}: {OPTIMISING}, tens of seconds")
            _convert(model, folder)
        check_going()  # the process ends: no compiling for nobody
        core = openvino.Core()
        core.set_property({"CACHE_DIR": str(folder / "compiled")})
        graph = core.read_model(str(folder / "model.xml"))
        compiled = core.compile_model(graph, "CPU", COMPILE_CONFIG)
        forward = OpenVinoForward(compiled, openvino_device(), (core, graph))
        problem = probe_mismatch(forward, folder / PROBE)
    except CamviewError:  # ModelError, or ConversionStopped
        raise
    except Exception as exc:  # the converter's errors are many and long: one line of it
        check_going()  # its staging folder was removed under it: the process ends
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ModelError(f"{model.name} does not convert to OpenVINO: {first}") from None
    if problem is not None:
        raise ModelError(f"OpenVINO is not used for {model.name}: {problem}")
    return forward


def probe_input(model: RunnableModel) -> np.ndarray:
    """A fixed, image-like input (smooth noise) at the size a 640x480 frame is fed."""
    import cv2

    rng = np.random.default_rng(20)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
    return model.prepare(frame)


def probe_mismatch(forward: Forward, probe: Path) -> str | None:
    """Why `forward` disagrees with TensorFlow's outputs on the probe input (kept with the
    converted graph when it was made: the same graph and weights give the same outputs, and
    TensorFlow's first eager call costs a second), or None when its activations and scores
    are within PROBE_TOLERANCE of their range."""
    with np.load(probe) as saved:
        x, expected = saved["x"], (saved["features"], saved["scores"])
    for what, got, want in zip(("scores", "activations"), reversed(forward(x)),
                               reversed(expected), strict=True):
        if got.shape != want.shape:
            return f"its {what} have shape {got.shape}, TensorFlow's {want.shape}"
        span = float(np.ptp(want)) or 1.0
        diff = float(np.max(np.abs(got - want))) if got.size else 0.0
        if not diff <= PROBE_TOLERANCE * span:  # NaN fails too
            return (f"its {what} differ from TensorFlow's by {diff:.3g} on a probe input "
                    f"({diff / span:.2g} of their range; at most {PROBE_TOLERANCE:g})")
    return None


def race(model: RunnableModel, forward: Forward, repeats: int = RACE_REPEATS) -> dict[str, float]:
    """Median ms of `forward` and of TensorFlow's compiled forward on the probe input, timed
    in turns (after one warm-up call each), so load on the machine weighs on both alike."""
    x = probe_input(model)
    calls = {forward.name: forward, TENSORFLOW: model.tensorflow_forward}
    times: dict[str, list[float]] = {name: [] for name in calls}
    for fn in calls.values():
        fn(x)
    for _ in range(repeats):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn(x)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(t)) for name, t in times.items()}


def choose_forward(model: RunnableModel, requested: str, say: Say | None = None
                   ) -> tuple[Forward, str | None]:
    """The forward runtime for `requested` and, when auto fell back to TensorFlow, why (one
    line, also logged). An explicit ``openvino`` that cannot be had raises ModelError.

    ``auto`` also times both on the probe input (see race) and keeps TensorFlow when
    OpenVINO is not the faster one here now: on a heavily shared CPU its batch-1 call can take
    twice TensorFlow's (README, Runtime).
    """
    requested = check_runtime(requested)
    tensorflow = model.tensorflow_forward
    if requested == TENSORFLOW:
        return tensorflow, None
    if requested == AUTO and tensorflow_device() != "CPU":
        return tensorflow, None  # a GPU: TensorFlow is the faster one here
    try:
        forward = openvino_forward(model, say)
        if requested == AUTO:
            timed = race(model, forward)
            model.runtime_race_ms = timed
            if timed[OPENVINO] >= timed[TENSORFLOW]:
                raise ModelError(f"OpenVINO is not used for {model.name}: its forward pass "
                                 f"took {timed[OPENVINO]:.0f} ms against TensorFlow's "
                                 f"{timed[TENSORFLOW]:.0f} ms on this machine now (median "
                                 "of a few; --runtime openvino uses it anyway)")
    except ModelError as exc:
        if requested == OPENVINO:
            raise
        note = str(exc) if "OpenVINO is not used" in str(exc) else (
            f"OpenVINO is not used: {exc}")
        note += "; running on TensorFlow"
        log.info("%s", note)
        return tensorflow, note
    return forward, None
