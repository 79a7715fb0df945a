"""Eigen-CAM (Muhammad & Yeasin 2020): the activations' first principal component."""

from __future__ import annotations

import numpy as np

from camview.maps.base import Method


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

    def from_arrays(self, features, grads, score, c):
        h, w, k = features.shape
        flat = features.reshape(h * w, k)
        centred = flat - flat.mean(axis=0, keepdims=True)
        # The projection on the first right singular vector, C v1 = s1 u1, from the top
        # eigenvector of the smaller Gram matrix: a full SVD of C costs more than the network.
        if h * w <= k:  # (n, n): u1 and s1 = sqrt(lambda1)
            values, vectors = np.linalg.eigh(centred @ centred.T)
            projection = vectors[:, -1] * np.sqrt(max(values[-1], 0.0))
        else:  # (k, k): v1, then C v1
            _, vectors = np.linalg.eigh(centred.T @ centred)
            projection = centred @ vectors[:, -1]
        sign = -1.0 if np.sum(projection * flat.sum(axis=1)) < 0 else 1.0
        return (sign * projection).reshape(h, w).astype(np.float32)
