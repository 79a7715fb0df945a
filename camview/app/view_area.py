"""The window's central area: the raw view beside the overlay view, and the speed readout."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from camview.app.image_view import ImageView

#: The overlay view's share of the width when it shows a compare's grid beside the raw view:
#: the grid's panels are each the frame too, so they get the larger part.
GRID_SHARE = 2 / 3


class ViewArea(QWidget):
    """The raw view beside the overlay view (the raw one hidden in the overlay layout), and the
    speed readout under them."""

    shapeChanged = pyqtSignal()  # resized or re-laid out: grid_aspect may differ

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.raw = ImageView("waiting for frames…")
        self.overlay = ImageView("loading the model…")
        self.readout = QLabel("")
        self.readout.setStyleSheet("color: #bbb; background: #111; padding: 2px 6px;"
                                   "font-family: monospace;")
        # Its text changes length every tick: it must never widen the window (it is cut).
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)  # a subclass needs it
        self.setStyleSheet("background: black;")
        views = self.views = QHBoxLayout()
        views.setSpacing(4)
        views.addWidget(self.raw, 1)
        views.addWidget(self.overlay, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addLayout(views, 1)
        box.addWidget(self.readout)

    def show_raw(self, image: np.ndarray) -> None:
        """Show a raw frame (skipped while the raw view is hidden: no need to convert it)."""
        if not self.raw.isHidden():
            self.raw.set_image(image)

    def show_overlay(self, image: np.ndarray, grid: bool = False) -> None:
        """Show the overlay beside the raw view at one height; a compare's `grid` instead gets
        GRID_SHARE of the width, the grid being shaped for that (grid_aspect)."""
        self.overlay.set_image(image)
        raw = self.raw.image if self.raw.image is not None else image
        weights = ([round(100 * (1 - GRID_SHARE)), round(100 * GRID_SHARE)] if grid else
                   [max(1, round(100 * im.shape[1] / im.shape[0])) for im in (raw, image)])
        if [self.views.stretch(0), self.views.stretch(1)] != weights:
            self.views.setStretch(0, weights[0])
            self.views.setStretch(1, weights[1])

    def grid_aspect(self) -> float | None:
        """Width / height of the overlay view when it shows a compare's grid (its share of
        the width beside the raw view, or all of it), None before the area has a size."""
        height = self.height() - (0 if self.readout.isHidden() else self.readout.height())
        width = self.width()
        if not self.raw.isHidden():
            width = (width - self.views.spacing()) * GRID_SHARE
        return round(width / height, 2) if width > 0 and height > 0 else None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.shapeChanged.emit()

    def set_layout(self, side_by_side: bool, raw: np.ndarray | None) -> None:
        self.raw.setVisible(side_by_side)
        if raw is not None:
            self.show_raw(raw)
        self.shapeChanged.emit()
