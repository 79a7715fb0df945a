"""The set's images as points in 2-D: their globally pooled read-layer features, reduced with
scikit-learn (PCA to at most PCA_DIMS, then t-SNE, seeded), so images the network sees alike
sit together and a mistake lands among the class it was taken for. In the report an inline
SVG scatter; in the window its "Scatter" tab.

Features are held compactly while the set runs (:class:`FeatureStore`: float16 rows in fixed
chunks, not Python lists), so memory grows by a few kB per image and never re-copies; the
reduction makes them one float32 array for the PCA alone (centred in place), so a large set's
features are never held twice, nor during t-SNE.
"""

from __future__ import annotations

import warnings
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from camview.models import CamModel
from camview.sets.counts import Counts
from camview.sets.markup import e, percent
from camview.sets.results import ImageResult
from camview.sets.views.base import Page, Part, Place, SetView

PCA_DIMS = 50  # t-SNE's usual first step (van der Maaten's code does the same)
#: Below this many images t-SNE says little (its perplexity needs neighbours): PCA instead.
TSNE_MIN_IMAGES = 30
PERPLEXITY = 30.0
#: Half scikit-learn's default 1000 iterations (250 of them exaggerated): the layout of a
#: labelled set has settled by then, and 10 000 points take half as long.
TSNE_ITERATIONS = 500
SEED = 0
THREADED_FROM = 2000  # images from which the reduction runs on every core
CHUNK = 1024  # rows per chunk of the store
#: A palette made for telling categories apart on white (Tableau 10), then the same colours
#: as other shapes: 40 classes each with its own marker; classes beyond them are grey dots.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#17becf")
SHAPES = ("circle", "square", "triangle", "diamond")
OTHER_COLOUR = "#9aa0a6"
SCATTER_SIDE = 640


class EmbeddingView(SetView):
    """JSON "embedding" and each image's point; the report's scatter; the window's "Scatter"
    tab. The reduction (t-SNE: seconds for a large set) runs once, when an output first asks
    for the points, not in the pass."""

    name = "embedding"
    order = 40
    tab = "Scatter"

    def __init__(self, options) -> None:
        super().__init__(options)
        self.features = FeatureStore()
        self._positions = array("i")  # feature row -> the result's position in the run
        self.embedding: Embedding | None = None
        self._json_points: np.ndarray | None = None  # by position, for the JSON's entries

    @classmethod
    def wanted(cls, options) -> bool:
        return options.views

    def add(self, result: ImageResult, position: int) -> None:
        if result.views is not None:
            self.features.append(result.views.features)
            self._positions.append(position)

    def finish(self) -> Embedding | None:
        """The 2-D points of every image with features (made once)."""
        if self.features.count and self.embedding is None:
            self.embedding = embed(self.features)
        return self.embedding

    def points(self, count: int) -> np.ndarray:
        """(count, 2) float32: each result's point by position, NaN where it has none."""
        points = np.full((count, 2), np.nan, np.float32)
        if self.finish() is not None:
            points[np.asarray(self._positions, np.int64)] = self.embedding.points
        return points

    def json_part(self, counts: Counts, model: CamModel) -> dict:
        done = self.finish()
        if done is None:
            return {}
        self._json_points = self.points(len(counts.results))
        return {"embedding": {"method": done.method, "layer": model.read_layer,
                              "dims": done.dims}}

    def image_json(self, position: int) -> dict:
        points = self._json_points
        if points is None or position >= len(points) or not np.isfinite(points[position, 0]):
            return {}
        return {"embedding": [round(float(v), 5) for v in points[position]]}

    def html_parts(self, page: Page) -> list[Part]:
        done = self.finish()
        if done is None:
            return []
        model, results = page.model, page.counts.results
        mistakes = page.views.get("mistakes")
        ranked = mistakes.ranked() if mistakes is not None else []
        cards = {r.index: rank for rank, r in enumerate(ranked, 1)}
        points = self.points(len(results))
        shown = [Point(float(points[n, 0]), float(points[n, 1]), r.path.name, r.true,
                       model.short_label(r.true), model.short_label(r.predicted), r.confidence,
                       not r.correct, cards.get(r.index))
                 for n, r in enumerate(results) if np.isfinite(points[n, 0])]
        labels = {c: model.short_label(c) for c in page.counts.per_class}
        return [Part(Place.AT_A_GLANCE, [scatter_html(shown, page.summary["embedding"],
                                                      labels)])]


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

    @property
    def shape(self) -> tuple[int, int]:
        return self.count, self.dims

    def array(self) -> np.ndarray:
        """All rows as one (count, dims) float32 array (made when the set is done), chunk by
        chunk: no concatenated float16 copy on the way."""
        out = np.empty((self.count, self.dims), np.float32)
        for n, chunk in enumerate(self._chunks):
            start = n * CHUNK
            out[start:start + CHUNK] = chunk[:self.count - start]
        return out


@dataclass(frozen=True)
class Embedding:
    points: np.ndarray  # (n, 2) float32 in 0..1, both axes scaled alike
    method: str  # "tsne" or "pca"
    dims: int  # the feature dimensions reduced


def embed(features: np.ndarray | FeatureStore) -> Embedding:
    """(n, dims) features -> 2-D points in 0..1: t-SNE after PCA, or PCA alone for a small
    set. Deterministic (fixed seeds). A FeatureStore is made one array only inside the PCA
    step (an array is copied there), so the whole set's features are not held during t-SNE."""
    n, dims = features.shape
    if n < 3:  # nothing to reduce: one or two points, placed apart
        return Embedding(np.linspace(0.25, 0.75, n, dtype=np.float32)[:, None].repeat(2, 1)
                         if n > 1 else np.full((n, 2), 0.5, np.float32), "pca", dims)
    # scikit-learn's numerical RuntimeWarnings (a set of near-identical images: a zero
    # variance divided) reached the terminal mid-run; the points they concern are still
    # placed, so they are not the user's to read.
    from threadpoolctl import threadpool_limits

    # A small set's matrices (64 x 1280) are too small to share: OpenMP's and BLAS's
    # threads only wait for each other. Measured on a loaded two-core machine: 64 points
    # took 3.6-6 s with BLAS on both cores against 0.4-0.5 s on one (PCA's randomized SVD
    # and t-SNE's PCA start are BLAS); OpenMP's t-SNE steps 40 s against 2 s.
    with warnings.catch_warnings(), threadpool_limits(1 if n < THREADED_FROM else None):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _reduce(_principal(features, min(PCA_DIMS, n, dims)), n, dims)


def _principal(features: np.ndarray | FeatureStore, components: int) -> np.ndarray:
    """The features' first principal components (n, components), computed in float32: the
    features are float16 (three significant digits), which float32 holds exactly, and half
    float64's memory (10 000 images of 1280 channels: 51 MB, not 102, then centred in place
    rather than copied) is what keeps the driver of a large run flat."""
    from sklearn.decomposition import PCA

    x = features.array() if isinstance(features, FeatureStore) else np.array(features,
                                                                                np.float32)
    return PCA(n_components=components, random_state=SEED, copy=False).fit_transform(x)


def _reduce(reduced: np.ndarray, n: int, dims: int) -> Embedding:
    if n < TSNE_MIN_IMAGES or reduced.shape[1] < 2:
        points, method = reduced[:, :2], "pca"
        if points.shape[1] < 2:
            points = np.hstack([points, np.zeros((n, 1))])
    else:
        from sklearn.manifold import TSNE

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


# ---------------------------------------------------------------------------------------------
# Its HTML


@dataclass(frozen=True)
class Point:
    """One image in the scatter."""

    x: float
    y: float
    name: str
    true: int
    true_label: str
    predicted_label: str
    confidence: float
    mistake: bool
    card: int | None  # the rank of its card in the report, when it has one


@dataclass(frozen=True)
class Marker:
    """How one class is drawn: a colour and a shape."""

    colour: str
    shape: str

    def svg(self, cx: float, cy: float, r: float, rest: str = "") -> tuple[str, str]:
        """The marker as an SVG element centred on (cx, cy), of radius about `r`, as its
        opening and closing tags (a <title> goes between); `rest`: more attributes."""
        fill = f'fill="{self.colour}" {rest}'.strip()
        if self.shape == "circle":
            return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" {fill}>', "</circle>"
        if self.shape == "square":
            a = 0.9 * r
            return (f'<rect x="{cx - a:.1f}" y="{cy - a:.1f}" width="{2 * a:.1f}" '
                    f'height="{2 * a:.1f}" {fill}>', "</rect>")
        if self.shape == "triangle":
            d = (f"M{cx:.1f} {cy - 1.2 * r:.1f}L{cx + 1.1 * r:.1f} {cy + 0.8 * r:.1f}"
                 f"L{cx - 1.1 * r:.1f} {cy + 0.8 * r:.1f}Z")
        else:  # diamond
            d = (f"M{cx:.1f} {cy - 1.3 * r:.1f}L{cx + 1.3 * r:.1f} {cy:.1f}L{cx:.1f} "
                 f"{cy + 1.3 * r:.1f}L{cx - 1.3 * r:.1f} {cy:.1f}Z")
        return f'<path d="{d}" {fill}>', "</path>"


def class_markers(counts: dict[int, int]) -> dict[int, Marker]:
    """A marker for each of the most frequent classes (ties: the lower index): the palette's
    colours as circles, then as squares, triangles and diamonds; grey dots after."""
    ranked = sorted(counts, key=lambda c: (-counts[c], c))
    return {c: Marker(PALETTE[n % len(PALETTE)], SHAPES[n // len(PALETTE)])
            if n < len(PALETTE) * len(SHAPES) else Marker(OTHER_COLOUR, "circle")
            for n, c in enumerate(ranked)}


def _legend_marker(marker: Marker, rest: str = "") -> str:
    start, end = marker.svg(7, 7, 4.5, rest)
    return f'<svg class="swatch" width="14" height="14" aria-hidden="true">{start}{end}</svg>'


def scatter_html(points: Sequence[Point], embedding: dict,
                 labels: dict[int, str]) -> str:
    """The embedding as an inline SVG scatter, each true class its own colour and shape,
    mistakes larger and edged dark, linking to their cards, a <title> (tooltip) on every
    point."""
    counts: dict[int, int] = {}
    for p in points:
        counts[p.true] = counts.get(p.true, 0) + 1
    markers = class_markers(counts)
    side, pad = SCATTER_SIDE, 12
    span = side - 2 * pad
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" '
           f'viewBox="0 0 {side} {side}" role="img" aria-label="embedding of {len(points)} '
           f'images, coloured and shaped by true class">']
    # Correct images first, mistakes on top of them: the class's marker, larger, edged dark.
    for p in sorted(points, key=lambda p: p.mistake):
        cx, cy = pad + p.x * span, pad + p.y * span
        tip = (f"{p.name}: {p.true_label} \u2192 {p.predicted_label}, "
               f"{percent(p.confidence, ' ')}")
        if p.mistake:
            start, end = markers[p.true].svg(cx, cy, 5.5, 'stroke="#111" stroke-width="1.6"')
        else:
            start, end = markers[p.true].svg(cx, cy, 3.5, 'fill-opacity="0.85"')
        shape = f"{start}<title>{e(tip)}</title>{end}"
        if p.mistake and p.card is not None:
            shape = f'<a href="#mistake-{p.card}">{shape}</a>'
        out.append(shape)
    out.append("</svg>")
    legend = ['<ul class="legend">']
    shown = [c for c in sorted(markers, key=lambda c: (-counts[c], c))
             if markers[c].colour != OTHER_COLOUR]
    legend += [f"<li>{_legend_marker(markers[c])}{e(labels.get(c, c))} ({counts[c]})</li>"
               for c in shown]
    rest = len(markers) - len(shown)
    if rest:
        legend.append(f"<li>{_legend_marker(Marker(OTHER_COLOUR, 'circle'))}"
                      f"{rest} other classes</li>")
    edged = _legend_marker(Marker("#ffffff", "circle"), 'stroke="#111" stroke-width="1.6"')
    legend.append(f"<li>{edged}a mistake: its class's marker, edged dark (click: its "
                  "card)</li></ul>")
    how = ("t-SNE" if embedding["method"] == "tsne" else "PCA (too few images for t-SNE)")
    return ("<h2>The set as the network sees it</h2>"
            f'<p class="muted intro">Each image is a point: the {embedding["dims"]} channels of '
            f'{e(embedding["layer"])}, globally pooled, reduced to two dimensions with {how}. '
            "Images the network sees alike sit together; a mistake among another class's "
            "points was seen as that class.</p>"
            f'<div class="scatter">{"".join(out)}{"".join(legend)}</div>')
