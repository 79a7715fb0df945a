"""Placing pictures together: the raw frame beside its overlay, and titled panels in a grid
(render --compare, the window's compare view, the sanity check's figure).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from camview.drawing.text import (
    FONT,
    TEXT_COLOUR,
    ascii_text,
    fit_text,
    text_metrics,
    text_width,
)
from camview.sources.images import to_bgr8

LAYOUTS = ("side-by-side", "overlay")
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


# ---------------------------------------------------------------------------------------------
# Titled panels in a grid (render --compare, the window's compare view)


def title_bar(text: str, width: int, height: int, *, scale: float = 1.0) -> np.ndarray:
    """A dark strip with ``text`` centred, to go above a panel of size (height, width): the
    panel's own corners keep its labels. Same text size as draw_labels for that panel."""
    m = text_metrics(height, scale)
    bar = np.full((m.cap + 2 * m.pad, width, 3), SEPARATOR_COLOUR, np.uint8)
    text = fit_text(ascii_text(text).strip(), max(1, width - 2 * m.pad), m)
    x = max(m.pad, (width - text_width(text, m)) // 2)
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
    frame) under a title bar of its own; a last row with fewer panels is centred on black
    (three panels in a 2x2: the third in the middle of the second row), so no cell reads as
    a missing panel.
    """
    if not panels:
        raise ValueError("compose_grid needs at least one panel")
    h, w = to_bgr8(panels[0][1]).shape[:2]
    if columns is not None:
        rows, cols = math.ceil(len(panels) / columns), columns
    else:
        m = text_metrics(h, label_scale)  # the title bar's height: the cell is this taller
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
    last = len(cells) - (rows - 1) * cols  # panels in the last row
    if last < cols:  # a short last row is centred on black, not followed by an empty cell
        out[max(0, (rows - 1) * (ch + sep) - sep):] = 0
    for i, cell in enumerate(cells):
        r, c = divmod(i, cols)
        x = c * (w + sep) + ((cols - last) * (w + sep) // 2 if r == rows - 1 else 0)
        out[r * (ch + sep):r * (ch + sep) + ch, x:x + w] = cell
    return out
