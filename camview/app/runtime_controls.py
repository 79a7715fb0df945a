"""The Network group's runtime picker (auto, tensorflow, openvino) and the readout's words for
the runtime in use.

A switch goes through the pipeline's loader thread (camview.live.loader): the first switch to
OpenVINO converts the model (tens of seconds) while the current runtime keeps serving; later
model loads use the runtime chosen.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QFormLayout

from camview.app.saved_settings import COMMAND_LINE, SAVED
from camview.app.session import Session
from camview.app.signal_blocking import signals_blocked
from camview.models.runtimes import OPENVINO, RUNTIMES, default_runtime


class RuntimeControls:
    """A "Runtime" row of the side panel's Network group (`form`) that shows and switches the
    forward runtime of the model shown."""

    def __init__(self, session: Session, form: QFormLayout) -> None:
        self.s = session
        self.combo = QComboBox()
        self.combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for name in RUNTIMES:
            self.combo.addItem(name, name)
        o = session.options
        # --runtime (for the models loaded later in the window too), else the saved choice,
        # else $CAMVIEW_RUNTIME or auto.
        given = o.model_kwargs.get("runtime") or (
            o.runtime if o.origins.get("runtime") in (COMMAND_LINE, SAVED) else None)
        if given:
            session.pipeline.set_runtime(given)
            session.runtime = given
        asked = given or default_runtime()
        self.combo.setCurrentIndex(max(0, self.combo.findData(asked)))
        self._tooltip(None)
        form.addRow("Runtime", self.combo)
        self.combo.activated.connect(lambda row: self.choose(self.combo.itemData(row)))
        session.configChanged.connect(self.sync)

    def choose(self, name: str) -> None:
        """Run the forward passes on runtime `name` from now on."""
        self.s.pipeline.set_runtime(name)
        self.s.runtime = name  # remembered with the other settings
        model = self.s.model
        first = model is not None and not model.runtime_ready(name)
        more = " (the first time converts the model: tens of seconds)" if first else ""
        self.s.show_status(f"runtime {name}…{more}", now=True)

    def sync(self) -> None:
        """Show the runtime the model really runs (after a failed switch too)."""
        model = self.s.model
        if model is None:
            return
        with signals_blocked(self.combo):
            self.combo.setCurrentIndex(max(0, self.combo.findData(model.runtime_requested)))
        self._tooltip(model)

    def _tooltip(self, model) -> None:
        now = (f"now: {model.runtime.describe()}" + (f" ({model.runtime_note})"
                                                      if model.runtime_note else "")
               if model is not None else "")
        self.combo.setToolTip(f"What runs the network's forward pass: {OPENVINO} is faster on a "
                              "CPU and serves CAM, Grad-CAM, Grad-CAM++, Layer-CAM, Eigen-CAM, "
                              "Score-CAM and occlusion; auto uses it when the model converts "
                              f"and matches TensorFlow. {now}".strip())

    def readout(self) -> str:
        """The readout's words for the runtime in use: 'openvino on CPU …'."""
        model = self.s.model
        return "" if model is None else model.runtime.describe()
