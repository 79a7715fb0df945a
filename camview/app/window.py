"""The main window: the raw feed beside its class activation map, and the controls.

All work happens in camview.live's threads; this module only draws what the bridge
delivers and turns user actions into pipeline requests. The widgets are in widgets.py (the
compare view's in compare.py), the actions and shortcuts in actions.py, options and saved
settings in settings.py (the Settings menu and Help → About in preferences.py and about.py),
recordings and snapshots in view_output.py; the on-demand parts (slow methods on the frozen
frame, scores, the layer and preprocessing pickers, the layer outputs panel) in ondemand.py,
scores.py, network.py and layers_dock.py; the labelled-set view in set_mode.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QScrollArea,
    QWidget,
)

from camview.app.actions import (
    RESET_MENU,
    add_to_menu,
    build_actions,
    shortcut_rows,
    show_shortcuts,
)
from camview.app.bridge import Bridge
from camview.app.compare_controls import CompareControls
from camview.app.frozen_frame import OnDemand, is_on_demand
from camview.app.labelled_set.controller import SetMode
from camview.app.layer_outputs_dock import LayersDock
from camview.app.network import NetworkControls
from camview.app.recorder import Recorder
from camview.app.saved_settings import Options, open_settings, saved_changes, saved_geometry
from camview.app.scores import Scores
from camview.app.settings_menu import Preferences
from camview.app.view_output import ViewOutput
from camview.app.widgets import ERROR_HOLD_S, ControlPanel, StatusMessage, ViewArea
from camview.errors import CamviewError, for_window
from camview.images import IMAGE_SUFFIXES
from camview.live import ErrorKind, Pipeline, Result
from camview.models import DEFAULT_MODEL, USER_MODEL_SUFFIXES, CamModel
from camview.overlay import OverlayStyle
from camview.sources import DEMO_SPEC, VIDEO_EXTENSIONS, Frame, Source

log = logging.getLogger(__name__)

PRESENTATION_LABEL_SCALE = 1.8
NOTICE_HOLD_S = 12.0


def patterns(*suffixes: str) -> str:
    """File-dialog patterns for suffixes: ('.mp4', '.avi') -> '*.mp4 *.avi'."""
    return " ".join(f"*{s}" for s in suffixes)


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
        live = "cam" if is_on_demand(o.method) else o.method  # a slow one: on the frozen frame
        self.pipeline = Pipeline(**self.bridge.callbacks(), style=o.style, method=live,
                                 smoothing=o.smoothing, panel_only=True)
        self.output = ViewOutput(o.output_dir, self.bridge.recordFailed.emit)
        self.prefs = Preferences(self)  # Settings menu, Help → About, saving
        self.raw: Frame | None = None  # the raw frame shown
        self.result: Result | None = None  # the result shown
        self.presenting = False
        self._pending_target = o.target
        self._pending_record = o.record
        self._syncing = False
        self._fell_back = False
        self._labels_of: CamModel | None = None  # the model the class search lists
        self.notice = ""  # shown in the title while it holds (no camera: the demo)
        self.source_name = ""
        self._closed = False

        self.views = ViewArea()
        self.raw_view, self.overlay_view = self.views.raw, self.views.overlay
        self.readout = self.views.readout
        self.panel = ControlPanel(rows=o.style.topk or 3)
        self.panel_scroll = QScrollArea()
        self.panel_scroll.setWidget(self.panel)
        self.panel_scroll.setWidgetResizable(True)
        self.panel_scroll.setMinimumWidth(270)
        self.panel_scroll.setMaximumWidth(340)
        self.panel_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.sets = SetMode(self, self.views)  # a labelled set's view, stacked over the live
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(self.sets.stack, 1)
        row.addWidget(self.panel_scroll)
        self.setCentralWidget(central)
        self.compare = CompareControls(self)  # the compare view's box, actions and requests
        self.panel.layout().insertWidget(self.panel.layout().count() - 1, self.compare.box)
        self._build_status_bar()
        self.actions_by_name, self.toolbar = build_actions(self)
        self.ondemand = OnDemand(self)
        self.network = NetworkControls(self)
        self.scores = Scores(self, self.ondemand)
        self.layers_dock = LayersDock(self)
        add_to_menu(self, "&View", [self.scores.action, self.layers_dock.toggleViewAction()])
        self.toolbar.addAction(self.scores.action)
        if live != o.method:
            self.ondemand.choose(o.method)
        self._connect()
        self.sync_controls()
        self.readout.setVisible(o.readout)
        self.actions_by_name["readout"].setChecked(o.readout)
        self.apply_layout(o.style.layout)
        changes = saved_changes(o)
        if changes:  # saved settings shape this run: say so once, and how to undo it
            self.show_status(f"using saved settings: {', '.join(changes)} — {RESET_MENU} "
                             "restores the defaults", error=True, colour="#b60",
                             hold=NOTICE_HOLD_S)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(500)
        geometry = saved_geometry(self.settings)
        self._fit_pending = geometry is None  # first run: fit the window to the frames
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1480, 640)

    # -- building
    def _build_status_bar(self) -> None:
        self.message = StatusMessage()
        self.rec_label = QLabel("")
        self.rec_label.setStyleSheet("color: #d00; font-weight: bold;")
        self.statusBar().addWidget(self.message, 1)  # its "Open folder" button too
        self.statusBar().addPermanentWidget(self.rec_label)

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
        p.target.picked.connect(self.pin_target)
        p.target.failed.connect(lambda message: self.show_status(message, error=True))
        p.target.auto.clicked.connect(lambda: self.pin_target(None))
        p.model.activated.connect(self._on_model_combo)
        p.method.activated.connect(lambda _: self.set_method(p.method.currentData()))
        for combo in (p.style, p.colormap, p.layout_, p.scale):
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
            kwargs = {**self.network.model_kwargs(model), **o.model_kwargs}  # command line wins
            self.network.note_asked(model, kwargs)
            self.pipeline.set_model(model, **kwargs)
        if o.source is None:
            self.pipeline.set_source(0, fallback=DEMO_SPEC)
        else:
            self.pipeline.set_source(o.source)
        self.pipeline.start()
        self.compare.start(o.compare)
        if o.labelled_set:
            self.sets.open(o.labelled_set)

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
        self.sets.close()
        self.ondemand.shutdown()
        self.layers_dock.shutdown()
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
        self.views.show_raw(frame.image)
        if self._fit_pending:
            self._fit_to(frame.image.shape[:2])
        if self.recorder is not None:
            self.recorder.add_frame(frame.image)

    def _on_result(self) -> None:
        result = self.bridge.take_result()
        if result is None or result.generation < self.pipeline.generation:
            return  # from an earlier model/method/target/source
        if not self.ondemand.take(result):  # a slow method's map is shown instead
            self.pipeline.note_displayed(result)
            self.show_result(result)

    def show_result(self, result: Result) -> None:
        """Show an explained frame: its overlay, its top classes (and record it)."""
        self.result = result
        self.message.success()  # a map came: an earlier error (its hold over) gives way
        self.views.show_overlay(result.overlay)  # a compare's grid too
        self.compare.show_result(result)
        if self.recorder is not None:
            self.recorder.set_overlay(result.overlay)
        mapped = result.map.target if result.map is not None else None
        self.panel.top.show_top([(i, label, prob) for (i, prob), (label, _) in
                                 zip(result.top_classes, result.top, strict=False)], mapped)
        if result.target is None:
            self.panel.target.show_target(f"Auto (top-1): {result.map_label}")
        if self.raw is None or self.raw_view.image is None:
            self.raw = result.frame
            self.views.show_raw(result.frame.image)

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
            self.start_recording(path, asked_now=False)  # --record: not over a notice

    def _update_title(self) -> None:
        note = f" ({self.notice})" if self.notice else ""
        self.setWindowTitle(f"camview — {self.source_name}{note}")

    def _on_config(self) -> None:
        model = self.pipeline.current_model
        self.network.on_config()
        self.layers_dock.on_config()
        if model is not None and model is not self._labels_of:
            self._labels_of = model
            self.panel.target.set_labels(model.labels, model.find_class)
        if model is not None and self._pending_target is not None:
            wanted, self._pending_target = self._pending_target, None
            try:
                self.pin_target(model.find_class(wanted))
            except CamviewError as exc:
                self.show_status(for_window(exc), error=True)
        self.sync_controls()

    def _on_record_failed(self, message: str) -> None:
        self.stop_recording(message)

    # -- status bar
    def show_status(self, message: str, error: bool = False, colour: str = "#d00",
                    hold: float = ERROR_HOLD_S, folder: Path | None = None,
                    now: bool = False) -> None:
        """A message in the status bar; an error is not hidden by plain messages for `hold` s
        unless `now` (the answer to a user's action); `folder`: offer to open it."""
        self.message.show_message(message, error, colour, hold, folder, now)

    def status_text(self) -> str:
        return self.message.text()

    # -- sources
    def set_source(self, spec: str | int | Source) -> None:
        self.sets.leave()  # a new live source is to be seen
        self.notice = ""
        self.pipeline.set_source(spec)

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video or an image", self.settings.value("last_dir", ""),
            f"Videos and images ({patterns(*VIDEO_EXTENSIONS, *IMAGE_SUFFIXES)});;"
            "All files (*)")
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
        if urls and not self.sets.open_if_set(urls[0].toLocalFile()):
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
                                              f"Keras models ({patterns(*USER_MODEL_SUFFIXES)})")
        if path:
            self.set_model(path)
        else:
            self.sync_controls()

    def set_model(self, name: str) -> None:
        self.pipeline.set_model(name, **self.network.model_kwargs(name))
        self.show_status(f"loading {Path(name).name}… (the current model keeps running)")

    def set_method(self, name: str) -> None:
        try:
            if self.ondemand.choose(name):  # a slow method: mapped once on the frozen frame
                self.network.update_note()
                return
            model = self.pipeline.current_model
            chosen = self.network.layer_for(model) if model is not None else None
            self.pipeline.set_method(name, chosen if chosen != self.pipeline.layer else None)
        except CamviewError as exc:
            self.show_status(for_window(exc), error=True)

    def pin_row(self, row: int) -> None:
        index = self.panel.top.class_at(row)
        if index is not None:
            self.pin_target(index)

    def pin_target(self, index: int | None) -> None:
        try:
            self.pipeline.set_target(index)
        except CamviewError as exc:
            self.show_status(for_window(exc), error=True)
            return
        model = self.pipeline.current_model
        if index is None:
            self.panel.target.show_target("Auto (top-1)")
        elif model is not None:
            self.panel.target.show_target(f"Pinned: {model.short_label(index)} (#{index})")
        self.network.update_note()

    def focus_search(self) -> None:
        self.panel.target.search.setFocus()
        self.panel.target.search.selectAll()

    # -- overlay controls
    def current_style(self) -> OverlayStyle:
        scale = PRESENTATION_LABEL_SCALE if self.presenting else self.options.style.label_scale
        return self.panel.chosen_style(self.pipeline.style.topk, scale)

    def _on_style_control(self, *_args) -> None:
        if self._syncing:
            return
        style = self.current_style()
        self.pipeline.set_style(style)
        self.apply_layout(style.layout)
        self.panel.show_values()

    def _on_smoothing(self, value: int) -> None:
        if not self._syncing:
            self.pipeline.set_smoothing(value / 100)
        self.panel.show_values()

    def apply_layout(self, layout: str) -> None:
        raw = self.raw.image if self.raw is not None else None
        self.views.set_layout(layout == "side-by-side", raw)

    def sync_controls(self) -> None:
        """Show the pipeline's actual state (after a failed switch too)."""
        pipe = self.pipeline
        model = pipe.current_model if pipe.current_model is not None else self.options.model
        self._syncing = True
        try:
            self.panel.show_state(model.name if isinstance(model, CamModel) else str(model),
                                  self.ondemand.method or pipe.method_name, pipe.style,
                                  pipe.smoothing)
        finally:
            self._syncing = False

    def popup(self, combo: QComboBox) -> None:
        if not self.presenting:
            combo.showPopup()

    # -- freeze, record, snapshot, presentation, readout
    def set_frozen(self, frozen: bool) -> None:
        self.pipeline.freeze(frozen)
        self.show_status("frozen: a class, method or style change is mapped on this frame"
                         if frozen else "live", now=True)
        if not frozen and self.ondemand.method is not None:
            self.ondemand.leave("is for the frozen frame")
            self.sync_controls()

    def freeze_for(self, why: str) -> None:
        """Freeze the frame for something computed on it once (a slow map, scores)."""
        self.pipeline.freeze(True)
        self._set_checked("freeze", True)
        self.show_status(f"frozen: {why}", now=True)

    def step(self) -> None:
        self._set_checked("freeze", True)
        self.pipeline.step()

    @property
    def recorder(self) -> Recorder | None:
        """The recording in progress."""
        return self.output.recorder

    def toggle_record(self, on: bool) -> None:
        if on and self.recorder is None:
            self.start_recording(None)
        elif not on and self.recorder is not None:
            self.stop_recording()

    def start_recording(self, path: str | Path | None, asked_now: bool = True) -> None:
        if self.recorder is not None:
            return
        raw = self.raw.image if self.raw is not None else None
        overlay = self.result.overlay if self.result is not None else None
        try:
            rec = self.output.start_recording(path, self.pipeline.source_fps,
                                              self.current_style().layout, raw, overlay)
        except CamviewError as exc:
            self.show_status(for_window(exc), error=True)
            self._set_checked("record", False)
            return
        self._set_checked("record", True)
        self.show_status(f"recording ({rec.layout}) to {rec.path}", now=asked_now)
        self._tick()

    def stop_recording(self, why: str | None = None) -> None:
        rec = self.output.stop_recording()
        self._set_checked("record", False)
        self.rec_label.setText("")
        if rec is not None:
            saved = f"saved {rec.path} ({rec.frames} frames)"
            self.show_status(f"recording stopped ({why}); {saved}" if why else saved,
                             error=bool(why), folder=rec.path.parent, now=True)

    def _set_checked(self, name: str, on: bool) -> None:
        """Show an action's state without running its slot again."""
        act = self.actions_by_name.get(name)
        if act is not None and act.isChecked() != on:
            act.blockSignals(True)
            act.setChecked(on)
            act.blockSignals(False)

    def snapshot(self) -> Path | None:
        """Save the view as shown (raw | overlay, or the overlay alone) as a PNG."""
        result = self.result
        raw = self.raw if self.raw is not None else (result.frame if result is not None else None)
        if raw is None:
            self.show_status("nothing to save yet", error=True)
            return None
        overlay = result.overlay if result is not None else None
        try:
            path = self.output.snapshot(raw.image, overlay, self.current_style().layout)
        except CamviewError as exc:
            self.show_status(for_window(exc), error=True)
            return None
        self.show_status(f"saved {path}", folder=path.parent, now=True)
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
        self._set_checked("present", on)
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
        # A held frame (frozen, a still image) is mapped again only when something changes:
        # its rate says nothing then, so the readout says why it is idle.
        inference = ("inference idle (map up to date; redone on a change)" if st.map_up_to_date
                     else f"inference {st.inference_fps:4.1f} fps")
        self.readout.setText(
            f"capture {st.capture_fps:4.1f} fps · {inference} · "
            f"capture-to-display {ms(st.display_latency_p50_ms)} ms "
            f"(p95 {ms(st.display_latency_p95_ms)}) · dropped {st.dropped}{frozen}")

    # -- help, settings
    def shortcut_rows(self) -> list[tuple[str, str]]:
        return shortcut_rows(self.actions_by_name)

    def show_shortcuts(self) -> QDialog:
        return show_shortcuts(self, self.shortcut_rows())

    def save_settings(self) -> None:
        self.prefs.save()
