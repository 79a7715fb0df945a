"""`camview evaluate --ray` (`--only ray`): the per-image cost of the set's pass on one and two
Ray workers against the local pass, and the start-up a run over Ray pays: the figures of the
planning formula in docs/large-sets.md (start-up + per-image cost x images / workers)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def bench_ray(model_name: str, images: int, repeats: int = 2, spread: bool = True) -> dict:
    """Per-image ms of the pass (the set views on, as `evaluate` runs it) locally and on a
    local Ray with 1 and 2 workers, on the same generated set of demo crops.

    Two measures. The worker's own cost, model load excluded (the 15 % target of
    `ray_1_worker_vs_local`): from the last result of the first unit to the last result, per
    image after that unit (a batch locally, a task on the one worker), so neither the
    workers' start-up nor its variance (a second either way, over thousands of images) is in
    it, and every later task's start and end is. The planning formula's cost: marginal, as
    in bench_evaluate, (N - n) images over the difference between a pass over N images and
    one over the first n, the fastest of `repeats` each; what a pass over n images costs
    beyond n images' work is then the workers' start-up (Ray's own, ray.init, timed apart).
    The local pass runs with its model loaded and traced first. The workers share the
    machine's cores out (one worker: all of them, as the local pass).
    """
    from camview.models import load_model
    from camview.sets.classify import DEFAULT_BATCH, classify_set
    from camview.sets.dataset import open_labelled_set, write_demo_set
    from camview.sets.on_ray import ROWS_PER_TASK, ModelSpec, RayOptions, RayRun, task_rows

    # Four of a worker's largest tasks: a pass of one task keeps one worker busy however
    # many there are, and spreads the task's fixed cost over few images (64 images, one
    # task, measured 1.64x the local per-image cost where 512 gave 1.08x).
    if spread:  # (a smoke run, --quick, keeps its few images)
        images = max(images, 4 * DEFAULT_BATCH * ROWS_PER_TASK)
    small = max(2, images // 8)
    model = load_model(model_name)
    spec = {id(model): ModelSpec(model_name)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_demo_set(Path(tmp) / "set", images)
        every = open_labelled_set(folder, model.labels).images
        sets = {images: every, small: every[:small]}

        def timed(classify, n: int) -> list[float]:
            """Seconds from the start to each result."""
            start, stamps = time.perf_counter(), []
            for _ in classify(model, sets[n], batch_size=DEFAULT_BATCH, views=True):
                stamps.append(time.perf_counter() - start)
            return stamps

        timed(classify_set, images)  # tracing, and the runtime's buffers for each shape
        runs: dict[str, dict[int, list[list[float]]]] = {"local": {images: [], small: []}}
        for _ in range(repeats):
            for n in (images, small):
                runs["local"][n].append(timed(classify_set, n))
        init_s: list[float] = []
        for workers in (1, 2):
            key = f"{workers}_worker{'s' if workers > 1 else ''}"
            runs[key] = {images: [], small: []}
            start = time.perf_counter()
            # The machine's cores shared out: Ray gives a worker as many threads as CPUs
            # (OMP_NUM_THREADS), so one worker on one CPU would run on half a machine.
            cpus = max(1, (os.cpu_count() or 1) // workers)
            with RayRun(RayOptions(workers=workers, cpus_per_worker=cpus), spec) as ray:
                init_s.append(time.perf_counter() - start)
                for _ in range(repeats):
                    for n in (images, small):
                        runs[key][n].append(timed(ray.classify, n))
    out: dict = {"ray_bench": {"model": model_name, "images": images, "small": small,
                               "seconds": {k: {str(n): [s[-1] for s in v] for n, v in r.items()}
                                           for k, r in runs.items()}},
                 "ray_init_s": min(init_s)}
    for key, r in runs.items():
        name = "ray_local" if key == "local" else f"ray_{key}"
        per_image = (min(s[-1] for s in r[images]) - min(s[-1] for s in r[small])) \
            / (images - small)
        out[f"{name}_ms_per_image"] = 1000 * per_image
        if key != "local":
            out[f"{name}_startup_s"] = min(s[-1] for s in r[small]) - small * per_image
    unit = {"local": DEFAULT_BATCH, "1_worker": task_rows(images, 1, DEFAULT_BATCH)}
    for key, first in unit.items():
        name = "ray_local" if key == "local" else f"ray_{key}"
        out[f"{name}_steady_ms_per_image"] = 1000 * min(
            (s[-1] - s[first - 1]) / (len(s) - first) for s in runs[key][images])
    out["ray_1_worker_vs_local"] = (out["ray_1_worker_steady_ms_per_image"]
                                    / out["ray_local_steady_ms_per_image"])
    out["ray_2_workers_speedup"] = (out["ray_1_worker_ms_per_image"]
                                    / out["ray_2_workers_ms_per_image"])
    return out


def print_ray(report: dict) -> None:
    print(f"evaluate --ray: per image, model load excluded, "
          f"{report['ray_local_steady_ms_per_image']:.1f} ms locally and "
          f"{report['ray_1_worker_steady_ms_per_image']:.1f} ms on 1 worker "
          f"({report['ray_1_worker_vs_local']:.2f}x); marginal "
          f"{report['ray_local_ms_per_image']:.1f} ms locally, "
          f"{report['ray_1_worker_ms_per_image']:.1f} ms on 1 worker, "
          f"{report['ray_2_workers_ms_per_image']:.1f} ms on 2 "
          f"({report['ray_2_workers_speedup']:.2f}x faster); start-up: Ray "
          f"{report['ray_init_s']:.1f} s, workers {report['ray_1_worker_startup_s']:.1f} s "
          f"(1), {report['ray_2_workers_startup_s']:.1f} s (2)")
