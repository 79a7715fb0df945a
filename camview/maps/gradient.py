"""Gradient methods: the activations and the class score's gradient to them from one pass
(camview.maps.read_pass), then a weighting rule in numpy.

The gradient only crosses the head after the read layer, so a map costs about one forward
pass. Each method here only says how it weighs the activations.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from camview.maps.base import Method


class GradientMethod(Method):
    """The layer's activations and gradient from the shared pass; subclasses say how to weigh
    the activations.

    `weights` may return one weight per channel (k,) or one per position and channel
    (h, w, k): the map is ReLU(sum over k of weights * activations) either way, by
    broadcasting, so a per-position method (Layer-CAM) is as short as a per-channel one.
    """

    @staticmethod
    @abstractmethod
    def weights(features: np.ndarray, grads: np.ndarray, score: np.float32) -> np.ndarray:
        """Weights (k,) or (h, w, k) from activations and gradients (h, w, k), in numpy."""

    shares_pass = True
    needs_activation_gradient = True
    reads_class_channel_only = True

    def from_arrays(self, features, grads, score, c):
        return weighted_sum(features, self.weights(features, grads, score))


def weighted_sum(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ReLU(sum_k weights * A_k) for one input's activations (h, w, k)."""
    return np.maximum(np.sum(weights * features, axis=-1), np.float32(0))


class GradCAM(GradientMethod):
    """Grad-CAM (Selvaraju et al. 2017): channels weighted by their mean gradient.

    Raw map: ReLU(sum_k mean_ij(dS_c/dA_k) * A_k) at the read layer's resolution.
    """

    name = "gradcam"
    title = "Grad-CAM"
    summary = "channels weighted by their mean gradient; any CNN"
    paper = "Selvaraju et al. 2017"

    @staticmethod
    def weights(features, grads, score):
        return grads.mean(axis=(0, 1))


class GradCAMPlusPlus(GradientMethod):
    """Grad-CAM++ (Chattopadhyay et al. 2018), closed form with Y = exp(score).

    With Y = exp(S) the higher derivatives are exp(S) g^n; exp(S) cancels in alpha and is left
    as a positive factor on the weights. It is kept so the raw map matches the paper's, but
    capped at exp(80) so float32 cannot overflow; the drawn (normalised) map never sees it.
    Raw map: ReLU(sum_k w_k * A_k) with those weights, at the read layer's resolution.
    """

    name = "gradcam++"
    title = "Grad-CAM++"
    summary = "higher-order gradient weights; spreads over several instances and small objects"
    paper = "Chattopadhyay et al. 2018"

    @staticmethod
    def weights(features, grads, score):
        # alpha = g^2 / (2 g^2 + sum_ij(A) g^3), a zero denominator counting as 1, made in
        # one array in place: half the time of a new array per step (0.4 ms against 0.7
        # for Lite0's 10 x 8 x 1280, a tenth of its forward pass).
        g2 = np.square(grads)
        denominator = features.sum(axis=(0, 1)) * grads  # sum_ij(A) g
        denominator += np.float32(2)
        denominator *= g2
        denominator[denominator == 0] = 1
        alpha_relu = np.divide(g2, denominator, out=denominator)
        alpha_relu *= np.maximum(grads, np.float32(0))
        return alpha_relu.sum(axis=(0, 1)) * np.exp(np.minimum(score, np.float32(80)))


class LayerCAM(GradientMethod):
    """Layer-CAM (Jiang et al. 2021): each position weighted by its own positive gradient.

    Per-position weights keep the fine detail of earlier layers (``--layer``) where the
    channel averages of Grad-CAM cancel out into noise. Raw map: ReLU(sum_k ReLU(dS_c/dA_k)
    * A_k) at the read layer's resolution.
    """

    name = "layercam"
    title = "Layer-CAM"
    summary = "each position weighted by its own positive gradient; good at earlier layers"
    paper = "Jiang et al. 2021"

    @staticmethod
    def weights(features, grads, score):
        return np.maximum(grads, np.float32(0))


class HiResCAM(GradientMethod):
    """HiResCAM (Draelos & Carin 2020): gradient times activation, element-wise, summed over
    the channels.

    Grad-CAM's averaging of the gradients can light up positions the class score does not
    depend on; HiResCAM keeps each position's own gradient, with its sign (no ReLU on the
    gradients, unlike Layer-CAM), and, as in the paper's definition, no ReLU on the sum
    either: for a head of global average pooling then one dense layer it is exactly CAM
    divided by the number of positions (the paper's "generalisation of CAM"; tests check).
    Raw map: sum_k dS_c/dA_k * A_k, signed, at the read layer's resolution.
    """

    name = "hirescam"
    title = "HiResCAM"
    summary = "gradient x activation at each position, summed over channels; signed"
    paper = "Draelos & Carin 2020"

    @staticmethod
    def weights(features, grads, score):
        return grads

    def from_arrays(self, features, grads, score, c):
        return np.sum(grads * features, axis=-1)  # the paper's definition: no ReLU


class XGradCAM(GradientMethod):
    """XGrad-CAM (Fu et al. 2020): channels weighted by their gradient averaged with the
    channel's own activations as weights, sum_ij(A_k * g_k) / sum_ij(A_k).

    The weighting the paper derives from its sensitivity and conservation axioms; a channel
    whose activations sum to zero gets weight 0 (an epsilon of 1e-7 in the denominator, as
    pytorch-grad-cam has). Raw map: ReLU(sum_k w_k * A_k) at the read layer's resolution.
    """

    name = "xgradcam"
    title = "XGrad-CAM"
    summary = "channels weighted by their activation-weighted mean gradient"
    paper = "Fu et al. 2020"

    @staticmethod
    def weights(features, grads, score):
        total = features.sum(axis=(0, 1))
        return np.sum(features * grads, axis=(0, 1)) / (total + np.float32(1e-7))
