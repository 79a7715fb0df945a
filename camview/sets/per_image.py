"""What the batched pass keeps of each image for the set-level views, beside its scores: the
read layer globally pooled (the embedding), the true class's map on a small grid and a
thumbnail (where each class looks). One record, so the result cache stores it in one row.

Maps are min-max normalised and resized to a GRID x GRID grid over the whole frame (over the
centre crop, for a model fed one: the map and the thumbnail are both of the network input), so
images of any shape average together.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GRID = 16  # the grid a map is averaged on, in frame coordinates
THUMB = 32  # side of the thumbnail each image adds to its class's mean image


@dataclass(frozen=True, slots=True)
class SetViews:
    """What one image adds to the set-level views (embedding, where each class looks), from
    the same forward pass as its scores; carried to the Tally, whose views keep it compactly."""

    features: np.ndarray  # (k,) float16: the read layer, globally pooled
    where: np.ndarray | None  # (GRID, GRID) float16: the true class's map, 0..1; None if flat
    thumb: np.ndarray  # (THUMB, THUMB, 3) uint8 BGR: the network input, shrunk


def where_grid(cam: np.ndarray) -> np.ndarray | None:
    """A raw map over the whole network input -> (GRID, GRID) float32 in 0..1 (min-max, as the
    overlay draws it); None when the map is flat or not finite (it says nothing of where)."""
    cam = np.asarray(cam, np.float32)
    if cam.ndim != 2 or not np.isfinite(cam).all():
        return None
    lo, hi = float(cam.min()), float(cam.max())
    if not hi - lo > 1e-6 * max(abs(hi), abs(lo), 1e-30):
        return None
    norm = (cam - lo) / (hi - lo)
    shrinking = cam.shape[0] > GRID or cam.shape[1] > GRID
    grid = cv2.resize(norm, (GRID, GRID),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return np.clip(grid, 0.0, 1.0)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """An image (BGR or grey uint8) -> (THUMB, THUMB, 3) BGR uint8, squashed like the grid."""
    small = cv2.resize(image, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    if small.ndim == 2 or small.shape[2] == 1:
        small = cv2.cvtColor(small.reshape(THUMB, THUMB), cv2.COLOR_GRAY2BGR)
    return small
