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

    shares_pass = True  # from the activations alone: no gradient

    def _map(self, feature_model, x, target):
        features, logits = feature_model(x, training=False)
        return self.from_tensors(features[0], None, None, None), logits[0], pick_class(
            logits[0], target)

    def from_tensors(self, features, grads, score, c):
        import tensorflow as tf

        shape = tf.shape(features)
        flat = tf.reshape(features, [-1, shape[2]])
        centred = flat - tf.reduce_mean(flat, axis=0, keepdims=True)
        # The projection on the first right singular vector, C v1 = s1 u1, from the top
        # eigenvector of the smaller Gram matrix: a full SVD of C costs more than the network.
        n, k = tf.shape(centred)[0], tf.shape(centred)[1]

        def by_positions():  # (n, n): u1 and s1 = sqrt(lambda1)
            values, vectors = tf.linalg.eigh(tf.matmul(centred, centred, transpose_b=True))
            return vectors[:, -1] * tf.sqrt(tf.maximum(values[-1], 0.0))

        def by_channels():  # (k, k): v1, then C v1
            _, vectors = tf.linalg.eigh(tf.matmul(centred, centred, transpose_a=True))
            return tf.linalg.matvec(centred, vectors[:, -1])

        projection = tf.cond(n <= k, by_positions, by_channels)
        total = tf.reduce_sum(flat, axis=1)
        sign = tf.where(tf.reduce_sum(projection * total) < 0.0, -1.0, 1.0)
        return tf.reshape(sign * projection, shape[:2])
