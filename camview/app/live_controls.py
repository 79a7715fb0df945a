"""The side panel's live controls: the top classes (click to pin), the target class, model,
method and overlay look, with their actions and tooltips.

Each control asks the session for a change; the panel then shows the pipeline's actual state
(configChanged, lookChanged, methodShown), so a failed switch shows what is really running.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QComboBox, QFileDialog

from camview.app.control_panel import OPEN_MODEL_FILE, ControlPanel
from camview.app.session import Session
from camview.app.signal_blocking import signals_blocked
from camview.drawing.scale import SCALE_HELP
from camview.live import Result
from camview.maps import METHODS
from camview.models import CamModel, list_models
from camview.models.formats import dialog_filter, dialog_title

PINNABLE_ROWS = 3  # Alt+1..3 pin the top-k classes


def model_marks() -> dict[str, tuple[str, str]]:
    """Built-in model -> (its mark in the list, a tooltip): 'ready' or 'will download on
    first use (N MB)' (camview.models.WeightsStatus.summary, the words `camview models` uses)."""
    return {info.name: (info.status.summary, info.status.detail) for info in list_models()}


class LiveControls:
    """What the panel's top classes, target, model, method and overlay controls mean."""

    def __init__(self, session: Session, panel: ControlPanel) -> None:
        self.s = session
        self.panel = p = panel
        p.top.itemClicked.connect(lambda item: self.pin_row(p.top.row(item)))
        p.target.picked.connect(self.pin_target)
        p.target.failed.connect(lambda message: session.show_status(message, error=True))
        p.target.auto.clicked.connect(lambda: self.pin_target(None))
        p.model.activated.connect(self._on_model_combo)
        p.method.activated.connect(lambda _: session.set_method(p.method.currentData()))
        for combo in (p.style, p.colormap, p.layout_, p.scale):
            combo.currentIndexChanged.connect(self._on_look)
        for slider in (p.threshold, p.alpha):
            slider.valueChanged.connect(self._on_look)
        p.smoothing.valueChanged.connect(self._on_smoothing)
        session.modelChanged.connect(self._on_model)
        session.resultShown.connect(self.show_result)
        session.targetChanged.connect(self._show_target)
        for signal in (session.configChanged, session.lookChanged, session.methodShown):
            signal.connect(self.sync)
        self.mark_models()

    # -- actions
    def make_actions(self) -> tuple[list[QAction], list[QAction]]:
        """(the Network menu's actions, the Overlay menu's)."""
        a, p = self.s.make_action, self.panel
        network = [
            a("model_list", "Choose model", ["Ctrl+M"], lambda: self.popup(p.model)),
            a("model_file", OPEN_MODEL_FILE, ["Ctrl+Shift+M"], self.open_model_file),
            a("method_next", "Next method", ["M"], lambda: p.cycle(p.method)),
            # Number keys 1..9 then 0 pick the methods in their list's order.
            *[a(f"method_{m.name}", m.title, [str(i % 10)] if i <= 10 else [],
                lambda _=False, n=m.name: p.choose(p.method, n))
              for i, m in enumerate(METHODS.values(), 1)],
            a("target_search", "Search a target class", ["T", "Ctrl+F"], self.focus_search),
            a("target_auto", "Target: auto (top-1)", ["A"], lambda: self.pin_target(None)),
            *[a(f"pin_{k}", f"Pin top-{k} class", [f"Alt+{k}"],
                lambda _=False, r=k - 1: self.pin_row(r)) for k in range(1, PINNABLE_ROWS + 1)],
        ]
        look = [
            a("style", "Next style", ["Y"], lambda: p.cycle(p.style)),
            a("colormap", "Next colormap", ["C"], lambda: p.cycle(p.colormap)),
            a("layout", "Next layout", ["L"], lambda: p.cycle(p.layout_)),
            a("scale", "Next map scale", ["N"], lambda: p.cycle(p.scale),
              tip="What full heat means: " + ", ".join(SCALE_HELP)),
            a("thr_down", "Threshold −", ["["], lambda: p.nudge(p.threshold, -5)),
            a("thr_up", "Threshold +", ["]"], lambda: p.nudge(p.threshold, 5)),
            a("alpha_down", "Alpha −", ["-"], lambda: p.nudge(p.alpha, -10)),
            a("alpha_up", "Alpha +", ["="], lambda: p.nudge(p.alpha, 10)),
            a("smooth_down", "Smoothing −", [";"], lambda: p.nudge(p.smoothing, -10)),
            a("smooth_up", "Smoothing +", ["'"], lambda: p.nudge(p.smoothing, 10)),
        ]
        return network, look

    def tooltips(self) -> None:
        """Each control's tooltip names its keys (read from the actions, written once)."""
        p, k = self.panel, self.s.keys
        methods = ", ".join(f"{keys} {m.title}" if (keys := k(f"method_{m.name}")) else m.title
                            for m in METHODS.values())
        pins = k(*(f"pin_{i}" for i in range(1, PINNABLE_ROWS + 1)))
        tips = {
            p.model: f"Model ({k('model_list')}; {k('model_file')} opens a file)",
            p.method: f"Method ({k('method_next')} cycles; {methods})",
            p.style: f"Overlay style ({k('style')})",
            p.colormap: f"Colormap ({k('colormap')})",
            p.layout_: f"Layout ({k('layout')})",
            p.scale: f"Map scale ({k('scale')}): what full heat means\n" + "\n".join(
                f"{name}: {text}" for name, text in SCALE_HELP.items()),
            p.threshold: "Threshold: map values under it are not coloured "
                         f"({k('thr_down')} and {k('thr_up')})",
            p.alpha: f"Blend opacity ({k('alpha_down')} and {k('alpha_up')})",
            p.smoothing: "Temporal smoothing of the map "
                         f"({k('smooth_down')} and {k('smooth_up')})",
            p.top: f"Click a class to pin it as the target ({pins})",
            p.target.search: "Type part of a class name, pick it to pin it "
                             f"({k('target_search')})",
            p.target.auto: f"Map each frame's top-1 class ({k('target_auto')})",
        }
        for widget, tip in tips.items():
            widget.setToolTip(tip)

    # -- model
    def mark_models(self) -> None:
        """'name · ready' / 'name · will download on first use (N MB)' for each built-in."""
        combo = self.panel.model
        marks = model_marks()
        for row in range(combo.count()):
            name = combo.itemData(row)
            if name in marks:
                combo.setItemText(row, f"{name} · {marks[name][0]}")
                combo.setItemData(row, marks[name][1], Qt.ItemDataRole.ToolTipRole)
        for box in (combo, self.panel.method):  # their lists show the whole marks
            box.view().setMinimumWidth(box.view().sizeHintForColumn(0) + 24)

    def _on_model_combo(self, row: int) -> None:
        name = self.panel.model.itemData(row)
        if name is None:
            self.open_model_file()
        else:
            self.set_model(name)

    def open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.panel, dialog_title(), "", dialog_filter())
        if path:
            self.set_model(path)
        else:
            self.sync()

    def set_model(self, name: str) -> None:
        self.s.set_model(name)
        self.s.show_status(f"loading {Path(name).name}… (the current model keeps running)")

    def _on_model(self, model: CamModel) -> None:
        self.panel.target.set_labels(model.labels, model.find_class)
        self.panel.serve_methods(model)
        self.mark_models()  # a first-use download has just made one ready

    # -- target
    def pin_row(self, row: int) -> None:
        index = self.panel.top.class_at(row)
        if index is not None:
            self.pin_target(index)

    def pin_target(self, index: int | None) -> None:
        self.s.set_target(index)

    def _show_target(self, index: int | None) -> None:
        model = self.s.model
        if index is None:
            self.panel.target.show_target("Auto (top-1)")
        elif model is not None:
            self.panel.target.show_target(f"Pinned: {model.short_label(index)} (#{index})")

    def focus_search(self) -> None:
        self.panel.target.search.setFocus()
        self.panel.target.search.selectAll()

    def show_result(self, result: Result) -> None:
        """The shown frame's top classes (the mapped one marked), and Auto's class."""
        mapped = result.map.target if result.map is not None else None
        self.panel.top.show_top([(i, label, prob) for (i, prob), (label, _) in
                                 zip(result.top_classes, result.top, strict=False)], mapped)
        if result.target is None:
            self.panel.target.show_target(f"Auto (top-1): {result.map_label}")

    # -- look
    def _on_look(self, *_args) -> None:
        self.s.set_style(self.panel.chosen_style(self.s.style.topk, self.s.label_scale))
        self.panel.show_values()

    def _on_smoothing(self, value: int) -> None:
        self.s.set_smoothing(value / 100)
        self.panel.show_values()

    def sync(self, *_args) -> None:
        """Show the pipeline's actual state (after a failed switch too)."""
        s, pipe, p = self.s, self.s.pipeline, self.panel
        model = s.model if s.model is not None else s.options.model
        widgets = (p.model, p.method, p.style, p.colormap, p.layout_, p.scale, p.threshold,
                   p.alpha, p.smoothing)
        with signals_blocked(*widgets):
            p.show_state(model.name if isinstance(model, CamModel) else str(model),
                         s.method_shown, pipe.style, pipe.smoothing)

    def popup(self, combo: QComboBox) -> None:
        if not self.s.presenting:
            combo.showPopup()
