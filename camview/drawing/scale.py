"""What the brightest colour of a map means: the map scale option.

``frame`` (the reference recipe) min-max normalises every map on its own, so a class the
network does not see looks as hot as one it is sure of, and video flickers as each frame's
range changes. The two other scales keep a meaning across frames:

- ``fixed``: the raw map divided by a running maximum of the raw maps seen this session, that
  forgets slowly (it halves in HALF_LIFE frames when nothing as strong is seen again);
  negative values count as 0;
- ``probability``: the min-max normalised map times the class's probability, so a class at
  1 % stays nearly black whatever its map's shape.

Qt-free and cheap (it works on the small raw map): the renderer and the live pipeline keep one
MapScale each and pass its output to render_view with ``absolute=scale.absolute``.
"""

from __future__ import annotations

import math

import numpy as np

from camview.maps.validity import map_problem, normalise

SCALES = ("frame", "fixed", "probability")

#: What each scale means, in one line: the CLI's help and the window's tooltips read it.
SCALE_HELP = {
    "frame": "min-max each map on its own (the reference recipe): an absent class looks hot",
    "fixed": "divide by a running maximum over the session: weak maps stay dark, no flicker",
    "probability": "the normalised map times the class's probability: unlikely classes dark",
}

#: Frames (maps) over which the running maximum of the ``fixed`` scale halves: 10 s at 30 fps.
HALF_LIFE = 300


class MapScale:
    """Turns raw maps into what render_view draws, frame after frame, for one scale mode.

    Use one per method, model and layer (or ``reset()`` it when they change): their raw maps
    are in other units, so a running maximum does not carry over.
    """

    def __init__(self, mode: str = "frame", half_life: float = HALF_LIFE) -> None:
        if mode not in SCALES:
            raise ValueError(f"unknown scale {mode!r}: choose one of {', '.join(SCALES)}")
        self.mode = mode
        self.decay = 0.5 ** (1.0 / half_life)
        self.peak = 0.0

    @property
    def absolute(self) -> bool:
        """Whether apply() returns a [0, 1] map to draw as is (else a raw one to normalise)."""
        return self.mode != "frame"

    def reset(self) -> None:
        self.peak = 0.0

    def apply(self, cam: np.ndarray, probability: float) -> np.ndarray:
        """What to draw for this raw map of a class with this probability.

        ``frame``: the raw map itself (render_view normalises it at the frame size, exactly
        as the reference recipe); the others: a [0, 1] float32 map. A map that cannot be
        drawn (NaN, empty) is returned as it is, for render_view to report, and does not move
        the running maximum.
        """
        if self.mode == "frame" or map_problem(cam, allow_flat=True) is not None:
            return cam
        if self.mode == "probability":
            norm = normalise(cam)
            p = float(probability) if math.isfinite(probability) else 0.0
            if norm is None:  # a flat map: nothing stands out
                return np.zeros(np.shape(cam), np.float32)
            return norm * np.float32(min(max(p, 0.0), 1.0))
        positive = np.maximum(np.asarray(cam, np.float32), 0.0)
        self.peak = max(self.peak * self.decay, float(positive.max()))
        if not self.peak > 0:
            return np.zeros_like(positive)
        return positive / np.float32(self.peak)
