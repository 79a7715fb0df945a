"""The compare view's controls: live methods side by side, the second map, a second model.

A preset (camview.live.compare.PRESETS) or a custom pick of the live methods shows the frame
through each of them in a titled grid; the "second map" adds the map of a second class (each
frame's runner-up, or a class picked here) beside the first — "why tabby and not tiger cat?";
the "second model" adds a row of the same methods for another built-in model on the same
frame. All are one CompareSpec for the pipeline, whose grid is the Result's overlay: the
overlay view, recordings and snapshots show it with no more work here. Live, frozen or on a
still image alike (a change is mapped on the held frame at once). Until a change's first grid
comes (its methods, or the second model, are being built), the overlay view is dimmed under
a spinner, so the old overlay is not taken for the answer.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from camview.app.class_pickers import TargetPicker
from camview.app.image_view import ImageView
from camview.app.session import Session
from camview.app.signal_blocking import signals_blocked
from camview.errors import CamviewError, for_window
from camview.live import FOLLOW, PRESETS, RIVAL, CompareSpec, Result
from camview.live.compare import live_methods, preset_title
from camview.maps import METHODS
from camview.models import CamModel, model_names

CUSTOM = "custom"  # the mode combo's data for the custom pick
RUNNER_UP = "Runner-up"
NO_SECOND_MODEL = "None"
PREPARING = "preparing compare…"  # drawn over the dimmed overlay until the first grid


#: Rows of the custom method list shown at once.
LIST_ROWS = 10


class CompareBox(QGroupBox):
    """The side panel's compare group: mode (off, presets, custom), the custom list of live
    methods, the second map with its class picker, and the second model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Compare", parent)
        self.mode = QComboBox()
        self.mode.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # The preset names are long: let the combo narrow (to the side panel) and elide them.
        self.mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setMinimumContentsLength(12)
        self.mode.addItem("Off", None)
        for preset in PRESETS:  # as text: Qt may hand a tuple back as a list
            self.mode.addItem(preset_title(preset), ",".join(preset))
        self.mode.addItem("Custom", CUSTOM)
        self.methods = QListWidget()
        self.methods.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for name in live_methods():
            item = QListWidgetItem(METHODS[name].title)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in PRESETS[0]
                               else Qt.CheckState.Unchecked)
            self.methods.addItem(item)
        # Up to LIST_ROWS rows show at once, the rest scroll inside the list: every live
        # method in view would push the side panel past a 1000-pixel-high screen.
        rows = min(self.methods.count(), LIST_ROWS)
        self.methods.setFixedHeight(self.methods.sizeHintForRow(0) * rows + 6)
        self.methods.hide()
        self.second = QCheckBox("Second map")
        self.second.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.rival = TargetPicker()
        self.rival.auto.setText(RUNNER_UP)
        self.rival.search.setMinimumWidth(60)
        self.rival.search.setPlaceholderText("second class…")
        self.rival.show_target(f"{RUNNER_UP} of each frame")
        self.rival.setEnabled(False)
        self.versus = QComboBox()  # a second model's row of the same methods
        self.versus.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.versus.addItem(NO_SECOND_MODEL, None)
        for name in model_names():
            self.versus.addItem(name, name)
        form = QFormLayout(self)
        form.addRow("Methods", self.mode)
        form.addRow(self.methods)
        form.addRow(self.second)
        form.addRow(self.rival)
        form.addRow("Second model", self.versus)

    def checked(self) -> tuple[str, ...]:
        """The methods ticked in the custom list, in its order."""
        items = (self.methods.item(row) for row in range(self.methods.count()))
        return tuple(item.data(Qt.ItemDataRole.UserRole) for item in items
                     if item.checkState() == Qt.CheckState.Checked)

    def tick(self, names: tuple[str, ...]) -> None:
        """Tick `names` and move them to the top of the list in the order given: the grid
        follows the list's order, so `--compare gradcam,cam` keeps the order typed."""
        for position, name in enumerate(names):
            for row in range(position, self.methods.count()):
                if self.methods.item(row).data(Qt.ItemDataRole.UserRole) == name:
                    self.methods.insertItem(position, self.methods.takeItem(row))
                    break
        for row in range(self.methods.count()):
            item = self.methods.item(row)
            on = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)


def options_words(options: tuple[tuple[str, str], ...]) -> str:
    """' (resize crop, preprocess unit)': a second model's own options, as shown."""
    words = [f"{k} {Path(v).name if k in ('labels', 'weights') else v}" for k, v in options]
    return f" ({', '.join(words)})" if words else ""


class CompareControls:
    """What the compare box and its actions mean for the session's pipeline."""

    def __init__(self, session: Session, view: ImageView) -> None:
        self.s = session
        self.view = view  # the overlay view: dimmed with a spinner while a compare is prepared
        self.box = CompareBox()
        self.second_class: int | None = None  # None: each frame's runner-up
        self._last_mode = 1  # the mode G turns on: the last one used, first the first preset
        self._preparing: CompareSpec | None = None  # asked for, its first grid not shown yet
        #: Second models' own loading options by name (--compare-resize crop ...): the model
        #: named with them is loaded with them whenever the box picks it again.
        self.versus_options: dict[str, dict[str, str]] = {}
        b = self.box
        b.mode.activated.connect(lambda _: self.apply())
        b.versus.activated.connect(lambda _: self.apply())
        b.methods.itemChanged.connect(lambda _: self.apply() if self.mode == CUSTOM else None)
        b.second.toggled.connect(lambda on: self.set_second(on))
        b.rival.auto.clicked.connect(lambda: self.pin_second(None))
        b.rival.picked.connect(self.pin_second)
        b.rival.failed.connect(lambda message: session.show_status(message, error=True))
        session.modelChanged.connect(self._on_model)
        session.resultShown.connect(self.show_result)
        session.loadFailed.connect(lambda _: self._on_failed())

    @property
    def mode(self) -> object:
        return self.box.mode.currentData()

    def make_actions(self) -> list[QAction]:
        """The View menu's compare actions (keys in their tooltips and Help)."""
        a = self.s.make_action
        return [a("compare", "Compare methods", ["G"], self.set_on, checkable=True,
                  tip="Show the frame through several methods side by side"),
                a("compare_next", "Next compare", ["Shift+G"], self.cycle,
                  tip="Next compare preset (or custom pick, or off)"),
                a("second_map", "Second map", ["V"], self.set_second, checkable=True,
                  tip="Map a second class beside the first (each frame's runner-up, or "
                      "one picked)")]

    def tooltips(self) -> None:
        b, a = self.box, self.s
        b.mode.setToolTip(f"Compare live methods side by side ({a.keys('compare')}; "
                          f"{a.keys('compare_next')} cycles)")
        b.methods.setToolTip("Tick the live methods to compare (slow ones are mapped on "
                             "demand, not live)")
        b.second.setToolTip(f"The map of a second class beside the first ({a.keys('second_map')})")
        b.rival.search.setToolTip("Type part of a class name to compare with it")
        b.rival.auto.setToolTip("Compare with each frame's runner-up (the best other class)")
        b.versus.setToolTip("A row of the same methods (or the method shown) for a second "
                            "model on the same frame, titled with its top class")

    # -- state -> pipeline
    def spec(self) -> CompareSpec | None:
        """What the controls ask for (None: the single view)."""
        mode = self.mode
        methods = self.box.checked() if mode == CUSTOM else tuple(mode.split(",")) if mode \
            else ()
        second = (RIVAL if self.second_class is None else self.second_class) \
            if self.box.second.isChecked() else None
        versus = self.box.versus.currentData()
        if mode == CUSTOM and not methods and second is None and versus is None:
            return None
        return CompareSpec.of(methods, second, versus, self.versus_options.get(versus))

    def apply(self) -> None:
        """Ask the pipeline for what the controls show; say what it is."""
        b = self.box
        b.methods.setVisible(self.mode == CUSTOM)
        if self.mode is not None:
            self._last_mode = b.mode.currentIndex()
        self.s.set_checked("compare", self.mode is not None)
        self.s.set_checked("second_map", b.second.isChecked())
        b.rival.setEnabled(b.second.isChecked())
        try:
            spec = self.spec()
            self.s.pipeline.set_compare(spec)
        except CamviewError as exc:
            self.s.show_status(for_window(exc), error=True, now=True)
            return
        # Building the compared methods (or loading a second model) can take seconds: say so
        # until the first grid is shown, so the old overlay is not taken for the answer.
        self._preparing = spec
        self.view.set_busy(None if spec is None else PREPARING)
        if spec is None:
            self.s.show_status(self.describe(spec), now=True)
        else:
            self.s.show_status(f"preparing {self.describe(spec)} …", now=True)

    def busy_shown(self) -> bool:
        """Whether the overlay view says the compare is being prepared."""
        return self.view.busy is not None

    def describe(self, spec: CompareSpec | None) -> str:
        if spec is None:
            return "compare off: one map"
        parts = []
        if spec.names_methods:
            parts.append(" | ".join(METHODS[n].title for n in spec.method_names))
        if any(p.target != FOLLOW for p in spec.panels):
            parts.append("second map: " + (f"{RUNNER_UP.lower()} of each frame"
                                           if self.second_class is None else self._label()))
        if spec.versus is not None:
            parts.append(f"second model: {spec.versus}{options_words(spec.versus_options)}")
        return "compare: " + "; ".join(parts)

    def _label(self) -> str:
        model = self.s.model
        index = self.second_class
        return f"#{index}" if model is None or index is None else model.short_label(index)

    # -- actions
    def set_on(self, on: bool) -> None:
        """G: the last compare used (first the first preset), or off."""
        self.box.mode.setCurrentIndex(self._last_mode if on else 0)
        self.apply()

    def cycle(self) -> None:
        mode = self.box.mode
        mode.setCurrentIndex((mode.currentIndex() + 1) % mode.count())
        self.apply()

    def set_second(self, on: bool) -> None:
        if self.box.second.isChecked() != on:
            with signals_blocked(self.box.second):
                self.box.second.setChecked(on)
        self.apply()

    def pin_second(self, index: int | None) -> None:
        """Compare with class `index` (None: each frame's runner-up); turns the second map on."""
        self.second_class = index
        self.box.rival.show_target(f"{RUNNER_UP} of each frame" if index is None
                                   else f"Pinned: {self._label()} (#{index})")
        self.set_second(True)

    def set_second_model(self, name: str | None) -> None:
        """Add a row for built-in model `name` on the same frame (None: no second model)."""
        self._show_versus(name)
        self.apply()

    def start(self, names: tuple[str, ...] | None, versus: str | None = None,
              versus_options: dict[str, str] | None = None) -> None:
        """--compare: a preset when the names are one, else the custom pick; --compare-model:
        the second model's row, loaded with `versus_options` (--compare-resize ...)."""
        if versus is not None and versus_options:
            self.versus_options[versus] = dict(versus_options)
        if not names:
            if versus is not None:
                self.set_second_model(versus)
            return
        self._show_versus(versus)
        wanted = CompareSpec.of(names)
        chosen = wanted.method_names if wanted is not None else ()
        row = self.box.mode.findData(",".join(chosen)) if chosen in PRESETS else -1
        if row < 0:
            self.box.tick(chosen)
            row = self.box.mode.findData(CUSTOM)
        self.box.mode.setCurrentIndex(row)
        self.apply()

    # -- pipeline events
    def show_result(self, result: Result) -> None:
        """Name the second class of the newest grid (the runner-up changes with the frame);
        the first grid after a change ends its "preparing" line and spinner."""
        if self._preparing is not None and result.compare == self._preparing:
            asked, self._preparing = self._preparing, None
            self.view.set_busy(None)
            self.s.show_status(self.describe(asked), now=True)
        model = self.s.model
        spec = result.compare
        if (self.box.second.isChecked() and self.second_class is None and spec is not None
                and model is not None):
            rivals = [i for i, p in enumerate(spec.panels) if p.target == RIVAL]
            if rivals:  # the second class's row starts with its first panel
                _, index, prob = result.panels[rivals[0]]
                self.box.rival.show_target(f"{RUNNER_UP}: {model.short_label(index)} "
                                           f"{100 * prob:.0f}%")

    def _on_failed(self) -> None:
        """A compare (or its second model) failed, said in the status bar: stop waiting for
        its grid, and show the second model the grid really has."""
        if self._preparing is None:
            return
        self._preparing = None
        self.view.set_busy(None)
        shown = self.s.pipeline.compare
        self._show_versus(shown.versus if shown is not None else None)

    def _show_versus(self, name: str | None) -> None:
        """Show `name` as the second model (None: none) without asking for it."""
        versus = self.box.versus
        with signals_blocked(versus):
            if name and versus.findData(name) < 0:  # a model file
                versus.addItem(Path(name).name, name)
            if name and name in self.versus_options:  # say the options it is loaded with
                row = versus.findData(name)
                label = name if name in model_names() else Path(name).name
                versus.setItemText(row, label + options_words(
                    tuple(self.versus_options[name].items())))
            versus.setCurrentIndex(max(0, versus.findData(name)) if name else 0)

    def _on_model(self, model: CamModel) -> None:
        self.box.rival.set_labels(model.labels, model.find_class)
        versus = self.box.versus
        if model.name not in model_names() and Path(model.name).is_file() \
                and versus.findData(model.name) < 0:  # a file opened: a second model later
            with signals_blocked(versus):
                versus.addItem(Path(model.name).name, model.name)

