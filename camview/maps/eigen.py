"""Eigen-CAM (Muhammad & Yeasin 2020): the activations' first principal component."""

from __future__ import annotations

from camview.maps.base import Method, pick_class


class EigenCAM(Method):
    """Eigen-CAM: where the read layer's activations vary most together, for no class.

    The (h*w, k) activation matrix, centred over positions, is projected on its first right
    singular vector; the sign is chosen so the map correlates positively with the activation
    sum (an SVD's sign is arbitrary). No gradient and no class: the target is reported, not
    used. Raw map: that projection (zero mean, not ReLU'd) at the read layer's resolution.
    """

    name = "eigencam"
    title = "Eigen-CAM"
    summary = "first principal component of the activations; no gradient, the same for every class"
    paper = "Muhammad & Yeasin 2020"
    class_agnostic = True

    shared_pass = False

    def _map(self, feature_model, x, target):
        features, logits = feature_model(x, training=False)
        return self.from_tensors(features[0], None, None, None), logits[0], pick_class(
            logits[0], target)

    def from_tensors(self, features, grads, score, c):
        import tensorflow as tf

        shape = tf.shape(features)
        flat = tf.reshape(features, [-1, shape[2]])
        centred = flat - tf.reduce_mean(flat, axis=0, keepdims=True)
        _, _, v = tf.linalg.svd(centred, full_matrices=False)
        projection = tf.linalg.matvec(centred, v[:, 0])
        total = tf.reduce_sum(flat, axis=1)
        sign = tf.where(tf.reduce_sum(projection * total) < 0.0, -1.0, 1.0)
        return tf.reshape(sign * projection, shape[:2])
