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

    A run over Ray starts its workers, each loading the model, for every pass; the per-image
    cost is therefore marginal, as in bench_evaluate: (N - n) images over the difference
    between a pass over N images and one over the first n, the fastest of `repeats` each.
    What a pass over n images costs beyond n images' work is the workers' start-up; Ray's own
    (ray.init) is timed apart. The local pass runs with its model loaded and traced first.
    The workers share the machine's cores out (one worker: all of them, as the local pass).
    """
    from camview.models import load_model
    from camview.sets.classify import DEFAULT_BATCH, classify_set
    from camview.sets.dataset import open_labelled_set, write_demo_set
    from camview.sets.on_ray import ROWS_PER_TASK, ModelSpec, RayOptions, RayRun

    # Four of a worker's longest tasks at least: a pass of few short tasks spreads their
    # fixed cost over few images (64 images, one task, measured 1.64x the local per-image
    # cost where 512 gave 1.08x), and a pass over Ray starts its workers, a few tenths of a
    # second more or less each time: over 448 images, up to half a millisecond an image.
    if spread:  # (a smoke run, --quick, keeps its few images)
        images = max(images, 4 * DEFAULT_BATCH * ROWS_PER_TASK)
    small = max(2, images // 8)
    model = load_model(model_name)
    spec = {id(model): ModelSpec(model_name)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_demo_set(Path(tmp) / "set", images)
        every = open_labelled_set(folder, model.labels).images
        sets = {images: every, small: every[:small]}

        def timed(classify, n: int) -> float:
            start = time.perf_counter()
            for _ in classify(model, sets[n], batch_size=DEFAULT_BATCH, views=True):
                pass
            return time.perf_counter() - start

        timed(classify_set, images)  # tracing, and the runtime's buffers for each shape
        runs: dict[str, dict[int, list[float]]] = {"local": {images: [], small: []}}
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
                               "seconds": {k: {str(n): v for n, v in r.items()}
                                           for k, r in runs.items()}},
                 "ray_init_s": min(init_s)}
    for key, r in runs.items():
        per_image = (min(r[images]) - min(r[small])) / (images - small)
        out[f"ray_{key}_ms_per_image" if key != "local" else "ray_local_ms_per_image"] = \
            1000 * per_image
        if key != "local":
            out[f"ray_{key}_startup_s"] = min(r[small]) - small * per_image
    out["ray_1_worker_vs_local"] = out["ray_1_worker_ms_per_image"] / out["ray_local_ms_per_image"]
    out["ray_2_workers_speedup"] = (out["ray_1_worker_ms_per_image"]
                                    / out["ray_2_workers_ms_per_image"])
    return out


def print_ray(report: dict) -> None:
    print(f"evaluate --ray: per image {report['ray_local_ms_per_image']:.1f} ms locally, "
          f"{report['ray_1_worker_ms_per_image']:.1f} ms on 1 worker "
          f"({report['ray_1_worker_vs_local']:.2f}x), "
          f"{report['ray_2_workers_ms_per_image']:.1f} ms on 2 "
          f"({report['ray_2_workers_speedup']:.2f}x faster); start-up: Ray "
          f"{report['ray_init_s']:.1f} s, workers {report['ray_1_worker_startup_s']:.1f} s "
          f"(1), {report['ray_2_workers_startup_s']:.1f} s (2)")
