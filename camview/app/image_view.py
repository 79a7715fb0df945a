"""A picture in the window: a BGR numpy image scaled to its widget, or a busy spinner over it.

Every picture the window shows (the raw and overlay views, a dock's grid, a set's maps) is
one of these.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRect, Qt, QTimer
from PyQt6.QtGui import QColor, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget


class ImageView(QWidget):
    """A BGR numpy image scaled to the widget, keeping its aspect ratio; while `busy`, dimmed
    under a turning spinner and a line saying what is being prepared (the picture shown is
    not the answer yet)."""

    SPIN_MS = 80  # the spinner turns a step this often

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self.image: np.ndarray | None = None
        self.busy: str | None = None
        self._qimage: QImage | None = None
        self._angle = 0
        self._spin = QTimer(self)
        self._spin.timeout.connect(self._turn)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_image(self, image: np.ndarray) -> None:
        image = np.ascontiguousarray(image)
        h, w = image.shape[:2]
        # The QImage borrows the array's buffer: keep the array alive with it.
        self.image = image
        self._qimage = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888)
        self.update()

    def clear(self) -> None:
        """Back to the placeholder text."""
        self.image, self._qimage = None, None
        self.update()

    def set_busy(self, text: str | None) -> None:
        """Show `text` with a spinner over the dimmed picture until set_busy(None)."""
        self.busy = text
        if text is None:
            self._spin.stop()
        elif not self._spin.isActive():
            self._spin.start(self.SPIN_MS)
        self.update()

    def _turn(self) -> None:
        self._angle = (self._angle + 30) % 360
        self.update()

    def image_rect(self) -> QRect:
        """Where the image is drawn (centred, aspect ratio kept)."""
        if self._qimage is None:
            return QRect()
        w, h = self._qimage.width(), self._qimage.height()
        s = min(self.width() / w, self.height() / h)
        dw, dh = max(1, int(w * s)), max(1, int(h * s))
        return QRect((self.width() - dw) // 2, (self.height() - dh) // 2, dw, dh)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._qimage is None and self.busy is None:
            painter.setPen(Qt.GlobalColor.gray)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        if self._qimage is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self._qimage)
        if self.busy is not None:
            self._paint_busy(painter)

    def _paint_busy(self, painter: QPainter) -> None:
        """The picture dimmed, a quarter arc turning and the busy line under it, centred."""
        painter.fillRect(self.rect(), QColor(0, 0, 0, 150))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = max(24, min(self.width(), self.height()) // 8)
        centre = self.rect().center()
        ring = QRect(centre.x() - side // 2, centre.y() - side, side, side)
        painter.setPen(QPen(QColor(255, 255, 255, 60), max(3, side // 10)))
        painter.drawEllipse(ring)
        painter.setPen(QPen(QColor(240, 240, 240), max(3, side // 10)))
        painter.drawArc(ring, -self._angle * 16, 90 * 16)  # Qt angles: 1/16 degree
        font = painter.font()
        font.setPointSizeF(max(10.0, side / 4))
        painter.setFont(font)
        text = QRect(0, centre.y() + side // 4, self.width(), side)
        painter.drawText(text, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         self.busy or "")
