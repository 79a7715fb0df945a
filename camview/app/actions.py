"""The window's menus, toolbar and Help -> Keyboard shortcuts, from the actions its parts
made (Session.make_action: every control has a keyboard shortcut, a menu entry, and a
tooltip that names the shortcut)."""

from __future__ import annotations

from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QDialog, QMainWindow, QToolBar, QWidget

from camview.app.dialogs import table_dialog
from camview.app.session import keys_text

#: (menu title, its actions; None is a separator)
Menus = list[tuple[str, list[QAction | None]]]


def add_menus(window: QMainWindow, menus: Menus, toolbar: list[QAction | None]) -> QToolBar:
    """The menu bar's menus and the toolbar (None: a separator)."""
    bar = window.menuBar()
    for title, acts in menus:
        menu = bar.addMenu(title)
        menu.setToolTipsVisible(True)
        for act in acts:
            menu.addSeparator() if act is None else menu.addAction(act)
    tools = window.addToolBar("Controls")
    tools.setObjectName("controls")
    tools.setMovable(False)
    for act in toolbar:
        tools.addSeparator() if act is None else tools.addAction(act)
    return tools


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str]]:
    """(what, keys) for every action with a shortcut, in the order they were made."""
    return [(act.text(), keys_text(act.shortcuts())) for act in actions.values()
            if act.shortcuts()]


def show_shortcuts(parent: QWidget, rows: list[tuple[str, str]]) -> QDialog:
    """Help -> Keyboard shortcuts: every row shown, in as many column pairs as fit."""
    return table_dialog(parent, "Keyboard shortcuts", ["action", "keys"], rows)
