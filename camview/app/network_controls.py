"""The Network controls beyond model and method: the layer maps are read from, the
preprocessing of your own model file (remembered per file), and the note that a
class-agnostic method ignores the pinned class.

All heavy work stays off the GUI thread: a layer change rebuilds the method on the pipeline's
loader thread (or maps the frozen frame again for an on-demand method), a preprocessing change
reloads the model there.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QStandardItem, QStandardItemModel
from PyQt6.QtWidgets import QComboBox, QFormLayout, QLabel, QTreeView

from camview.app.saved_settings import is_model_file, remember_preprocess
from camview.app.session import Session
from camview.app.widgets import signals_blocked
from camview.maps import METHODS
from camview.models import CamModel
from camview.models.graph import spatial_layers
from camview.models.preprocess import AUTO, MODES


def fill_layers(combo: QComboBox, model: CamModel) -> None:
    """Every layer maps can be read from, the read layer selected.

    The closed combo shows only the name (and "(read)" for the read layer): in the narrow
    side panel a name with its shape was cut ("head_activation 1280 ch (re…"). The list that
    opens is a two-column table, name and output shape, as wide as its widest row, and each
    entry's whole description is its tooltip."""
    rows = QStandardItemModel(combo)
    for info in spatial_layers(model.keras_model):
        h, w, c = info.shape
        shape = f"{c} ch" if h is None or w is None else f"{h}x{w}x{c}"
        read = info.path == model.read_layer
        name = QStandardItem(f"{info.path} (read)" if read else info.path)
        name.setData(info.path, Qt.ItemDataRole.UserRole)
        size = QStandardItem(shape)
        tip = f"{info.path}  {shape}" + ("  (the read layer)" if read else "")
        for item in (name, size):
            item.setToolTip(tip)
            item.setEditable(False)
        rows.appendRow([name, size])
    with signals_blocked(combo):
        combo.setModel(rows)
        combo.setCurrentIndex(max(0, combo.findData(model.read_layer)))
    view = combo.view()
    if isinstance(view, QTreeView):
        for column in range(rows.columnCount()):
            view.resizeColumnToContents(column)
        view.setMinimumWidth(sum(view.columnWidth(c) for c in range(rows.columnCount()))
                             + 3 * combo.fontMetrics().averageCharWidth())
    show_whole(combo)


def layer_combo(tip: str) -> QComboBox:
    """A layer picker for the side panel or a dock: it narrows to its place (the name is
    elided there) and opens as a name | shape table (fill_layers fills it)."""
    combo = QComboBox()
    combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    combo.setToolTip(tip)
    view = QTreeView()
    view.setHeaderHidden(True)
    view.setRootIsDecorated(False)
    view.setItemsExpandable(False)
    view.setAllColumnsShowFocus(True)
    view.setUniformRowHeights(True)
    combo.setView(view)
    return combo


def show_whole(combo: QComboBox) -> None:
    """The chosen entry's whole text first in the combo's tooltip (a cut one included)."""
    base = combo.property("baseTip")
    if base is None:
        base = combo.toolTip()
        combo.setProperty("baseTip", base)
    current = combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole) \
        or combo.currentText()
    combo.setToolTip(f"{current}\n\n{base}" if current else base)


class NetworkControls:
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
