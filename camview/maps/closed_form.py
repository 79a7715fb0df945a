"""Maps from one forward pass of a runtime that has no backward (OpenVINO): the gradient of a
pooling + dense head in closed form (and of pooling + layer norm + dense: layer_norm_gradient).

For global average pooling then one dense layer, score_c = sum_k W[k, c] mean_ij A_ijk + b_c,
so d score_c / d A_ijk = W[k, c] / (H * W) at every position; for a direct head (the class's
own channel, globally averaged: SqueezeNet) it is 1 / (H * W) on channel c and 0 elsewhere.
Either way the gradient is a function of the class alone, so every gradient method's own
`weights` rule (Grad-CAM, Grad-CAM++, Layer-CAM and any GradientMethod added later) runs on
the activations and scores the runtime returned, in one small compiled call per method (or
group of methods, for the live compare). CAM and Eigen-CAM need no gradient at all. Methods
that need a true backward pass (saliency, SmoothGrad, guided, a gradient method at an earlier
--layer or after a non-linear head) stay on TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from camview.models.base import CamModel
from camview.models.head import HeadKind
from camview.models.runtimes import TENSORFLOW, Forward

#: Heads whose gradient to the read layer is known in closed form.
CLOSED_FORM_HEADS = (HeadKind.FC, HeadKind.DIRECT, HeadKind.NORM_FC)


def uses_closed_form(method: Any, forward: Forward | None = None) -> bool:
    """Whether `method` (a camview.maps Method) is computed by explain_closed_form from the
    model's runtime forward pass here (or `forward`'s, one about to be used): a runtime
    other than TensorFlow, a method whose map is `from_tensors` of the read layer, and for a
    gradient method a head whose gradient is known."""
    forward = forward or method.model.runtime
    # shares_pass: a method that runs on the forward runtime its own way (the perturbation
    # methods, Recipro-CAM) has no `from_tensors` rule for explain_closed_form to call.
    return (forward.name != TENSORFLOW and method.shares_pass
            and method.runs_on_forward_runtime())


def closed_form_gradient(model: CamModel, features, c):
    """TF ops: d score_c / d activations (h, w, k) for the model's pooling + dense head."""
    import tensorflow as tf

    shape = tf.shape(features)
    positions = tf.cast(shape[0] * shape[1], features.dtype)
    if model.head is HeadKind.DIRECT:
        row = tf.one_hot(c, shape[2], dtype=features.dtype)
    elif model.head is HeadKind.NORM_FC:
        row = layer_norm_gradient(model.norm_head, tf.reduce_mean(features, axis=(0, 1)), c)
    else:
        row = tf.gather(model.dense.tensor(), c, axis=1)
    return tf.broadcast_to(row / positions, shape)


def layer_norm_gradient(head, pooled, c):
    """TF ops: d score_c / d p for a ``norm-fc`` head (camview.models.head.NormHead) at the
    pooled activations p (k,).

    score_c = w_c . (gamma * n + beta) + b_c with n = (p - mu) / sigma, mu the mean of p and
    sigma = sqrt(var(p) + eps). With g = gamma * w_c, the layer norm's Jacobian gives
    d score_c / d p = (g - mean(g) - n * mean(n * g)) / sigma; each position's share is
    that over H * W (closed_form_gradient divides).
    """
    import tensorflow as tf

    weights, gamma = head.tensors()
    mu = tf.reduce_mean(pooled)
    sigma = tf.sqrt(tf.reduce_mean(tf.square(pooled - mu)) + head.epsilon)
    n = (pooled - mu) / sigma
    g = gamma * tf.gather(weights, c, axis=1)
    return (g - tf.reduce_mean(g) - n * tf.reduce_mean(n * g)) / sigma


def explain_closed_form(model: CamModel, methods: Sequence[Any], batch: np.ndarray,
                        target: int | None, forward: Forward | None = None
                        ) -> tuple[list[np.ndarray], np.ndarray, int]:
    """(each method's raw map, scores, class) for one prepared input: one forward pass of the
    model's runtime (or `forward`: warming one up before it is used), then the methods' own
    rules in one compiled call (cached on the model).

    Under a direct head the rules get the class's channel alone when every method reads
    only that (Method.reads_class_channel_only): SqueezeNet's 1000 channels would otherwise
    cost a fifth to two fifths of the forward pass again (0.6-1.8 ms against 4.4, measured).
    """
    layer = methods[0].layer  # one layer's methods (a model without a backward pass may
    at_read = layer == model.read_layer  # map another layer's activations: forward_of)
    forward = forward if forward is not None and at_read else model.forward_of(layer)
    features, logits = forward(batch, borrow=True)  # read before returning
    features, logits = features[0], logits[0].copy()
    c = int(np.argmax(logits)) if target is None or target < 0 else int(target)
    score, channel = logits[c], c
    if (at_read and model.head is HeadKind.DIRECT
            and all(m.reads_class_channel_only for m in methods)):
        features, channel = features[..., c:c + 1], 0
    channels = features.shape[-1]
    run = model.compiled_once(
        ("closed form", layer, tuple(type(m).__name__ for m in methods), channels),
        lambda: _compile(model, methods, channels))
    cams = run(features, np.float32(score), np.int32(channel))
    return [cam.numpy() for cam in cams], logits, c


def _compile(model: CamModel, methods: Sequence[Any], channels: int):
    import tensorflow as tf

    gradient = any(m.needs_activation_gradient for m in methods)

    @tf.function(input_signature=[tf.TensorSpec([None, None, channels], tf.float32),
                                  tf.TensorSpec([], tf.float32),
                                  tf.TensorSpec([], tf.int32)])
    def run(features, score, c):  # c: the class's channel in `features` (0 when sliced)
        grads = closed_form_gradient(model, features, c) if gradient else None
        return tuple(m.from_tensors(features, grads if m.needs_activation_gradient else None,
                                    score, c) for m in methods)

    # Called as its one concrete function, which skips tf.function's argument handling: a
    # call of SqueezeNet's sliced rules took 0.35 ms through the tf.function, 0.22 ms so.
    return run.get_concrete_function()
