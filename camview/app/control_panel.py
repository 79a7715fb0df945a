"""The side panel: top classes, target, model, method and overlay controls.

Widgets only show values and report clicks; what a click means (a pipeline request) is decided
by camview.app.live_controls. Every combo box lists a vocabulary of the core (models,
methods, styles, colormaps, layouts, scales), so a name is typed once, where the core
defines it.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from camview.app.class_pickers import TargetPicker, TopClasses
from camview.drawing.overlay import COLORMAPS, LAYOUTS, STYLES, OverlayStyle
from camview.drawing.scale import SCALE_HELP, SCALES
from camview.maps import METHODS, Method
from camview.maps.base import NO_BACKWARD
from camview.models import CamModel
from camview.models import model_names as known_models

OPEN_MODEL_FILE = "Open model file…"
SLIDERS = ("threshold", "alpha", "smoothing")  # the panel's sliders, each 0..1 shown as 0..100


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
        self.network_form = form  # more rows come from camview.app.layer_preprocess_controls
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

    def serve_methods(self, model: CamModel) -> None:
        """Grey out the methods `model` cannot serve (Method.applies_to), each saying why: a
        model without a backward pass (an ONNX model on OpenVINO) those that need one; a
        vision transformer CAM (unless its head averages the tokens) and Recipro-CAM; a CNN
        the attention maps. A Keras CNN keeps the others: one its head refuses (CAM of
        VGG16) falls back to Grad-CAM with a line saying so."""
        items = self.method.model()
        keeps_head_refusals = model.can_backward and model.transformer is None
        for row in range(self.method.count()):
            method = METHODS[self.method.itemData(row)]
            why = method.applies_to(model)
            served = why is None or (keeps_head_refusals and not method.needs_attention)
            item = items.item(row) if hasattr(items, "item") else None
            if item is not None:
                item.setEnabled(served)
            tip = None if served else f"not for {model.name}: {why}"
            if why == NO_BACKWARD:
                tip = (f"{model.name} runs forward only (an ONNX model on OpenVINO): "
                       f"{method.title} needs a backward pass")
            self.method.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)

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
