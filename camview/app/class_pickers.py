"""Picking the target class: the newest result's top classes (a click pins one) and the
search box that finds a class by part of its name.

Both only show values and report picks; what a pick means is decided by the part that owns
them (camview.app.live_controls, camview.app.compare_controls).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from camview.errors import CamviewError, for_window


class TopClasses(QListWidget):
    """The top-k classes of the newest result; clicking one pins it as the target."""

    def __init__(self, rows: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.set_rows(rows)

    def set_rows(self, rows: int) -> None:
        self.clear()
        for _ in range(rows):
            item = QListWidgetItem("–")
            item.setData(Qt.ItemDataRole.UserRole, None)
            self.addItem(item)
        height = self.sizeHintForRow(0) if rows else 0
        self.setFixedHeight(max(1, rows) * max(height, 18) + 2 * self.frameWidth() + 4)

    def show_top(self, top: list[tuple[int, str, float]], mapped: int | None) -> None:
        """Update texts in place, so a click lands on what is shown now."""
        for row in range(self.count()):
            item = self.item(row)
            if row < len(top):
                index, label, prob = top[row]
                marker = "▶ " if index == mapped else "   "
                item.setText(f"{marker}{label}   {100 * prob:.1f} %")
                item.setData(Qt.ItemDataRole.UserRole, index)
            else:
                item.setText("–")
                item.setData(Qt.ItemDataRole.UserRole, None)

    def class_at(self, row: int) -> int | None:
        item = self.item(row)
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)


class TargetPicker(QWidget):
    """Auto (each frame's top-1) or one class pinned, found by typing part of its name.

    A class chosen from the completer or typed and confirmed with Enter is `picked` (its
    index); text that names no class is `failed` (the message to show).
    """

    picked = pyqtSignal(int)
    failed = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current = QLabel("Auto (top-1)")
        self.search = QLineEdit()
        self.search.setPlaceholderText("search a class…")
        self.search.setClearButtonEnabled(True)
        self.auto = QPushButton("Auto")
        self.auto.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.search, 1)
        row.addWidget(self.auto)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.current)
        layout.addLayout(row)
        self.entries: list[str] = []
        self.completer = QCompleter([], self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setMaxVisibleItems(12)
        self.search.setCompleter(self.completer)
        self.find_class: Callable[[str], int] | None = None
        self.completer.activated.connect(self._on_pick)
        self.search.returnPressed.connect(self._on_enter)

    def set_labels(self, labels: list[str], find_class: Callable[[str], int]) -> None:
        """The classes to offer, and the model's own lookup of a typed label."""
        self.entries = [f"{label}  #{i}" for i, label in enumerate(labels)]
        self.completer.model().setStringList(self.entries)
        self.find_class = find_class

    def _on_pick(self, text: str) -> None:
        index = self.index_of(text)
        if index is not None:
            self.picked.emit(index)
            self.done()

    def _on_enter(self) -> None:
        text = self.search.text().strip()
        if not text or self.find_class is None:
            return
        try:
            index = self.class_for(text, self.find_class)
        except CamviewError as exc:
            self.failed.emit(for_window(exc))
            return
        self.picked.emit(index)
        self.done()

    def show_target(self, text: str) -> None:
        self.current.setText(text)

    def class_for(self, text: str, find_class: Callable[[str], int]) -> int:
        """The class typed: a picked entry, a label the model knows (find_class), else the
        first entry containing the text. Raises CamviewError when none matches."""
        index = self.index_of(text)
        if index is not None:
            return index
        try:
            return find_class(text)
        except CamviewError:
            hits = [e for e in self.entries if text.lower() in e.lower()]
            if not hits:
                raise CamviewError(f"no class matches {text!r}") from None
            return self.index_of(hits[0])

    def done(self) -> None:
        """A class was pinned: empty the search and give the keys back to the window."""
        QTimer.singleShot(0, self.search.clear)  # not now: the completer is still using it
        self.search.clearFocus()

    def index_of(self, text: str) -> int | None:
        """The class of a completer entry ('tabby, tabby cat  #281'), else None."""
        text = text.strip()
        if "#" in text and text.rsplit("#", 1)[1].isdigit():
            return int(text.rsplit("#", 1)[1])
        return None
