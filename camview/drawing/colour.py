"""Colouring a map over a frame: the colormaps and the two overlay styles.

Every image is BGR uint8 HxWx3.

* ``matlab``: the reference recipe "CAMshow" (:func:`compose_matlab`). The map goes black
  below the threshold, with jet colours above it, added to the frame's grey halved.
* ``blend``: the coloured map alpha-blended over the colour frame (:func:`compose_blend`).

Both raise ValueError for a map that cannot be drawn (camview.maps.validity.map_problem);
camview.drawing.overlay.render_view shows such a frame with a banner instead.
"""

from __future__ import annotations

import sys
import threading
from functools import lru_cache

import cv2
import numpy as np

from camview.drawing.upsample import upsample_map
from camview.maps.validity import map_problem, normalise
from camview.sources.images import to_bgr8

COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
}


def _normalised_or_raise(cam: np.ndarray, absolute: bool = False) -> np.ndarray:
    """The small map in [0, 1]: min-max normalised, or (``absolute``: already scaled by a
    MapScale) only clipped, a flat (all-zero) map being a fair answer then."""
    if absolute:
        problem = map_problem(cam, allow_flat=True)
        if problem is not None:
            raise ValueError(f"map unavailable: {problem}")
        cam = np.asarray(cam, np.float32)
        return np.clip(cam[:, :, 0] if cam.ndim == 3 else cam, 0.0, 1.0)
    n = normalise(cam)
    if n is None:
        raise ValueError(f"map unavailable: {map_problem(cam)}")
    return n


def resolve_colormap(colormap: int | str) -> int:
    """An OpenCV colormap id from an id or a name in COLORMAPS."""
    if isinstance(colormap, str):
        try:
            return COLORMAPS[colormap.lower()]
        except KeyError:
            raise ValueError(f"unknown colormap {colormap!r}: choose one of "
                             f"{', '.join(COLORMAPS)}") from None
    return int(colormap)


@lru_cache(maxsize=16)
def colormap_table(colormap: int) -> np.ndarray:
    """The colormap as a 256x3 float64 table of BGR values, 0..255."""
    ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
    return cv2.applyColorMap(ramp, colormap).reshape(256, 3).astype(np.float64)


@lru_cache(maxsize=16)
def ramped_table(colormap: int) -> np.ndarray:
    """The recipe's colours: colormap row i scaled by i/255, so low values fade to black.

    A 256x3 float64 BGR table in 0..255 units (read-only).
    """
    table = colormap_table(colormap) * (np.arange(256) / 255.0)[:, None]
    table.setflags(write=False)
    return table


# ---------------------------------------------------------------------------------------------
# Styles


def compose_matlab(frame_bgr: np.ndarray, cam: np.ndarray, threshold: float = 0.2,
                   colormap: int | str = cv2.COLORMAP_JET, *,
                   absolute: bool = False) -> np.ndarray:
    """The reference overlay "CAMshow", computed with OpenCV on uint8 images.

    The recipe, in floats (as written in tests/test_overlay.py::reference_matlab):
      1. resize the CAM to the frame size (bicubic, clipped to the small map's range: see
      upsample_map); 2. min-max normalise it to [0, 1];
      3. set values below ``threshold`` to 0; 4. index = round(255 * value) into a colormap
      whose row i is scaled by i/255, so low values are black; 5. sum = gray/2 + colour, per
      channel, in 0..255 units; 6. output = round(255 * (sum - min) / (max - min)), with min
      and max taken over all pixels and channels.

    How this differs from the float version, and why the result is the same within one grey
    level:
    * The map is min-max scaled while still small (numerically safe for 1e-12 maps), then
      resized in float32. Resizing is linear in the values (and clipping to the range
      commutes with scaling), so step 2 is then done exactly with the resized map's min
      and max (cv2.minMaxLoc). These are NOT quite the small map's min and max: an
      interior peak falls between output pixel centres.
    * Steps 3 and 4 are a float threshold (cv2.threshold) and a rounding conversion to uint8.
      The index is the reference's, up to float rounding at exact .5 ties.
    * Step 6 needs the min and max of the sum, which depends only on each pixel's (gray,
      index) pair. A 65536-bin histogram of the pairs (cv2.calcHist) gives, for each index,
      the darkest and brightest gray that occur with it, and min and max are exact from those.
    * Steps 5 and 6 are then one cv2.addWeighted: gray * k/2 + round(k * colour) - k * min,
      with k = 255 / (max - min). The only rounding before the final one is in the colour
      table (at most 0.5), so each output value is within 1 of the float reference. If a
      scaled colour would pass 255 (possible only when the sum's range is under 255 and a
      pixel is darker than the global minimum), the function falls back to the float
      computation.
    * Step 1 is bicubic like MATLAB's imresize default, to 1/4 of the frame size, then
      bilinear (upsample_map): within about 1 % of a full bicubic resize, 2 ms faster at
      720p. OpenCV's bicubic kernel (a = -0.75) and border (replicate) differ slightly from
      MATLAB's (a = -0.5, symmetric).
    The colormap is OpenCV's 256-entry table. MATLAB's jet(255) differs slightly.
    ``absolute``: the map is already in [0, 1] on a scale kept across frames (a MapScale
    other than "frame"); step 2 is skipped so a weak map stays dark.
    Intermediate images live in per-thread buffers that are reused from call to call:
    allocating a fresh multi-megabyte array page-faults, and that costs more than the
    arithmetic. Raises ValueError for a map :func:`normalise` rejects.
    """
    frame = to_bgr8(frame_bgr)
    h, w = frame.shape[:2]
    cmap_id = resolve_colormap(colormap)
    table = ramped_table(cmap_id)
    index, _ = _index_map(_normalised_or_raise(cam, absolute), (w, h), threshold,
                          exact=not absolute)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=_buffer("gray", (h, w), np.uint8))

    # Which (index, gray) pairs occur: a histogram of the uint16 image index << 8 | gray.
    pairs = cv2.merge([gray, index] if sys.byteorder == "little" else [index, gray],
                      dst=_buffer("pairs", (h, w, 2), np.uint8))
    hist = cv2.calcHist([pairs.view(np.uint16)[:, :, 0]], [0], None, [65536], [0, 65536])
    seen = hist.reshape(256, 256) > 0            # [index, gray]
    used = seen.any(axis=1)
    v = np.flatnonzero(used)
    g_lo = seen[v].argmax(axis=1)                # darkest gray seen with each used index
    g_hi = 255 - seen[v, ::-1].argmax(axis=1)    # brightest
    t_lo, t_hi = _table_extremes(cmap_id)
    s_min = float((g_lo / 2.0 + t_lo[v]).min())
    s_max = float((g_hi / 2.0 + t_hi[v]).max())
    if s_max <= s_min:  # a uniform gray frame and nothing above the threshold
        return cv2.cvtColor(np.rint(gray / 2.0).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    k = 255.0 / (s_max - s_min)
    scaled = np.rint(table * k)
    if scaled[v].max() > 255:
        return _matlab_float(gray, index, table, s_min, k)
    colour = cv2.applyColorMap(index, scaled.astype(np.uint8).reshape(256, 1, 3),
                               dst=_buffer("colour", (h, w, 3), np.uint8))
    gray3 = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR, dst=_buffer("gray3", (h, w, 3), np.uint8))
    return cv2.addWeighted(gray3, k / 2.0, colour, 1.0, -k * s_min)


@lru_cache(maxsize=16)
def _table_extremes(colormap: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ramped_table: the smallest and the largest channel."""
    table = ramped_table(colormap)
    return table.min(axis=1), table.max(axis=1)


_workspace = threading.local()


def _buffer(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A scratch array kept per thread and reused while the shape stays the same."""
    buffers = _workspace.__dict__.setdefault("buffers", {})
    buf = buffers.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = buffers[name] = np.empty(shape, dtype)
    return buf


def _matlab_float(gray: np.ndarray, index: np.ndarray, table: np.ndarray, s_min: float,
                  k: float) -> np.ndarray:
    """Steps 5 and 6 in float32 (the slow, rare path)."""
    total = table.astype(np.float32)[index] + (gray.astype(np.float32) / 2.0)[:, :, None]
    return np.clip(np.rint((total - s_min) * k), 0, 255).astype(np.uint8)


def _index_map(norm_small: np.ndarray, size: tuple[int, int], threshold: float,
               exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 colour index of a [0, 1] small map resized to ``size`` (w, h), and the
    resized float map (both scratch buffers). Values below ``threshold`` (of the resized
    map's own range when ``exact``) get index 0."""
    w, h = size
    resized = upsample_map(norm_small, size, dst=_buffer("resized", (h, w), np.float32))
    lo, hi = 0.0, 1.0
    if exact:
        lo, hi, _, _ = cv2.minMaxLoc(resized)
        if not hi > lo:
            lo, hi = 0.0, 1.0
    span = hi - lo
    if threshold > 0:
        # THRESH_TOZERO keeps values strictly above its threshold; the recipe keeps
        # values >= threshold, so compare with the next float below.
        cut = np.nextafter(np.float32(lo + threshold * span), np.float32(-np.inf))
        kept = cv2.threshold(resized, float(cut), 0.0, cv2.THRESH_TOZERO,
                             dst=_buffer("kept", (h, w), np.float32))[1]
    else:
        kept = resized
    # Zeroed values map to <= 0 and saturate to index 0; lo maps to 0, hi to 255.
    index = cv2.addWeighted(kept, 255.0 / span, kept, 0.0, -lo * 255.0 / span,
                            dst=_buffer("index", (h, w), np.uint8), dtype=cv2.CV_8U)
    return index, resized


def compose_blend(frame_bgr: np.ndarray, cam: np.ndarray, alpha: float = 0.4,
                  threshold: float = 0.0, colormap: int | str = cv2.COLORMAP_JET, *,
                  absolute: bool = False) -> np.ndarray:
    """The map, normalised and coloured, alpha-blended over the colour frame.

    out = (1 - alpha) * frame + alpha * colour. Pixels whose normalised value is below
    ``threshold`` keep the frame untouched. ``absolute`` as in compose_matlab. Raises
    ValueError for a map normalise rejects.
    """
    frame = to_bgr8(frame_bgr)
    h, w = frame.shape[:2]
    index, resized = _index_map(_normalised_or_raise(cam, absolute), (w, h), 0.0,
                                exact=False)
    colour = cv2.applyColorMap(index, resolve_colormap(colormap),
                               dst=_buffer("colour", (h, w, 3), np.uint8))
    alpha = float(min(max(alpha, 0.0), 1.0))
    out = cv2.addWeighted(frame, 1.0 - alpha, colour, alpha, 0.0)
    if threshold > 0:
        # numpy, not cv2.compare: OpenCV reads a float next to a 1x1 array as another array.
        below = np.less(resized, np.float32(threshold), out=_buffer("below", (h, w), np.bool_))
        cv2.copyTo(frame, below.view(np.uint8), out)
    return out
