"""Enlarging a small map to its frame's size, one way wherever a map is drawn or scored.

The overlay draws the enlarged map (camview.drawing.colour), and the faithfulness scores
(camview.checks.faithfulness) delete pixels in the order of that same map, so a score speaks
of the map the user sees.
"""

from __future__ import annotations

import cv2
import numpy as np

#: The bicubic step enlarges the map to 1/UPSAMPLE_STEP of the frame size, a bilinear step
#: does the rest: a kink every 4 px is invisible, and bicubic straight to 720p costs 2 ms.
UPSAMPLE_STEP = 4


def upsample_map(small: np.ndarray, size: tuple[int, int],
                 dst: np.ndarray | None = None) -> np.ndarray:
    """A float32 map enlarged to ``size`` (w, h) smoothly, as MATLAB's imresize does by default.

    Bicubic (cv2.INTER_CUBIC), as MATLAB's imresize: bilinear enlargement of a 7x9 map is
    only piecewise smooth, and the threshold then cuts it along visible kinks at the cell
    edges. Bicubic overshoots, so the result is clipped to the small map's own [min, max]
    (no new peak, nothing below the darkest value) before it is thresholded. A map already
    near the frame's size (saliency, occlusion) is resized directly (INTER_AREA when it
    shrinks).
    """
    w, h = size
    sh, sw = small.shape[:2]
    if sw * UPSAMPLE_STEP >= w and sh * UPSAMPLE_STEP >= h:
        shrink = sw > w and sh > h
        return cv2.resize(small, size, dst=dst,
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    step = (-(-w // UPSAMPLE_STEP), -(-h // UPSAMPLE_STEP))
    middle = cv2.resize(small, step, interpolation=cv2.INTER_CUBIC)
    lo, hi, _, _ = cv2.minMaxLoc(small)
    np.clip(middle, lo, hi, out=middle)
    return cv2.resize(middle, size, dst=dst, interpolation=cv2.INTER_LINEAR)
