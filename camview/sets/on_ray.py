"""A labelled set classified over a Ray cluster (`camview evaluate SET --ray [ADDRESS]`), with
Ray Data's documented batch inference: `map_batches` with a callable class, so each worker
loads the model once and is streamed batches of (index, path, label) rows.

The driver lists paths and labels only; each worker reads, decodes and resizes its own images
and runs the very pass a local run runs (camview.sets.classify.classify_set) on its batch, so
an unreadable image is its `problem` there as here. Only the small results come back (scores,
pooled features, the map grid and thumbnail the views need), in set order, and are folded on
the driver exactly as a local run folds them: the JSON and the report are the local run's.
`--metrics` scoring (camview.sets.views.set_scores.score_set) goes over the workers the same
way, each image scored by the local code on a worker; the driver only folds the scores.

Ray schedules, retries a task whose worker died (Ray Data restarts its actors and retries
their tasks) and moves the rows; camview writes no scheduler, queue or protocol of its own.
Ray is imported only here, only when asked for: it is the optional `camview[ray]` extra.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from camview.errors import CamviewError
from camview.maps import Method
from camview.models import CamModel
from camview.models.runtimes import AUTO
from camview.sets.dataset import LabelledImage
from camview.sets.results import ImageResult, ResultCache, result_key

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "camview[ray]"'
#: --ray without an address: a local Ray started for the run.
RAY_LOCAL = "local"
#: Rows a worker is handed at once, at most, in --batch units. A task's pass starts with
#: the model idle while its first batch is read, and ends with one core idle while its last
#: is explained: tasks of 128 rows (8) cost 11-12 % more an image than the local pass, tasks
#: of 512 (32) 5-8 % (EfficientNet-Lite0 on OpenVINO, one worker on two cores). A worker
#: that dies repeats at most this much (4 s of work there). Enough, too, for the pass's
#: shape buckets to fill whole network batches when a set mixes image shapes (each shape's
#: last call in a task is padded).
ROWS_PER_TASK = 32
#: Tasks a worker gets at least, when the set is too small for ROWS_PER_TASK to give it
#: several: a faster machine takes more of them, one worker's death repeats a quarter of its
#: share, and the progress bar moves more than once a worker.
TASKS_PER_WORKER = 4
#: Images a worker scores at once for --metrics: each is dozens of network calls (a second or
#: more), so few make a task long enough, and a worker that dies repeats little.
SCORE_ROWS_PER_TASK = 4
#: Environment the workers need to behave as this process does (runtime, cache, model paths).
_PASSED_ENV = ("CAMVIEW_", "TF_CPP_MIN_LOG_LEVEL")


def import_ray() -> Any:
    """The `ray` module with Ray Data, or one line saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise CamviewError(f"--ray needs Ray, which is not installed here: {INSTALL_HINT}"
                           ) from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a run spreads (the command's --ray flags)."""

    address: str | None = None  # an existing cluster ("HOST:PORT", "auto"); None: start one
    workers: int | None = None  # None: as many as the cluster's CPUs (or GPUs) allow
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    #: Object store of a local Ray started for the run (None: Ray's default, 30 % of RAM).
    object_store_bytes: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    """How a worker loads a model the driver loaded: load_model(name, **kwargs)."""

    name: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    """How a worker makes a method the driver made: make_method(name, model, layer, **options)."""

    name: str
    layer: str
    options: dict = field(default_factory=dict)

    @classmethod
    def of(cls, method: Method) -> MethodSpec:
        return cls(method.name, method.layer,
                   {o.name: getattr(method, o.name) for o in method.options})


class SetWorker:
    """Ray Data's callable class: one per worker process, holding its model (and, to score
    --metrics, its methods).

    Each call is a batch of rows {"index", "path", "label"} of the set; the answer is each
    row's ImageResult (or, with `methods`, its ImageScores), pickled (a few kB with the
    views' record), under its set index.
    """

    def __init__(self, spec: ModelSpec, batch_size: int, views: bool,
                 methods: tuple[MethodSpec, ...] = ()) -> None:
        from camview.maps import make_method
        from camview.models import load_model

        fit_threads_to_worker()
        # The worker's own output stays on its node (log_to_driver=False): nothing to quiet.
        self.model = load_model(spec.name, **spec.kwargs)
        self.batch_size, self.views = batch_size, views
        self.methods = [make_method(m.name, self.model, m.layer, **m.options) for m in methods]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.methods:
            results: list = score_rows(self.model, batch["path"], batch["label"], self.methods)
        else:
            results = run_rows(self.model, batch["path"], batch["label"],
                               batch_size=self.batch_size, views=self.views)
        out = np.empty(len(results), dtype=object)
        out[:] = [pickle.dumps(replace(r, path=Path()), protocol=pickle.HIGHEST_PROTOCOL)
                  for r in results]
        return {"index": np.asarray(batch["index"], np.int64), "result": out}


def task_rows(rows: int, workers: int, batch_size: int) -> int:
    """How many of `rows` rows a task gets: the fewest tasks of at most ROWS_PER_TASK
    batches and TASKS_PER_WORKER a worker at least, in a multiple of the workers, so that
    their shares are the same (1500 rows on two workers at --batch 16: eight tasks of 192,
    not 512, 512 and 476, which keep one worker busy for two tasks while the other does
    one); whole batches."""
    workers = max(1, workers)
    tasks = max(math.ceil(rows / (batch_size * ROWS_PER_TASK)), workers * TASKS_PER_WORKER)
    tasks = math.ceil(tasks / workers) * workers
    return max(1, math.ceil(math.ceil(rows / tasks) / batch_size)) * batch_size


def fit_threads_to_worker() -> None:
    """Size this worker's pass (OpenVINO's throughput model, OpenCV) to the CPUs Ray gave
    it, when fewer than the machine's: Ray says so only with OMP_NUM_THREADS, which neither
    reads (measured in a one-CPU worker on two cores: OpenVINO compiled two streams of two
    threads, OpenCV used two), so the workers sharing a machine oversubscribed its cores.
    What would change a result's last digits is left as it is (TensorFlow's threads, whose
    reductions may split otherwise; OpenVINO's latency model): a worker's results must be
    the local run's bit for bit."""
    import cv2
    import ray

    from camview.models.runtimes import set_cpu_threads

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0)
    threads = max(1, int(cpus))
    if cpus and threads < (os.cpu_count() or threads):
        set_cpu_threads(threads)
        cv2.setNumThreads(threads)


def run_rows(model: CamModel, paths: Sequence[str], labels: Sequence[int], *,
             batch_size: int, views: bool) -> list[ImageResult]:
    """One worker's rows through the local pass: the same reading, resizing, batching and
    forward pass as `camview evaluate` without --ray (results indexed by row)."""
    from camview.sets.classify import classify_set

    return list(classify_set(model, _labelled(paths, labels), batch_size=batch_size, views=views))


def _labelled(paths: Sequence[str], labels: Sequence[int]) -> list[LabelledImage]:
    """A task's rows as the set's images."""
    return [LabelledImage(Path(p), int(label)) for p, label in zip(paths, labels, strict=True)]


def score_rows(model: CamModel, paths: Sequence[str], labels: Sequence[int],
               methods: list[Method]) -> list:
    """One worker's rows through the local --metrics scoring (score_set): the same reading,
    maps and curves as `camview evaluate --metrics` without --ray (ImageScores, by row)."""
    from camview.sets.views.set_scores import score_set

    return list(score_set(model, _labelled(paths, labels), methods))


class RayRun:
    """One command's use of Ray: joined (or started) on entry, shut down on exit, and a
    `classify` with the local pass's signature that spreads the pass over the workers."""

    def __init__(self, options: RayOptions, specs: dict[int, ModelSpec]) -> None:
        self.options, self.specs = options, specs  # specs: id(model) -> how workers load it
        self.workers = 0
        self._ray: Any = None

    # -- the connection
    def __enter__(self) -> RayRun:
        ray = import_ray()
        env = {k: v for k, v in os.environ.items() if k.startswith(_PASSED_ENV)}
        opts = self.options
        kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False,
                                  "runtime_env": {"env_vars": env}}
        if opts.address is None:
            kwargs["address"] = "local"  # a new Ray, never one found running on the machine
            kwargs["include_dashboard"] = False
            if sys.platform.startswith("linux"):
                # A Ray for one run serves no other machine: on loopback only. Ray swaps
                # 127.0.0.1 for the machine's network address but keeps any other loopback
                # address (Linux answers on all of 127.0.0.0/8; macOS and Windows Ray stay
                # on localhost by themselves).
                kwargs["_node_ip_address"] = "127.0.0.2"
            if opts.object_store_bytes:
                kwargs["object_store_memory"] = opts.object_store_bytes
        else:
            kwargs["address"] = opts.address
        # Ray's own notes (its progress bars are off, its token set-up, a restart caveat of
        # its actors) are not the user's business; a fault reaches camview as an exception.
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = opts.address or "a local Ray"
            raise CamviewError(f"--ray {where}: cannot connect ({exc})".split("\n")[0]) from None
        self._ray = ray
        with warnings.catch_warnings():  # its own deprecated settings, copied: not ours
            warnings.simplefilter("ignore", DeprecationWarning)
            context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.execution_options.preserve_order = True  # results in set order
        self.workers = self._worker_count(ray.cluster_resources())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ray is not None:
            self._ray.shutdown()
            self._ray = None

    def _worker_count(self, resources: dict) -> int:
        opts = self.options
        if opts.gpus_per_worker > 0:
            fit = int(resources.get("GPU", 0) // opts.gpus_per_worker)
            if fit < 1:
                raise CamviewError(f"--ray-gpus {opts.gpus_per_worker:g}: the cluster has "
                                   f"{resources.get('GPU', 0):g} GPU(s)")
        else:
            fit = int(resources.get("CPU", 0) // opts.cpus_per_worker) if opts.cpus_per_worker \
                else 1
        fit = max(fit, 1)
        if opts.workers is None:
            return fit
        if opts.workers > fit:  # a fixed pool waits for every worker to have room
            log.warning("--ray-workers %d: the cluster has room for %d workers of this size; "
                        "using %d", opts.workers, fit, fit)
            return fit
        return opts.workers

    @property
    def where(self) -> str:
        """Where the run ran, for the report and the JSON."""
        at = self.options.address or "a local Ray started for the run"
        return f"Ray, {self.workers} worker{'s' if self.workers != 1 else ''} ({at})"

    # -- the pass
    def classify(self, model: CamModel, images: Sequence[LabelledImage], *, batch_size: int,
                 cache: ResultCache | None = None, cancel=None,
                 views: bool = False) -> Iterator[ImageResult]:
        """camview.sets.classify.classify_set over the cluster: each image's result in set
        order as the workers finish them; images the cache holds are served here and never
        sent; results are cached here as they come, so a stopped run resumes."""
        if batch_size < 1:
            raise CamviewError(f"--batch must be at least 1, not {batch_size}")
        key = result_key(model, batch_size)
        held = [cache is not None
                and cache.get(key, item, n, views=views, counted=False) is not None
                for n, item in enumerate(images)]
        todo = [n for n, h in enumerate(held) if not h]
        stream = self._stream(model, images, todo,
                              per_task=task_rows(len(todo), self.workers, batch_size),
                              worker={"batch_size": batch_size, "views": views})
        try:
            for n, item in enumerate(images):
                if cancel is not None and cancel.is_set():
                    return
                r = cache.get(key, item, n, views=views) if held[n] and cache else None
                if r is None:
                    index, r = next(stream)
                    if index != n:  # Ray keeps order (preserve_order): a bug if not
                        raise RuntimeError(f"Ray returned image {index} for {n}")
                    r = replace(r, index=n, path=item.path)
                    if cache is not None and r.problem is None:
                        stamp = cache.stamp(item.path)
                        if stamp is not None:
                            cache.put(key, [(r, stamp)])
                yield r
        finally:
            stream.close()

    def score(self, model: CamModel, images: Sequence[LabelledImage], methods: list[Method],
              *, cancel=None) -> Iterator:
        """camview.sets.views.set_scores.score_set over the cluster: each image's
        ImageScores in set order, scored on a worker by the local code."""
        stream = self._stream(model, images, list(range(len(images))),
                              per_task=SCORE_ROWS_PER_TASK,
                              worker={"batch_size": 1, "views": False,
                                      "methods": tuple(MethodSpec.of(m) for m in methods)})
        try:
            for n, item in enumerate(images):
                if cancel is not None and cancel.is_set():
                    return
                index, scores = next(stream)
                if index != n:  # Ray keeps order (preserve_order): a bug if not
                    raise RuntimeError(f"Ray returned image {index} for {n}")
                yield replace(scores, path=item.path)
        finally:
            stream.close()

    def _stream(self, model: CamModel, images: Sequence[LabelledImage], todo: list[int], *,
                per_task: int, worker: dict) -> Iterator[tuple[int, Any]]:
        """The images `todo` through SetWorker(**worker) on the cluster: (set index, its
        result) in set order, each result unpickled only when its turn comes."""
        if not todo:
            return
        ray, opts = self._ray, self.options
        spec = self.specs.get(id(model))
        if spec is None:
            raise RuntimeError(f"{model.name}: no ModelSpec for the Ray workers")
        if spec.kwargs.get("runtime", AUTO) == AUTO and not opts.gpus_per_worker:
            # The runtime auto chose here, not a race of each worker's own: a worker racing
            # while its siblings load on the same cores could pick TensorFlow, twice as slow
            # an image and not the local run's bits.
            spec = replace(spec, kwargs={**spec.kwargs, "runtime": model.runtime.name})
        rows = [{"index": n, "path": str(images[n].path), "label": images[n].label}
                for n in todo]
        # A block a task: a worker's share is `per_task` rows at a time, so a worker that
        # dies loses (and Ray repeats) that much, and results stream back in set order.
        blocks = max(1, math.ceil(len(rows) / per_task))
        remote: dict[str, Any] = {"num_cpus": opts.cpus_per_worker}
        if opts.gpus_per_worker:
            remote["num_gpus"] = opts.gpus_per_worker
        ds = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            SetWorker, fn_constructor_kwargs={"spec": spec, **worker},
            batch_size=per_task, batch_format="numpy",
            # No more workers than tasks: an idle one would only load the model.
            compute=ray.data.ActorPoolStrategy(size=min(self.workers, blocks)), **remote)
        del rows
        # No prefetch: with Ray Data's default of one, a task's results reached this loop
        # only when the next task had finished too (measured: the first 512 results of a
        # 2048-image pass came with the second task's), late for the progress bar and lost
        # to a Ctrl+C that had them done. A block is a whole task: nothing to gain ahead.
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy",
                                     prefetch_batches=0):
            for n, blob in zip(batch["index"], batch["result"], strict=True):
                yield int(n), pickle.loads(blob)
