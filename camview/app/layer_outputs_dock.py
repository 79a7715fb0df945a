"""The Layer outputs panel: a chosen layer's activation channels as a tiled grid, live.

For talks on "what does layer N see". A dockable panel; while it is visible a light worker
(camview.live.layer_outputs_worker) tiles the newest frame's activations a few times a second, and
while it is hidden it costs nothing.
"""

from __future__ import annotations

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QDockWidget, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from camview.app.image_view import ImageView
from camview.app.layer_picker import fill_layers, layer_combo
from camview.app.session import Session, keys_text
from camview.live.layer_outputs_worker import LayerOutputs, LayerView
from camview.models import CamModel
from camview.network.layer_outputs import CHANNEL_COUNTS


class _Signals(QObject):
    view = pyqtSignal(object)  # LayerView
    error = pyqtSignal(str)


class LayerOutputsDock(QDockWidget):
    """Layer picker, channel count, the tiled channels and a caption saying what they are."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Layer outputs", parent)
        self.setObjectName("layer_outputs")
        self.layer = layer_combo("The layer whose channels are shown")
        self.count = QComboBox()
        self.count.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for n in CHANNEL_COUNTS:
            self.count.addItem(f"first {n} channels", n)
        self.image = ImageView("open a model to see its layers")
        self.image.setMinimumSize(240, 240)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.layer, 1)
        row.addWidget(self.count)
        body = QWidget()
        box = QVBoxLayout(body)
        box.addLayout(row)
        box.addWidget(self.image, 1)
        box.addWidget(self.caption)
        self.setWidget(body)
        self._signals = _Signals(self)
        self._signals.view.connect(self._on_view)
        self._signals.error.connect(lambda message: self.caption.setText(message))
        pipe = session.pipeline
        self.worker = LayerOutputs(lambda: pipe.last_frame, lambda: pipe.current_model,
                                   self._signals.view.emit, self._signals.error.emit)
        self.layer.activated.connect(self._ask)
        self.count.activated.connect(self._ask)
        self.visibilityChanged.connect(self.worker.enable)
        action = self.toggleViewAction()
        action.setShortcut("Ctrl+Shift+L")  # Ctrl+L opens a labelled set
        action.setToolTip("Show a layer's activation channels, live "
                          f"({keys_text(action.shortcuts())})")
        session.actions["layer_outputs"] = action
        session.modelChanged.connect(self._on_model)
        self.hide()

    def _on_model(self, model: CamModel) -> None:
        """A model was installed: list its layers (its read layer first shown)."""
        fill_layers(self.layer, model)
        self._ask()

    def _ask(self, *_args) -> None:
        self.worker.show(self.layer.currentData(), self.count.currentData())

    def _on_view(self, view: LayerView) -> None:
        if view.layer != self.layer.currentData() and self.layer.currentData() is not None:
            return  # from the layer shown before
        self.image.set_image(view.image)
        self.caption.setText(view.caption)

    def shutdown(self) -> None:
        self.worker.stop(1.0)
