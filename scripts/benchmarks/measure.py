"""How every part of the benchmark measures: medians of repeated calls (interleaved when
their ratios matter), the machine's matmul peak, a model's FLOPs, the seconds of a camview
command run in-process, and a method's name as a JSON key stem."""

from __future__ import annotations

import statistics
import time

import numpy as np


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def interleaved_median_ms(calls: dict, repeats: int, warmup: int = 3,
                          settle: int = 0) -> dict[str, float]:
    """Median ms of each call, timed in turns so that machine load drifting during the run
    weighs on all of them alike: their ratios then compare like with like. `settle` untimed
    calls come before each timed one, for calls of two runtimes (see bench_runtimes)."""
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(repeats):
        for key, fn in calls.items():
            for _ in range(settle):
                fn()
            start = time.perf_counter()
            fn()
            times[key].append((time.perf_counter() - start) * 1000)
    return {key: statistics.median(values) for key, values in times.items()}


def peak_gflops(seconds: float = 1.0) -> float:
    """The machine's float32 matrix-multiply rate: the ceiling a CNN could approach."""
    n = 1024
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - start) / 1e9


def model_gflops(model, hw: tuple[int, int]) -> float:
    """Floating-point operations of one forward pass, counted by TensorFlow's profiler."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    tf.get_logger().setLevel("ERROR")  # the v1 profiler warns about its own deprecation
    fn = tf.function(lambda x: model.keras_model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec([1, *hw, 3], tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(),
                                         cmd="op", options=options)
    return info.total_float_ops / 1e9


def method_key(name: str) -> str:
    """A method's name as a JSON key stem: gradcam++ -> gradcampp, guided-gradcam ->
    guided_gradcam."""
    return name.replace("++", "pp").replace("-", "_")


def ready_models() -> list[str]:
    """The registry's models whose weights are here: a bench never downloads."""
    from camview.models import REGISTRY, WeightsState

    return [name for name, spec in REGISTRY.items()
            if spec.weights_status().state is WeightsState.READY]


def run_cli_in_process(argv: list[str]) -> float:
    """Seconds one camview command takes, run in this process as the command line runs it
    (model loading included)."""
    from camview.cli import main

    start = time.perf_counter()
    status = main(argv)
    if status != 0:
        raise RuntimeError(f"camview {' '.join(argv)} exited {status}")
    return time.perf_counter() - start
