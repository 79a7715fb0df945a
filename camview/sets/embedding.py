"""The set's images as points in 2-D: their globally pooled read-layer features, reduced with
scikit-learn (PCA to at most PCA_DIMS, then t-SNE, seeded), so images the network sees alike
sit together and a mistake lands among the class it was taken for.

Features are held compactly while the set runs (:class:`FeatureStore`: float16 rows in fixed
chunks, not Python lists), so memory grows by a few kB per image and never re-copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PCA_DIMS = 50  # t-SNE's usual first step (van der Maaten's code does the same)
#: Below this many images t-SNE says little (its perplexity needs neighbours): PCA instead.
TSNE_MIN_IMAGES = 30
PERPLEXITY = 30.0
#: Half scikit-learn's default 1000 iterations (250 of them exaggerated): the layout of a
#: labelled set has settled by then, and 10 000 points take half as long.
TSNE_ITERATIONS = 500
SEED = 0
THREADED_FROM = 2000  # images from which t-SNE runs on every core
CHUNK = 1024  # rows per chunk of the store


class FeatureStore:
    """Rows of float16 features appended one by one, in fixed chunks (no doubling copies)."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self.count = 0
        self.dims = 0

    def append(self, row: np.ndarray) -> int:
        """Store one row; returns its position."""
        if not self._chunks or self.count % CHUNK == 0:
            if not self.dims:
                self.dims = int(row.size)
            self._chunks.append(np.empty((CHUNK, self.dims), np.float16))
        self._chunks[-1][self.count % CHUNK] = row
        self.count += 1
        return self.count - 1

    def array(self) -> np.ndarray:
        """All rows as one (count, dims) float32 array (made when the set is done)."""
        if not self.count:
            return np.zeros((0, self.dims), np.float32)
        return np.concatenate(self._chunks).astype(np.float32)[:self.count]


@dataclass(frozen=True)
class Embedding:
    points: np.ndarray  # (n, 2) float32 in 0..1, both axes scaled alike
    method: str  # "tsne" or "pca"
    dims: int  # the feature dimensions reduced


def embed(features: np.ndarray) -> Embedding:
    """(n, dims) features -> 2-D points in 0..1: t-SNE after PCA, or PCA alone for a small
    set. Deterministic (fixed seeds)."""
    from sklearn.decomposition import PCA

    n, dims = features.shape
    if n < 3:  # nothing to reduce: one or two points, placed apart
        return Embedding(np.linspace(0.25, 0.75, n, dtype=np.float32)[:, None].repeat(2, 1)
                         if n > 1 else np.full((n, 2), 0.5, np.float32), "pca", dims)
    x = features.astype(np.float64)
    reduced = PCA(n_components=min(PCA_DIMS, n, dims), random_state=SEED).fit_transform(x)
    if n < TSNE_MIN_IMAGES or reduced.shape[1] < 2:
        points, method = reduced[:, :2], "pca"
        if points.shape[1] < 2:
            points = np.hstack([points, np.zeros((n, 1))])
    else:
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        # A small set's gradient steps are microseconds: OpenMP threads only wait for each
        # other (40 s instead of 2 s for 64 points on a loaded two-core machine).
        with threadpool_limits(1 if n < THREADED_FROM else None, user_api="openmp"):
            points = TSNE(n_components=2, perplexity=min(PERPLEXITY, (n - 1) / 3),
                          init="pca", max_iter=TSNE_ITERATIONS,
                          random_state=SEED).fit_transform(reduced)
        method = "tsne"
    return Embedding(unit_square(points), method, dims)


def unit_square(points: np.ndarray) -> np.ndarray:
    """Points scaled into 0..1, the same factor on both axes, centred."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float((hi - lo).max()) or 1.0
    centred = (points - (lo + hi) / 2) / span + 0.5
    return centred.astype(np.float32)
