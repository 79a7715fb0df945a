"""Slow methods on the frozen frame, and the bar that shows any on-demand job's progress.

Score-CAM, occlusion and SmoothGrad take seconds a frame on a CPU, so the live loop never runs
them: choosing one freezes the frame and computes its map ONCE on camview.ondemand's
worker thread, with a progress bar and a Cancel button in the status bar. The live loop keeps
its fast method meanwhile; its results on the frozen frame (after a class, layer, model or step
change) only say WHAT to map, and the slow map is computed again when that changed; a style
change only redraws it. Cancel leaves the map shown before. The finished map is drawn through
camview.explain like any other and replaces the window's result, so snapshots and recordings
take it too. Unfreezing goes back to the live method.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from camview.explain import describe, draw
from camview.live import Result
from camview.maps import METHODS, MapResult, method_class
from camview.ondemand import Job, JobRunner, MapRequest
from camview.scale import MapScale

if TYPE_CHECKING:
    from camview.app.window import MainWindow

#: What each option of an on-demand method means, and its range (the default is the
#: method's own class constant of the same name in capitals, e.g. ScoreCAM.MAX_CHANNELS).
OPTION_WIDGETS: dict[str, tuple[str, float, float, str]] = {
    "max_channels": ("Channels", 0, 4096, "Score-CAM: the N channels of highest activation "
                     "variance mask the frame (0 = all channels: exact, much slower)"),
    "patch": ("Patch", 4, 512, "Occlusion: side of the grey square, in network-input pixels"),
    "stride": ("Stride", 1, 512, "Occlusion: step of the grey square, in network-input pixels"),
    "samples": ("Samples", 1, 256, "SmoothGrad: noisy copies averaged (one batched call)"),
    "sigma": ("Noise", 0.0, 1.0, "SmoothGrad: noise sigma, a fraction of the input's range"),
    "steps": ("Steps", 1, 1024, "Integrated Gradients: gradient steps along the path from the "
              "black baseline (batched; more steps, closer to completeness)"),
    "masks": ("Masks", 1, 20000, "RISE: random masks the frame is seen through (batched)"),
}


def is_on_demand(name: str) -> bool:
    """Whether method `name` is for the frozen frame only (too slow for live frames)."""
    return not method_class(name).live


class JobBar(QWidget):
    """What runs on demand, how far it is, and a Cancel button (in the status bar)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(True)
        self.cancel = QPushButton("Cancel")
        self.cancel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel)
        self.hide()

    def start(self, what: str) -> None:
        self.label.setText(what)
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.show()

    def progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.bar.setFormat(f"{done}/{total}")


class MethodOptions(QWidget):
    """Spin boxes for the options of the chosen on-demand method, in one row of the Network
    group (hidden for the live methods)."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.labels: dict[str, QLabel] = {}
        # Options with no widget here (Integrated Gradients' --baseline) keep their default.
        for name in dict.fromkeys(o for m in METHODS.values() if not m.live for o in m.options
                                  if o in OPTION_WIDGETS):
            text, low, high, tip = OPTION_WIDGETS[name]
            owner = next(m for m in METHODS.values() if name in m.options)
            default = getattr(owner, name.upper())
            box = QDoubleSpinBox() if isinstance(default, float) else QSpinBox()
            box.setRange(low, high)
            box.setValue(default)
            box.setToolTip(f"{tip} (default {default})")
            box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            box.editingFinished.connect(self.changed)
            self.boxes[name], self.labels[name] = box, QLabel(text)
            self.labels[name].setToolTip(box.toolTip())
            row.addWidget(self.labels[name])
            row.addWidget(box, 1)

    def show_for(self, name: str | None) -> None:
        """Show the options of method `name` (None or a live method: none)."""
        options = method_class(name).options if name and is_on_demand(name) else ()
        for option, box in self.boxes.items():
            box.setVisible(option in options)
            self.labels[option].setVisible(option in options)
        form = self.parentWidget().layout() if self.parentWidget() else None
        if isinstance(form, QFormLayout):
            form.setRowVisible(self, bool(options))

    def values(self, name: str) -> tuple[tuple[str, object], ...]:
        return tuple((o, self.boxes[o].value()) for o in method_class(name).options
                     if o in self.boxes)


class OnDemand(QObject):
    """The window's on-demand maps: which slow method is shown, its job, its bar."""

    progressed = pyqtSignal(object, int, int)  # job, done, total
    finished = pyqtSignal(object, object)  # job, result
    failed = pyqtSignal(object, str)  # job, message
    cancelled = pyqtSignal(object)  # job

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.runner = JobRunner()
        self.bar = JobBar()
        self.options = MethodOptions()
        self.method: str | None = None  # the on-demand method shown, None: live maps
        self._cancelled: tuple | None = None  # the key of a map the user cancelled
        self.base: Result | None = None  # the live result the map is for (frame, class)
        self.job: Job | None = None  # the newest job submitted (map or scores)
        self._request: MapRequest | None = None  # the request of the map job or map shown
        self._shown: tuple[MapRequest, MapResult] | None = None
        self._what: dict[Job, tuple[str, object]] = {}  # job -> (kind, its callback or request)
        window.statusBar().addPermanentWidget(self.bar)
        form = window.panel.network_form
        form.insertRow(form.getWidgetPosition(window.panel.method)[0] + 1, self.options)
        self.options.show_for(None)
        self.bar.cancel.clicked.connect(self.cancel)
        self.options.changed.connect(self.rerun)
        self.progressed.connect(self._on_progress)
        self.finished.connect(self._on_finished)
        self.failed.connect(self._on_failed)
        self.cancelled.connect(self._on_cancelled)

    # -- choosing
    def choose(self, name: str) -> bool:
        """Method `name` was picked: True when it is an on-demand one (handled here: the
        frame is frozen and its map computed); False for a live one (the caller switches the
        live loop; an on-demand map shown is left)."""
        if not is_on_demand(name):
            self.leave(None)
            return False
        self.method = method_class(name).name
        self._cancelled = None
        self.options.show_for(self.method)
        if self.w.result is not None:  # else the first result will be mapped
            self.take(self.w.result)
        return True

    def leave(self, why: str | None) -> None:
        """Back to live maps: cancel the map job, forget the slow map (`why`: say so)."""
        if self.method is None:
            return
        title = METHODS[self.method].title
        self.method, self._shown, self._request, self.base = None, None, None, None
        self.options.show_for(None)
        if self.job is not None and self._what.get(self.job, ("",))[0] == "map":
            self.runner.cancel()
        if why:
            live = METHODS[self.w.pipeline.method_name].title
            self.w.show_status(f"{title} {why}: live maps with {live} again", now=True)

    # -- the live loop's results while a slow method is shown
    def take(self, result: Result) -> bool:
        """A live result arrived: True when this shows the slow map instead (computed again
        if what it depends on changed, else only redrawn in the current style)."""
        if self.method is None:
            return False
        if not self.w.pipeline.frozen:
            self.w.freeze_for(f"{METHODS[self.method].title} is computed once on the frozen "
                              "frame (seconds, not live)")
        self.base = result
        request = self.request_for(result)
        if self._shown is not None and self._shown[0].key == request.key:
            self._show(*self._shown)  # only the style changed: redraw
        elif request.key == self._cancelled:
            pass  # cancelled by the user: not again until something changes
        elif self._request is None or self._request.key != request.key or not self.busy:
            self._submit_map(request)
        return True

    def request_for(self, result: Result) -> MapRequest:
        model = self.w.pipeline.current_model
        assert self.method is not None and model is not None
        return MapRequest(model, self.method, self.w.network.layer_for(model),
                          self.options.values(self.method), result.frame, result.target)

    def rerun(self) -> None:
        """An option or the layer changed: map the same frame again."""
        if self.method is not None and self.base is not None:
            self._shown, self._cancelled = None, None
            self.take(self.base)

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def cancel(self) -> None:
        """Stop the job running; the map shown before stays."""
        if self.runner.cancel():
            self.w.show_status("cancelled: the map shown before stays", now=True)

    def shutdown(self) -> None:
        self.runner.stop(1.0)

    # -- jobs
    def submit(self, kind: str, what: str, work, on_done) -> Job:
        """Run `work(progress, cancel)` on the worker (cancelling the job running), showing
        `what` in the bar; on_done(result) is called on the GUI thread if it finishes."""
        job = self.runner.submit(work, lambda r: self.finished.emit(job, r),
                                 on_progress=lambda d, t: self.progressed.emit(job, d, t),
                                 on_failed=lambda m: self.failed.emit(job, m),
                                 on_cancelled=lambda: self.cancelled.emit(job))
        self._what[job] = (kind, on_done)
        self.job = job
        self.bar.start(what)
        return job

    def _submit_map(self, request: MapRequest) -> None:
        self._request = request
        title = METHODS[request.method].title
        label = self.w.pipeline.current_model.short_label(request.target) \
            if request.target is not None else "the top-1 class"
        self.submit("map", f"{title} of {label}:", request.run,
                    lambda mapped: self._map_done(request, mapped))

    def _map_done(self, request: MapRequest, mapped: MapResult) -> None:
        if self.method != request.method or self._request is not request:
            return  # left or asked for another map meanwhile
        self._shown = (request, mapped)
        self._show(request, mapped)

    def _show(self, request: MapRequest, mapped: MapResult) -> None:
        """Draw the slow map on its frame as the live loop draws any map, and show it as the
        window's result (snapshots and recordings take it too)."""
        base = self.base
        if base is None:
            return
        style = dataclasses.replace(self.w.current_style(), layout="overlay")
        explained = describe(request.model, mapped, topk=style.topk,
                             pinned=request.target is not None)
        overlay = draw(request.frame.image, explained, style, scale=MapScale(style.scale))
        self.w.show_result(dataclasses.replace(
            base, explained=explained, overlay=overlay,
            method_name=METHODS[request.method].title))

    def _done_with(self, job: Job) -> tuple[str, object] | None:
        what = self._what.pop(job, None)
        if job is self.job:
            self.job = None
            self.bar.hide()
        return what

    def _on_progress(self, job: Job, done: int, total: int) -> None:
        if job is self.job:
            self.bar.progress(done, total)

    def _on_finished(self, job: Job, result: object) -> None:
        what = self._done_with(job)
        if what is not None:
            what[1](result)

    def _on_failed(self, job: Job, message: str) -> None:
        what = self._done_with(job)
        if what is not None and what[0] == "map":
            self._request = None
        self.w.show_status(message, error=True)

    def _on_cancelled(self, job: Job) -> None:
        newest = job is self.job  # else a newer job replaced it: nothing to undo
        what = self._done_with(job)
        if newest and what is not None and what[0] == "map" and self._request is not None:
            self._cancelled = self._request.key
            self._request = self._shown[0] if self._shown else None
