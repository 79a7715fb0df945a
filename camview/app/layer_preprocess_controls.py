"""The side panel's Network rows beyond model and method: the layer maps are read from, the
preprocessing of your own model file (remembered per file), and the note that a
class-agnostic method ignores the pinned class.

All heavy work stays off the GUI thread: a layer change rebuilds the method on the pipeline's
loader thread (or maps the frozen frame again for an on-demand method), a preprocessing change
reloads the model there.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QFormLayout, QLabel

from camview.app.layer_picker import fill_layers, layer_combo, show_whole
from camview.app.saved_settings import is_model_file, remember_preprocess
from camview.app.session import Session
from camview.app.signal_blocking import signals_blocked
from camview.maps import METHODS
from camview.models import CamModel
from camview.models.preprocess import AUTO, MODES


class LayerPreprocessControls:
    """Layer and preprocessing pickers (rows of the side panel's Network group, `form`) and
    the class-agnostic note (`agnostic`, placed by the window under the target)."""

    def __init__(self, session: Session, form: QFormLayout) -> None:
        self.s = session
        self.form = form
        self.layer = layer_combo("The layer maps are read from (CAM: only the read layer). "
                                 "An earlier layer shows finer, less class-specific detail: "
                                 "try Layer-CAM there")
        self.preprocess = QComboBox()
        self.preprocess.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for mode in MODES:
            self.preprocess.addItem(mode, mode)
        self.preprocess.setToolTip("How frames are fed to your model file (remembered for the "
                                   "file); auto reads it from the model")
        form.addRow("Layer", self.layer)
        form.addRow("Preprocess", self.preprocess)
        form.setRowVisible(self.preprocess, False)
        self.agnostic = QLabel("")
        self.agnostic.setWordWrap(True)
        self.agnostic.setStyleSheet("color: #b60;")
        self.agnostic.hide()
        self.layer.activated.connect(self._on_layer)
        self.preprocess.activated.connect(self._on_preprocess)
        session.modelChanged.connect(self._on_model)
        session.configChanged.connect(self._on_config)
        session.methodShown.connect(lambda _: self.update_note())
        session.targetChanged.connect(lambda _: self.update_note())

    # -- after a model or method was installed
    def _on_model(self, model: CamModel) -> None:
        fill_layers(self.layer, model)
        self.s.chosen_layer = self.layer.currentData()
        self._show_preprocess(model)

    def _on_config(self) -> None:
        """Show the layer the live maps are read from (after a failed switch too)."""
        model = self.s.model
        if model is not None and self.s.on_demand is None:
            layer = self.s.pipeline.layer or model.read_layer
            with signals_blocked(self.layer):
                self.layer.setCurrentIndex(max(0, self.layer.findData(layer)))
            show_whole(self.layer)
            self.s.chosen_layer = self.layer.currentData()
        self.update_note()

    def _show_preprocess(self, model: CamModel) -> None:
        own = is_model_file(model)
        self.form.setRowVisible(self.preprocess, own)
        if not own:
            return
        asked = self.s.asked_preprocess(model.name)
        self.preprocess.setItemText(0, f"{AUTO} ({model.preprocess_name})")
        self.preprocess.setCurrentIndex(max(0, self.preprocess.findData(asked)))

    # -- user actions
    def _on_layer(self, row: int) -> None:
        show_whole(self.layer)
        self.s.choose_layer(self.layer.itemData(row))

    def _on_preprocess(self, row: int) -> None:
        s, model = self.s, self.s.model
        mode = self.preprocess.itemData(row)
        if model is None or not is_model_file(model):
            return
        remember_preprocess(s.settings, model.name, mode)
        kwargs = dict(s.options.model_kwargs) if s.options.model == model.name else {}
        kwargs["preprocess"] = mode
        s.set_model(model.name, **kwargs)
        s.show_status(f"reloading {Path(model.name).name} with preprocess {mode}… "
                      "(remembered for this file)", now=True)

    # -- notes
    def update_note(self) -> None:
        """Say so when the target is pinned but the method shown ignores the class."""
        method = METHODS[self.s.method_shown]
        pinned = self.s.pipeline.target is not None
        text = (f"{method.title} ignores the target class: its map is the same for every "
                "class" if pinned and method.class_agnostic else "")
        if text and text != self.agnostic.text():
            self.s.show_status(text, error=True, colour="#b60", now=True)
        self.agnostic.setText(text)
        self.agnostic.setVisible(bool(text))
