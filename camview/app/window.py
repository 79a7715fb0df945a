"""The main window: the raw feed beside its class activation map, and the controls.

All work happens in camview.live's threads; this module only draws what the bridge
delivers and turns user actions into pipeline requests. Every control has a keyboard shortcut,
shown in its tooltip and in Help -> Keyboard shortcuts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QTimer
from PyQt6.QtGui import QAction, QImage, QKeySequence, QPainter
from PyQt6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from camview.app.bridge import Bridge
from camview.app.recorder import Recorder
from camview.errors import CamviewError
from camview.live import ErrorKind, Pipeline, Result
from camview.maps import METHODS, method_class
from camview.models import DEFAULT_MODEL, CamModel
from camview.models import model_names as known_models
from camview.overlay import COLORMAPS, LAYOUTS, STYLES, OverlayStyle, compose_layout
from camview.sources import Frame, Source
from camview.writers import write_image

log = logging.getLogger(__name__)

PRESENTATION_LABEL_SCALE = 1.8
ERROR_HOLD_S = 4.0  # a plain status does not hide an error younger than this
NOTICE_HOLD_S = 12.0
OPEN_MODEL_FILE = "Open model file…"


def open_settings() -> QSettings:
    """The user's settings, or an ini file in $CAMVIEW_SETTINGS_DIR (tests, portable use)."""
    folder = os.environ.get("CAMVIEW_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "camview.ini"), QSettings.Format.IniFormat)
    return QSettings("camview", "camview")


@dataclass
class Options:
    """What the window starts with (command line over saved settings over defaults)."""

    source: str | int | Source | None = None  # None: camera 0, else the demo
    record: str | None = None
    model: str | CamModel = DEFAULT_MODEL
    model_kwargs: dict = field(default_factory=dict)  # weights, labels, read_layer, resize
    method: str = "cam"
    target: str | None = None
    style: OverlayStyle = field(default_factory=OverlayStyle)
    smoothing: float = 0.0
    readout: bool = True
    output_dir: str | None = None  # snapshots and recordings without a path
    given: set[str] = field(default_factory=set)  # options given on the command line
    save_settings: bool = True


# ---------------------------------------------------------------------------------------------
# Views


class ImageView(QWidget):
    """A BGR numpy image scaled to the widget, keeping its aspect ratio."""

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None
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

    def image_rect(self):
        """Where the image is drawn (centred, aspect ratio kept)."""
        from PyQt6.QtCore import QRect

        if self._qimage is None:
            return QRect()
        w, h = self._qimage.width(), self._qimage.height()
        s = min(self.width() / w, self.height() / h)
        dw, dh = max(1, int(w * s)), max(1, int(h * s))
        return QRect((self.width() - dw) // 2, (self.height() - dh) // 2, dw, dh)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._qimage is None:
            painter.setPen(Qt.GlobalColor.gray)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(self.image_rect(), self._qimage)


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
    """Auto (each frame's top-1) or one class pinned, found by typing part of its name."""

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

    def set_labels(self, labels: list[str]) -> None:
        self.entries = [f"{label}  #{i}" for i, label in enumerate(labels)]
        self.completer.model().setStringList(self.entries)

    def show_target(self, text: str) -> None:
        self.current.setText(text)

    def index_of(self, text: str) -> int | None:
        """The class of a completer entry ('tabby, tabby cat  #281'), else None."""
        text = text.strip()
        if "#" in text and text.rsplit("#", 1)[1].isdigit():
            return int(text.rsplit("#", 1)[1])
        return None


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
        self.method = _combo([(m.title, m.name) for m in METHODS.values()])
        self.style = _combo([(s, s) for s in STYLES])
        self.colormap = _combo([(c, c) for c in COLORMAPS])
        self.layout_ = _combo([(v, v) for v in LAYOUTS])
        self.threshold = _slider(100)
        self.alpha = _slider(100)
        self.smoothing = _slider(95)
        self.values = {name: QLabel() for name in ("threshold", "alpha", "smoothing")}

        box = QVBoxLayout(self)
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
        box.addWidget(net)
        look = QGroupBox("Overlay")
        form = QFormLayout(look)
        form.addRow("Style", self.style)
        form.addRow("Colormap", self.colormap)
        form.addRow("Layout", self.layout_)
        for name in ("threshold", "alpha", "smoothing"):
            row = QHBoxLayout()
            row.addWidget(getattr(self, name), 1)
            self.values[name].setMinimumWidth(32)
            row.addWidget(self.values[name])
            form.addRow(name.capitalize(), row)
        box.addWidget(look)
        box.addStretch(1)


# ---------------------------------------------------------------------------------------------
# The window


class MainWindow(QMainWindow):
    """Views, controls, shortcuts, settings; owns the pipeline and the recorder."""

    def __init__(self, options: Options | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.options = options or Options()
        self.settings = settings or open_settings()
        self.setWindowTitle("camview — live class activation maps")
        self.setAcceptDrops(True)
        self.bridge = Bridge(self)
        o = self.options
        self.pipeline = Pipeline(**self.bridge.callbacks(), style=o.style, method=o.method,
                                 smoothing=o.smoothing, panel_only=True)
        self.recorder: Recorder | None = None
        self.raw: Frame | None = None  # the raw frame shown
        self.result: Result | None = None  # the result shown
        self.presenting = False
        self._held_until = 0.0
        self._pending_status: str | None = None
        self._pending_target = o.target
        self._pending_record = o.record
        self._syncing = False
        self._fell_back = False
        self._labels_of: CamModel | None = None  # the model the class search lists
        self.notice = ""  # shown in the title while it holds (no camera: the demo)
        self.source_name = ""
        self._closed = False
        self.actions_by_name: dict[str, QAction] = {}

        self._build_views()
        self.panel = ControlPanel(rows=o.style.topk or 3)
        self.panel_scroll = QScrollArea()
        self.panel_scroll.setWidget(self.panel)
        self.panel_scroll.setWidgetResizable(True)
        self.panel_scroll.setMinimumWidth(270)
        self.panel_scroll.setMaximumWidth(340)
        self.panel_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(self.view_area, 1)
        row.addWidget(self.panel_scroll)
        self.setCentralWidget(central)
        self._build_status_bar()
        self._build_actions()
        self._connect()
        self._sync_controls()
        self.readout.setVisible(o.readout)
        self.actions_by_name["readout"].setChecked(o.readout)
        self._apply_layout(o.style.layout)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(500)
        geometry = self.settings.value("geometry")
        self._fit_pending = geometry is None  # first run: fit the window to the frames
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1480, 640)

    # -- building
    def _build_views(self) -> None:
        self.raw_view = ImageView("waiting for frames…")
        self.overlay_view = ImageView("loading the model…")
        self.readout = QLabel("")
        self.readout.setStyleSheet("color: #bbb; background: #111; padding: 2px 6px;"
                                   "font-family: monospace;")
        self.view_area = QWidget()
        self.view_area.setStyleSheet("background: black;")
        views = QHBoxLayout()
        views.setSpacing(4)
        views.addWidget(self.raw_view, 1)
        views.addWidget(self.overlay_view, 1)
        box = QVBoxLayout(self.view_area)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addLayout(views, 1)
        box.addWidget(self.readout)

    def _build_status_bar(self) -> None:
        self.message = QLabel("")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rec_label = QLabel("")
        self.rec_label.setStyleSheet("color: #d00; font-weight: bold;")
        self.statusBar().addWidget(self.message, 1)
        self.statusBar().addPermanentWidget(self.rec_label)

    def _action(self, name: str, text: str, keys: list[str], slot, *, checkable: bool = False,
                tip: str = "") -> QAction:
        act = QAction(text, self)
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setCheckable(checkable)
        shown = " / ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                           for k in keys)
        act.setToolTip(f"{tip or text} ({shown})" if keys else (tip or text))
        act.setStatusTip("")
        (act.toggled if checkable else act.triggered).connect(slot)
        self.addAction(act)  # works with the menus and toolbar hidden (presentation mode)
        self.actions_by_name[name] = act
        return act

    def _build_actions(self) -> None:
        a = self._action
        file_acts = [
            a("open_file", "Open video or image…", ["Ctrl+O"], self.open_file),
            a("open_folder", "Open image folder…", ["Ctrl+Shift+O"], self.open_folder),
            a("camera", "Camera…", ["Ctrl+K"], self.choose_camera),
            a("demo", "Demo", ["Ctrl+D"], lambda: self.set_source("demo")),
        ]
        view_acts = [
            a("freeze", "Freeze", ["Space"], self.set_frozen, checkable=True,
              tip="Freeze the frame (maps keep updating: compare classes and methods)"),
            a("step", "Step", ["Right", "."], self.step, tip="Step one frame"),
            a("record", "Record", ["R"], self.toggle_record, checkable=True,
              tip="Record the view to mp4"),
            a("snapshot", "Snapshot", ["S"], self.snapshot, tip="Save the view as PNG"),
            a("present", "Presentation", ["F11"], self.set_presentation, checkable=True,
              tip="Full screen, controls hidden, large labels (Esc leaves)"),
            a("readout", "Readout", ["F"], self.set_readout, checkable=True,
              tip="Show capture/inference fps and latency"),
        ]
        a("leave", "Leave presentation", ["Esc"], lambda: self.set_presentation(False))
        net_acts = [
            a("model_list", "Choose model", ["Ctrl+M"], lambda: self._popup(self.panel.model)),
            a("model_file", OPEN_MODEL_FILE, ["Ctrl+Shift+M"], self.open_model_file),
            a("method_next", "Next method", ["M"], lambda: self._cycle(self.panel.method)),
            *[a(f"method_{m.name}", m.title, [str(i)],
                lambda _=False, n=m.name: self._choose(self.panel.method, n))
              for i, m in enumerate(METHODS.values(), 1)],
            a("target_search", "Search a target class", ["T", "Ctrl+F"], self.focus_search),
            a("target_auto", "Target: auto (top-1)", ["A"], lambda: self.pin_target(None)),
            *[a(f"pin_{k}", f"Pin top-{k} class", [f"Alt+{k}"],
                lambda _=False, r=k - 1: self.pin_row(r)) for k in (1, 2, 3)],
        ]
        p = self.panel
        look_acts = [
            a("style", "Next style", ["Y"], lambda: self._cycle(p.style)),
            a("colormap", "Next colormap", ["C"], lambda: self._cycle(p.colormap)),
            a("layout", "Next layout", ["L"], lambda: self._cycle(p.layout_)),
            a("thr_down", "Threshold −", ["["], lambda: self._nudge(p.threshold, -5)),
            a("thr_up", "Threshold +", ["]"], lambda: self._nudge(p.threshold, 5)),
            a("alpha_down", "Alpha −", ["-"], lambda: self._nudge(p.alpha, -10)),
            a("alpha_up", "Alpha +", ["="], lambda: self._nudge(p.alpha, 10)),
            a("smooth_down", "Smoothing −", [";"], lambda: self._nudge(p.smoothing, -10)),
            a("smooth_up", "Smoothing +", ["'"], lambda: self._nudge(p.smoothing, 10)),
        ]
        quit_act = a("quit", "Quit", ["Ctrl+Q"], self.close)
        help_act = a("help", "Keyboard shortcuts", ["F1"], self.show_shortcuts)

        bar = self.menuBar()
        for title, acts in (("&Source", [*file_acts, None, quit_act]), ("&View", view_acts),
                            ("&Network", net_acts), ("&Overlay", look_acts),
                            ("&Help", [help_act])):
            menu = bar.addMenu(title)
            menu.setToolTipsVisible(True)
            for act in acts:
                menu.addSeparator() if act is None else menu.addAction(act)
        self.toolbar = self.addToolBar("Controls")
        self.toolbar.setObjectName("controls")
        self.toolbar.setMovable(False)
        for act in file_acts:
            self.toolbar.addAction(act)
        self.toolbar.addSeparator()
        for act in view_acts:
            self.toolbar.addAction(act)

        tips = {p.model: "Model (Ctrl+M; Ctrl+Shift+M opens a file)",
                p.method: "Method (M cycles; 1 CAM, 2 Grad-CAM, 3 Grad-CAM++)",
                p.style: "Overlay style (Y)", p.colormap: "Colormap (C)",
                p.layout_: "Layout (L)", p.threshold: "Threshold: map values under it are not "
                "coloured ([ and ])", p.alpha: "Blend opacity (- and =)",
                p.smoothing: "Temporal smoothing of the map (; and ')",
                p.top: "Click a class to pin it as the target (Alt+1..3)",
                p.target.search: "Type part of a class name, pick it to pin it (T)",
                p.target.auto: "Map each frame's top-1 class (A)"}
        for widget, tip in tips.items():
            widget.setToolTip(tip)

    def _connect(self) -> None:
        b, p = self.bridge, self.panel
        b.frameReady.connect(self._on_frame)
        b.resultReady.connect(self._on_result)
        b.status.connect(self.show_status)
        b.error.connect(self._on_error)
        b.configChanged.connect(self._on_config)
        b.sourceChanged.connect(self._on_source)
        b.recordFailed.connect(self._on_record_failed)
        p.top.itemClicked.connect(lambda item: self.pin_row(p.top.row(item)))
        p.target.completer.activated.connect(self._on_search_pick)
        p.target.search.returnPressed.connect(self._on_search_enter)
        p.target.auto.clicked.connect(lambda: self.pin_target(None))
        p.model.activated.connect(self._on_model_combo)
        p.method.activated.connect(lambda _: self.set_method(p.method.currentData()))
        for combo in (p.style, p.colormap, p.layout_):
            combo.currentIndexChanged.connect(self._on_style_control)
        for slider in (p.threshold, p.alpha):
            slider.valueChanged.connect(self._on_style_control)
        p.smoothing.valueChanged.connect(self._on_smoothing)

    # -- starting and stopping
    def start(self) -> None:
        """Start the pipeline on the options' source and model."""
        o = self.options
        model = o.model
        if isinstance(model, CamModel):
            self.pipeline.set_model(model)
        else:
            self.pipeline.set_model(model, **o.model_kwargs)
        if o.source is None:
            self.pipeline.set_source(0, fallback="demo")
        else:
            self.pipeline.set_source(o.source)
        self.pipeline.start()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop recording and every thread (within about a second); save the settings."""
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        self.stop_recording()
        if not self.pipeline.stop(timeout=1.0):
            log.warning("a pipeline thread is still busy (a model load?); leaving it")
        if self.options.save_settings:
            self.save_settings()

    # -- pipeline events (GUI thread)
    def _on_frame(self) -> None:
        frame = self.bridge.take_frame()
        if frame is None:
            return
        self.raw = frame
        if not self.raw_view.isHidden():
            self.raw_view.set_image(frame.image)
        if self._fit_pending:
            self._fit_to(frame.image.shape[:2])
        if self.recorder is not None:
            self.recorder.add_frame(frame.image)

    def _on_result(self) -> None:
        result = self.bridge.take_result()
        if result is None or result.generation < self.pipeline.generation:
            return  # from an earlier model/method/target/source
        self.result = result
        self.overlay_view.set_image(result.overlay)
        self.pipeline.note_displayed(result)
        if self.recorder is not None:
            self.recorder.set_overlay(result.overlay)
        mapped = result.map.target if result.map is not None else None
        self.panel.top.show_top([(i, label, prob) for (i, prob), (label, _) in
                                 zip(result.top_classes, result.top, strict=False)], mapped)
        if result.target is None:
            self.panel.target.show_target(f"Auto (top-1): {result.map_label}")
        if self.raw is None or self.raw_view.image is None:
            self.raw = result.frame
            if not self.raw_view.isHidden():
                self.raw_view.set_image(result.frame.image)

    def _fit_to(self, frame_hw: tuple[int, int]) -> None:
        """Size the window so the views show the frames without black bands (first run)."""
        self._fit_pending = False
        if self.presenting or self.isMaximized() or self.isFullScreen():
            return
        h, w = frame_hw
        views = 2 if self.raw_view.isVisible() else 1
        chrome_w = self.width() - self.overlay_view.width() * views
        chrome_h = self.height() - self.overlay_view.height()
        # The side panel must fit without scrolling: it sets the least height.
        least_h = self.height() - self.panel_scroll.height() + self.panel.sizeHint().height()
        screen = self.screen().availableGeometry() if self.screen() else None
        max_w, max_h = (screen.width(), screen.height() - 40) if screen else (1920, 1040)
        view_h = max(least_h - chrome_h, round(self.overlay_view.width() * h / w))
        view_w = round(view_h * w / h)
        width = min(max_w, chrome_w + views * view_w)
        height = min(max_h, chrome_h + round((width - chrome_w) / views * h / w))
        self.resize(width, max(height, min(least_h, max_h)))

    def _on_error(self, message: str, kind: ErrorKind) -> None:
        if kind == ErrorKind.NOTICE:  # e.g. no camera: showing the demo
            self.notice = message
            self.show_status(message, error=True, colour="#b60", hold=NOTICE_HOLD_S)
            self._update_title()
            return
        self.show_status(message, error=True)
        if kind == ErrorKind.SOURCE and self.recorder is not None:
            self.stop_recording("the source failed")
        if kind == ErrorKind.MODEL and self.pipeline.current_model is None and not self._fell_back:
            # A saved or given model that no longer loads: start with the default instead.
            self._fell_back = True
            self.pipeline.set_model(DEFAULT_MODEL)

    def _on_source(self, source: Source) -> None:
        self.raw = None
        self.raw_view.image = None
        self.source_name = source.name
        self._update_title()
        if self._pending_record:
            path, self._pending_record = self._pending_record, None
            self.start_recording(path)

    def _update_title(self) -> None:
        note = f" ({self.notice})" if self.notice else ""
        self.setWindowTitle(f"camview — {self.source_name}{note}")

    def _on_config(self) -> None:
        model = self.pipeline.current_model
        if model is not None and model is not self._labels_of:
            self._labels_of = model
            self.panel.target.set_labels(model.labels)
        if model is not None and self._pending_target is not None:
            wanted, self._pending_target = self._pending_target, None
            try:
                self.pin_target(model.find_class(wanted))
            except CamviewError as exc:
                self.show_status(str(exc), error=True)
        self._sync_controls()

    def _on_record_failed(self, message: str) -> None:
        self.show_status(message, error=True)
        self.stop_recording()

    # -- status bar
    def show_status(self, message: str, error: bool = False, colour: str = "#d00",
                    hold: float = ERROR_HOLD_S) -> None:
        """A message in the status bar; an error (red) is not hidden by plain messages for
        `hold` seconds, they are shown after it."""
        now = time.monotonic()
        if not error and now < self._held_until:
            if self._pending_status is None:
                QTimer.singleShot(int((self._held_until - now) * 1000) + 50, self._show_pending)
            self._pending_status = message
            return
        if error:
            self._held_until = now + hold
            self._pending_status = None
        self.message.setStyleSheet(f"color: {colour}; font-weight: bold;" if error else "")
        self.message.setText(message)
        self.message.setToolTip(message)

    def _show_pending(self) -> None:
        message, self._pending_status = self._pending_status, None
        if message is not None:
            self.show_status(message)

    def status_text(self) -> str:
        return self.message.text()

    # -- sources
    def set_source(self, spec: str | int | Source) -> None:
        self.notice = ""
        self.pipeline.set_source(spec)

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video or an image", self.settings.value("last_dir", ""),
            "Videos and images (*.mp4 *.m4v *.mov *.avi *.mkv *.webm *.jpg *.jpeg *.png *.bmp "
            "*.tif *.tiff *.webp);;All files (*)")
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.set_source(path)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images",
                                                self.settings.value("last_dir", ""))
        if path:
            self.settings.setValue("last_dir", path)
            self.set_source(path)

    def choose_camera(self) -> None:
        index, ok = QInputDialog.getInt(self, "Camera", "Camera index:", 0, 0, 63)
        if ok:
            self.set_source(index)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.set_source(urls[0].toLocalFile())

    # -- model, method, target
    def _on_model_combo(self, row: int) -> None:
        name = self.panel.model.itemData(row)
        if name is None:
            self.open_model_file()
        else:
            self.set_model(name)

    def open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a Keras classifier", "",
                                              "Keras models (*.keras *.h5)")
        if path:
            self.set_model(path)
        else:
            self._sync_controls()

    def set_model(self, name: str) -> None:
        self.pipeline.set_model(name)
        self.show_status(f"loading {Path(name).name}… (the current model keeps running)")

    def set_method(self, name: str) -> None:
        try:
            self.pipeline.set_method(name)
        except CamviewError as exc:
            self.show_status(str(exc), error=True)

    def pin_row(self, row: int) -> None:
        index = self.panel.top.class_at(row)
        if index is not None:
            self.pin_target(index)

    def pin_target(self, index: int | None) -> None:
        try:
            self.pipeline.set_target(index)
        except CamviewError as exc:
            self.show_status(str(exc), error=True)
            return
        model = self.pipeline.current_model
        if index is None:
            self.panel.target.show_target("Auto (top-1)")
        elif model is not None:
            self.panel.target.show_target(f"Pinned: {model.short_label(index)} (#{index})")

    def focus_search(self) -> None:
        self.panel.target.search.setFocus()
        self.panel.target.search.selectAll()

    def _on_search_pick(self, text: str) -> None:
        index = self.panel.target.index_of(text)
        if index is not None:
            self.pin_target(index)
            QTimer.singleShot(0, self.panel.target.search.clear)
            self.panel.target.search.clearFocus()

    def _on_search_enter(self) -> None:
        text = self.panel.target.search.text().strip()
        model = self.pipeline.current_model
        if not text or model is None:
            return
        index = self.panel.target.index_of(text)
        if index is None:
            try:
                index = model.find_class(text)
            except CamviewError:
                hits = [e for e in self.panel.target.entries if text.lower() in e.lower()]
                if not hits:
                    self.show_status(f"no class matches {text!r}", error=True)
                    return
                index = self.panel.target.index_of(hits[0])
        self.pin_target(index)
        self.panel.target.search.clear()
        self.panel.target.search.clearFocus()

    # -- overlay controls
    def current_style(self) -> OverlayStyle:
        p = self.panel
        return OverlayStyle(
            style=p.style.currentData(), threshold=p.threshold.value() / 100,
            alpha=p.alpha.value() / 100, colormap=p.colormap.currentData(),
            layout=p.layout_.currentData(), topk=self.pipeline.style.topk,
            label_scale=PRESENTATION_LABEL_SCALE if self.presenting
            else self.options.style.label_scale)

    def _on_style_control(self, *_args) -> None:
        if self._syncing:
            return
        style = self.current_style()
        self.pipeline.set_style(style)
        self._apply_layout(style.layout)
        self._show_values()

    def _on_smoothing(self, value: int) -> None:
        if not self._syncing:
            self.pipeline.set_smoothing(value / 100)
        self._show_values()

    def _apply_layout(self, layout: str) -> None:
        side = layout == "side-by-side"
        self.raw_view.setVisible(side)
        if side and self.raw is not None:
            self.raw_view.set_image(self.raw.image)

    def _show_values(self) -> None:
        p = self.panel
        for name in ("threshold", "alpha", "smoothing"):
            p.values[name].setText(f"{getattr(p, name).value() / 100:.2f}")

    def _sync_controls(self) -> None:
        """Show the pipeline's actual state (after a failed switch too)."""
        self._syncing = True
        try:
            p, pipe = self.panel, self.pipeline
            model = pipe.current_model
            wanted = model.name if model is not None else (
                self.options.model.name if isinstance(self.options.model, CamModel)
                else str(self.options.model))
            row = p.model.findData(wanted)
            if row < 0:
                p.model.insertItem(p.model.count() - 1, Path(wanted).name, wanted)
                row = p.model.findData(wanted)
            p.model.setCurrentIndex(row)
            p.method.setCurrentIndex(p.method.findData(pipe.method_name))
            style = pipe.style
            p.style.setCurrentIndex(p.style.findData(style.style))
            p.colormap.setCurrentIndex(max(0, p.colormap.findData(style.colormap)))
            p.layout_.setCurrentIndex(p.layout_.findData(style.layout))
            p.threshold.setValue(round(style.threshold * 100))
            p.alpha.setValue(round(style.alpha * 100))
            p.smoothing.setValue(round(pipe.smoothing * 100))
        finally:
            self._syncing = False
        self._show_values()

    def _popup(self, combo: QComboBox) -> None:
        if self.presenting:
            return
        combo.showPopup()

    def _cycle(self, combo: QComboBox) -> None:
        count = combo.count() - (1 if combo is self.panel.model else 0)
        row = (combo.currentIndex() + 1) % max(1, count)
        combo.setCurrentIndex(row)
        combo.activated.emit(row)

    def _choose(self, combo: QComboBox, data: str) -> None:
        row = combo.findData(data)
        combo.setCurrentIndex(row)
        combo.activated.emit(row)

    def _nudge(self, slider: QSlider, delta: int) -> None:
        slider.setValue(slider.value() + delta)

    # -- freeze, record, snapshot, presentation, readout
    def set_frozen(self, frozen: bool) -> None:
        self.pipeline.freeze(frozen)
        self.show_status("frozen: the maps keep updating on this frame" if frozen else "live")

    def step(self) -> None:
        act = self.actions_by_name["freeze"]
        if not act.isChecked():
            act.blockSignals(True)
            act.setChecked(True)
            act.blockSignals(False)
        self.pipeline.step()

    def _output_path(self, kind: str, suffix: str) -> Path:
        if self.options.output_dir:
            folder = Path(self.options.output_dir)
        else:
            where = (QStandardPaths.StandardLocation.MoviesLocation if kind == "recording"
                     else QStandardPaths.StandardLocation.PicturesLocation)
            found = QStandardPaths.writableLocation(where)
            folder = Path(found) if found and Path(found).is_dir() else Path.cwd()
        return folder / f"camview-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"

    def toggle_record(self, on: bool) -> None:
        if on and self.recorder is None:
            self.start_recording(None)
        elif not on and self.recorder is not None:
            self.stop_recording()

    def start_recording(self, path: str | Path | None) -> None:
        if self.recorder is not None:
            return
        path = Path(path) if path else self._output_path("recording", ".mp4")
        fps = self.pipeline.source_fps
        try:
            self.recorder = Recorder(path, fps, self.current_style().layout,
                                     on_failure=self.bridge.recordFailed.emit).start()
        except CamviewError as exc:
            self.show_status(str(exc), error=True)
            self._set_record_checked(False)
            return
        if self.result is not None:
            self.recorder.set_overlay(self.result.overlay)
        if self.raw is not None:
            self.recorder.add_frame(self.raw.image)
        self._set_record_checked(True)
        self.show_status(f"recording to {path}")
        self._tick()

    def stop_recording(self, why: str | None = None) -> None:
        rec, self.recorder = self.recorder, None
        self._set_record_checked(False)
        self.rec_label.setText("")
        if rec is None:
            return
        frames = rec.stop()
        note = f" ({why})" if why else ""
        self.show_status(f"saved {rec.path} ({frames} frames){note}", error=bool(why))

    def _set_record_checked(self, on: bool) -> None:
        act = self.actions_by_name.get("record")
        if act is not None and act.isChecked() != on:
            act.blockSignals(True)
            act.setChecked(on)
            act.blockSignals(False)

    def composed_view(self) -> np.ndarray | None:
        """The view as shown: raw | overlay, or the overlay alone."""
        if self.result is None:
            return None if self.raw is None else self.raw.image
        layout = self.current_style().layout
        raw = self.raw.image if self.raw is not None else self.result.frame.image
        return compose_layout(raw, self.result.overlay, layout)

    def snapshot(self) -> Path | None:
        view = self.composed_view()
        if view is None:
            self.show_status("nothing to save yet", error=True)
            return None
        path = self._output_path("snapshot", ".png")
        try:
            write_image(path, view)
        except CamviewError as exc:
            self.show_status(str(exc), error=True)
            return None
        self.show_status(f"saved {path}")
        return path

    def set_presentation(self, on: bool) -> None:
        if on == self.presenting:
            return
        self.presenting = on
        for widget in (self.menuBar(), self.toolbar, self.panel_scroll, self.statusBar()):
            widget.setVisible(not on)
        if on:
            self._was_maximized = self.isMaximized()
            self.showFullScreen()
        elif getattr(self, "_was_maximized", False):
            self.showMaximized()
        else:
            self.showNormal()
        act = self.actions_by_name["present"]
        if act.isChecked() != on:
            act.blockSignals(True)
            act.setChecked(on)
            act.blockSignals(False)
        self.pipeline.set_style(self.current_style())

    def set_readout(self, on: bool) -> None:
        self.readout.setVisible(on)
        self._tick()

    def _tick(self) -> None:
        if self.recorder is not None:
            s = int(self.recorder.elapsed)
            self.rec_label.setText(f"● REC {s // 60}:{s % 60:02d}")
        if self.readout.isHidden():
            return
        st = self.pipeline.stats()

        def ms(v: float | None) -> str:
            return "–" if v is None else f"{v:.0f}"

        frozen = "  FROZEN" if self.pipeline.frozen else ""
        self.readout.setText(
            f"capture {st.capture_fps:4.1f} fps · inference {st.inference_fps:4.1f} fps · "
            f"capture-to-display {ms(st.display_latency_p50_ms)} ms "
            f"(p95 {ms(st.display_latency_p95_ms)}) · dropped {st.dropped}{frozen}")

    # -- help
    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = []
        for act in self.actions_by_name.values():
            keys = " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                              for k in act.shortcuts())
            rows.append((act.text(), keys))
        return rows

    def show_shortcuts(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        text = QPlainTextEdit()
        text.setReadOnly(True)
        width = max(len(t) for t, _ in self.shortcut_rows())
        text.setPlainText("\n".join(f"{t.ljust(width)}   {k}" for t, k in self.shortcut_rows()))
        text.setStyleSheet("font-family: monospace;")
        QVBoxLayout(dialog).addWidget(text)
        dialog.resize(520, 560)
        dialog.show()

    # -- settings
    def save_settings(self) -> None:
        s, style, pipe = self.settings, self.current_style(), self.pipeline
        model = pipe.current_model
        if model is not None:
            s.setValue("model", model.name)
        s.setValue("method", pipe.method_name)
        for key in ("style", "threshold", "alpha", "colormap", "layout"):
            s.setValue(key, getattr(style, key))
        s.setValue("smoothing", pipe.smoothing)
        s.setValue("readout", not self.readout.isHidden())
        if not self.presenting:
            s.setValue("geometry", self.saveGeometry())
        s.sync()


def options_with_settings(options: Options, settings: QSettings) -> Options:
    """Saved settings fill in every option the command line did not give."""
    given = options.given
    style = options.style
    changes: dict = {}
    kinds = {"style": str, "threshold": float, "alpha": float, "colormap": str, "layout": str}
    for key, kind in kinds.items():
        value = settings.value(key)
        if value is not None and key not in given:
            try:
                changes[key] = kind(value)
            except (TypeError, ValueError):
                continue
    try:
        style = dataclasses.replace(style, **changes).validate()
    except ValueError:
        style = options.style
    out = dataclasses.replace(options, style=style)
    model, method = settings.value("model"), settings.value("method")
    if model and "model" not in given:
        out.model = str(model)
    if method and "method" not in given:
        with contextlib.suppress(CamviewError):
            out.method = method_class(str(method)).name
    smoothing = settings.value("smoothing")
    if smoothing is not None and "smoothing" not in given:
        with contextlib.suppress(TypeError, ValueError):
            out.smoothing = float(smoothing)
    readout = settings.value("readout")
    if readout is not None:
        out.readout = str(readout).lower() in ("true", "1")
    return out
