"""What maps cost over plain classification on one frame: the live methods interleaved with
a compiled classification, the slow ones at their defaults, and the textbook Keras Grad-CAM
as the peer to beat."""

from __future__ import annotations

import warnings

import numpy as np

from benchmarks.measure import interleaved_median_ms, median_ms, method_key, model_gflops


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


def bench_method_costs(name: str, repeats: int, slow_repeats: int) -> dict:
    """`--only methods`: HiResCAM, XGrad-CAM and Recipro-CAM interleaved with plain
    classification and Grad-CAM on the benchmark frame (ratios from one run), then Integrated
    Gradients and RISE at their defaults with SmoothGrad beside them (its cost target)."""
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
    for method in ("hirescam", "xgradcam", "reciprocam", "gradcam"):
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
