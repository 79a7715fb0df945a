"""Where each class looks: the mean map of a class's true class over its images, in frame
coordinates, and a flag when those maps sit consistently near an edge or a corner.

A class whose maps all peak in the same corner is the classic sign of a shortcut (a mark, a
watermark, a background the images share) rather than the object. The maps are the ones the
batched classification already computed (camview.sets.per_image: each min-max normalised on a
GRID x GRID grid over the whole frame, so images of any shape average together). Memory per
class is fixed (one grid, one small mean image, one peak per image). In the report a figure per
class, its mean map over its mean image; in the window the class filter's note and colours.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np

from camview.drawing.colour import compose_blend
from camview.models import CamModel, ResizeMode
from camview.sets.counts import Counts
from camview.sets.markup import count_of, e, image_tag, percent
from camview.sets.per_image import GRID, THUMB
from camview.sets.results import ImageResult
from camview.sets.views.base import Page, Part, Place, SetView

BORDER = 0.15  # the outer part of the frame whose share of the map "border" reports
#: Peaks within this distance (frame widths) of the class's mean peak count as "consistent".
NEAR = 0.2
#: The flag rule (README, Exploring mistakes): at least FLAG_MIN_IMAGES maps, FLAG_CONSISTENCY
#: of them peaking within NEAR of the mean map's peak, and that peak within FLAG_EDGE of an
#: edge of the frame. Ordinary photos, framed on their subject, peak near the centre or
#: spread out; a shared mark in a corner makes every map of its class peak there.
FLAG_MIN_IMAGES = 5
FLAG_CONSISTENCY = 0.8
FLAG_EDGE = 0.25
WHERE_SIDE = 160  # the mean image and its mean map, drawn at this size in the report


class WhereView(SetView):
    """JSON "classes" (each class's "where" and "flag"); the report's figures; the window's
    note under the class filter (its flagged classes in red)."""

    name = "where"
    order = 30

    def __init__(self, options) -> None:
        super().__init__(options)
        self.where = WhereTally()
        self.seen = False  # any image with the pass's record

    @classmethod
    def wanted(cls, options) -> bool:
        return options.views

    def add(self, result: ImageResult, position: int) -> None:
        if result.views is not None:
            self.seen = True
            self.where.add(result.true, result.views.where, result.views.thumb)

    def json_part(self, counts: Counts, model: CamModel) -> dict:
        if not self.seen:
            return {}
        return {"classes": class_views(self.where, sorted(counts.per_class), model.short_label)}

    def html_parts(self, page: Page) -> list[Part]:
        if "classes" not in page.summary:
            return []
        cards = []
        for c in page.summary["classes"]:
            if c["where"] is None:
                continue
            mean = self.where.mean_image(c["index"])
            grid = np.asarray(c["where"]["grid"], np.float32)
            picture = None if mean is None else where_picture(mean, grid)
            cards.append(WhereCard(c["label"], c["where"]["images"], c["where"], c["flag"],
                                   picture))
        crop = page.model.resize is ResizeMode.CROP
        return [Part(Place.OVERVIEW, [where_html(cards, crop)])]


@cache
def border_weights() -> np.ndarray:
    """(GRID, GRID): the fraction of each cell's area lying in the outer BORDER of the frame."""
    edges = np.linspace(0.0, 1.0, GRID + 1)
    inner = np.clip(np.minimum(edges[1:], 1 - BORDER) - np.maximum(edges[:-1], BORDER), 0, None)
    inside = np.outer(inner, inner) * GRID * GRID  # fraction of each cell in the centre box
    return 1.0 - inside


def peak_of(grid: np.ndarray) -> tuple[float, float]:
    """The (y, x) of a grid's maximum, in frame units 0..1 (the cell's centre)."""
    y, x = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return (y + 0.5) / grid.shape[0], (x + 0.5) / grid.shape[1]


def region_name(y: float, x: float) -> str:
    """'top-left corner', 'bottom edge', 'centre' ... for a point in frame units."""
    row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else ""
    col = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    if row and col:
        return f"{row}-{col} corner"
    if row or col:
        return f"{row or col} edge"
    return "centre"


@dataclass
class _ClassWhere:
    grid_sum: np.ndarray = field(default_factory=lambda: np.zeros((GRID, GRID), np.float64))
    thumb_sum: np.ndarray = field(
        default_factory=lambda: np.zeros((THUMB, THUMB, 3), np.float64))
    thumbs: int = 0
    peaks: array = field(default_factory=lambda: array("f"))  # y, x of each map's peak


class WhereTally:
    """Per true class: the sum of its images' grids and thumbnails, and each map's peak."""

    def __init__(self) -> None:
        self.classes: dict[int, _ClassWhere] = {}

    def add(self, true: int, grid: np.ndarray | None, thumb: np.ndarray | None) -> None:
        c = self.classes.setdefault(true, _ClassWhere())
        if thumb is not None:
            c.thumb_sum += thumb
            c.thumbs += 1
        if grid is not None:
            grid = np.asarray(grid, np.float32)
            c.grid_sum += grid
            c.peaks.extend(peak_of(grid))

    def mean_image(self, true: int) -> np.ndarray | None:
        """The class's mean image (THUMB x THUMB BGR uint8), or None without one."""
        c = self.classes.get(true)
        if c is None or not c.thumbs:
            return None
        return np.clip(c.thumb_sum / c.thumbs, 0, 255).astype(np.uint8)

    def mean_grid(self, true: int) -> np.ndarray | None:
        c = self.classes.get(true)
        if c is None or not len(c.peaks) or not c.grid_sum.max() > 0:
            return None
        return (c.grid_sum / c.grid_sum.max()).astype(np.float32)

    def summary(self, true: int, label: str) -> tuple[dict | None, str | None]:
        """The JSON's "where" of one class, and its flag (None, or one sentence)."""
        grid = self.mean_grid(true)
        if grid is None:
            return None, None
        peaks = np.asarray(self.classes[true].peaks, np.float64).reshape(-1, 2)
        peak = peak_of(grid)
        near = np.hypot(peaks[:, 0] - peak[0], peaks[:, 1] - peak[1]) <= NEAR
        consistency = float(near.mean())
        border = float((grid * border_weights()).sum() / grid.sum())
        where = {"grid": [[round(float(v), 4) for v in row] for row in grid],
                 "peak": [round(peak[0], 4), round(peak[1], 4)],
                 "consistency": round(consistency, 4), "border": round(border, 4),
                 "images": len(peaks)}
        return where, flag_sentence(label, len(peaks), int(near.sum()), peak)


def flag_sentence(label: str, images: int, near: int, peak: tuple[float, float]) -> str | None:
    """The flag rule (module constants); None when the class's maps look ordinary."""
    edge = min(peak[0], 1 - peak[0], peak[1], 1 - peak[1])
    if images < FLAG_MIN_IMAGES or near < FLAG_CONSISTENCY * images or edge >= FLAG_EDGE:
        return None
    return (f"{near} of {images} {label!r} maps peak in the {region_name(*peak)}: look for a "
            "mark, a watermark or a background the images share")


def class_views(tally: WhereTally, classes: list[int],
                label_of: Callable[[int], str]) -> list[dict]:
    """The JSON's per-class "where" and "flag", for `classes`."""
    out = []
    for c in classes:
        where, flag = tally.summary(c, label_of(c))
        out.append({"index": c, "label": label_of(c), "where": where, "flag": flag})
    return out


# ---------------------------------------------------------------------------------------------
# Its HTML


def where_picture(mean_image: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A class's mean map blended over its mean image, WHERE_SIDE square, BGR uint8."""
    big = cv2.resize(mean_image, (WHERE_SIDE, WHERE_SIDE), interpolation=cv2.INTER_LINEAR)
    return compose_blend(big, grid, alpha=0.5)


@dataclass(frozen=True)
class WhereCard:
    label: str
    images: int
    where: dict
    flag: str | None
    picture: np.ndarray | None


def where_html(cards: Iterable[WhereCard], crop: bool = False) -> str:
    """A figure per class, flagged classes first. `crop`: the model was fed each image's
    centre crop, so the maps, the mean image and the peaks are of the crops (said)."""
    cards = sorted(cards, key=lambda c: (c.flag is None, c.label.lower()))
    flagged = sum(c.flag is not None for c in cards)
    space = ("the coordinates of the centre crop the model saw of each image" if crop
             else "frame coordinates")
    out = ["<h2>Where each class looks</h2>",
           '<p class="muted intro">Per class, the mean of its images\' maps of their true class '
           f"(each normalised to its maximum, in {space}), over the mean of its "
           f"{'crops' if crop else 'images'}. A class whose maps peak in the same place near an "
           "edge is flagged: the network may have learnt something the images share instead of "
           f"the object. {flagged} flagged.</p>", '<div class="where">']
    for c in cards:
        w = c.where
        facts = (f"peak at y {w['peak'][0]:.2f}, x {w['peak'][1]:.2f}; "
                 f"{percent(w['consistency'], ' ')} of peaks near it; "
                 f"{percent(w['border'], ' ')} of the map in the outer 15 %")
        alt = f"mean map of {c.label!r} over its {count_of(c.images, 'image')}"
        flag = f'<p class="flag">{e(c.flag)}</p>' if c.flag else ""
        out.append(f'<figure class="{"flagged" if c.flag else ""}">'
                   f"{image_tag(c.picture, alt)}<figcaption><b>{e(c.label)}</b> "
                   f"({count_of(c.images, 'image')})<br>{e(facts)}{flag}</figcaption>"
                   "</figure>")
    out.append("</div>")
    return "".join(out)
