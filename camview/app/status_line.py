"""The status bar's message: one line cut to fit (a click copies it whole), an error held
against later plain messages, and a button that opens the folder a file was saved in."""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer, QUrl
from PyQt6.QtGui import QDesktopServices, QGuiApplication
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolTip, QWidget

from camview.app.status_hold import ERROR_HOLD_S

COPIED = "copied to the clipboard"


class ElidedLabel(QLabel):
    """One line cut with '…' to the width it gets (never widening the window), the full text
    in its tooltip; a click copies the full text to the clipboard and says so."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(f"{text}\n(click to copy)" if text else "")
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self.full_text, Qt.TextElideMode.ElideRight,
                                        max(0, self.contentsRect().width())))

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.full_text:
            QGuiApplication.clipboard().setText(self.full_text)
            QToolTip.showText(event.globalPosition().toPoint(), COPIED, self)
        super().mouseReleaseEvent(event)


class StatusMessage(QWidget):
    """The status bar's message and, after a file was saved, a button that opens its folder.

    An error (coloured, bold) stays at least `hold` seconds: plain messages that come
    meanwhile wait and the newest of them is shown after it, except the answer to something
    the user just did (`now`); once the hold is over, the next sign that things work again
    (`success()`, e.g. a new map) clears it, so an old error does not linger."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = ElidedLabel()
        self.open_folder = QPushButton("Open folder")
        self.open_folder.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.open_folder.clicked.connect(self._open_folder)
        self.open_folder.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.open_folder)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.is_error = False
        self.folder: Path | None = None
        self._held_until = 0.0
        self._pending: tuple[str, Path | None] | None = None

    def text(self) -> str:
        """The full message (the label may show it cut)."""
        return self.label.full_text

    def show_message(self, message: str, error: bool = False, colour: str = "#d00",
                     hold: float = ERROR_HOLD_S, folder: Path | None = None,
                     now: bool = False) -> None:
        """Show `message`; `folder`: offer to open it (a file was saved there); `now`: the
        answer to a user's action, shown at once even over a held error."""
        t = time.monotonic()
        if not error and not now and t < self._held_until:
            if self._pending is None:
                QTimer.singleShot(int((self._held_until - t) * 1000) + 50, self._show_pending)
            self._pending = (message, folder)
            return
        if error or now:
            self._held_until = t + hold if error else 0.0
            self._pending = None
        self.is_error = error
        self.label.setStyleSheet(f"color: {colour}; font-weight: bold;" if error else "")
        self.label.set_full_text(message)
        self.folder = folder
        self.open_folder.setVisible(folder is not None)
        if folder is not None:
            self.open_folder.setToolTip(f"Open {folder}")

    def success(self) -> None:
        """Things work again: an error whose hold is over gives way (to nothing new)."""
        if self.is_error and time.monotonic() >= self._held_until and self._pending is None:
            self.show_message("")

    def _show_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self.show_message(*pending[:1], folder=pending[1])

    def _open_folder(self) -> None:
        if self.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))
