"""Several maps of one input from one pass: the live compare's shared pass.

CAM, Grad-CAM, Grad-CAM++, Layer-CAM and Eigen-CAM are each mostly the forward pass (and
the gradient methods one backward pass through the head). Mapped one by one, a 3-panel
compare pays for it three times; methods at the same layer that declare `shares_pass` are
computed here from one forward pass and at most one gradient, each by its own
`from_arrays` rule (camview.maps.read_pass), so the maps are the same as their own calls
give (tests check). Measured with EfficientNet-Lite0 on 2 cores: CAM + Grad-CAM + Layer-CAM
took 44-63 ms as three calls and about one call's time shared (scripts/bench.py,
compare3_fps).
"""

from __future__ import annotations

import numpy as np

from camview.maps.base import MapResult, Method
from camview.maps.read_pass import explain_rules
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
    for group in by_layer.values():
        group = list(dict.fromkeys(group))
        if len(group) < 2:
            continue
        cams, logits, c = explain_rules(model, group, batch, target)
        for method, cam in zip(group, cams, strict=True):
            out[method] = MapResult(cam, logits, c, method.clip_percentile)
    return out
