"""OpenVINO against TensorFlow, in one run: each runtime's forward pass and maps, the slow
methods, the live pipeline and evaluate on each (`--only runtime` runs this part alone)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.measure import (
    interleaved_median_ms,
    method_key,
    model_gflops,
    run_cli_in_process,
)
from benchmarks.pipeline import bench_pipeline

RUNTIME_MAPS = ("cam", "gradcam", "gradcam++", "layercam")


def bench_runtimes(name: str, weights: str | None, repeats: int, slow_repeats: int,
                   peak: float) -> dict:
    """Per model: TensorFlow's compiled classify (`classify_ms`, as in bench_model), each
    runtime's forward pass, the closed-form maps on OpenVINO and on TensorFlow,
    interleaved, as ratios to classify_ms; Score-CAM, occlusion and deletion + insertion on
    both (`*_speedup`: TensorFlow's time ÷ OpenVINO's); each runtime's achieved
    GFLOP/s beside the numpy peak."""
    import tensorflow as tf

    from camview.checks.faithfulness import score_map
    from camview.maps import make_method
    from camview.models import load_model
    from camview.models.runtimes import TENSORFLOW
    from camview.sources import DemoSource

    # OpenVINO itself (auto may keep TensorFlow when OpenVINO is slower here: `auto_picks`).
    auto = load_model(name, weights=weights, runtime="auto")
    model = load_model(name, weights=weights, runtime="openvino")
    default = model.runtime_requested
    fast = model.runtime
    with DemoSource(size=(640, 480)) as demo:
        batch = model.prepare(demo.read().image)
    hw = batch.shape[1:3]
    logits_only = tf.function(lambda x: model.keras_model(x, training=False),
                              input_signature=[model.input_spec])

    def on(runtime: str, fn):
        def call():
            model.use_runtime(runtime)
            return fn()
        return call

    methods = {m: make_method(m, model) for m in RUNTIME_MAPS}
    calls = {"classify_ms": lambda: logits_only(batch).numpy(),
             f"{fast.name}_forward_ms": on(default, lambda: model.forward(batch)),
             "tensorflow_forward_ms": on(TENSORFLOW, lambda: model.forward(batch))}
    for m, method in methods.items():
        calls[f"{method_key(m)}_ms_{fast.name}"] = on(default, lambda e=method: e.explain(batch))
        calls[f"{method_key(m)}_ms_tensorflow"] = on(TENSORFLOW,
                                                     lambda e=method: e.explain(batch))
    # settle=1: the live loop runs one runtime frame after frame, with its own copy of the
    # weights warm in the cache; a call right after the other runtime's runs cold (measured
    # here: OpenVINO's EfficientNet-Lite0 forward 4.7 ms warm, 5.7-6.0 ms right after a
    # TensorFlow classify), so each timed call follows an untimed one of its own.
    row = {"model": model.name, "input": f"{hw[1]}x{hw[0]}", "runtime": fast.describe(),
           "auto_picks": auto.runtime.name, "auto_race_ms": auto.runtime_race_ms,
           **interleaved_median_ms(calls, repeats, settle=1)}
    del auto
    for m in methods:
        row[f"{method_key(m)}_ratio"] = row[f"{method_key(m)}_ms_{fast.name}"] / row["classify_ms"]
        row[f"{method_key(m)}_ratio_tensorflow"] = (row[f"{method_key(m)}_ms_tensorflow"]
                                                    / row["classify_ms"])
    grad = make_method("gradcam", model).explain(batch)
    slow = {"scorecam": make_method("scorecam", model).explain,
            "occlusion": make_method("occlusion", model).explain,
            "metrics": lambda b: score_map(model, b, grad.cam, grad.target)}
    for key, fn in slow.items():
        times = interleaved_median_ms({TENSORFLOW: on(TENSORFLOW, lambda f=fn: f(batch)),
                                       fast.name: on(default, lambda f=fn: f(batch))},
                                      slow_repeats, warmup=1)
        row[f"{key}_ms_tensorflow"], row[f"{key}_ms_{fast.name}"] = (times[TENSORFLOW],
                                                                    times[fast.name])
        row[f"{key}_speedup"] = times[TENSORFLOW] / times[fast.name]
    model.use_runtime(default)
    row["gflops"] = model_gflops(model, hw)
    row["peak_gflops"] = peak
    row["flop_floor_ms"] = row["gflops"] / peak * 1000  # the forward pass at the matmul peak
    for runtime, key in ((TENSORFLOW, "classify_ms"), (fast.name, f"{fast.name}_forward_ms")):
        row[f"achieved_gflops_per_s_{runtime}"] = row["gflops"] / (row[key] / 1000)
    return row


def bench_pipeline_runtimes(name: str, weights: str | None, seconds: float,
                            method: str) -> dict:
    """The live pipeline (as bench_pipeline) on TensorFlow, then on OpenVINO:
    `pipeline_tensorflow` and `pipeline_openvino` (display and inference fps, latency)."""
    from camview.models.runtimes import RUNTIME_ENV

    out = {}
    for key, runtime in (("pipeline_tensorflow", "tensorflow"),
                         ("pipeline_openvino", "openvino")):
        before = os.environ.get(RUNTIME_ENV)
        os.environ[RUNTIME_ENV] = runtime
        try:
            out[key] = bench_pipeline(name, weights, seconds, method)
        finally:
            if before is None:
                os.environ.pop(RUNTIME_ENV, None)
            else:
                os.environ[RUNTIME_ENV] = before
    return out


def bench_evaluate_runtimes(model: str, images: int, repeats: int = 2) -> dict:
    """`evaluate_speedup`: `camview evaluate` images/s on OpenVINO ÷ on TensorFlow,
    marginal rates as in bench_evaluate (N images minus their first n)."""
    import contextlib
    import io

    from camview.sets.dataset import write_demo_set

    small = max(2, images // 8)
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sets = {n: write_demo_set(Path(tmp) / f"set{n}", n, flat=True) for n in (images, small)}
        out = str(Path(tmp) / "out.json")
        for _ in range(repeats):
            for n in (images, small):
                for runtime in ("tensorflow", "openvino"):
                    argv = ["evaluate", str(sets[n]), "--json", out, "--model", model,
                            "--no-progress", "--no-cache", "--runtime", runtime]
                    with contextlib.redirect_stdout(io.StringIO()):
                        times.setdefault((runtime, n), []).append(run_cli_in_process(argv))
    rates = {r: (images - small) / (min(times[(r, images)]) - min(times[(r, small)]))
             for r in ("tensorflow", "openvino")}
    return {"evaluate_images_per_s_tensorflow": rates["tensorflow"],
            "evaluate_images_per_s_openvino": rates["openvino"],
            "evaluate_speedup": rates["openvino"] / rates["tensorflow"]}


def print_runtimes(report: dict) -> None:
    for r in report["models"]:
        t = r.get("runtimes")
        if not t:
            continue
        fast = t["runtime"].split()[0]
        print(f"runtimes {r['model']} ({t['runtime']}): classify (TF) {t['classify_ms']:.1f} ms, "
              f"forward {fast} {t[fast + '_forward_ms']:.1f} ms / tensorflow "
              f"{t['tensorflow_forward_ms']:.1f} ms; " + ", ".join(
                  f"{method_key(m)} {t[method_key(m) + '_ratio']:.2f}x (TF "
                  f"{t[method_key(m) + '_ratio_tensorflow']:.2f}x)" for m in RUNTIME_MAPS))
        print(f"  speedups ({fast} over TF): scorecam {t['scorecam_speedup']:.2f}x, occlusion "
              f"{t['occlusion_speedup']:.2f}x, metrics {t['metrics_speedup']:.2f}x; "
              f"GFLOP {t['gflops']:.2f}, achieved GFLOP/s TF "
              f"{t['achieved_gflops_per_s_tensorflow']:.0f}, {fast} "
              f"{t['achieved_gflops_per_s_' + fast]:.0f} (peak {t['peak_gflops']:.0f}, "
              f"floor {t['flop_floor_ms']:.1f} ms)")
        print(f"  auto picks {t['auto_picks']} (timed: {t['auto_race_ms']})")
        for key in ("pipeline_tensorflow", "pipeline_openvino"):
            if key in t:
                p = t[key]
                print(f"  {key}: display {p['display_fps']:.1f} fps, inference "
                      f"{p['inference_fps']:.1f} fps, latency p50 {p['latency_ms_p50']:.0f} ms "
                      f"p95 {p['latency_ms_p95']:.0f} ms, peak RSS {p['peak_rss_mb']:.0f} MB")
    if "evaluate_speedup" in report:
        print(f"evaluate: openvino {report['evaluate_images_per_s_openvino']:.1f} "
              f"images/s, tensorflow {report['evaluate_images_per_s_tensorflow']:.1f} images/s "
              f"({report['evaluate_speedup']:.2f}x)")
