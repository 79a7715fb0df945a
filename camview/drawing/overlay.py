"""Drawing one explained frame: the overlay's options (OverlayStyle) and render_view, the one
call the headless renderer and the window make.

render_view colours the map over the frame (camview.drawing.colour), writes the top classes
and any banner on it (camview.drawing.text) and lays it out beside the raw frame
(camview.drawing.layout). Problem maps (empty, flat, NaN or Inf) are never drawn:
camview.maps.validity.map_problem names the fault, and render_view shows the frame with a
banner instead.

The choices of OverlayStyle's fields are importable here with it (STYLES, COLORMAPS,
LAYOUTS), so a caller offering them (the command line's flags, the window's lists) asks the
options' own module.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from camview.drawing.colour import COLORMAPS, compose_blend, compose_matlab, resolve_colormap
from camview.drawing.layout import LAYOUTS, compose_layout
from camview.drawing.scale import SCALES
from camview.drawing.text import draw_banner, draw_labels
from camview.maps.validity import map_problem
from camview.sources.images import to_bgr8

__all__ = ["COLORMAPS", "LAYOUTS", "STYLES", "OverlayStyle", "render_view"]

STYLES = ("matlab", "blend")


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
                *, highlight: int | None = None, absolute: bool = False,
                box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The final picture: the frame and its map overlay in ``style.layout``, with the top-k
    labels on the overlay.

    ``cam_small`` is the raw (un-normalised) map at network resolution, or None when no map
    exists yet. A None or undrawable map (see map_problem) leaves the overlay as the plain
    frame with a banner: ``message`` if given, else "map unavailable: <reason>" (nothing for a
    plain None). With a good map, ``message`` is still shown as a banner. ``highlight`` marks
    one label row. ``absolute``: ``cam_small`` is already scaled to [0, 1] by a MapScale
    (camview.drawing.scale) and is drawn without min-max normalisation. ``box`` (top, left,
    bottom, right in frame pixels): the map covers only that region of the frame (a centre
    crop fed the network) and is drawn there, nothing outside it. The frame may be any image
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
    else:
        if box is not None:
            cam_small = on_frame(cam_small, box, frame.shape[:2], absolute)
        if style.style == "matlab":
            overlay = compose_matlab(frame, cam_small, style.threshold, style.colormap,
                                     absolute=absolute)
        else:
            overlay = compose_blend(frame, cam_small, style.alpha, style.threshold,
                                    style.colormap, absolute=absolute)
    if style.topk > 0 and top:
        overlay = draw_labels(overlay, list(top)[:style.topk], scale=style.label_scale,
                              highlight=highlight)
    if banner:
        overlay = draw_banner(overlay, banner, scale=style.label_scale)
    return compose_layout(frame, overlay, style.layout)


def on_frame(cam: np.ndarray, box: tuple[int, int, int, int], frame_hw: tuple[int, int],
             absolute: bool = False) -> np.ndarray:
    """A map of the region `box` of a frame as a map of the whole frame, at its size: the
    map stretched (bilinear) over the box, the rest at the map's lowest value (0 for an
    `absolute` map), so normalising and colouring see the same range and leave it dark."""
    top, left, bottom, right = box
    fill = 0.0 if absolute else float(np.min(cam))
    canvas = np.full(frame_hw, fill, np.float32)
    canvas[top:bottom, left:right] = cv2.resize(cam.astype(np.float32), (right - left,
                                                                         bottom - top),
                                                interpolation=cv2.INTER_LINEAR)
    return canvas
