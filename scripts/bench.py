#!/usr/bin/env python3
"""camview's benchmark: what maps cost over plain classification, on this machine, in one run.

Prints a table; --json PATH writes the same figures (keys documented in README.md).
Every figure is a median over repeated batch-1 calls after warm-up, so ratios taken from one
run compare like with like even on a noisy shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SQUEEZENET_DIR = ROOT.parent / "shared" / "models" / "squeezenet1.1"


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


def textbook_gradcam(keras_model, layer_name: str, image: np.ndarray) -> np.ndarray:
    """The copy-paste Keras recipe, as the peer to beat: predict, then a fresh tape per image."""
    import keras
    import tensorflow as tf

    # The recipe builds its model from `inputs` (a list) and calls it on one tensor, which
    # Keras 3 warns about; the warning is the recipe's, kept quiet here.
    warnings.filterwarnings("ignore", message="The structure of `inputs`")
    preds = keras_model.predict(image, verbose=0)
    index = int(np.argmax(preds[0]))
    grad_model = keras.Model(keras_model.inputs,
                             [keras_model.get_layer(layer_name).output, keras_model.output])
    with tf.GradientTape() as tape:
        conv_out, out = grad_model(image)
        class_channel = out[:, index]
    grads = tape.gradient(class_channel, conv_out)
    pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = conv_out[0] @ pooled[..., tf.newaxis]
    heatmap = tf.squeeze(heatmap)
    heatmap = tf.maximum(heatmap, 0) / tf.math.reduce_max(heatmap)
    return heatmap.numpy()


def method_key(name: str) -> str:
    """A method's name as a JSON key stem: gradcam++ -> gradcampp, guided-gradcam ->
    guided_gradcam."""
    return name.replace("++", "pp").replace("-", "_")


#: --quick's live methods: each costs a trace, and the smoke run checks the loop, not them.
QUICK_LIVE = ("cam", "gradcam", "gradcam++", "layercam")
#: --quick's slow methods: a smoke run checks that each runs and is reported, not its cost
#: (RISE's 1000 masks alone are a thousand forward passes).
QUICK_OPTIONS = {"rise": {"masks": 32}, "integrated-gradients": {"steps": 4},
                 "smoothgrad": {"samples": 4}, "scorecam": {"max_channels": 8},
                 "occlusion": {"patch": 112, "stride": 112}}


def bench_on_demand(model, batch: np.ndarray, repeats: int, quick: bool = False) -> dict:
    """The slow methods at their defaults (--quick: QUICK_OPTIONS), and deletion + insertion
    for one Grad-CAM map (camview.checks.faithfulness.score_map): medians of a few calls after one
    warm-up."""
    from camview.checks.faithfulness import score_map
    from camview.maps import METHODS, make_method

    warmup = min(1, repeats - 1)  # a one-call smoke run (--quick) has no time to warm up
    out = {}
    for name, method in METHODS.items():
        if not method.live:
            explainer = make_method(name, model, **(QUICK_OPTIONS.get(name, {}) if quick
                                                    else {}))
            out[f"{method_key(name)}_ms"] = median_ms(lambda e=explainer: e.explain(batch),
                                                      repeats, warmup=warmup)
    result = make_method("gradcam", model).explain(batch)
    out["metrics_ms"] = median_ms(lambda: score_map(model, batch, result.cam, result.target),
                                  repeats, warmup=warmup)
    return out


def bench_model(name: str, weights: str | None, repeats: int, recipe_repeats: int,
                slow_repeats: int = 3, quick: bool = False) -> dict:
    import tensorflow as tf

    from camview.maps import CAM, METHODS, make_method
    from camview.models import HeadKind, load_model

    model = load_model(name, weights=weights)
    from camview.sources import DemoSource

    with DemoSource(size=(640, 480)) as demo:  # a real photo at webcam size
        batch = model.prepare(demo.read().image)
    hw = batch.shape[1:3]

    logits_only = tf.function(lambda x: model.keras_model(x, training=False),
                              input_signature=[model.input_spec])
    calls = {"classify_ms": lambda: logits_only(batch).numpy()}
    for method_name, method in METHODS.items():
        if quick and method_name not in QUICK_LIVE:
            continue
        if method.live and not (method is CAM and model.head is HeadKind.GRADIENT_ONLY):
            explainer = make_method(method_name, model)
            calls[f"{method_key(method_name)}_ms"] = lambda e=explainer: e.explain(batch)
    row = {"model": model.name, "input": f"{hw[1]}x{hw[0]}", "head": model.head.value,
           "cam_ms": None, **interleaved_median_ms(calls, repeats)}
    row.update(bench_on_demand(model, batch, slow_repeats, quick))
    for method_name in METHODS:
        value = row.get(f"{method_key(method_name)}_ms")
        row[f"{method_key(method_name)}_ratio"] = (None if value is None
                                                   else value / row["classify_ms"])
    row["gflops"] = model_gflops(model, hw)
    row["achieved_gflops_per_s"] = row["gflops"] / (row["classify_ms"] / 1000)
    row["recipe_ms"] = median_ms(lambda: textbook_gradcam(model.keras_model, model.read_layer,
                                                          batch), recipe_repeats,
                                 warmup=min(1, slow_repeats - 1))
    row["recipe_speedup"] = row["recipe_ms"] / row["gradcam_ms"]
    return row


def bench_issue18_methods(name: str, repeats: int, slow_repeats: int) -> dict:
    """Issue 18's methods on the benchmark frame (`--only methods`): HiResCAM and XGrad-CAM
    interleaved with plain classification (ratios from one run), Integrated Gradients and
    RISE at their defaults, and SmoothGrad beside them (its cost target)."""
    import tensorflow as tf

    from camview.maps import make_method
    from camview.models import load_model
    from camview.sources import DemoSource

    model = load_model(name)
    with DemoSource(size=(640, 480)) as demo:
        batch = model.prepare(demo.read().image)
    logits_only = tf.function(lambda x: model.keras_model(x, training=False),
                              input_signature=[model.input_spec])
    calls = {"classify_ms": lambda: logits_only(batch).numpy()}
    for method in ("hirescam", "xgradcam", "gradcam"):
        explainer = make_method(method, model)
        calls[f"{method_key(method)}_ms"] = lambda e=explainer: e.explain(batch)
    row = {"model": model.name, **interleaved_median_ms(calls, repeats)}
    for method in ("integrated-gradients", "rise", "smoothgrad"):
        explainer = make_method(method, model)
        row[f"{method_key(method)}_ms"] = median_ms(lambda e=explainer: e.explain(batch),
                                                    slow_repeats, warmup=1)
    for key in [k for k in row if k.endswith("_ms") and k != "classify_ms"]:
        row[key.replace("_ms", "_ratio")] = row[key] / row["classify_ms"]
    return row


def bench_sanity(name: str, repeats: int) -> dict:
    """`--only sanity`: camview.checks.sanity's cascading randomisation, 5 steps x 3 methods
    (Grad-CAM, Layer-CAM, saliency) on the benchmark frame, the copy and its tracing included
    (each run makes a new copy: that is what a user waits for); the median of `repeats` runs."""
    from camview.checks.sanity import sanity_check
    from camview.models import load_model
    from camview.sources import DemoSource

    model = load_model(name)
    with DemoSource(size=(640, 480)) as demo:
        batch = model.prepare(demo.read().image)
    methods = ["gradcam", "layercam", "saliency"]
    seconds = median_ms(lambda: sanity_check(model, batch, methods), repeats, warmup=1) / 1000
    return {"sanity_s": seconds, "sanity_methods": methods, "sanity_steps": 5}


def bench_set_metrics(name: str, images: int = 100) -> dict:
    """`--only set-metrics`: `camview evaluate SET --metrics gradcam,layercam,hirescam` scoring
    on `images` generated photos (the demo photos cropped and flipped), one run, model loading
    included; the issue's budget is 180 s for 100 images and 3 live methods."""
    import cv2

    from camview.maps import make_method
    from camview.models import load_model
    from camview.sets.dataset import LabelledImage
    from camview.sets.evaluation import score_set
    from camview.sources.demo import demo_photos

    photos = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
              for _, data in demo_photos()]
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for i in range(images):
            photo = photos[i % len(photos)]
            h, w = photo.shape[:2]
            k = 1 + (i // len(photos)) % 4
            crop = photo[h * k // 16:h - h * k // 16, w * k // 16:w - w * k // 16]
            path = Path(tmp) / f"{i:03d}.jpg"
            cv2.imwrite(str(path), crop[:, ::-1] if i % 2 else crop)
            items.append(LabelledImage(path, 0))
        start = time.perf_counter()
        model = load_model(name)
        methods = [make_method(m, model) for m in ("gradcam", "layercam", "hirescam")]
        done = sum(1 for _ in score_set(model, items, methods))
        seconds = time.perf_counter() - start
    return {"set_metrics_s": seconds, "set_metrics_images": done,
            "set_metrics_methods": ["gradcam", "layercam", "hirescam"]}


def bench_postprocess(repeats: int) -> dict:
    """Per-frame drawing: map resize, colour, blend and labels of the overlay panel the live
    window composes (it shows the raw frame as is), per style; plus the side-by-side image
    that render and recordings write, which adds one copy of both halves."""
    from camview.drawing.overlay import LAYOUTS, STYLES, OverlayStyle, render_view

    cam = np.random.default_rng(1).random((7, 10)).astype(np.float32)
    top = [("Egyptian cat", 0.51), ("tiger cat", 0.28), ("tabby", 0.19)]
    out = {}
    for w, h in ((640, 480), (1280, 720)):
        frame = (np.random.default_rng(2).random((h, w, 3)) * 255).astype(np.uint8)
        calls = {}
        for style in STYLES:
            for layout in LAYOUTS:
                suffix = "" if layout == "overlay" else "_" + layout.replace("-", "_")
                look = OverlayStyle(style=style, layout=layout)
                calls[f"postprocess_ms_{w}x{h}_{style}{suffix}"] = (
                    lambda f=frame, s=look: render_view(f, cam, top, s))
        out.update(interleaved_median_ms(calls, repeats))
        out[f"postprocess_ms_{w}x{h}"] = max(out[f"postprocess_ms_{w}x{h}_{style}"]
                                             for style in STYLES)
    return out


def measure_pipeline(video: str, *, model: str, weights: str | None, method: str,
                     seconds: float, compare: tuple[str, ...] = ()) -> dict:
    """The window's threads without the window: raw frames delivered vs maps made.

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


def bench_pipeline(name: str, weights: str | None, seconds: float, method: str,
                   compare: tuple[str, ...] = ()) -> dict:
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


def bench_evaluate(model: str, images: int, repeats: int = 2) -> dict:
    """Images/s of `camview evaluate FOLDER --json` against `camview render FOLDER --json` on
    the same generated folder (demo photos, cropped and flipped), in one run.

    Each command also loads the model and traces its calls, a fixed cost of about a second
    that would swamp a small folder; the rate is therefore marginal: (N - n) images over the
    difference between a run on the N-image folder and one on its first n images. Runs take
    turns and the fastest of `repeats` counts, so machine load drifting weighs on both alike.
    """
    import contextlib
    import io

    from camview.sets.dataset import write_demo_set

    small = max(2, images // 8)
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # The same files for both: render reads the folder, evaluate its labels.csv.
        sets = {n: write_demo_set(Path(tmp) / f"set{n}", n, flat=True) for n in (images, small)}
        out = str(Path(tmp) / "out.json")
        commands = {
            "render": lambda n: ["render", str(sets[n].parent), "--json", out, "--model", model,
                                 "--no-progress"],
            "evaluate": lambda n: ["evaluate", str(sets[n]), "--json", out, "--model", model,
                                   "--no-progress", "--no-cache"],
        }
        for _ in range(repeats):
            for n in (images, small):
                for name, argv in commands.items():
                    with contextlib.redirect_stdout(io.StringIO()):  # evaluate's summary line
                        times.setdefault((name, n), []).append(run_cli_in_process(argv(n)))
    rates = {name: (images - small) / (min(times[(name, images)]) - min(times[(name, small)]))
             for name in commands}
    # evaluate_vs_render was called evaluate_speedup before the runtimes came; that name now
    # means evaluate on OpenVINO ÷ on TensorFlow (bench_evaluate_runtimes).
    return {"evaluate_images_per_s": rates["evaluate"], "render_images_per_s": rates["render"],
            "evaluate_vs_render": rates["evaluate"] / rates["render"],
            "evaluate_bench": {"model": model, "images": images, "small": small,
                               "seconds": {f"{k}_{n}": min(v) for (k, n), v in times.items()}}}


# ---------------------------------------------------------------------------------------------
# The set views of `camview evaluate` (issue 17): `--only set-views` runs this part alone.


def bench_set_views(model_name: str, images: int, repeats: int = 3) -> dict:
    """Images/s of evaluate's classification with the set views (pooled features and the
    true class's map from the same batched pass, a thumbnail) against without them, on the
    same generated set in one process: the model is loaded and both calls traced and warmed
    on the set's shapes first, then the two take turns and the fastest of `repeats` counts.
    The embedding (t-SNE, once per set) is timed on its own."""
    from camview.models import load_model
    from camview.sets.dataset import open_labelled_set, write_demo_set
    from camview.sets.evaluation import Tally, classify_set

    model = load_model(model_name)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_demo_set(Path(tmp) / "set", images)
        dataset = open_labelled_set(folder, model.labels).images

        def run(views: bool) -> tuple[float, Tally]:
            tally = Tally(0)
            start = time.perf_counter()
            for result in classify_set(model, dataset, views=views):
                tally.add(result)
            return time.perf_counter() - start, tally

        run(False), run(True)  # tracing, and TensorFlow's buffers for each input shape
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for views in (False, True):
                seconds, tally = run(views)
                times[views].append(seconds)
        start = time.perf_counter()
        tally.finish_views()
        embedding_s = time.perf_counter() - start
    # The two compiled calls alone, on one full batch of 4:3 inputs, interleaved.
    from camview.sets.evaluation import DEFAULT_BATCH, batch_logits, batch_views

    x = np.random.default_rng(0).uniform(-1, 1, (DEFAULT_BATCH, *model.network_size(
        (480, 640)), 3)).astype(np.float32)
    targets = np.arange(DEFAULT_BATCH, dtype=np.int32)
    calls = interleaved_median_ms({"plain": lambda: batch_logits(model)(x),
                                   "views": lambda: batch_views(model)(x, targets)},
                                  repeats=5 * repeats)
    plain, views = (images / min(times[v]) for v in (False, True))
    return {"evaluate_plain_images_per_s": plain, "evaluate_views_images_per_s": views,
            "evaluate_views_cost": 1 - views / plain,
            "evaluate_embedding_s": embedding_s,
            "batch16_plain_ms": calls["plain"], "batch16_views_ms": calls["views"],
            "set_views_bench": {"model": model_name, "images": images,
                                "embedding": tally.embedding.method,
                                "seconds": {"plain": times[False], "views": times[True]}}}


# -- inside the network (issue 19): activation maximisation ----------------------------------

DREAM_CLASSES = ("tabby", "espresso", "goldfinch")


def bench_dream(steps: int | None = None, size: int | None = None) -> dict:
    """`dream_s`: seconds for one EfficientNet-Lite0 picture at the default steps and size (the
    median over DREAM_CLASSES, the step traced beforehand, as a second picture in one run
    finds it); each class's time and the probability of its PNG read back."""
    import cv2
    import tensorflow as tf

    from camview.models import load_model
    from camview.network.dream import (
        DEFAULT_SIZE,
        DEFAULT_STEPS,
        class_objective,
        class_probabilities,
        dream,
    )

    steps, size = steps or DEFAULT_STEPS, size or DEFAULT_SIZE
    model = load_model("efficientnet_lite0")
    # A compiled classification of the same picture size, before and after: the step's cost
    # as a ratio to it compares across loads (this machine's speed varies several times over).
    batch = model.prepare(np.zeros((size, size, 3), np.uint8))
    classify = tf.function(lambda x: model.keras_model(x, training=False),
                           input_signature=[model.input_spec])
    classify_ms = [median_ms(lambda: classify(batch).numpy(), 20)]
    start = time.perf_counter()
    dream(model, class_objective(model, DREAM_CLASSES[0]), steps=1, size=size)
    trace_s = time.perf_counter() - start
    per_class = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in DREAM_CLASSES:
            objective = class_objective(model, name)
            result = dream(model, objective, steps=steps, size=size)
            path = str(Path(folder) / f"{name}.png")
            cv2.imwrite(path, result.image)
            prob = float(class_probabilities(model, cv2.imread(path))[objective.target])
            per_class[name] = {"s": result.seconds, "prob": prob}
    classify_ms.append(median_ms(lambda: classify(batch).numpy(), 20))
    seconds = statistics.median(v["s"] for v in per_class.values())
    step_ms = 1000 * seconds / steps
    return {"dream_s": seconds, "dream_step_ms": step_ms,
            "dream_classify_ms": statistics.mean(classify_ms),
            "dream_step_ratio": step_ms / statistics.mean(classify_ms),
            "dream_trace_s": trace_s, "dream_steps": steps, "dream_size": size,
            "dream_classes": per_class}


def print_dream(report: dict) -> None:
    print(f"dream (efficientnet_lite0, {report['dream_steps']} steps, {report['dream_size']} "
          f"px): {report['dream_s']:.1f} s median ({report['dream_step_ms']:.0f} ms/step = "
          f"{report['dream_step_ratio']:.1f}x a {report['dream_classify_ms']:.1f} ms "
          "classification, "
          f"first trace {report['dream_trace_s']:.1f} s); " + ", ".join(
              f"{k} {v['s']:.1f} s p={v['prob']:.3f}" for k, v in report["dream_classes"].items()))


# ---------------------------------------------------------------------------------------------
# Runtimes (issue 20): OpenVINO against TensorFlow, in one run.
# `--only runtime` runs this part alone.

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model(s) to measure (default: the "
                        "registry's models whose weights are here, never a download)")
    parser.add_argument("--weights", default=None, help="weights for --model ('none': random)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--recipe-repeats", type=int, default=10)
    parser.add_argument("--pipeline-seconds", type=float, default=20.0)
    parser.add_argument("--pipeline-method", default="cam")
    parser.add_argument("--evaluate-images", type=int, default=64,
                        help="images in the folder evaluate and render are timed on")
    parser.add_argument("--quick", action="store_true", help="a second-long smoke run")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--only", choices=sorted(ONLY), action="append", default=None,
                        help="measure only this part, in one run (may be repeated): "
                             + "; ".join(f"{k}: {v[0]}" for k, v in ONLY.items()))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.recipe_repeats, args.pipeline_seconds = 3, 1, 1.0
        args.evaluate_images = 16
    if "CAMVIEW_SQUEEZENET" not in os.environ and (SQUEEZENET_DIR / "squeezenet1.1.xml").is_file():
        os.environ["CAMVIEW_SQUEEZENET"] = str(SQUEEZENET_DIR)
    if args.only:
        report = {"peak_gflops": peak_gflops(0.3 if args.quick else 1.0),
                  "cpu_count": os.cpu_count()}
        for part in args.only:
            report.update(ONLY[part][1](args, report))
        print(json.dumps(report, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return 0

    models = args.model or ready_models()
    report = {"peak_gflops": peak_gflops(0.3 if args.quick else 1.0), "models": [],
              "cpu_count": os.cpu_count()}
    slow = 1 if args.quick else 3
    for name in models:
        row = bench_model(name, args.weights, args.repeats, args.recipe_repeats,
                          1 if args.quick else 3, quick=args.quick)
        row["pipeline"] = bench_pipeline(name, args.weights, args.pipeline_seconds,
                                         args.pipeline_method)
        if not args.quick:  # converting to OpenVINO takes tens of seconds: not for a smoke run
            row["runtimes"] = bench_runtimes(name, args.weights, args.repeats, slow,
                                             report["peak_gflops"])
        report["models"].append(row)
    report.update(bench_postprocess(args.repeats))
    report.update(bench_evaluate(models[0], args.evaluate_images, repeats=1 if args.quick else 2))
    report.update(bench_set_views(models[0], args.evaluate_images, 1 if args.quick else 3))
    report.update(bench_compare3(args.pipeline_seconds))
    report.update(bench_dream(steps=10 if args.quick else None))
    if not args.quick:  # four more loads of the model: not for the smoke run
        report.update(bench_evaluate_runtimes(models[0], args.evaluate_images))
    print_table(report)
    print_dream(report)
    print_runtimes(report)
    print_set_views(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def runtime_part(args: argparse.Namespace, report: dict) -> dict:
    """--only runtime: OpenVINO against TensorFlow for each model, in one run."""
    models, slow = args.model or ready_models(), 1 if args.quick else 3
    part: dict = {"models": []}
    for name in models:
        runtimes = bench_runtimes(name, args.weights, args.repeats, slow, report["peak_gflops"])
        runtimes.update(bench_pipeline_runtimes(name, args.weights, args.pipeline_seconds,
                                                args.pipeline_method))
        part["models"].append({"model": name, "runtimes": runtimes})
    part.update(bench_evaluate_runtimes(models[0], args.evaluate_images,
                                        repeats=1 if args.quick else 2))
    print_runtimes({**report, **part})
    return part


def set_views_part(args: argparse.Namespace) -> dict:
    """--only set-views: evaluate's own rate against render's and its set views, one run."""
    part = bench_evaluate(_first_model(args), args.evaluate_images, repeats=2)
    part.update(bench_set_views(_first_model(args), args.evaluate_images))
    print_set_views(part)
    return part


def _first_model(args: argparse.Namespace) -> str:
    return (args.model or ["efficientnet_lite0"])[0]


#: --only PART: (what it measures, how), each runnable alone; the methods' parts take the first
#: model only.
ONLY = {
    "methods": ("issue 18's methods", lambda args, _: {"methods": bench_issue18_methods(
        _first_model(args), args.repeats, 1 if args.quick else 3)}),
    "sanity": ("the sanity check", lambda args, _: {"sanity": bench_sanity(
        _first_model(args), 1 if args.quick else 3)}),
    "set-metrics": ("evaluate --metrics", lambda args, _: {"set-metrics": bench_set_metrics(
        _first_model(args), 16 if args.quick else 100)}),
    "dream": ("activation maximisation", lambda args, _: bench_dream(
        steps=10 if args.quick else None)),
    "runtime": ("OpenVINO against TensorFlow", runtime_part),
    "set-views": ("evaluate with and without its set views, and against render",
                  lambda args, _: set_views_part(args)),
}


def print_set_views(report: dict) -> None:
    print(f"evaluate's set views: {report['evaluate_views_images_per_s']:.1f} images/s with, "
          f"{report['evaluate_plain_images_per_s']:.1f} without "
          f"({100 * report['evaluate_views_cost']:.0f} % slower); one batch of 16: "
          f"{report['batch16_views_ms']:.0f} ms against {report['batch16_plain_ms']:.0f} ms; "
          f"embedding of {report['set_views_bench']['images']} images "
          f"{report['evaluate_embedding_s']:.1f} s")


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(report: dict) -> None:
    print(f"peak float32 matmul: {report['peak_gflops']:.0f} GFLOP/s "
          f"({report['cpu_count']} cores)")
    head = ("model", "input", "classify", "cam", "gradcam", "gradcam++", "recipe",
            "GFLOP", "GFLOP/s")
    print("".join(h.ljust(w) for h, w in zip(head, (20, 9, 10, 15, 15, 15, 17, 7, 8),
                                             strict=True)))
    for r in report["models"]:
        cells = (r["model"], r["input"], f"{r['classify_ms']:.1f} ms",
                 f"{_fmt(r['cam_ms'])} ({_fmt(r['cam_ratio'], 2)}x)",
                 f"{_fmt(r['gradcam_ms'])} ({_fmt(r['gradcam_ratio'], 2)}x)",
                 f"{_fmt(r['gradcampp_ms'])} ({_fmt(r['gradcampp_ratio'], 2)}x)",
                 f"{r['recipe_ms']:.0f} ({r['recipe_speedup']:.0f}x)",
                 f"{r['gflops']:.2f}", f"{r['achieved_gflops_per_s']:.0f}")
        print("".join(c.ljust(w) for c, w in zip(cells, (20, 9, 10, 15, 15, 15, 17, 7, 8),
                                                  strict=True)))
    for r in report["models"]:
        print(f"{r['model']}: " + ", ".join(
            f"{key} {_fmt(r.get(key + '_ms'))} ms ({_fmt(r.get(key + '_ratio'), 2)}x)" for key in
            ("layercam", "eigencam", "saliency", "guided_gradcam", "smoothgrad")) +
            f"; scorecam {r['scorecam_ms']:.0f} ms, occlusion {r['occlusion_ms']:.0f} ms, "
            f"deletion+insertion {r['metrics_ms']:.0f} ms")
    for r in report["models"]:
        p = r["pipeline"]
        print(f"pipeline {r['model']}: display {p['display_fps']:.1f} fps, inference "
              f"{p['inference_fps']:.1f} fps, latency p50 {p['latency_ms_p50']:.0f} ms "
              f"p95 {p['latency_ms_p95']:.0f} ms, dropped {p['dropped']}, "
              f"peak RSS {p['peak_rss_mb']:.0f} MB")
    for key in ("postprocess_ms_640x480", "postprocess_ms_1280x720"):
        print(f"{key}: {report[key]:.2f} ms")
    print(f"evaluate {report['evaluate_images_per_s']:.1f} images/s, render "
          f"{report['render_images_per_s']:.1f} images/s "
          f"({report['evaluate_vs_render']:.2f}x, {report['evaluate_bench']['model']})")
    print(f"compare {' | '.join(COMPARE3)} (efficientnet_lite0): {report['compare3_fps']:.1f} "
          f"grids/s, display {report['compare3_display_fps']:.1f} fps, latency p50 "
          f"{_fmt(report['compare3_latency_ms_p50'], 0)} ms")


if __name__ == "__main__":
    sys.exit(main())
