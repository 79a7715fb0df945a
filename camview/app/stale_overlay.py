"""The window part that never shows a map beside a photo it was not computed from.

In a slide show (a folder of stills, one image) each new photo arrives before its map; the
overlay view still holds the previous photo's map, at the previous photo's aspect ratio,
beside the new one. Until the new map comes, the overlay view shows the new photo dimmed
instead. A video is left alone: its overlay lags by a frame or two by design (each overlay
is drawn on its own frame), and dimming would flicker.
"""

from __future__ import annotations

import numpy as np

from camview.app.session import Session
from camview.app.view_area import ViewArea
from camview.sources import Frame, Pacing, Source

#: How bright the waiting photo is shown (of full brightness).
WAITING_BRIGHTNESS = 0.4


def waiting(image: np.ndarray) -> np.ndarray:
    """A photo dimmed: shown where its map will be, until it comes."""
    return (image.astype(np.float32) * WAITING_BRIGHTNESS).astype(np.uint8)


class StaleOverlay:
    """Dims the new photo into the overlay view while its map is computed (slide shows)."""

    def __init__(self, session: Session, views: ViewArea) -> None:
        self.session, self.views = session, views
        self.slides = False
        session.sourceChanged.connect(self._on_source)
        session.frameShown.connect(self._on_frame)

    def _on_source(self, source: Source) -> None:
        self.slides = source.pacing in (Pacing.FOLDER, Pacing.STILL)

    def _on_frame(self, frame: Frame) -> None:
        s = self.session
        if not self.slides or s.frozen or s.on_demand is not None:
            return
        shown = s.result.frame if s.result is not None else None
        if shown is None or (shown.index, shown.image.shape) != (frame.index, frame.image.shape):
            self.views.show_overlay(waiting(frame.image))
