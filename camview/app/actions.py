"""The window's actions: every control has a keyboard shortcut, a menu entry, and a tooltip
that names the shortcut; Help -> Keyboard shortcuts lists them all.

Tooltips read their keys from the actions, and the per-method actions are made from
camview.maps.METHODS, so a key or a method name is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QDialog, QMainWindow, QToolBar, QWidget

from camview.app.dialogs import table_dialog
from camview.app.widgets import OPEN_MODEL_FILE
from camview.maps import METHODS
from camview.scale import SCALE_HELP
from camview.sources import DEMO_SPEC

if TYPE_CHECKING:
    from camview.app.window import MainWindow

PINNABLE_ROWS = 3  # Alt+1..3 pin the top-k classes
RESET_TEXT = "Reset settings"
RESET_MENU = f"Settings → {RESET_TEXT}"  # how messages name the reset (menu "S&ettings")


def keys_text(keys: list[QKeySequence]) -> str:
    """Shortcuts as the platform writes them ('Ctrl+O / Ctrl+Shift+O')."""
    return " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)


class ActionMaker:
    """Makes the window's actions and keeps them by name."""

    def __init__(self, window: QWidget) -> None:
        self.window = window
        self.by_name: dict[str, QAction] = {}

    def __call__(self, name: str, text: str, keys: list[str], slot: Callable, *,
                 checkable: bool = False, tip: str = "") -> QAction:
        act = QAction(text, self.window)
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setCheckable(checkable)
        act.setToolTip(f"{tip or text} ({keys_text(act.shortcuts())})" if keys else (tip or text))
        act.setStatusTip("")
        (act.toggled if checkable else act.triggered).connect(slot)
        self.window.addAction(act)  # works with the menus and toolbar hidden (presentation)
        self.by_name[name] = act
        return act

    def keys(self, *names: str) -> str:
        """The shortcuts of the named actions, for a widget's tooltip."""
        return " / ".join(keys_text(self.by_name[n].shortcuts()) for n in names)


def build_actions(w: MainWindow) -> tuple[dict[str, QAction], QToolBar]:
    """The window's actions (by name), menus, toolbar and control tooltips."""
    a = ActionMaker(w)
    p = w.panel
    file_acts = [
        a("open_file", "Open video or image…", ["Ctrl+O"], w.open_file),
        a("open_folder", "Open image folder…", ["Ctrl+Shift+O"], w.open_folder),
        a("camera", "Camera…", ["Ctrl+K"], w.choose_camera),
        a("demo", "Demo", ["Ctrl+D"], lambda: w.set_source(DEMO_SPEC)),
        a("open_set", "Open labelled set…", ["Ctrl+L"], w.sets.open_folder_dialog,
          tip="A folder with one subfolder per class: its mistakes, most confident first"),
    ]
    set_acts = [
        a("open_set_csv", "Open labelled set from CSV…", [], w.sets.open_csv_dialog,
          tip="A CSV of path,label rows (paths relative to it)"),
        a("set_next", "Next image of the set", ["J"], lambda: w.sets.step(1)),
        a("set_previous", "Previous image of the set", ["K"], lambda: w.sets.step(-1)),
        a("back_to_live", "Back to live", ["Ctrl+B"], w.sets.leave,
          tip="Close the labelled set and return to the live views"),
    ]
    view_acts = [
        a("freeze", "Freeze", ["Space"], w.set_frozen, checkable=True,
          tip="Freeze the frame (a class or method change is mapped on it: compare them)"),
        a("step", "Step", ["Right", "."], w.step, tip="Step one frame"),
        a("record", "Record", ["R"], w.toggle_record, checkable=True,
          tip="Record the view to mp4"),
        a("snapshot", "Snapshot", ["S"], w.snapshot, tip="Save the view as PNG"),
        a("present", "Presentation", ["F11"], w.set_presentation, checkable=True,
          tip="Full screen, controls hidden, large labels (Esc leaves)"),
        a("readout", "Readout", ["F"], w.set_readout, checkable=True,
          tip="Show capture/inference fps and latency"),
        *w.compare.make_actions(a),
    ]
    a("leave", "Leave presentation", ["Esc"], lambda: w.set_presentation(False))
    net_acts = [
        a("model_list", "Choose model", ["Ctrl+M"], lambda: w.popup(p.model)),
        a("model_file", OPEN_MODEL_FILE, ["Ctrl+Shift+M"], w.open_model_file),
        a("method_next", "Next method", ["M"], lambda: p.cycle(p.method)),
        # Number keys 1..9 then 0 pick the methods in their list's order.
        *[a(f"method_{m.name}", m.title, [str(i % 10)] if i <= 10 else [],
            lambda _=False, n=m.name: p.choose(p.method, n))
          for i, m in enumerate(METHODS.values(), 1)],
        a("target_search", "Search a target class", ["T", "Ctrl+F"], w.focus_search),
        a("target_auto", "Target: auto (top-1)", ["A"], lambda: w.pin_target(None)),
        *[a(f"pin_{k}", f"Pin top-{k} class", [f"Alt+{k}"],
            lambda _=False, r=k - 1: w.pin_row(r)) for k in range(1, PINNABLE_ROWS + 1)],
    ]
    look_acts = [
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
    quit_act = a("quit", "Quit", ["Ctrl+Q"], w.close)
    settings_acts = [
        a("output_folder", "Output folder…", [], w.prefs.choose_output_folder,
          tip="Choose the folder for recordings and snapshots"),
        a("reset_settings", RESET_TEXT, [], w.prefs.reset,
          tip="Forget the saved settings and go back to the defaults"),
    ]
    help_acts = [a("help", "Keyboard shortcuts", ["F1"], w.show_shortcuts),
                 a("about", "About camview", [], w.prefs.show_about,
                   tip="The version, and each setting with where its value came from")]

    bar = w.menuBar()
    for title, acts in (("&Source", [*file_acts, *set_acts, None, quit_act]),
                        ("&View", view_acts),
                        ("&Network", net_acts), ("&Overlay", look_acts),
                        ("S&ettings", settings_acts), ("&Help", help_acts)):  # Alt+S: Source
        menu = bar.addMenu(title)
        menu.setToolTipsVisible(True)
        for act in acts:
            menu.addSeparator() if act is None else menu.addAction(act)
    toolbar = w.addToolBar("Controls")
    toolbar.setObjectName("controls")
    toolbar.setMovable(False)
    toolbar.addActions(file_acts)
    toolbar.addSeparator()
    toolbar.addActions(view_acts)

    methods = ", ".join(f"{a.keys(f'method_{m.name}')} {m.title}" for m in METHODS.values())
    pins = a.keys(*(f"pin_{k}" for k in range(1, PINNABLE_ROWS + 1)))
    tips = {
        p.model: f"Model ({a.keys('model_list')}; {a.keys('model_file')} opens a file)",
        p.method: f"Method ({a.keys('method_next')} cycles; {methods})",
        p.style: f"Overlay style ({a.keys('style')})",
        p.colormap: f"Colormap ({a.keys('colormap')})",
        p.layout_: f"Layout ({a.keys('layout')})",
        p.scale: f"Map scale ({a.keys('scale')}): what full heat means\n" + "\n".join(
            f"{name}: {text}" for name, text in SCALE_HELP.items()),
        p.threshold: "Threshold: map values under it are not coloured "
                     f"({a.keys('thr_down')} and {a.keys('thr_up')})",
        p.alpha: f"Blend opacity ({a.keys('alpha_down')} and {a.keys('alpha_up')})",
        p.smoothing: "Temporal smoothing of the map "
                     f"({a.keys('smooth_down')} and {a.keys('smooth_up')})",
        p.top: f"Click a class to pin it as the target ({pins})",
        p.target.search: "Type part of a class name, pick it to pin it "
                         f"({a.keys('target_search')})",
        p.target.auto: f"Map each frame's top-1 class ({a.keys('target_auto')})",
    }
    for widget, tip in tips.items():
        widget.setToolTip(tip)
    w.compare.tooltips(a)
    return a.by_name, toolbar


def add_to_menu(window: QMainWindow, title: str, actions: list[QAction]) -> None:
    """Add actions made after build_actions (the on-demand parts' own) to the menu `title`."""
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == title)
    menu.addSeparator()
    menu.addActions(actions)


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str]]:
    """(what, keys) for every action with a shortcut, in the order they were made."""
    return [(act.text(), keys_text(act.shortcuts())) for act in actions.values()
            if act.shortcuts()]


def show_shortcuts(parent: QWidget, rows: list[tuple[str, str]]) -> QDialog:
    """Help -> Keyboard shortcuts: every row shown, in as many column pairs as fit."""
    return table_dialog(parent, "Keyboard shortcuts", ["action", "keys"], rows)
