"""The window's session: what its parts share, with one signal per fact.

A QObject without widgets (napari's evented model is the pattern: a part gets the session, not
its parent). Each part of the window — live controls, compare, frozen-frame maps, scores, the
network controls, layer outputs, recording, settings, the labelled set — takes the session
and the widgets it owns, contributes its actions through `make_action`, reads the facts here
and listens to the signals it needs; none knows the MainWindow or another part.

Facts and their signals:

- the model installed (`model`; `modelChanged(model)`, once per new model),
- the method shown, live or on demand (`method_shown`; `methodShown(name)`),
- the layer chosen for the model (`chosen_layer`; `layerChosen(layer)`), the class pinned
  (`pipeline.target`; `targetChanged(index)`),
- the frame and the result shown (`raw`, `result`; `frameShown(frame)`,
  `resultShown(result)`; a live result held for an on-demand map: `heldResult(result)`),
- frozen, presenting, readout (`frozenChanged`, `presentingChanged`, `readoutChanged`),
- the overlay's look (`style`, `smoothing`; `lookChanged()`),
- the source (`sourceChanged(source)`, `sourceFailed(message)`), a notice (`noticeChanged`),
- a labelled set shown over the live views (`setShown(title or "")`),
- any model/method/compare request done (`configChanged()`: controls show the real state),
  or failed (`loadFailed(kind)`, after its line in the status bar).

Services every part calls: `show_status`, `set_checked`, `make_action`, `freeze`, `jobs`
(the one on-demand job runner, camview.app.jobs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence

from camview.app.bridge import Bridge
from camview.app.jobs import Jobs
from camview.app.saved_settings import (
    Options,
    file_key,
    is_model_file,
    open_settings,
    remembered_preprocess,
)
from camview.app.signal_blocking import signals_blocked
from camview.app.status_hold import ERROR_HOLD_S, NOTICE_HOLD_S
from camview.app.view_output import ViewOutput
from camview.drawing.overlay import OverlayStyle
from camview.errors import CamviewError, for_window
from camview.live import PRESETS, CompareSpec, ErrorKind, Pipeline, Result
from camview.maps import method_class
from camview.models import DEFAULT_MODEL, CamModel
from camview.models.preprocess import AUTO
from camview.sources import Frame, Source

PRESENTATION_LABEL_SCALE = 1.8


def keys_text(keys: list[QKeySequence]) -> str:
    """Shortcuts as the platform writes them ('Ctrl+O / Ctrl+Shift+O')."""
    return " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)


def is_on_demand(name: str) -> bool:
    """Whether method `name` is for the frozen frame only (too slow for live frames)."""
    return not method_class(name).live


class Session(QObject):
    """Options, settings, the pipeline and what is shown; see the module's docstring."""

    modelChanged = pyqtSignal(object)  # CamModel
    methodShown = pyqtSignal(str)
    layerChosen = pyqtSignal(object)  # str | None
    targetChanged = pyqtSignal(object)  # int | None: the class pinned, None: each top-1
    frameShown = pyqtSignal(object)  # Frame
    resultShown = pyqtSignal(object)  # Result
    heldResult = pyqtSignal(object)  # Result: a live result while an on-demand method is shown
    frozenChanged = pyqtSignal(bool)
    presentingChanged = pyqtSignal(bool)
    readoutChanged = pyqtSignal(bool)
    lookChanged = pyqtSignal()
    sourceChanged = pyqtSignal(object)  # Source
    sourceFailed = pyqtSignal(str)
    noticeChanged = pyqtSignal(str)
    setShown = pyqtSignal(str)  # the set's title, "" when the live views are back
    configChanged = pyqtSignal()
    statusShown = pyqtSignal(str, bool, str, float, object, bool)  # see show_status
    statusCleared = pyqtSignal()  # things work again: an old error may give way
    loadFailed = pyqtSignal(object)  # ErrorKind: a model, method or compare request failed

    def __init__(self, options: Options | None = None, settings: QSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.options = options or Options()
        self.settings = settings or open_settings()
        # No Qt parent for the two objects worker threads call into: a thread still busy when
        # the window is deleted (a model load, a slow map) must find them alive, not freed.
        self.bridge = Bridge()
        o = self.options
        live = "cam" if is_on_demand(o.method) else o.method  # a slow one: on the frozen frame
        # The compare G turns on first is traced after each model load: it shows at once.
        self.pipeline = Pipeline(**self.bridge.callbacks(), style=o.style, method=live,
                                 smoothing=o.smoothing, panel_only=True,
                                 compare_ahead=CompareSpec.of(PRESETS[0]))
        self.output = ViewOutput(o.output_dir, self.bridge.recordFailed.emit)
        self.jobs = Jobs()
        self.jobs.failed.connect(lambda message: self.show_status(message, error=True))
        self.actions: dict[str, QAction] = {}
        self.raw: Frame | None = None  # the raw frame shown
        self.result: Result | None = None  # the result shown
        self.presenting = False
        self.readout = o.readout
        self.on_demand: str | None = None  # the on-demand method shown, None: live maps
        self.chosen_layer: str | None = None  # the Network group's layer for `model`
        self.runtime = self.options.runtime  # the runtime asked for (the Runtime picker's)
        self.notice = ""  # no camera: the demo (shown in the title while it holds)
        self.source_name = ""
        self._model: CamModel | None = None
        self._method = self.pipeline.method_name
        self._pending_target = o.target
        self._fell_back = False
        self._asked: dict[str, str] = {}  # model file -> the preprocessing asked for
        b = self.bridge
        b.frameReady.connect(self._on_frame)
        b.resultReady.connect(self._on_result)
        b.status.connect(self.show_status)
        b.error.connect(self._on_error)
        b.configChanged.connect(self._on_config)
        b.sourceChanged.connect(self._on_source)

    # -- facts
    @property
    def model(self) -> CamModel | None:
        return self.pipeline.current_model

    @property
    def method_shown(self) -> str:
        """The method whose map is shown: the on-demand one, else the live loop's."""
        return self.on_demand or self.pipeline.method_name

    @property
    def frozen(self) -> bool:
        return self.pipeline.frozen

    @property
    def style(self) -> OverlayStyle:
        return self.pipeline.style

    @property
    def label_scale(self) -> float:
        return PRESENTATION_LABEL_SCALE if self.presenting else self.options.style.label_scale

    # -- services
    def show_status(self, message: str, error: bool = False, colour: str = "#d00",
                    hold: float = ERROR_HOLD_S, folder: Path | None = None,
                    now: bool = False) -> None:
        """A message in the status line; an error is not hidden by plain messages for `hold`
        s unless `now` (the answer to a user's action); `folder`: offer to open it."""
        self.statusShown.emit(message, error, colour, hold, folder, now)

    def show_error(self, exc: CamviewError) -> None:
        self.show_status(for_window(exc), error=True)

    def make_action(self, name: str, text: str, keys: list[str], slot: Callable, *,
                    checkable: bool = False, tip: str = "") -> QAction:
        """An action kept by name: its tooltip names its keys; the window adds it to itself
        (so it works with menus hidden) and to its menus."""
        act = QAction(text, self)
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setCheckable(checkable)
        act.setToolTip(f"{tip or text} ({keys_text(act.shortcuts())})" if keys else (tip or text))
        act.setStatusTip("")
        (act.toggled if checkable else act.triggered).connect(slot)
        self.actions[name] = act
        return act

    def keys(self, *names: str) -> str:
        """The shortcuts of the named actions, for a widget's tooltip."""
        return " / ".join(keys_text(self.actions[n].shortcuts()) for n in names)

    def set_checked(self, name: str, on: bool) -> None:
        """Show an action's state without running its slot again."""
        act = self.actions.get(name)
        if act is not None and act.isChecked() != on:
            with signals_blocked(act):
                act.setChecked(on)

    # -- requests every part may make
    def set_source(self, spec: str | int | Source) -> None:
        self.notice = ""
        self.setShown.emit("")  # a new live source is to be seen: a set gives way
        self.pipeline.set_source(spec)

    def set_model(self, name: str | CamModel, **kwargs) -> None:
        """Load model `name` in the background (the current one keeps serving); a model file
        is fed the way it was last chosen for it, unless `kwargs` say otherwise."""
        if isinstance(name, CamModel):
            self.pipeline.set_model(name)
            return
        if is_model_file(name):
            remembered = remembered_preprocess(self.settings, name) or AUTO
            kwargs = {"preprocess": remembered, **kwargs}
            self._asked[file_key(name)] = kwargs.get("preprocess") or AUTO
        self.pipeline.set_model(name, **kwargs)

    def asked_preprocess(self, name: str) -> str:
        """The preprocessing model file `name` was asked to load with (auto if none)."""
        return self._asked.get(file_key(name), AUTO)

    def set_method(self, name: str) -> None:
        """Show method `name`: an on-demand one is mapped on the frozen frame (by the
        frozen-frame part, on methodShown), a live one switches the live loop at the chosen
        layer. An unknown or unusable method says why and changes nothing."""
        try:
            cls = method_class(name)
            if not cls.live:
                self.on_demand = cls.name
                self.methodShown.emit(cls.name)
                return
            left = self.on_demand is not None
            self.on_demand = None
            layer = self.chosen_layer
            self.pipeline.set_method(name, layer if layer != self.pipeline.layer else None)
        except CamviewError as exc:
            self.show_error(exc)
            return
        if left:  # back to the live method already running: say so now
            self.methodShown.emit(self.pipeline.method_name)

    def leave_on_demand(self) -> None:
        """Back from an on-demand method to the live loop's (still running underneath)."""
        if self.on_demand is not None:
            self.on_demand = None
            self.methodShown.emit(self.pipeline.method_name)

    def choose_layer(self, layer: str | None) -> None:
        """The Network group's layer changed: live maps are read there (on the loader thread),
        an on-demand map is computed there again (layerChosen)."""
        self.chosen_layer = layer
        if self.on_demand is None and layer is not None:
            self.pipeline.set_layer(layer)
            self.show_status(f"reading maps from {layer}…", now=True)
        self.layerChosen.emit(layer)

    def set_target(self, index: int | None) -> None:
        """Map class `index` (None: each frame's top-1); an index out of range says why."""
        try:
            self.pipeline.set_target(index)
        except CamviewError as exc:
            self.show_error(exc)
            return
        self.targetChanged.emit(index)

    def shown_map_for(self, verb: str) -> Result | None:
        """The result shown, if it is a map of the model loaded that no job is busy with; else
        None, having said why ("nothing to {verb} yet", "... then {verb}")."""
        result, model = self.result, self.model
        if result is None or model is None or result.model_name != model.name:
            self.show_status(f"nothing to {verb} yet: wait for a map", error=True)
            return None
        if self.jobs.busy:
            self.show_status(f"a map is being computed: wait for it (or cancel it), then {verb}",
                             error=True)
            return None
        return result

    def cancel_job(self) -> None:
        """Stop the on-demand job running; what was shown before stays."""
        if self.jobs.cancel():
            self.show_status("cancelled: the map shown before stays", now=True)

    def set_style(self, style: OverlayStyle) -> None:
        self.pipeline.set_style(style)
        self.lookChanged.emit()

    def set_smoothing(self, amount: float) -> None:
        self.pipeline.set_smoothing(amount)
        self.lookChanged.emit()

    def freeze(self, frozen: bool, why: str | None = None) -> None:
        """Freeze or unfreeze the source; `why`: say so in the status line."""
        self.pipeline.freeze(frozen)
        self.set_checked("freeze", frozen)
        if why is not None:
            self.show_status(why, now=True)
        self.frozenChanged.emit(frozen)

    def freeze_for(self, why: str) -> None:
        """Freeze the frame for something computed on it once (a slow map, scores); a frame
        frozen already stays so, with the status it has."""
        if not self.frozen:
            self.freeze(True, f"frozen: {why}")

    def step(self) -> None:
        self.set_checked("freeze", True)
        self.pipeline.step()

    def set_presenting(self, on: bool) -> None:
        if on != self.presenting:
            self.presenting = on
            self.set_checked("present", on)
            self.set_style(self.current_style())
            self.presentingChanged.emit(on)

    def set_readout(self, on: bool) -> None:
        self.readout = on
        self.set_checked("readout", on)
        self.readoutChanged.emit(on)

    def current_style(self) -> OverlayStyle:
        """The pipeline's style with the label size of the presenting state."""
        return dataclasses.replace(self.pipeline.style, label_scale=self.label_scale)

    def show_result(self, result: Result) -> None:
        """Show an explained frame (a live one, or an on-demand map drawn on its frame)."""
        self.result = result
        self.statusCleared.emit()  # a map came: an earlier error (its hold over) gives way
        if self.raw is None:
            self.raw = result.frame
        self.resultShown.emit(result)

    # -- the pipeline's events (GUI thread)
    def _on_frame(self) -> None:
        frame = self.bridge.take_frame()
        if frame is not None:
            self.raw = frame
            self.frameShown.emit(frame)

    def _on_result(self) -> None:
        result = self.bridge.take_result()
        if result is None or result.generation < self.pipeline.generation:
            return  # from an earlier model/method/target/source
        if self.on_demand is not None:
            self.heldResult.emit(result)  # it says what to map; the slow map is shown
            return
        self.pipeline.note_displayed(result)
        self.show_result(result)

    def _on_error(self, message: str, kind: ErrorKind) -> None:
        if kind == ErrorKind.NOTICE:  # e.g. no camera: showing the demo
            self.notice = message
            self.show_status(message, error=True, colour="#b60", hold=NOTICE_HOLD_S)
            self.noticeChanged.emit(message)
            return
        fall_back = kind == ErrorKind.MODEL and self.model is None and not self._fell_back
        if kind == ErrorKind.MODEL and self.model is not None:
            # The model serving stays: say which, or the user explores the wrong network.
            message = f"kept {self.model.name}: {message}"
        elif fall_back:
            message = f"{message}; starting with {DEFAULT_MODEL} instead"
        self.show_status(message, error=True)
        if kind == ErrorKind.SOURCE:
            self.sourceFailed.emit(message)
        if kind in (ErrorKind.MODEL, ErrorKind.METHOD):
            self.loadFailed.emit(kind)
        if fall_back:
            # A saved model that no longer loads: start with the default instead, said so.
            self._fell_back = True
            self.pipeline.set_model(DEFAULT_MODEL)

    def _on_source(self, source: Source) -> None:
        self.raw = None
        self.source_name = source.name
        self.sourceChanged.emit(source)

    def _on_config(self) -> None:
        model = self.model
        if model is not None and model is not self._model:
            self._model = model
            self.chosen_layer = None  # the network part lists the new model's layers
            self.modelChanged.emit(model)
        if model is not None and self._pending_target is not None:
            wanted, self._pending_target = self._pending_target, None
            try:
                self.set_target(model.find_class(wanted))
            except CamviewError as exc:
                self.show_error(exc)
        method = self.pipeline.method_name
        if method != self._method:
            self._method = method
            if self.on_demand is None:
                self.methodShown.emit(method)
        self.configChanged.emit()
