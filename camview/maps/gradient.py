"""Gradient methods: forward and backward in one compiled call, then a weighting rule.

The gradient only crosses the head after the read layer, so a map costs about one forward
pass. Each method here only says how it weighs the activations.
"""

from __future__ import annotations

from abc import abstractmethod

from camview.maps.base import Method, pick_class


class GradientMethod(Method):
    """Forward and backward in one compiled call; subclasses say how to weigh the activations.

    The gradient only crosses the head after the read layer, so a map costs about one
    forward pass. `weights` may return one weight per channel (k,) or one per position and
    channel (h, w, k): the map is ReLU(sum over k of weights * activations) either way, by
    broadcasting, so a per-position method (Layer-CAM) is as short as a per-channel one.
    """

    @staticmethod
    @abstractmethod
    def weights(features, grads, score):
        """Weights (k,) or (h, w, k) from activations and gradients (h, w, k), as TF ops."""

    shares_pass = True
    needs_activation_gradient = True
    reads_class_channel_only = True

    def _map(self, feature_model, x, target):
        features, grads, logits, score, c = forward_backward(feature_model, x, target)
        return self.from_tensors(features, grads, score, c), logits, c

    def from_tensors(self, features, grads, score, c):
        return weighted_sum(features, grads, score, self.weights)


def weighted_map(feature_model, x, target, weights):
    """TF ops: (ReLU(sum_k weights * A_k), scores, class), with `weights` a rule of
    (activations, gradients, score) as in GradientMethod.weights."""
    features, grads, logits, score, c = forward_backward(feature_model, x, target)
    return weighted_sum(features, grads, score, weights), logits, c


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


def weighted_sum(features, grads, score, weights):
    """TF ops: ReLU(sum_k weights * A_k) for one input's activations (h, w, k)."""
    import tensorflow as tf

    w = weights(features, grads, score)
    return tf.nn.relu(tf.reduce_sum(w * features, axis=-1))


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
        import tensorflow as tf

        return tf.reduce_mean(grads, axis=(0, 1))


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
        import tensorflow as tf

        g2 = tf.square(grads)
        g3 = g2 * grads
        denominator = 2.0 * g2 + tf.reduce_sum(features, axis=(0, 1)) * g3
        denominator = tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
        alpha = g2 / denominator
        weights = tf.reduce_sum(alpha * tf.nn.relu(grads), axis=(0, 1))
        return weights * tf.exp(tf.minimum(score, 80.0))


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
        import tensorflow as tf

        return tf.nn.relu(grads)


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

    def from_tensors(self, features, grads, score, c):
        import tensorflow as tf

        return tf.reduce_sum(grads * features, axis=-1)  # the paper's definition: no ReLU


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
        import tensorflow as tf

        total = tf.reduce_sum(features, axis=(0, 1))
        return tf.reduce_sum(features * grads, axis=(0, 1)) / (total + 1e-7)
