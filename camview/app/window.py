"""The main window: layout and wiring only.

It builds the session (camview.app.session: what the parts share, a signal per fact) and
hands each part the session and the widgets that part owns: the live controls
(live_controls), compare (compare_controls), slow maps on the frozen frame (frozen_frame),
scores, the sanity check (sanity_check), the layer and preprocessing pickers
(layer_preprocess_controls), the runtime (runtime_controls), layer outputs
(layer_outputs_dock), the Network dock (network_dock: summary, filters, what excites a
class), recording and snapshots
(recording_controls), sources (source_controls), settings (settings_menu), the dimmed
waiting still (stale_overlay) and the labelled set (labelled_set). Here are only the views,
the panel, the menus from the parts' actions, presentation mode, the readout and the
window's title and size.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from camview.app.actions import add_menus, shortcut_rows, show_shortcuts
from camview.app.compare_controls import CompareControls
from camview.app.control_panel import ControlPanel
from camview.app.frozen_frame import FrozenFrameMaps
from camview.app.job_bar import JobBar
from camview.app.labelled_set.controller import SetMode
from camview.app.layer_outputs_dock import LayerOutputsDock
from camview.app.layer_preprocess_controls import LayerPreprocessControls
from camview.app.live_controls import LiveControls
from camview.app.network_dock import NetworkDock
from camview.app.recording_controls import RecordingControls
from camview.app.runtime_controls import RuntimeControls
from camview.app.sanity_check import SanityCheck
from camview.app.saved_settings import Options, saved_changes, saved_geometry
from camview.app.scores import Scores
from camview.app.session import Session, is_on_demand
from camview.app.settings_menu import RESET_MENU, SettingsMenu
from camview.app.source_controls import SourceControls
from camview.app.stale_overlay import StaleOverlay
from camview.app.status_hold import NOTICE_HOLD_S
from camview.app.status_line import StatusMessage
from camview.app.view_area import ViewArea
from camview.models import CamModel
from camview.sources import DEMO_SPEC, Frame, Source

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The views, the side panel and the status bar around one Session and its parts."""

    #: The window is closing, before its threads are stopped (camview.app.main stops the
    #: model conversions then, so they end while the threads are given their second).
    closing = pyqtSignal()

    def __init__(self, options: Options | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        s = self.session = Session(options, settings, self)
        o = s.options
        self.setWindowTitle("camview — live class activation maps")
        self.setAcceptDrops(True)
        self._closed = False

        # -- views and panel
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

        # -- the parts
        self.controls = LiveControls(s, self.panel)
        self.sources = SourceControls(s, self)
        self.sets = SetMode(s)  # a labelled set's view, stacked over the live views
        self.compare = CompareControls(s, self.views.overlay)
        self.frozen = FrozenFrameMaps(s)
        self.network = LayerPreprocessControls(s, self.panel.network_form)
        self.runtime = RuntimeControls(s, self.panel.network_form)
        self.scores = Scores(s, self)
        self.sanity = SanityCheck(s, self)
        self.layers_dock = LayerOutputsDock(s, self)
        self.inside = NetworkDock(s, self)
        self.message = StatusMessage()
        self.rec_label = QLabel("")
        self.rec_label.setStyleSheet("color: #d00; font-weight: bold;")
        self.recording = RecordingControls(s, self.rec_label)
        self.prefs = SettingsMenu(s, self, lambda: None if s.presenting else self.saveGeometry())

        # -- layout
        self.stack = QStackedWidget()
        self.stack.addWidget(self.views)
        self.stack.addWidget(self.sets.view)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(self.stack, 1)
        row.addWidget(self.panel_scroll)
        self.setCentralWidget(central)
        layout = self.panel.layout()
        layout.insertWidget(layout.count() - 1, self.compare.box)
        self.panel.target.layout().addWidget(self.network.agnostic)
        form = self.panel.network_form
        form.insertRow(form.getWidgetPosition(self.panel.method)[0] + 1, self.frozen.options)
        self.frozen.options.show_for(None)
        self.job_bar = JobBar(s.jobs)
        self.job_bar.cancel.clicked.connect(s.cancel_job)
        self.statusBar().addWidget(self.message, 1)  # its "Open folder" button too
        self.statusBar().addPermanentWidget(self.job_bar)
        self.statusBar().addPermanentWidget(self.rec_label)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.layers_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inside)
        self.tabifyDockWidget(self.layers_dock, self.inside)  # one place for "inside"
        self._build_menus()

        # -- wiring
        s.statusShown.connect(self.message.show_message)
        s.statusCleared.connect(self.message.success)
        s.frameShown.connect(self._on_frame)
        s.resultShown.connect(self._on_result)
        self.stale = StaleOverlay(s, self.views)  # after _on_frame: a new photo waits dimmed
        s.sourceChanged.connect(self._on_source)
        s.noticeChanged.connect(lambda _: self._update_title())
        s.setShown.connect(self._on_set_shown)
        s.lookChanged.connect(self.apply_layout)
        s.presentingChanged.connect(self._on_presenting)
        s.readoutChanged.connect(self._on_readout)
        # A compare's grid is shaped for the view it is shown in: only its aspect goes down.
        self.views.shapeChanged.connect(
            lambda: s.pipeline.set_grid_aspect(self.views.grid_aspect()))

        if is_on_demand(o.method):
            s.set_method(o.method)  # mapped on the frozen frame
        self.controls.sync()
        self.readout.setVisible(o.readout)
        s.set_checked("readout", o.readout)
        self.apply_layout()
        changes = saved_changes(o)
        if changes:  # saved settings shape this run: say so once, and how to undo it
            s.show_status(f"using saved settings: {', '.join(changes)} — {RESET_MENU} "
                          "restores the defaults", error=True, colour="#b60",
                          hold=NOTICE_HOLD_S)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(500)
        geometry = saved_geometry(s.settings)
        self._fit_pending = geometry is None  # first run: fit the window to the frames
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1480, 640)

    def _build_menus(self) -> None:
        s = self.session
        a = s.make_action
        network, look = self.controls.make_actions()
        opening, set_acts = self.sets.make_actions()
        file_acts = [*self.sources.make_actions(), *opening]
        view_acts = [
            a("freeze", "Freeze", ["Space"], self.set_frozen, checkable=True,
              tip="Freeze the frame (a class or method change is mapped on it: compare them)"),
            a("step", "Step", ["Right", "."], s.step, tip="Step one frame"),
            *self.recording.make_actions(),
            a("present", "Presentation", ["F11"], s.set_presenting, checkable=True,
              tip="Full screen, controls hidden, large labels (Esc leaves)"),
            a("readout", "Readout", ["F"], s.set_readout, checkable=True,
              tip="Show capture/inference fps and latency"),
            *self.compare.make_actions(),
        ]
        a("leave", "Leave presentation", ["Esc"], lambda: s.set_presenting(False))
        quit_act = a("quit", "Quit", ["Ctrl+Q"], self.close)
        help_acts = [a("help", "Keyboard shortcuts", ["F1"], self.show_shortcuts),
                     self.prefs.about_action()]
        self.toolbar = add_menus(self, [
            ("&Source", [*file_acts, *set_acts, None, quit_act]),
            ("&View", [*view_acts, None, self.scores.action, self.sanity.action,
                       self.layers_dock.toggleViewAction()]),
            ("&Network", [*network, None, *self.inside.make_actions()]), ("&Overlay", look),
            ("S&ettings", self.prefs.make_actions()),  # Alt+S is Source
            ("&Help", help_acts),
        ], toolbar=[*file_acts, None, *view_acts, self.scores.action])
        self.controls.tooltips()
        self.compare.tooltips()
        self.addActions(list(s.actions.values()))  # they work with the menus hidden too

    # -- starting and stopping
    def start(self) -> None:
        """Start the pipeline on the options' source and model."""
        s, o = self.session, self.session.options
        s.set_model(o.model, **({} if isinstance(o.model, CamModel) else o.model_kwargs))
        if o.source is None:
            s.pipeline.set_source(0, fallback=DEMO_SPEC)
        else:
            s.pipeline.set_source(o.source)
        s.pipeline.start()
        self.compare.start(o.compare, o.compare_model, o.compare_kwargs)
        if o.labelled_set:
            self.sets.open(o.labelled_set)
        if o.ignored:
            s.show_status(f"saved settings not valid, defaults used instead: "
                          f"{', '.join(o.ignored)}", error=True)

    def closeEvent(self, event) -> None:
        self.hide()  # gone at once: stopping the threads may take a second or two
        self.closing.emit()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop recording and every thread (within about a second); save the settings."""
        if self._closed:
            return
        self._closed = True
        s = self.session
        self.timer.stop()
        self.recording.stop()
        self.sets.close()
        s.jobs.stop(1.0)
        self.layers_dock.shutdown()
        if not s.pipeline.stop(timeout=1.0):  # camview.app.leaving sees to it at exit
            log.debug("a pipeline thread is still busy (a model load?); leaving it")
        if s.options.save_settings:
            self.prefs.save()

    # -- what the session shows
    def _on_frame(self, frame: Frame) -> None:
        self.views.show_raw(frame.image)
        if self._fit_pending:
            self._fit_to(frame.image.shape[:2])

    def _on_result(self, result) -> None:
        self.views.show_overlay(result.overlay, grid=bool(result.panels))
        if self.raw_view.image is None:
            self.views.show_raw(result.frame.image)

    def _on_source(self, source: Source) -> None:
        self.raw_view.image = None
        self._update_title()

    def _update_title(self) -> None:
        s = self.session
        note = f" ({s.notice})" if s.notice else ""
        self.setWindowTitle(f"camview — {s.source_name}{note}")

    def _on_set_shown(self, title: str) -> None:
        """A labelled set over the live views (its title), or the live views back ("")."""
        self.stack.setCurrentWidget(self.sets.view if title else self.views)
        # The live frame's top classes and target would name the paused frame's classes.
        for widget in (self.panel.top, self.panel.target):
            widget.parentWidget().setVisible(not title)
        if not title:
            self._update_title()
            return
        if self._fit_pending:  # the first frame must not size the window for the live views
            self._fit_pending = False
            screen = self.screen().availableGeometry() if self.screen() else None
            if screen is not None and not self.isMaximized():
                self.resize(min(screen.width(), 1500), min(screen.height() - 40, 900))
        self.setWindowTitle(f"camview — {title}")

    def _fit_to(self, frame_hw: tuple[int, int]) -> None:
        """Size the window so the views show the frames without black bands (first run)."""
        self._fit_pending = False
        if self.session.presenting or self.isMaximized() or self.isFullScreen():
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

    def apply_layout(self) -> None:
        raw = self.session.raw.image if self.session.raw is not None else None
        self.views.set_layout(self.session.style.layout == "side-by-side", raw)

    # -- the window's own controls
    def set_frozen(self, frozen: bool) -> None:
        self.session.freeze(frozen, "frozen: a class, method or style change is mapped on "
                                    "this frame" if frozen else "live")

    def _on_presenting(self, on: bool) -> None:
        for widget in (self.menuBar(), self.toolbar, self.panel_scroll, self.statusBar()):
            widget.setVisible(not on)
        if on:
            self._was_maximized = self.isMaximized()
            self.showFullScreen()
        elif getattr(self, "_was_maximized", False):
            self.showMaximized()
        else:
            self.showNormal()

    def _on_readout(self, on: bool) -> None:
        self.readout.setVisible(on)
        self.views.shapeChanged.emit()
        self._tick()

    def status_text(self) -> str:
        return self.message.text()

    def _tick(self) -> None:
        self.recording.tick()
        if self.readout.isHidden():
            return
        st = self.session.pipeline.stats()

        def ms(v: float | None) -> str:
            return "–" if v is None else f"{v:.0f}"

        frozen = "  FROZEN" if self.session.frozen else ""
        # A ViT fed its frame's centre (--resize crop): the map covers only that part.
        model = self.session.model
        crop = " · centre crop" if model is not None and model.resize.value == "crop" else ""
        # A held frame (frozen, a still image) is mapped again only when something changes:
        # its rate says nothing then, so the readout says why it is idle.
        inference = ("inference idle (map up to date; redone on a change)" if st.map_up_to_date
                     else f"inference {st.inference_fps:4.1f} fps")
        self.readout.setText(
            f"capture {st.capture_fps:4.1f} fps · {inference} · "
            f"capture-to-display {ms(st.display_latency_p50_ms)} ms "
            f"(p95 {ms(st.display_latency_p95_ms)}) · dropped {st.dropped}"
            f"{' · ' + runtime if (runtime := self.runtime.readout()) else ''}{crop}{frozen}")

    # -- drops and help
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and not self.sets.open_if_set(urls[0].toLocalFile()):
            self.session.set_source(urls[0].toLocalFile())

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return shortcut_rows(self.session.actions)

    def show_shortcuts(self) -> QDialog:
        return show_shortcuts(self, self.shortcut_rows())
