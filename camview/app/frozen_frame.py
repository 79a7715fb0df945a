"""Slow methods on the frozen frame: which one is shown, its map job and its options.

Score-CAM, occlusion and SmoothGrad take seconds a frame on a CPU, so the live loop never runs
them: choosing one freezes the frame and computes its map ONCE on camview.live.ondemand's worker
thread (the session's jobs: a progress bar and a Cancel button in the status bar). The live
loop keeps its fast method meanwhile; its results on the frozen frame (after a class, layer,
model or step change) only say WHAT to map, and the slow map is computed again when that
changed; a style change only redraws it. Cancel leaves the map shown before. The finished map
is drawn through camview.drawing.explain like any other and replaces the session's result, so
snapshots and recordings take it too. Unfreezing goes back to the live method.
"""

from __future__ import annotations

import dataclasses

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from camview.app.session import Session, is_on_demand
from camview.drawing.explain import describe, draw
from camview.drawing.scale import MapScale
from camview.live import Result
from camview.live.ondemand import Job, MapRequest
from camview.maps import (
    METHODS,
    MapResult,
    MethodOption,
    method_class,
    method_options,
    option_takers,
)


def option_widget(option: MethodOption) -> QSpinBox | QDoubleSpinBox | QComboBox:
    """The widget for one declared method option at its default: a list for its choices, else
    a spin box over its range; its tip says what it does for which methods."""
    if option.choices is not None:
        box = QComboBox()
        for choice in option.choices:
            box.addItem(choice, choice)
        box.setCurrentIndex(box.findData(option.default))
    else:
        box = QDoubleSpinBox() if option.type is float else QSpinBox()
        box.setRange(option.type(option.low), option.type(option.high))
        box.setValue(option.default)
    takers = ", ".join(m.title for m in option_takers(option.name))
    box.setToolTip(f"{takers}: {option.help} (default {option.default})")
    box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    return box


class MethodOptions(QWidget):
    """A widget per option of the on-demand methods (their declarations), in one row of the
    Network group: the chosen method's are shown (none for the live methods)."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QSpinBox | QDoubleSpinBox | QComboBox] = {}
        self.labels: dict[str, QLabel] = {}
        for option in method_options(m for m in METHODS.values() if not m.live):
            box = option_widget(option)
            if isinstance(box, QComboBox):
                box.activated.connect(self.changed)
            else:
                box.editingFinished.connect(self.changed)
            label = QLabel(option.title)
            label.setToolTip(box.toolTip())
            self.boxes[option.name], self.labels[option.name] = box, label
            row.addWidget(label)
            row.addWidget(box, 1)

    def show_for(self, name: str | None) -> None:
        """Show the options of method `name` (None or a live method: none)."""
        options = ({o.name for o in method_class(name).options} if name and is_on_demand(name)
                   else set())
        for option, box in self.boxes.items():
            box.setVisible(option in options)
            self.labels[option].setVisible(option in options)
        form = self.parentWidget().layout() if self.parentWidget() else None
        if isinstance(form, QFormLayout):
            form.setRowVisible(self, bool(options))

    def values(self, name: str) -> tuple[tuple[str, object], ...]:
        boxes = [(o.name, self.boxes[o.name]) for o in method_class(name).options
                 if o.name in self.boxes]
        return tuple((o, box.currentData() if isinstance(box, QComboBox) else box.value())
                     for o, box in boxes)


class FrozenFrameMaps(QObject):
    """Which slow method is shown on the frozen frame, its map job and its options."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.s = session
        self.options = MethodOptions()  # the window puts it under the method
        self.options.show_for(None)
        self._cancelled: tuple | None = None  # the key of a map the user cancelled
        self.base: Result | None = None  # the live result the map is for (frame, class)
        self._request: MapRequest | None = None  # the request of the map job or map shown
        self._shown: tuple[MapRequest, MapResult] | None = None
        self._job: Job | None = None  # the map job running
        self.options.changed.connect(self.rerun)
        session.methodShown.connect(self._on_method)
        session.heldResult.connect(self.take)
        session.layerChosen.connect(lambda _: self.rerun())
        session.frozenChanged.connect(self._on_frozen)
        session.lookChanged.connect(self._redraw)

    @property
    def method(self) -> str | None:
        return self.s.on_demand

    # -- choosing
    def _on_method(self, name: str) -> None:
        """An on-demand method is shown: freeze and map the frame; a live one: forget ours."""
        if not is_on_demand(name):
            self.leave()
            return
        self._cancelled = None
        self._shown = None
        self.options.show_for(name)
        if self.s.result is not None:  # else the first result will be mapped
            self.take(self.s.result)

    def leave(self) -> None:
        """Back to live maps: cancel the map job, forget the slow map."""
        self._shown, self._request, self.base = None, None, None
        self.options.show_for(None)
        if self._job is not None and self._job is self.s.jobs.job:
            self.s.jobs.cancel()
        self._job = None

    def _on_frozen(self, frozen: bool) -> None:
        """Unfrozen while a slow method is shown: back to the live method, and say so."""
        if not frozen and self.method is not None:
            title = METHODS[self.method].title
            self.s.leave_on_demand()
            live = METHODS[self.s.pipeline.method_name].title
            self.s.show_status(f"{title} is for the frozen frame: live maps with {live} again",
                               now=True)

    # -- the live loop's results while a slow method is shown
    def take(self, result: Result) -> None:
        """A live result arrived while a slow method is shown: map it if what the map
        depends on changed, else only redraw the map in the current style."""
        if self.method is None:
            return
        self.s.freeze_for(f"{METHODS[self.method].title} is computed once on the frozen frame "
                          "(seconds, not live)")
        self.base = result
        request = self.request_for(result)
        if self._shown is not None and self._shown[0].key == request.key:
            self._show(*self._shown)  # only the style changed: redraw
        elif request.key == self._cancelled:
            pass  # cancelled by the user: not again until something changes
        elif self._request is None or self._request.key != request.key or not self.busy:
            self._submit_map(request)

    def request_for(self, result: Result) -> MapRequest:
        model = self.s.model
        assert self.method is not None and model is not None
        return MapRequest(model, self.method, self.s.chosen_layer,
                          self.options.values(self.method), result.frame, result.target)

    def rerun(self) -> None:
        """An option or the layer changed: map the same frame again."""
        if self.method is not None and self.base is not None:
            self._shown, self._cancelled = None, None
            self.take(self.base)

    def _redraw(self) -> None:
        if self.method is not None and self._shown is not None:
            self._show(*self._shown)

    @property
    def busy(self) -> bool:
        return self.s.jobs.busy

    # -- the map job
    def _submit_map(self, request: MapRequest) -> None:
        self._request = request
        title = METHODS[request.method].title
        label = self.s.model.short_label(request.target) \
            if request.target is not None else "the top-1 class"
        self._job = self.s.jobs.submit(
            f"{title} of {label}:", request.run, lambda mapped: self._map_done(request, mapped),
            on_failed=lambda _: self._map_failed(request),
            on_cancelled=lambda newest: self._map_cancelled(request, newest))

    def _map_done(self, request: MapRequest, mapped: MapResult) -> None:
        if self.method != request.method or self._request is not request:
            return  # left or asked for another map meanwhile
        self._shown = (request, mapped)
        self._show(request, mapped)

    def _map_failed(self, request: MapRequest) -> None:
        if self._request is request:
            self._request = None

    def _map_cancelled(self, request: MapRequest, newest: bool) -> None:
        if newest and self._request is request:  # else a newer job replaced it
            self._cancelled = request.key
            self._request = self._shown[0] if self._shown else None

    def _show(self, request: MapRequest, mapped: MapResult) -> None:
        """Draw the slow map on its frame as the live loop draws any map, and show it as the
        window's result (snapshots and recordings take it too)."""
        base = self.base
        if base is None:
            return
        style = dataclasses.replace(self.s.current_style(), layout="overlay")
        explained = describe(request.model, mapped, topk=style.topk,
                             pinned=request.target is not None,
                             frame_hw=request.frame.image.shape[:2])
        overlay = draw(request.frame.image, explained, style, scale=MapScale(style.scale))
        self.s.show_result(dataclasses.replace(
            base, explained=explained, overlay=overlay,
            method_name=METHODS[request.method].title))
