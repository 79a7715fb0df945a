"""Several maps of one input from one compiled call: the live compare's shared pass.

CAM, Grad-CAM, Grad-CAM++, Layer-CAM and Eigen-CAM are each mostly the forward pass (and
the gradient methods one backward pass through the head). Mapped one by one, a 3-panel
compare pays for it three times; methods at the same layer that declare `shares_pass` are
computed here from one forward pass and at most one gradient, each by its own
`from_tensors` rule, so the maps are the same as their own calls give (tests check).
Measured with EfficientNet-Lite0 on 2 cores: CAM + Grad-CAM + Layer-CAM took 44-63 ms as
three calls and about one call's time shared (scripts/bench.py, compare3_fps). With the
OpenVINO runtime the shared pass is one OpenVINO forward pass and the methods' rules on its
output (camview.maps.closed_form).
"""

from __future__ import annotations

import numpy as np

from camview.maps.base import MapResult, Method
from camview.maps.closed_form import explain_closed_form, uses_closed_form
from camview.maps.gradient import forward_backward
from camview.models.base import CamModel


def explain_shared(model: CamModel, methods: list[Method], batch: np.ndarray,
                   target: int | None) -> dict[Method, MapResult]:
    """Maps of `target` (None: top-1) for the methods that can share a pass, by method; a
    layer with fewer than two such methods is left out (its own call is as fast)."""
    by_layer: dict[str, list[Method]] = {}
    for method in methods:
        if method.shares_pass and method.model is model:
            by_layer.setdefault(method.layer, []).append(method)
    out: dict[Method, MapResult] = {}
    for layer, group in by_layer.items():
        group = list(dict.fromkeys(group))
        if len(group) < 2:
            continue
        if all(uses_closed_form(m) for m in group):  # one forward pass of a faster runtime
            cams, logits, c = explain_closed_form(model, group, batch, target)
        else:
            run = _compiled(model, layer, group)
            tensors, logits, c = run(batch, np.int32(-1 if target is None else target))
            cams, logits, c = [t.numpy() for t in tensors], logits.numpy(), int(c)
        for method, cam in zip(group, cams, strict=True):
            out[method] = MapResult(cam, logits, c, method.clip_percentile)
    return out


def _compiled(model: CamModel, layer: str, group: list[Method]):
    """One tf.function for the group, cached on the model like each method's own call."""
    key = ("shared", layer, tuple(type(m).__name__ for m in group))
    return model.compiled_once(key, lambda: _compile(model, layer, group))


def _compile(model: CamModel, layer: str, group: list[Method]):
    import tensorflow as tf

    feature_model = model.features_at(layer)
    gradient = any(m.needs_activation_gradient for m in group)

    @tf.function(input_signature=[model.input_spec, tf.TensorSpec([], tf.int32)])
    def run(x, target):
        features, grads, logits, score, c = forward_backward(feature_model, x, target, gradient)
        cams = tuple(m.from_tensors(features, grads if m.needs_activation_gradient else None,
                                    score, c) for m in group)
        return cams, logits, c

    return run
