"""The Network dock: inside the network (camview.network) in three tabs: the model summary,
a convolution's filters, and what excites a class (activation maximisation, on demand).

A part like the others: it gets the session and owns its widgets. The summary and the dream
run as the session's one on-demand job (progress and Cancel in the status bar's job bar); the
filters are a few numpy operations, drawn at once.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from camview.app.image_view import ImageView
from camview.app.session import Session, keys_text
from camview.app.signal_blocking import signals_blocked
from camview.drawing.writers import write_image
from camview.errors import CamviewError, for_window
from camview.models import CamModel
from camview.network.dream import (
    DEFAULT_SIZE,
    DEFAULT_STEPS,
    class_objective,
    class_probabilities,
    dream,
)
from camview.network.filters import DEFAULT_MAX, convolution_names, filter_grid, kernels
from camview.network.summary import summarise, summary_lines

TABS = ("Model summary", "Filters", "What excites a class")


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for w in widgets:
        row.addWidget(w, 1 if isinstance(w, QComboBox | QLineEdit) else 0)
    return row


class NetworkDock(QDockWidget):
    """Tabs: summary (text), filters (layer, count, grid), dream (class, steps, go, save)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Network", parent)
        self.setObjectName("inside_network")
        self.s = session
        self.tabs = QTabWidget()
        # -- summary
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.summary.setFont(QFont("monospace"))
        self.summary.setPlaceholderText("the model's layers, once a model is loaded")
        # -- filters
        self.conv = QComboBox()
        self.conv.setToolTip("The convolution whose kernels are shown")
        self.max = QSpinBox()
        self.max.setRange(1, 1024)
        self.max.setValue(DEFAULT_MAX)
        self.max.setPrefix("first ")
        self.filters = ImageView("the first convolution's kernels, once a model is loaded")
        self.filters_caption = QLabel("")
        self.filters_caption.setWordWrap(True)
        filters = QWidget()
        box = QVBoxLayout(filters)
        box.addLayout(_row(self.conv, self.max))
        box.addWidget(self.filters, 1)
        box.addWidget(self.filters_caption)
        # -- dream
        self.target = QLineEdit()
        self.target.setPlaceholderText("class (label or index; empty: the class shown)")
        self.steps = QSpinBox()
        self.steps.setRange(1, 5000)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setSuffix(" steps")
        self.go = QPushButton("Grow")
        self.go.setToolTip("Grow a picture that excites the class (gradient ascent on its "
                           "logit, in the background; Cancel in the status bar stops it)")
        self.save_button = QPushButton("Save…")
        self.save_button.setEnabled(False)
        self.picture = ImageView("what excites a class: type one and press Grow")
        self.dream_caption = QLabel("")
        self.dream_caption.setWordWrap(True)
        dreaming = QWidget()
        box = QVBoxLayout(dreaming)
        box.addLayout(_row(self.target, self.steps, self.go, self.save_button))
        box.addWidget(self.picture, 1)
        box.addWidget(self.dream_caption)
        for page, title in zip((self.summary, filters, dreaming), TABS, strict=True):
            self.tabs.addTab(page, title)
        self.setWidget(self.tabs)
        self.setMinimumWidth(320)

        self.image = None  # the last picture grown (BGR uint8), what Save writes
        self._summary_for: CamModel | None = None
        self.conv.activated.connect(lambda _: self.show_filters())
        self.max.valueChanged.connect(lambda _: self.show_filters())
        self.go.clicked.connect(self.grow)
        self.target.returnPressed.connect(self.grow)
        self.save_button.clicked.connect(self._ask_save)
        self.tabs.currentChanged.connect(lambda _: self._refresh())
        self.visibilityChanged.connect(lambda visible: visible and self._refresh())
        session.modelChanged.connect(self._on_model)
        self.hide()

    def make_actions(self) -> list:
        """Network menu: show the dock at one of its tabs (and the dock's own toggle)."""
        a = self.s.make_action
        toggle = self.toggleViewAction()
        toggle.setShortcut("Ctrl+Shift+N")
        toggle.setText("Network dock")
        toggle.setToolTip(f"Inside the network: summary, filters, what excites a class "
                          f"({keys_text(toggle.shortcuts())})")
        self.s.actions["network_dock"] = toggle
        return [toggle,
                a("network_summary", "Model summary", ["Ctrl+Shift+I"], lambda: self.open(0),
                  tip="Every layer, its output shape at the size fed, its parameters"),
                a("network_filters", "Filters", ["Ctrl+Shift+F"], lambda: self.open(1),
                  tip="A convolution's kernels as small pictures"),
                a("network_dream", "What excites this class…", ["Ctrl+Shift+D"],
                  lambda: self.open(2),
                  tip="Grow a picture that excites the class shown (on demand)")]

    def open(self, tab: int) -> None:
        """Show the dock at `tab` (chosen first: showing fills the tab shown)."""
        self.tabs.setCurrentIndex(tab)
        self.show()
        self.raise_()
        self._refresh()

    # -- a model was installed
    def _on_model(self, model: CamModel) -> None:
        with signals_blocked(self.conv):
            self.conv.clear()
            for path in convolution_names(model):
                self.conv.addItem(path, path)
        self._summary_for = None
        self.summary.clear()
        self.filters.clear()
        self.filters_caption.setText("" if self.conv.count() else
                                     f"{model.name} has no 2-D convolution")
        self._refresh()

    def _refresh(self) -> None:
        """Fill the tab shown, if the dock is shown (a hidden dock costs nothing)."""
        if self.isHidden() or self.s.model is None:
            return
        if self.tabs.currentIndex() == 0 and self._summary_for is not self.s.model:
            self.show_summary()
        elif self.tabs.currentIndex() == 1 and self.filters.image is None:
            self.show_filters()

    # -- summary
    def show_summary(self) -> None:
        """One forward pass at the fed size (seconds on a big net): as an on-demand job."""
        model = self.s.model
        if model is None:
            return
        self._summary_for = model
        frame = self.s.raw.image.shape[:2] if self.s.raw is not None else (480, 640)

        def work(progress, cancel):
            return summary_lines(summarise(model, frame))

        self.summary.setPlainText(f"working out {model.name}'s layers…")
        self.s.jobs.submit(f"summarising {model.name}:", work, self._show_summary,
                           on_failed=self.summary.setPlainText,
                           on_cancelled=lambda _: self._forget_summary())

    def _show_summary(self, lines: list[str]) -> None:
        """The table as wide as its widest row, so the dock shows it whole (it was cut off,
        to be scrolled sideways); the totals line, longer, wrapped to the table's width."""
        table, totals = lines[:-1], lines[-1]
        width = max(len(line) for line in table)
        self.summary.setPlainText("\n".join([*table, "", *textwrap.wrap(totals, width)]))
        metrics = self.summary.fontMetrics()
        margins = self.summary.contentsMargins()
        self.summary.setMinimumWidth(round(
            metrics.horizontalAdvance("0" * width) + 2 * self.summary.document().documentMargin()
            + margins.left() + margins.right()
            + self.summary.verticalScrollBar().sizeHint().width() + 4))

    def _forget_summary(self) -> None:
        self._summary_for = None
        self.summary.setPlainText("cancelled")

    # -- filters
    def show_filters(self) -> None:
        model = self.s.model
        if model is None or not self.conv.count():
            return
        try:
            k = kernels(model, self.conv.currentData())
            self.filters.set_image(filter_grid(k, self.max.value()))
            self.filters_caption.setText(k.describe(min(self.max.value(), k.tiles.shape[0])))
        except CamviewError as exc:
            self.filters.clear()
            self.filters_caption.setText(for_window(exc))

    # -- dream
    def grow(self) -> None:
        """Grow a picture for the class typed (or the class of the map shown), on demand."""
        s, model = self.s, self.s.model
        if model is None:
            s.show_status("no model yet: wait for it to load", error=True)
            return
        text = self.target.text().strip()
        try:
            if text:
                objective = class_objective(model, text)
            elif s.result is not None and s.result.model_name == model.name:
                objective = class_objective(model, s.result.map.target)
            else:
                raise CamviewError("type a class to grow a picture for")
        except CamviewError as exc:
            s.show_error(exc)
            self.dream_caption.setText(for_window(exc))
            return
        steps, label = self.steps.value(), model.short_label(objective.target)

        def work(progress, cancel):
            result = dream(model, objective, steps=steps, size=DEFAULT_SIZE,
                           progress=progress, cancel=cancel)
            # The picture is 8-bit already: what a PNG of it holds, classified as it is.
            return result, float(class_probabilities(model, result.image)[objective.target])

        self.dream_caption.setText(f"growing {label}…")
        s.jobs.submit(f"growing {label}:", work, self._on_grown,
                      on_failed=self.dream_caption.setText,
                      on_cancelled=lambda _: self.dream_caption.setText(
                          "cancelled: the picture shown before stays"))

    def _on_grown(self, outcome) -> None:
        result, prob = outcome
        model = self.s.model
        label = model.short_label(result.objective.target) if model is not None else "class"
        self.image = result.image
        self.picture.set_image(result.image)
        self.save_button.setEnabled(True)
        self.dream_caption.setText(f"{label}: probability {prob:.3f} for this picture (8-bit), "
                                   f"logit {result.score:.1f}; {result.steps} steps in "
                                   f"{result.seconds:.1f} s")
        self.s.show_status(f"grew {label} (probability {prob:.3f})", now=True)

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the picture", "dream.png",
                                              "PNG image (*.png)")
        if path:
            self.save(path)

    def save(self, path: str | Path) -> None:
        """Write the last picture grown (PNG: lossless, so its probability stays its own)."""
        if self.image is None:
            return
        try:
            write_image(path, self.image)
        except CamviewError as exc:
            self.s.show_error(exc)
            return
        self.s.show_status(f"saved {path}", now=True, folder=Path(path).parent)

