"""Whether the network's own output supports a map: deletion and insertion (Petsiuk et al.
2018, "RISE").

Pixels of the network input are ranked by the map (resized to the input as the overlay
draws it, camview.drawing.upsample.upsample_map), most salient first. Then, in STEPS equal steps:

- **deletion**: the top-ranked fraction of pixels is *removed*, i.e. replaced by mid-grey
  (the preprocessed colour of (128, 128, 128), as occlusion uses), from 0 % to 100 %;
- **insertion**: starting from the input *blurred* (cv2.GaussianBlur, sigma BLUR_SIGMA
  network-input pixels, as in the paper), the top-ranked fraction of the original pixels is
  put back, from 0 % to 100 %.

Each curve is the target class's softmax probability at the STEPS + 1 fractions 0, 1/STEPS,
..., 1; its score is the area under it over [0, 1] (trapezoids). A faithful map has a LOW
deletion score (the probability falls as soon as its hot pixels go) and a HIGH insertion
score. A uniformly random map ranks the pixels for the baseline ("random"), with a fixed
seed, at the coarsest resolution among the maps scored (a 7x9 random map removes blobs, as
a CAM does; a random map at pixel resolution scatters grey specks that destroy any class in
a few steps and would look unbeatable under deletion: compare maps of like resolution).
The 2 * (STEPS - 1) inputs per map between the curves' ends go through the network in batched
calls (camview.maps.BatchedForward); the ends (the input whole, all grey, all blurred) are the
same for every map and computed once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from camview.drawing.upsample import upsample_map
from camview.maps import BatchedForward, Progress
from camview.maps.perturbation import mid_grey
from camview.models.base import CamModel

STEPS = 24
BLUR_SIGMA = 5.0
RANDOM = "random"  # the key of the random-map baseline


@dataclass(frozen=True)
class Faithfulness:
    """One map's curves (probability at fractions 0..1) and their areas."""

    deletion: np.ndarray  # (STEPS + 1,)
    insertion: np.ndarray  # (STEPS + 1,)

    @property
    def deletion_auc(self) -> float:
        return _area(self.deletion)

    @property
    def insertion_auc(self) -> float:
        return _area(self.insertion)

    def as_json(self) -> dict[str, float]:
        return {"deletion_auc": round(self.deletion_auc, 6),
                "insertion_auc": round(self.insertion_auc, 6)}


def _area(curve: np.ndarray) -> float:
    """Area under a curve sampled at equal steps over [0, 1] (trapezoids)."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def removal_masks(saliency: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """(steps + 1, h, w) bool: at step i, the i/steps most salient pixels (ties: in raster
    order)."""
    h, w = saliency.shape
    order = np.argsort(-saliency.ravel(), kind="stable")
    rank = np.empty(h * w, np.int64)
    rank[order] = np.arange(h * w)
    counts = np.rint(np.linspace(0, h * w, steps + 1)).astype(np.int64)
    return (rank[None, :] < counts[:, None]).reshape(steps + 1, h, w)


def end_probabilities(model: CamModel, batch: np.ndarray, target: int) -> np.ndarray:
    """The target's probability on the input, on it all grey and on it all blurred: both
    curves' end points, the same for every map of the input (one forward of three rows)."""
    x = batch[0]
    rows = np.stack([x, np.broadcast_to(mid_grey(model), x.shape), _blurred(x)])
    return BatchedForward(model).probabilities(lambda a, b: rows[a:b], 3, target)


def _blurred(x: np.ndarray) -> np.ndarray:
    # reshape: OpenCV returns a one-channel image without its channel axis.
    return cv2.GaussianBlur(x, (0, 0), BLUR_SIGMA).reshape(x.shape)


def score_map(model: CamModel, batch: np.ndarray, cam: np.ndarray, target: int, *,
              steps: int = STEPS, progress: Progress | None = None,
              cancel: threading.Event | None = None,
              ends: np.ndarray | None = None) -> Faithfulness:
    """Deletion and insertion curves of one raw map for class `target` on one prepared input
    (1, h, w, channels); `ends` (end_probabilities) when the caller has them already. Raises
    camview.maps.Cancelled when `cancel` is set."""
    x = batch[0]
    h, w = x.shape[:2]
    finite = np.nan_to_num(np.asarray(cam, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    masks = removal_masks(upsample_map(finite, (w, h)), steps)[:, :, :, None]
    grey = mid_grey(model)
    blurred = _blurred(x)
    inner = steps - 1  # the fractions strictly between none and all: what depends on the map

    def inputs(start: int, stop: int) -> np.ndarray:
        rows = [np.where(masks[1 + i], grey, x) if i < inner
                else np.where(masks[1 + i - inner], x, blurred) for i in range(start, stop)]
        return np.stack(rows)

    probs = BatchedForward(model).probabilities(inputs, 2 * inner, target, progress, cancel)
    whole, grey_p, blurred_p = end_probabilities(model, batch, target) if ends is None else ends
    return Faithfulness(deletion=np.concatenate([[whole], probs[:inner], [grey_p]]),
                        insertion=np.concatenate([[blurred_p], probs[inner:], [whole]]))


def random_map(maps: dict[str, np.ndarray], input_hw: tuple[int, int],
               seed: int = 0) -> np.ndarray:
    """The RANDOM baseline: uniform noise (seeded) at the coarsest resolution among `maps`
    (the input's when there are none)."""
    shapes = [np.shape(cam) for cam in maps.values()] or [input_hw]
    rng = np.random.default_rng(seed)
    return rng.random(min(shapes, key=lambda s: s[0] * s[1])).astype(np.float32)


def same_ranking(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two raw maps are equal up to a positive scale, so that they rank the pixels
    alike and have the same curves: Grad-CAM and HiResCAM through a pooling + dense head,
    for one (the gradient is constant over positions)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    top_a, top_b = np.abs(a).max(), np.abs(b).max()
    return top_a > 0 and top_b > 0 and np.allclose(a / top_a, b / top_b, rtol=0, atol=1e-6)


def score_maps(model: CamModel, batch: np.ndarray, maps: dict[str, np.ndarray], target: int,
               *, steps: int = STEPS, seed: int = 0, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> dict[str, Faithfulness]:
    """score_map for each named map, plus RANDOM: a uniformly random map (seeded) at the
    coarsest resolution among `maps` (the input's when there are none). The curves' end
    points are computed once, and a map equal to one scored already (same_ranking) shares
    its curves. `progress(done, total)` counts forward passes over all the maps."""
    named = dict(maps)
    named[RANDOM] = random_map(maps, batch.shape[1:3], seed)
    ends = end_probabilities(model, batch, target)
    per_map = 2 * (steps - 1)
    scores: dict[str, Faithfulness] = {}
    for i, (name, cam) in enumerate(named.items()):
        def step(done: int, _total: int, before: int = i * per_map) -> None:
            if progress is not None:
                progress(before + done, per_map * len(named))

        twin = next((other for other in scores if same_ranking(named[other], cam)), None)
        if twin is None:
            scores[name] = score_map(model, batch, cam, target, steps=steps, progress=step,
                                     cancel=cancel, ends=ends)
        else:
            scores[name] = scores[twin]
            step(per_map, per_map)
    return scores


# ---------------------------------------------------------------------------------------------
# Average Drop and Increase in Confidence (issue 18: scores over a set)


@dataclass(frozen=True)
class ConfidenceChange:
    """Chattopadhay et al. 2018 for one map: the class probability on the input, and on the
    input multiplied by the map (resized to the input as drawn, min-max normalised to 0..1;
    in the prepared input's space, so hidden pixels become the preprocessing's zero, as in
    torch-cam's implementation)."""

    probability: float
    masked: float

    @property
    def drop(self) -> float:
        """max(0, Y - O) / Y, in percent: Average Drop's term for this image."""
        return 100.0 * max(0.0, self.probability - self.masked) / max(self.probability, 1e-12)

    @property
    def increase(self) -> float:
        """100 when the masked input raises the class's probability, else 0."""
        return 100.0 if self.masked > self.probability else 0.0


def explanation_map_masks(maps: dict[str, np.ndarray], hw: tuple[int, int]) -> np.ndarray:
    """(len(maps), h, w, 1) float32: each map resized to the input and min-max normalised
    (a flat or non-finite map masks everything out: it explains nothing)."""
    h, w = hw
    out = np.zeros((len(maps), h, w, 1), np.float32)
    for i, cam in enumerate(maps.values()):
        finite = np.nan_to_num(np.asarray(cam, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        big = upsample_map(finite, (w, h)).astype(np.float32)
        span = float(big.max() - big.min())
        if span > 0:
            out[i, :, :, 0] = (big - big.min()) / span
    return out


def confidence_changes(model: CamModel, batch: np.ndarray, maps: dict[str, np.ndarray],
                       target: int) -> dict[str, ConfidenceChange]:
    """ConfidenceChange of each named map, in one batched call with the unmasked input."""
    masks = explanation_map_masks(maps, batch.shape[1:3])
    inputs = np.concatenate([batch, batch * masks]).astype(np.float32)
    probs = BatchedForward(model).probabilities(lambda a, b: inputs[a:b], len(inputs), target)
    return {name: ConfidenceChange(float(probs[0]), float(probs[1 + i]))
            for i, name in enumerate(maps)}
