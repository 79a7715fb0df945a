"""The window's widgets: the image views, the top classes, the target picker, the side panel.

Widgets only show values and report clicks; what a click means (a pipeline request) is decided
by camview.app.window. Every combo box lists a vocabulary of the core (models, methods, styles,
colormaps, layouts), so a name is typed once, where the core defines it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, QRect, Qt, QTimer, QUrl, pyqtSignal
from PyQt6.QtGui import QColor, QDesktopServices, QGuiApplication, QImage, QPainter, QPen
from PyQt6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from camview.drawing.overlay import COLORMAPS, LAYOUTS, STYLES, OverlayStyle
from camview.drawing.scale import SCALE_HELP, SCALES
from camview.errors import CamviewError, for_window
from camview.maps import METHODS, Method
from camview.models import model_names as known_models

OPEN_MODEL_FILE = "Open model file…"
ERROR_HOLD_S = 10.0  # a plain status does not hide an error younger than this
COPIED = "copied to the clipboard"
SLIDERS = ("threshold", "alpha", "smoothing")  # the panel's sliders, each 0..1 shown as 0..100
#: The overlay view's share of the width when it shows a compare's grid beside the raw view:
#: the grid's panels are each the frame too, so they get the larger part.
GRID_SHARE = 2 / 3


@contextlib.contextmanager
def signals_blocked(*objects: QObject) -> Iterator[None]:
    """Set widgets to a state without running their slots; restored however the block ends."""
    before = [o.blockSignals(True) for o in objects]
    try:
        yield
    finally:
        for o, was in zip(objects, before, strict=True):
            o.blockSignals(was)


def patterns(*suffixes: str) -> str:
    """File-dialog patterns for suffixes: ('.mp4', '.avi') -> '*.mp4 *.avi'."""
    return " ".join(f"*{s}" for s in suffixes)


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


def method_entry(method: type[Method]) -> str:
    """A method as the list shows it: the slow ones say they are for the frozen frame."""
    return method.title if method.live else f"{method.title} (frozen frame)"


def _slider(maximum: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, maximum)
    s.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return s


def _combo(items: list[tuple[str, object]]) -> QComboBox:
    c = QComboBox()
    for text, data in items:
        c.addItem(text, data)
    c.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return c


class ControlPanel(QWidget):
    """The side panel: top classes, target, model, method and overlay controls."""

    def __init__(self, rows: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.top = TopClasses(rows)
        self.target = TargetPicker()
        models = [(n, n) for n in known_models()] + [(OPEN_MODEL_FILE, None)]
        self.model = _combo(models)
        self.method = _combo([(method_entry(m), m.name) for m in METHODS.values()])
        for combo in (self.model, self.method):  # long marked entries must not widen the panel
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.style = _combo([(s, s) for s in STYLES])
        self.colormap = _combo([(c, c) for c in COLORMAPS])
        self.layout_ = _combo([(v, v) for v in LAYOUTS])
        self.scale = _combo([(v, v) for v in SCALES])
        for row, name in enumerate(SCALES):
            self.scale.setItemData(row, SCALE_HELP[name], Qt.ItemDataRole.ToolTipRole)
        self.threshold = _slider(100)
        self.alpha = _slider(100)
        self.smoothing = _slider(95)
        self.values = {name: QLabel() for name in SLIDERS}

        box = QVBoxLayout(self)
        box.setSpacing(2)  # the groups' own frames space them: all fits at 1600x1000
        box.setContentsMargins(4, 4, 4, 4)
        classes = QGroupBox("Top classes (click to pin)")
        QVBoxLayout(classes).addWidget(self.top)
        box.addWidget(classes)
        target = QGroupBox("Target class")
        QVBoxLayout(target).addWidget(self.target)
        box.addWidget(target)
        net = QGroupBox("Network")
        form = QFormLayout(net)
        form.addRow("Model", self.model)
        form.addRow("Method", self.method)
        self.network_form = form  # more rows come from camview.app.network_controls
        box.addWidget(net)
        look = QGroupBox("Overlay")
        form = QFormLayout(look)
        form.addRow("Style", self.style)
        form.addRow("Colormap", self.colormap)
        form.addRow("Layout", self.layout_)
        form.addRow("Scale", self.scale)
        for name in SLIDERS:
            row = QHBoxLayout()
            row.addWidget(getattr(self, name), 1)
            self.values[name].setMinimumWidth(32)
            row.addWidget(self.values[name])
            form.addRow(name.capitalize(), row)
        box.addWidget(look)
        box.addStretch(1)

    # -- reading and showing the state
    def chosen_style(self, topk: int, label_scale: float) -> OverlayStyle:
        """The overlay style the controls show (topk and label size are not on the panel)."""
        return OverlayStyle(
            style=self.style.currentData(), threshold=self.threshold.value() / 100,
            alpha=self.alpha.value() / 100, colormap=self.colormap.currentData(),
            layout=self.layout_.currentData(), topk=topk, label_scale=label_scale,
            scale=self.scale.currentData())

    def show_state(self, model: str, method: str, style: OverlayStyle, smoothing: float) -> None:
        """Set every control to the given state (a model file not listed yet is added)."""
        row = self.model.findData(model)
        if row < 0:
            self.model.insertItem(self.model.count() - 1, Path(model).name, model)
            row = self.model.findData(model)
        self.model.setCurrentIndex(row)
        self.method.setCurrentIndex(self.method.findData(method))
        self.style.setCurrentIndex(self.style.findData(style.style))
        self.colormap.setCurrentIndex(max(0, self.colormap.findData(style.colormap)))
        self.layout_.setCurrentIndex(self.layout_.findData(style.layout))
        self.scale.setCurrentIndex(max(0, self.scale.findData(style.scale)))
        self.threshold.setValue(round(style.threshold * 100))
        self.alpha.setValue(round(style.alpha * 100))
        self.smoothing.setValue(round(smoothing * 100))
        self.show_values()

    def show_values(self) -> None:
        for name in SLIDERS:
            self.values[name].setText(f"{getattr(self, name).value() / 100:.2f}")

    # -- keyboard helpers (the shortcuts act as if the user had picked with the mouse)
    def cycle(self, combo: QComboBox) -> None:
        """Pick the next entry (the model list skips its 'open a file' entry)."""
        count = combo.count() - (1 if combo is self.model else 0)
        self.pick(combo, (combo.currentIndex() + 1) % max(1, count))

    def choose(self, combo: QComboBox, data: str) -> None:
        self.pick(combo, combo.findData(data))

    @staticmethod
    def pick(combo: QComboBox, row: int) -> None:
        combo.setCurrentIndex(row)
        combo.activated.emit(row)

    @staticmethod
    def nudge(slider: QSlider, delta: int) -> None:
        slider.setValue(slider.value() + delta)


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
