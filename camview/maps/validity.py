"""Whether a map can be drawn, and scaling it to [0, 1] relative to its own scale.

Beside the maps because every consumer (the overlay, the render JSON, the live pipeline) must
agree on what a broken map is: NaN/Inf, empty, flat.
"""

from __future__ import annotations

import numpy as np

#: A map is flat when its range is at most this fraction of its largest magnitude. The test
#: is relative because a random-weight network's maps are about 1e-12 and still have
#: structure. float32 resolves about 1e-7 of a value, so a smaller range is rounding noise.
FLAT_RELATIVE = 1e-6


# ---------------------------------------------------------------------------------------------
# The map itself


def map_problem(cam: np.ndarray | None, allow_flat: bool = False) -> str | None:
    """Why ``cam`` cannot be drawn ('NaN in map', 'flat map', ...), or None if it can.

    ``allow_flat``: a flat map is fine (an already scaled map that is all zero says "nothing
    here"; only a map that is to be min-max normalised needs a range).
    """
    if cam is None:
        return "no map"
    cam = np.asarray(cam)
    if cam.ndim == 3 and cam.shape[2] == 1:
        cam = cam[:, :, 0]
    if cam.ndim != 2:
        return f"map has shape {cam.shape}, not HxW"
    if cam.size == 0:
        return "empty map"
    if cam.dtype.kind not in "buif":
        return f"map has dtype {cam.dtype}"
    values = cam.astype(np.float64, copy=False)
    if not np.isfinite(values).all():
        return "NaN in map" if np.isnan(values).any() else "Inf in map"
    lo, hi = float(values.min()), float(values.max())
    if not allow_flat and not hi - lo > FLAT_RELATIVE * max(abs(lo), abs(hi)):
        return "flat map (all values equal)"
    return None


def normalise(cam: np.ndarray | None) -> np.ndarray | None:
    """Min-max scale a map to [0, 1] float32 relative to its own scale.

    Returns None when the map cannot be drawn: empty, not 2-D, NaN or Inf in it, or flat
    (range <= FLAT_RELATIVE * max|cam|). :func:`map_problem` says which. Maps of any scale
    work: a 1e-12 map with structure is stretched like any other.
    """
    if map_problem(cam) is not None:
        return None
    cam = np.asarray(cam)
    if cam.ndim == 3:
        cam = cam[:, :, 0]
    values = cam.astype(np.float64)
    lo, hi = values.min(), values.max()
    out = (values - lo) / (hi - lo)
    return out.astype(np.float32)
