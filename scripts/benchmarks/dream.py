"""What activation maximisation costs: one `camview dream` picture of EfficientNet-Lite0 at
the defaults, against a compiled classification of the same size (`--only dream`)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.measure import median_ms

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
