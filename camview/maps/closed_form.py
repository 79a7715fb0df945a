"""The class score's gradient to the read layer in closed form, for the heads whose gradient
is known: what lets a runtime with no backward pass (OpenVINO) give the gradient methods'
maps from one forward pass (camview.maps.read_pass runs them).

For global average pooling then one dense layer, score_c = sum_k W[k, c] mean_ij A_ijk + b_c,
so d score_c / d A_ijk = W[k, c] / (H * W) at every position; for a direct head (the class's
own channel, globally averaged: SqueezeNet) it is 1 / (H * W) on channel c and 0 elsewhere;
for pooling + layer norm + dense (ConvNeXt) see layer_norm_gradient. CAM and Eigen-CAM need
no gradient at all. Methods that need a true backward pass (saliency, SmoothGrad, guided, a
gradient method at an earlier --layer or after a non-linear head) stay on TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from camview.models.base import CamModel
from camview.models.head import HeadKind
from camview.models.runtimes import TENSORFLOW, Forward

#: Heads whose gradient to the read layer is known in closed form.
CLOSED_FORM_HEADS = (HeadKind.FC, HeadKind.DIRECT, HeadKind.NORM_FC)


def uses_closed_form(method: Any, forward: Forward | None = None) -> bool:
    """Whether `method` (a camview.maps Method) is computed from the model's runtime forward
    pass here (or `forward`'s, one about to be used): a runtime other than TensorFlow, a
    method whose map is `from_arrays` of the read layer, and for a gradient method a head
    whose gradient is known."""
    forward = forward or method.model.runtime
    # shares_pass: a method that runs on the forward runtime its own way (the perturbation
    # methods, Recipro-CAM) has no `from_arrays` rule for read_pass to call.
    return (forward.name != TENSORFLOW and method.shares_pass
            and method.runs_on_forward_runtime())


def closed_form_gradient(model: CamModel, features: np.ndarray, c: int) -> np.ndarray:
    """d score_c / d activations (h, w, k) for the model's head at the read layer; `c` is
    the class's channel in `features` under a direct head (0 when they were cut to it)."""
    h, w, k = features.shape
    dense, norm_head = model.runtime_head
    if model.head is HeadKind.DIRECT:
        row = np.zeros(k, np.float32)
        row[c] = 1.0
    elif model.head is HeadKind.NORM_FC:
        row = layer_norm_gradient(norm_head, features.mean(axis=(0, 1)), c)
    else:
        row = dense.column(c)
    return np.broadcast_to(row / np.float32(h * w), features.shape)


def layer_norm_gradient(head: Any, pooled: np.ndarray, c: int) -> np.ndarray:
    """d score_c / d p for a ``norm-fc`` head (camview.models.head.NormHead or KerasNormHead)
    at the pooled activations p (k,).

    score_c = w_c . (gamma * n + beta) + b_c with n = (p - mu) / sigma, mu the mean of p and
    sigma = sqrt(var(p) + eps). With g = gamma * w_c, the layer norm's Jacobian gives
    d score_c / d p = (g - mean(g) - n * mean(n * g)) / sigma; each position's share is
    that over H * W (closed_form_gradient divides).
    """
    column, gamma = head.column_and_gamma(c)
    mu = pooled.mean()
    sigma = np.sqrt(np.square(pooled - mu).mean() + np.float32(head.epsilon))
    n = (pooled - mu) / sigma
    g = gamma * column
    return ((g - g.mean() - n * (n * g).mean()) / sigma).astype(np.float32)
