"""One input's tensors at a layer, then each method's rule over them: the methods whose map
is a function of a layer's activations (and the class score's gradient to them), alone or
several sharing the pass (camview.maps.shared_pass).

The tensors come from TensorFlow's compiled forward and backward pass (one per model, layer
and whether a gradient is needed, shared by every such method), or, on a forward-only
runtime (OpenVINO), from its forward pass with the gradient in closed form
(camview.maps.closed_form). The rules run in numpy on what came out: microseconds, where the
same rules as a compiled TensorFlow call after an OpenVINO forward pass cost 0.7 ms and left
the maps at 1.19-1.29x the forward pass (EfficientNet-Lite0, measured). They run with one
BLAS thread (camview.models.blas_threads says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from camview.maps.closed_form import closed_form_gradient, uses_closed_form
from camview.models.base import CamModel
from camview.models.blas_threads import one_blas_thread
from camview.models.head import HeadKind
from camview.models.runtimes import Forward


def explain_rules(model: CamModel, methods: Sequence[Any], batch: np.ndarray,
                  target: int | None, forward: Forward | None = None
                  ) -> tuple[list[np.ndarray], np.ndarray, int]:
    """(each method's raw map, scores, class) for one prepared input and methods at one
    layer (`forward`: a runtime about to be used, warmed up by this call).

    Under a direct head the rules get the class's channel alone when every method reads
    only that (Method.reads_class_channel_only): SqueezeNet's 1000 channels would otherwise
    multiply the rules' work by 1000 for nothing."""
    layer = methods[0].layer
    gradient = any(m.needs_activation_gradient for m in methods)
    cut = (layer == model.read_layer and model.head is HeadKind.DIRECT
           and all(m.reads_class_channel_only for m in methods))
    closed = all(uses_closed_form(m, forward) for m in methods)
    if closed:
        run = forward if forward is not None and layer == model.read_layer else (
            model.forward_of(layer))
        features, logits = run(batch, borrow=True)  # the rules read them before returning
        features, logits = features[0], logits[0].copy()
        c = int(np.argmax(logits)) if target is None or target < 0 else int(target)
        grads = None  # in closed form, below
    else:
        out = _tensorflow_pass(model, layer, gradient)(
            batch, np.int32(-1 if target is None else target))
        features, logits, c = out[0].numpy(), out[1].numpy(), int(out[2])
        grads = out[3].numpy() if gradient else None
    channel = c
    if cut:
        features, channel = features[..., c:c + 1], 0
        grads = None if grads is None else grads[..., c:c + 1]
    with one_blas_thread():
        if closed and gradient:
            grads = closed_form_gradient(model, features, channel)
        score = np.float32(logits[c])
        cams = [m.from_arrays(features, grads if m.needs_activation_gradient else None, score,
                              channel) for m in methods]
    return cams, logits, c


def _tensorflow_pass(model: CamModel, layer: str, gradient: bool):
    """One compiled call, cached on the model: x, target -> (activations (h, w, k), scores,
    class[, d score / d activations])."""
    def build():
        import tensorflow as tf

        feature_model = model.features_at(layer)

        @tf.function(input_signature=[model.input_spec, tf.TensorSpec([], tf.int32)])
        def run(x, target):
            features, grads, logits, _score, c = forward_backward(feature_model, x, target,
                                                                  gradient)
            return (features, logits, c) + ((grads,) if gradient else ())

        return run

    return model.compiled_once(("read pass", layer, gradient), build)


def forward_backward(feature_model, x, target, gradient: bool = True):
    """TF ops for one input: (activations (h, w, k), d score / d activations or None,
    scores, the target's score, the target class), recording only what the gradient needs:
    the head after the read layer."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        features, logits = feature_model(x, training=False)
        tape.watch(features)
        c = pick_class(logits[0], target)
        score = tf.gather(logits[0], c)
    grads = tape.gradient(score, features)[0] if gradient else None
    return features[0], grads, logits[0], score, c


def pick_class(logits, target):
    """The pinned class, or the top-1 when target < 0 (TF ops)."""
    import tensorflow as tf

    return tf.where(target < 0, tf.cast(tf.argmax(logits), tf.int32), target)
