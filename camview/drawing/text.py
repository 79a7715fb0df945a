"""Text on a picture: the top classes box, the banner line, and the sizing both share.

The Hershey fonts OpenCV draws with are sized from the image's height, so a label reads the
same in a thumbnail and in a 1080p recording; camview.drawing.layout's title bars use the same
sizing (text_metrics, fit_text) so a grid's titles match its panels' labels.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np

from camview.sources.images import to_bgr8

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


def ascii_text(text: str) -> str:
    """The Hershey fonts draw ASCII only: strip accents, drop what remains."""
    text = unicodedata.normalize("NFKD", str(text))
    return text.encode("ascii", "ignore").decode("ascii").replace("\n", " ")


@dataclass(frozen=True)
class TextMetrics:
    """A text size for one image height: the font's scale and stroke, the cap height and
    the padding around text, in pixels."""

    font_scale: float
    thickness: int
    cap: int
    pad: int


def text_metrics(height: int, scale: float) -> TextMetrics:
    """Text sized for an image `height` px high at label `scale`: the cap height is
    CAP_FRACTION of the height times the scale, never under 4 px."""
    cap = max(4.0, CAP_FRACTION * height * max(scale, 0.05))
    return TextMetrics(font_scale=cap / _CAP_AT_SCALE_1,
                       thickness=max(1, round(cap / 11)),
                       cap=round(cap),
                       pad=max(2, round(cap * 0.45)))


def text_width(text: str, m: TextMetrics) -> int:
    """How many pixels wide `text` is drawn at `m`."""
    return cv2.getTextSize(text, FONT, m.font_scale, m.thickness)[0][0]


def fit_text(text: str, width: int, m: TextMetrics) -> str:
    """``text`` shortened with '...' until it is at most ``width`` px wide."""
    if text_width(text, m) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + "...", m) <= width:
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
    m = text_metrics(h, scale)
    descent = cv2.getTextSize("gjpqy", FONT, m.font_scale, m.thickness)[1]
    bar_h = max(2, round(m.cap * 0.2)) if bars else 0
    bar_gap = max(1, round(m.cap * 0.15))
    row_h = m.cap + m.pad + (descent + bar_gap + bar_h if bars else 0)
    # However many rows are asked for (--topk 1000), the box never hides more than half the
    # picture: the map is what is being looked at.
    entries = entries[:max(0, (int(h * LABEL_BOX_MAX_FRACTION) - 2 * m.pad) // row_h)]
    if not entries:
        return image
    names = [ascii_text(name) for name, _ in entries]
    pcts = [f"{100.0 * float(p):.1f}%" if math.isfinite(float(p)) else "?" for _, p in entries]
    gap = 2 * m.pad
    pct_w = max(text_width(p, m) for p in pcts)
    max_name_w = max(1, int(w * 0.92) - 2 * m.pad - gap - pct_w)
    names = [fit_text(n, max_name_w, m) for n in names]
    name_w = max(text_width(n, m) for n in names)
    inner_w = name_w + gap + pct_w
    x0, y0 = m.pad, m.pad
    box_w, box_h = inner_w + 2 * m.pad, len(entries) * row_h + m.pad
    _darken(image, x0, y0, x0 + box_w, y0 + box_h)
    for i, (name, pct, (_, p)) in enumerate(zip(names, pcts, entries, strict=True)):
        colour = HIGHLIGHT_COLOUR if highlight == i else TEXT_COLOUR
        base = y0 + m.pad + i * row_h + m.cap
        cv2.putText(image, name, (x0 + m.pad, base), FONT, m.font_scale, colour, m.thickness,
                    cv2.LINE_AA)
        px = x0 + m.pad + inner_w - text_width(pct, m)
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
    text = ascii_text(text).strip()
    if not text:
        return image
    h, w = image.shape[:2]
    m = text_metrics(h, scale)
    text = fit_text(text, max(1, w - 4 * m.pad), m)
    strip_h = m.cap + 2 * m.pad
    top = h - strip_h - m.pad
    _darken(image, m.pad, top, m.pad + text_width(text, m) + 2 * m.pad, top + strip_h)
    cv2.putText(image, text, (2 * m.pad, top + m.pad + m.cap), FONT, m.font_scale,
                BANNER_COLOUR, m.thickness, cv2.LINE_AA)
    return image
