"""The live window's threads without the window: raw frames delivered against maps made, for
one method and for the 3-panel compare grid."""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def measure_pipeline(video: str, *, model, weights: str | None, method: str,
                     seconds: float, compare: tuple[str, ...] = ()) -> dict:
    """The window's threads without the window: raw frames delivered vs maps made. `model`:
    a model's name, or a built CamModel (a ViT made in the benchmark; `weights` unused).

    Inference runs flat out (it explains the newest frame again while no new one has come),
    so inference_fps is what the machine can make and display_fps shows capture keeps pace.
    `compare`: each result is the titled grid of these methods (the window's compare view).
    """
    import threading

    from camview.live import CompareSpec, Pipeline

    lock = threading.Lock()
    frames: list[float] = []  # arrival times of raw frames on the "GUI side"
    latencies: list[float] = []
    results = 0

    def on_frame(_frame) -> None:
        with lock:
            frames.append(time.monotonic())

    def on_result(result) -> None:
        nonlocal results
        with lock:
            results += 1
            if result.fresh:  # latency of frames as they arrive, not of re-explained ones
                latencies.append(result.latency_s * 1000)

    pipe = Pipeline(on_frame=on_frame, on_result=on_result, method=method, panel_only=True,
                    flat_out=True)
    pipe.set_model(model, weights=weights)
    if compare:
        pipe.set_compare(CompareSpec.of(compare))
    pipe.start()
    pipe.wait_idle(300)  # model built and warmed before the clock starts
    pipe.set_source(video)
    time.sleep(2.0)  # the source opens and reaches its pace
    with lock:
        frames.clear()
        latencies.clear()
        results = 0
    dropped_before = pipe.mailbox.dropped
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    with lock:
        n_frames, n_results, lat = len(frames), results, list(latencies)
    dropped = pipe.mailbox.dropped - dropped_before
    pipe.stop(timeout=2.0)
    return {"seconds": round(elapsed, 2), "display_fps": n_frames / elapsed,
            "inference_fps": n_results / elapsed,
            "latency_ms_p50": float(np.percentile(lat, 50)) if lat else None,
            "latency_ms_p95": float(np.percentile(lat, 95)) if lat else None,
            "dropped": dropped}


def bench_pipeline(name, weights: str | None, seconds: float, method: str,
                   compare: tuple[str, ...] = ()) -> dict:
    """measure_pipeline on a 30 fps 640x480 demo video, with the process's peak memory.
    `name`: a model's name or a built CamModel."""
    from camview.sources import write_demo_video

    with tempfile.TemporaryDirectory() as tmp:
        video = write_demo_video(Path(tmp) / "bench.avi", min(seconds + 3, 10.0))
        stats = measure_pipeline(str(video), model=name, weights=weights, method=method,
                                 seconds=seconds, compare=compare)
    stats["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return stats


COMPARE3 = ("cam", "gradcam", "layercam")


def bench_compare3(seconds: float) -> dict:
    """The 3-panel CAM | Grad-CAM | Layer-CAM live compare with EfficientNet-Lite0."""
    stats = bench_pipeline("efficientnet_lite0", None, seconds, "cam", compare=COMPARE3)
    return {"compare3_fps": stats["inference_fps"],
            "compare3_display_fps": stats["display_fps"],
            "compare3_latency_ms_p50": stats["latency_ms_p50"]}
