"""A read-only table in a dialog, sized to show every row (Help's lists use it).

Qt sizes a table view to a fixed default, not to its rows, which cut the last shortcut off:
here the table is measured after Qt has sized its rows and columns, and long lists are laid
out in side-by-side column groups so the whole table fits on the screen without scrolling.
"""

from __future__ import annotations

import math

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

SCREEN_SHARE = 0.8  # the most of the screen's height a table may take
MAX_GROUPS = 4  # side-by-side column groups for a long list


def _fill(table: QTableWidget, headers: list[str], rows: list[tuple[str, ...]],
          groups: int) -> None:
    per_group = math.ceil(len(rows) / groups)
    table.clear()
    table.setColumnCount(len(headers) * groups)
    table.setRowCount(per_group)
    table.setHorizontalHeaderLabels(headers * groups)
    for i, row in enumerate(rows):
        group, r = divmod(i, per_group)
        for c, text in enumerate(row):
            table.setItem(r, group * len(headers) + c, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    table.resizeRowsToContents()


def _content_height(table: QTableWidget) -> int:
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    return table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth()


def _content_width(table: QTableWidget) -> int:
    columns = sum(table.columnWidth(c) for c in range(table.columnCount()))
    return columns + 2 * table.frameWidth()


def table_dialog(parent: QWidget, title: str, headers: list[str], rows: list[tuple[str, ...]],
                 note: str = "") -> QDialog:
    """Show `rows` under `headers` (and `note` above them) in a non-modal dialog."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    table = QTableWidget(dialog)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    screen = (parent.screen() if parent is not None else dialog.screen()).availableGeometry()
    for groups in range(1, MAX_GROUPS + 1):
        _fill(table, headers, rows, groups)
        if _content_height(table) <= screen.height() * SCREEN_SHARE:
            break
    table.setFixedSize(_content_width(table), min(_content_height(table),
                                                  int(screen.height() * SCREEN_SHARE)))
    box = QVBoxLayout(dialog)
    if note:
        label = QLabel(note)
        label.setWordWrap(True)
        box.addWidget(label)
    box.addWidget(table)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    box.addWidget(buttons)
    dialog.table = table  # tests and callers read it
    dialog.adjustSize()
    dialog.show()
    return dialog
