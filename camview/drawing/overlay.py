"""Drawing a class activation map over a frame: colour, blend, labels and layouts.

This is the Qt-free core that the headless renderer and the window share. Every image is
BGR uint8 HxWx3. Call :func:`render_view` to get the final composed picture.

Two overlay styles:

* ``matlab``: the reference recipe "CAMshow" (:func:`compose_matlab`). The map goes black
  below the threshold, with jet colours above it, added to the frame's grey halved.
* ``blend``: the coloured map alpha-blended over the colour frame (:func:`compose_blend`).

Problem maps (empty, flat, NaN or Inf) are never drawn: :func:`map_problem` names the fault,
and :func:`render_view` shows the frame with a banner instead.
"""

from __future__ import annotations

import math
import sys
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from camview.drawing.scale import SCALES
from camview.maps.validity import map_problem, normalise
from camview.sources.images import to_bgr8

COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
}
STYLES = ("matlab", "blend")
LAYOUTS = ("side-by-side", "overlay")


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


# ---------------------------------------------------------------------------------------------
# Text

FONT = cv2.FONT_HERSHEY_DUPLEX
#: Ink height of a capital letter at fontScale 1 (measured: 20 px for the Hershey fonts).
_CAP_AT_SCALE_1 = 20.0
#: Cap height as a fraction of the image height, at label scale 1 (>= 2.5 % reads in a
#: 1080p screen recording).
CAP_FRACTION = 0.03
TEXT_COLOUR = (255, 255, 255)
HIGHLIGHT_COLOUR = (0, 230, 255)  # amber
BAR_COLOUR = (200, 200, 200)
BANNER_COLOUR = (80, 200, 255)
BACKING_KEEP = 0.35  # the backing box keeps 35 % of the image under it
LABEL_BOX_MAX_FRACTION = 0.5  # the label box covers at most half the image height


def _ascii(text: str) -> str:
    """The Hershey fonts draw ASCII only: strip accents, drop what remains."""
    text = unicodedata.normalize("NFKD", str(text))
    return text.encode("ascii", "ignore").decode("ascii").replace("\n", " ")


@dataclass(frozen=True)
class _Metrics:
    font_scale: float
    thickness: int
    cap: int
    pad: int


def _metrics(height: int, scale: float) -> _Metrics:
    cap = max(4.0, CAP_FRACTION * height * max(scale, 0.05))
    return _Metrics(font_scale=cap / _CAP_AT_SCALE_1,
                    thickness=max(1, round(cap / 11)),
                    cap=round(cap),
                    pad=max(2, round(cap * 0.45)))


def _text_width(text: str, m: _Metrics) -> int:
    return cv2.getTextSize(text, FONT, m.font_scale, m.thickness)[0][0]


def _fit(text: str, width: int, m: _Metrics) -> str:
    """``text`` shortened with '...' until it is at most ``width`` px wide."""
    if _text_width(text, m) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if _text_width(text[:mid].rstrip() + "...", m) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "..."


def _darken(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = image[y0:y1, x0:x1]
        roi[...] = cv2.convertScaleAbs(roi, alpha=BACKING_KEEP)


def _writable(image: np.ndarray) -> np.ndarray:
    if (image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            and image.flags.c_contiguous and image.flags.writeable):
        return image
    return to_bgr8(image).copy()


def draw_labels(image: np.ndarray, entries: list[tuple[str, float]], *, scale: float = 1.0,
                highlight: int | None = None, bars: bool = True) -> np.ndarray:
    """Draw "label   51.2%" lines in the top-left corner on a semi-transparent dark box.

    The cap height is CAP_FRACTION (3 %) of the image height times ``scale``. Row
    ``highlight`` (e.g. the class the map shows) is drawn in amber, and ``bars`` adds a thin
    probability bar under each line. Labels too long for the image are shortened with '...'.
    Draws in place when ``image`` is a writable C-contiguous BGR uint8 array (otherwise on a
    copy): always use the returned image.
    """
    image = _writable(image)
    h, w = image.shape[:2]
    m = _metrics(h, scale)
    descent = cv2.getTextSize("gjpqy", FONT, m.font_scale, m.thickness)[1]
    bar_h = max(2, round(m.cap * 0.2)) if bars else 0
    bar_gap = max(1, round(m.cap * 0.15))
    row_h = m.cap + m.pad + (descent + bar_gap + bar_h if bars else 0)
    # However many rows are asked for (--topk 1000), the box never hides more than half the
    # picture: the map is what is being looked at.
    entries = entries[:max(0, (int(h * LABEL_BOX_MAX_FRACTION) - 2 * m.pad) // row_h)]
    if not entries:
        return image
    names = [_ascii(name) for name, _ in entries]
    pcts = [f"{100.0 * float(p):.1f}%" if math.isfinite(float(p)) else "?" for _, p in entries]
    gap = 2 * m.pad
    pct_w = max(_text_width(p, m) for p in pcts)
    max_name_w = max(1, int(w * 0.92) - 2 * m.pad - gap - pct_w)
    names = [_fit(n, max_name_w, m) for n in names]
    name_w = max(_text_width(n, m) for n in names)
    inner_w = name_w + gap + pct_w
    x0, y0 = m.pad, m.pad
    box_w, box_h = inner_w + 2 * m.pad, len(entries) * row_h + m.pad
    _darken(image, x0, y0, x0 + box_w, y0 + box_h)
    for i, (name, pct, (_, p)) in enumerate(zip(names, pcts, entries, strict=True)):
        colour = HIGHLIGHT_COLOUR if highlight == i else TEXT_COLOUR
        base = y0 + m.pad + i * row_h + m.cap
        cv2.putText(image, name, (x0 + m.pad, base), FONT, m.font_scale, colour, m.thickness,
                    cv2.LINE_AA)
        px = x0 + m.pad + inner_w - _text_width(pct, m)
        cv2.putText(image, pct, (px, base), FONT, m.font_scale, colour, m.thickness,
                    cv2.LINE_AA)
        if bars:
            p = float(p)
            frac = min(max(p, 0.0), 1.0) if math.isfinite(p) else 0.0
            by = base + descent + bar_gap
            bx1 = x0 + m.pad + round(inner_w * frac)
            if bx1 > x0 + m.pad:
                cv2.rectangle(image, (x0 + m.pad, by), (bx1 - 1, by + bar_h - 1),
                              HIGHLIGHT_COLOUR if highlight == i else BAR_COLOUR, cv2.FILLED)
    return image


def draw_banner(image: np.ndarray, text: str, *, scale: float = 1.0) -> np.ndarray:
    """One line of text (e.g. 'map unavailable: NaN in map') on a dark strip at the bottom.

    Same sizing as draw_labels. Draws in place when it can: use the returned image.
    """
    image = _writable(image)
    text = _ascii(text).strip()
    if not text:
        return image
    h, w = image.shape[:2]
    m = _metrics(h, scale)
    text = _fit(text, max(1, w - 4 * m.pad), m)
    strip_h = m.cap + 2 * m.pad
    top = h - strip_h - m.pad
    _darken(image, m.pad, top, m.pad + _text_width(text, m) + 2 * m.pad, top + strip_h)
    cv2.putText(image, text, (2 * m.pad, top + m.pad + m.cap), FONT, m.font_scale,
                BANNER_COLOUR, m.thickness, cv2.LINE_AA)
    return image


# ---------------------------------------------------------------------------------------------
# Layout and the one call the renderer and the window make

SEPARATOR_COLOUR = (48, 48, 48)


def separator_width(height: int) -> int:
    """Width of the side-by-side separator: about 0.4 % of the height, at least 2 px."""
    return max(2, round(height / 240))


def compose_layout(raw_bgr: np.ndarray, overlay_bgr: np.ndarray | None,
                   layout: str) -> np.ndarray:
    """'side-by-side': raw | separator | overlay at the raw frame's height. 'overlay': the
    overlay alone. No overlay yet (the model still loading): a black panel the raw frame's
    size, so a recording keeps one frame size from its first frame on."""
    if overlay_bgr is None:
        overlay_bgr = np.zeros_like(raw_bgr)
    if layout == "overlay":
        return overlay_bgr
    if layout != "side-by-side":
        raise ValueError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    h, w = raw_bgr.shape[:2]
    oh, ow = overlay_bgr.shape[:2]
    if oh != h:
        ow = max(1, round(ow * h / oh))
        overlay_bgr = cv2.resize(overlay_bgr, (ow, h), interpolation=cv2.INTER_AREA)
    sep = separator_width(h)
    out = np.empty((h, w + sep + ow, 3), np.uint8)
    out[:, :w] = raw_bgr
    out[:, w:w + sep] = SEPARATOR_COLOUR
    out[:, w + sep:] = overlay_bgr
    return out


@dataclass
class OverlayStyle:
    """How render_view draws. Invalid values raise ValueError in validate() / render_view."""

    style: str = "matlab"        # "matlab" | "blend"
    threshold: float = 0.2       # normalised map values below this are not coloured
    alpha: float = 0.5           # blend style: weight of the colour map
    colormap: str = "jet"        # a key of COLORMAPS
    layout: str = "side-by-side"  # "side-by-side" | "overlay"
    topk: int = 3                # label lines drawn (0: none)
    label_scale: float = 1.0     # text size factor
    scale: str = "frame"         # a key of camview.drawing.scale.SCALES: what 1.0 of the map means

    def validate(self) -> OverlayStyle:
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}: choose one of {', '.join(SCALES)}")
        if self.style not in STYLES:
            raise ValueError(f"unknown style {self.style!r}: choose one of {', '.join(STYLES)}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}: choose one of "
                             f"{', '.join(LAYOUTS)}")
        resolve_colormap(self.colormap)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in 0..1, not {self.threshold}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in 0..1, not {self.alpha}")
        if self.topk < 0:
            raise ValueError(f"topk must be >= 0, not {self.topk}")
        if not self.label_scale > 0:
            raise ValueError(f"label_scale must be > 0, not {self.label_scale}")
        return self


def render_view(frame_bgr: np.ndarray, cam_small: np.ndarray | None,
                top: list[tuple[str, float]], style: OverlayStyle, message: str | None = None,
                *, highlight: int | None = None, absolute: bool = False) -> np.ndarray:
    """The final picture: the frame and its map overlay in ``style.layout``, with the top-k
    labels on the overlay.

    ``cam_small`` is the raw (un-normalised) map at network resolution, or None when no map
    exists yet. A None or undrawable map (see map_problem) leaves the overlay as the plain
    frame with a banner: ``message`` if given, else "map unavailable: <reason>" (nothing for a
    plain None). With a good map, ``message`` is still shown as a banner. ``highlight`` marks
    one label row. ``absolute``: ``cam_small`` is already scaled to [0, 1] by a MapScale
    (camview.drawing.scale) and is drawn without min-max normalisation. The frame may be any image
    to_bgr8 accepts. Raises SourceError only for frames that cannot be an image, and
    ValueError for an invalid style.
    """
    style.validate()
    frame = to_bgr8(frame_bgr)
    problem = None if cam_small is None else map_problem(cam_small, allow_flat=absolute)
    banner = message
    if cam_small is None or problem is not None:
        overlay = frame.copy()
        if problem is not None:
            reason = f"map unavailable: {problem}"
            banner = f"{message} ({reason})" if message else reason
    elif style.style == "matlab":
        overlay = compose_matlab(frame, cam_small, style.threshold, style.colormap,
                                 absolute=absolute)
    else:
        overlay = compose_blend(frame, cam_small, style.alpha, style.threshold, style.colormap,
                                absolute=absolute)
    if style.topk > 0 and top:
        overlay = draw_labels(overlay, list(top)[:style.topk], scale=style.label_scale,
                              highlight=highlight)
    if banner:
        overlay = draw_banner(overlay, banner, scale=style.label_scale)
    return compose_layout(frame, overlay, style.layout)


# ---------------------------------------------------------------------------------------------
# Several views of one frame side by side (render --compare, the window's compare view)


def title_bar(text: str, width: int, height: int, *, scale: float = 1.0) -> np.ndarray:
    """A dark strip with ``text`` centred, to go above a panel of size (height, width): the
    panel's own corners keep its labels. Same text size as draw_labels for that panel."""
    m = _metrics(height, scale)
    bar = np.full((m.cap + 2 * m.pad, width, 3), SEPARATOR_COLOUR, np.uint8)
    text = _fit(_ascii(text).strip(), max(1, width - 2 * m.pad), m)
    x = max(m.pad, (width - _text_width(text, m)) // 2)
    cv2.putText(bar, text, (x, m.pad + m.cap), FONT, m.font_scale, TEXT_COLOUR, m.thickness,
                cv2.LINE_AA)
    return bar


def grid_shape(count: int, aspect: float | None = None,
               cell_aspect: float = 4 / 3) -> tuple[int, int]:
    """(rows, columns) for `count` panels. With `aspect` (the width / height of the view the
    grid is shown in) the shape whose cells (each `cell_aspect` wide per unit of height) come
    out largest in it, fewer empty cells and then fewer rows winning a tie: a tall view gets
    a column, a wide one a row. Without: one row up to 3, then as square as it gets (render,
    the command line)."""
    if aspect is None:
        if count <= 3:
            return 1, max(count, 1)
        columns = math.ceil(math.sqrt(count))
        return math.ceil(count / columns), columns
    count = max(count, 1)
    best: tuple[float, int, int] | None = None
    shape = (1, count)
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        # The cell's height when the grid is fitted into a view of height 1 and width aspect.
        size = min(aspect / (columns * cell_aspect), 1 / rows)
        key = (round(size, 6), -(rows * columns - count), -rows)
        if best is None or key > best:
            best, shape = key, (rows, columns)
    return shape


def compose_grid(panels: list[tuple[str, np.ndarray]], *, label_scale: float = 1.0,
                 columns: int | None = None, aspect: float | None = None) -> np.ndarray:
    """Titled panels in a grid, separated like the side-by-side layout: `columns` wide when
    given, else shaped for a view of width / height `aspect` (see grid_shape; None: one row
    for up to 3).

    Every panel is resized to the first one's size (they are normally views of the same
    frame) under a title bar of its own; empty cells of the last row are black, with no
    separator beside them, so they read as the background and not as a missing panel.
    """
    if not panels:
        raise ValueError("compose_grid needs at least one panel")
    h, w = to_bgr8(panels[0][1]).shape[:2]
    if columns is not None:
        rows, cols = math.ceil(len(panels) / columns), columns
    else:
        m = _metrics(h, label_scale)  # the title bar's height: the cell is that much taller
        rows, cols = grid_shape(len(panels), aspect, w / (h + m.cap + 2 * m.pad))
    cells = []
    for title, image in panels:
        image = to_bgr8(image)
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        cells.append(np.vstack([title_bar(title, w, h, scale=label_scale), image]))
    ch = cells[0].shape[0]
    sep = separator_width(h)
    out = np.full((rows * ch + (rows - 1) * sep, cols * w + (cols - 1) * sep, 3),
                  SEPARATOR_COLOUR, np.uint8)
    for i, cell in enumerate(cells):
        r, c = divmod(i, cols)
        out[r * (ch + sep):r * (ch + sep) + ch, c * (w + sep):c * (w + sep) + w] = cell
    for i in range(len(cells), rows * cols):  # each empty cell and the strips that lead to it
        r, c = divmod(i, cols)
        out[max(0, r * (ch + sep) - sep):r * (ch + sep) + ch,
            max(0, c * (w + sep) - sep):c * (w + sep) + w] = 0
    return out
