"""The Network controls beyond model and method: which built-in models are ready here, the
layer maps are read from, the preprocessing of your own model file (remembered per file),
and the note that a class-agnostic method ignores the pinned class.

All heavy work stays off the GUI thread: a layer change rebuilds the method on the pipeline's
loader thread (or maps the frozen frame again for an on-demand method), a preprocessing change
reloads the model there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtWidgets import QComboBox, QLabel

from camview.maps import METHODS
from camview.models import CamModel, list_models
from camview.models.graph import spatial_layers
from camview.models.preprocess import AUTO, MODES
from camview.models.registry import spec_for

if TYPE_CHECKING:
    from camview.app.window import MainWindow

PREPROCESS_KEY = "preprocess_by_file"  # QSettings: {absolute model path: mode}, as JSON


def is_model_file(name: str | CamModel) -> bool:
    """A user's .keras/.h5 file rather than a built-in model name."""
    name = name.name if isinstance(name, CamModel) else str(name)
    return spec_for(name) is None


def _file_key(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def _remembered_all(settings: QSettings) -> dict[str, str]:
    try:
        found = json.loads(str(settings.value(PREPROCESS_KEY, "{}")))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def remembered_preprocess(settings: QSettings, path: str) -> str | None:
    """The preprocessing last chosen in the window for model file `path`, None if none."""
    mode = _remembered_all(settings).get(_file_key(path))
    return mode if mode in MODES else None


def remember_preprocess(settings: QSettings, path: str, mode: str) -> None:
    """Remember `mode` for model file `path` (auto: forget it, auto is the default)."""
    every = _remembered_all(settings)
    if mode == AUTO:
        every.pop(_file_key(path), None)
    else:
        every[_file_key(path)] = mode
    settings.setValue(PREPROCESS_KEY, json.dumps(every))
    settings.sync()


def model_marks() -> dict[str, tuple[str, str]]:
    """Built-in model -> (its mark in the list, a tooltip): 'ready' or 'will download on
    first use (N MB)' (camview.models.WeightsStatus.summary, the words `camview models` uses)."""
    return {info.name: (info.status.summary, info.status.detail) for info in list_models()}


def fill_layers(combo: QComboBox, model: CamModel) -> None:
    """Every layer maps can be read from (name and output shape), the read layer selected."""
    combo.blockSignals(True)
    combo.clear()
    for info in spatial_layers(model.keras_model):
        h, w, c = info.shape
        shape = f"{c} ch" if h is None or w is None else f"{h}x{w}x{c}"
        mark = "  (read layer)" if info.path == model.read_layer else ""
        combo.addItem(f"{info.path}  {shape}{mark}", info.path)
    combo.setCurrentIndex(max(0, combo.findData(model.read_layer)))
    combo.blockSignals(False)


class NetworkControls:
    """Layer and preprocessing pickers in the side panel's Network group, the marks of the
    model list, and the class-agnostic note under the target."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        panel = window.panel
        self.layer = QComboBox()
        self.layer.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.layer.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer.setMinimumContentsLength(12)
        self.layer.setToolTip("The layer maps are read from (CAM: only the read layer). An "
                              "earlier layer shows finer, less class-specific detail: try "
                              "Layer-CAM there")
        self.preprocess = QComboBox()
        self.preprocess.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for mode in MODES:
            self.preprocess.addItem(mode, mode)
        self.preprocess.setToolTip("How frames are fed to your model file (remembered for the "
                                   "file); auto reads it from the model")
        panel.network_form.addRow("Layer", self.layer)
        panel.network_form.addRow("Preprocess", self.preprocess)
        panel.network_form.setRowVisible(self.preprocess, False)
        self.agnostic = QLabel("")
        self.agnostic.setWordWrap(True)
        self.agnostic.setStyleSheet("color: #b60;")
        self.agnostic.hide()
        panel.target.layout().addWidget(self.agnostic)
        for combo in (panel.model, panel.method):  # their lists show the whole marks
            combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
        self._layers_of: CamModel | None = None  # the model the layer list is for
        self._asked: dict[str, str] = {}  # model file -> the preprocessing asked for
        self.layer.activated.connect(self._on_layer)
        self.preprocess.activated.connect(self._on_preprocess)
        self.mark_models()

    # -- the model list
    def mark_models(self) -> None:
        """'name · ready' / 'name · will download on first use (N MB)' for each built-in."""
        combo = self.w.panel.model
        marks = model_marks()
        for row in range(combo.count()):
            name = combo.itemData(row)
            if name in marks:
                combo.setItemText(row, f"{name} · {marks[name][0]}")
                combo.setItemData(row, marks[name][1], Qt.ItemDataRole.ToolTipRole)
        combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)

    def model_kwargs(self, name: str) -> dict:
        """load_model keywords for model `name`: a file's remembered preprocessing."""
        if not is_model_file(name):
            return {}
        mode = remembered_preprocess(self.w.settings, name) or AUTO
        self._asked[_file_key(name)] = mode
        return {"preprocess": mode}

    def note_asked(self, name: str, kwargs: dict) -> None:
        """The preprocessing a model file is loaded with (the command line's)."""
        if is_model_file(name):
            self._asked[_file_key(name)] = kwargs.get("preprocess") or AUTO

    # -- after a model or method was installed
    def on_config(self) -> None:
        model = self.w.pipeline.current_model
        if model is not None and model is not self._layers_of:
            self._layers_of = model
            fill_layers(self.layer, model)
            self._show_preprocess(model)
            self.mark_models()  # a first-use download has just made one ready
        if model is not None and self.w.ondemand.method is None:
            layer = self.w.pipeline.layer or model.read_layer
            self.layer.setCurrentIndex(max(0, self.layer.findData(layer)))
        self.update_note()

    def _show_preprocess(self, model: CamModel) -> None:
        form = self.w.panel.network_form
        own = is_model_file(model)
        form.setRowVisible(self.preprocess, own)
        if not own:
            return
        asked = self._asked.get(_file_key(model.name), AUTO)
        self.preprocess.setItemText(0, f"{AUTO} ({model.preprocess_name})")
        self.preprocess.setCurrentIndex(max(0, self.preprocess.findData(asked)))

    def layer_for(self, model: CamModel) -> str | None:
        """The layer chosen for `model` (None: its read layer, or the list is for another)."""
        if model is not self._layers_of:
            return None
        return self.layer.currentData()

    # -- user actions
    def _on_layer(self, row: int) -> None:
        layer = self.layer.itemData(row)
        if self.w.ondemand.method is not None:
            self.w.ondemand.rerun()  # the slow map of the frozen frame, at this layer
        elif layer is not None:
            self.w.pipeline.set_layer(layer)
            self.w.show_status(f"reading maps from {layer}…", now=True)

    def _on_preprocess(self, row: int) -> None:
        model = self.w.pipeline.current_model
        mode = self.preprocess.itemData(row)
        if model is None or not is_model_file(model):
            return
        remember_preprocess(self.w.settings, model.name, mode)
        self._asked[_file_key(model.name)] = mode
        kwargs = dict(self.w.options.model_kwargs) if self.w.options.model == model.name else {}
        kwargs["preprocess"] = mode
        self.w.pipeline.set_model(model.name, **kwargs)
        self.w.show_status(f"reloading {Path(model.name).name} with preprocess {mode}… "
                           "(remembered for this file)", now=True)

    # -- notes
    def update_note(self) -> None:
        """Say so when the target is pinned but the method shown ignores the class."""
        method = METHODS[self.w.ondemand.method or self.w.pipeline.method_name]
        pinned = self.w.pipeline.target is not None
        text = (f"{method.title} ignores the target class: its map is the same for every "
                "class" if pinned and method.class_agnostic else "")
        if text and text != self.agnostic.text():
            self.w.show_status(text, error=True, colour="#b60", now=True)
        self.agnostic.setText(text)
        self.agnostic.setVisible(bool(text))
