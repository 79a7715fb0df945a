"""The set view's list: one row per classified image, and the filters over it.

The rows are the set run's results in arrival (set) order; QSortFilterProxyModel sorts and
filters them, so sorting by any column and the filters are Qt's own machinery: the table only
says what each cell shows and what it sorts by.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PyQt6.QtGui import QColor

from camview.results import ImageResult

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2
COLUMNS = ("File", "True class", "Predicted", "Confidence")
CONFIDENCE = COLUMNS.index("Confidence")
MISTAKE_COLOUR = QColor("#c33")


def percent(p: float) -> str:
    return f"{100 * p:.1f} %" if math.isfinite(p) else "–"


class SetTable(QAbstractTableModel):
    """The results of a set, one row each; `label(i)` names class i."""

    def __init__(self, label: Callable[[int], str]) -> None:
        super().__init__()
        self.label = label
        self.results: list[ImageResult] = []

    def clear(self, label: Callable[[int], str] | None = None) -> None:
        self.beginResetModel()
        self.results = []
        if label is not None:
            self.label = label
        self.endResetModel()

    def add(self, results: list[ImageResult]) -> None:
        if not results:
            return
        first = len(self.results)
        self.beginInsertRows(QModelIndex(), first, first + len(results) - 1)
        self.results.extend(results)
        self.endInsertRows()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's API)
        return 0 if parent.isValid() else len(self.results)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.results[index.row()]
        column = index.column()
        if role == RESULT_ROLE:
            return r
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(r, column)
        if role == SORT_ROLE:
            return self._sort_key(r, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(r)
        if role == Qt.ItemDataRole.ForegroundRole and column == 2 and not r.correct:
            return MISTAKE_COLOUR
        if role == Qt.ItemDataRole.TextAlignmentRole and column == CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, r: ImageResult, column: int) -> str:
        if column == 0:
            return r.path.name
        if column == 1:
            return self.label(r.true)
        if r.problem:
            return "unreadable" if column == 2 else "–"
        return self.label(r.predicted) if column == 2 else percent(r.confidence)

    def _sort_key(self, r: ImageResult, column: int):
        if column == CONFIDENCE:  # unreadable images sort below every probability
            return r.confidence if math.isfinite(r.confidence) else -1.0
        return self._text(r, column).casefold()

    def _tooltip(self, r: ImageResult) -> str:
        if r.problem:
            return f"{r.path}\n{r.problem}"
        top = "\n".join(f"{percent(p):>8}  {self.label(i)}" for i, p in r.top)
        return f"{r.path}\ntrue class {self.label(r.true)}: {percent(r.true_prob)}\n{top}"


@dataclass(frozen=True)
class RowFilter:
    """Which rows show: mistakes only (and unreadable images), a class as the true or the
    predicted class (or either), a confusion pair (true, predicted)."""

    mistakes_only: bool = True
    cls: int | None = None
    side: str = "either"  # "either" | "true" | "predicted"
    pair: tuple[int, int] | None = None

    def accepts(self, r: ImageResult) -> bool:
        if self.mistakes_only and r.correct:
            return False
        if self.pair is not None and (r.problem or (r.true, r.predicted) != self.pair):
            return False
        if self.cls is None:
            return True
        as_true = self.side != "predicted" and r.true == self.cls
        as_predicted = self.side != "true" and not r.problem and r.predicted == self.cls
        return as_true or as_predicted


SIDES = {"either": "as true or predicted", "true": "as true class",
         "predicted": "as predicted class"}


class SetFilter(QSortFilterProxyModel):
    """Sorts by SORT_ROLE (numbers for the confidence) and applies a RowFilter."""

    def __init__(self, table: SetTable) -> None:
        super().__init__()
        self.setSourceModel(table)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)  # rows that arrive take their sorted place
        self.rows = RowFilter()

    def set_filter(self, rows: RowFilter) -> None:
        if rows != self.rows:
            self.rows = rows
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        table: SetTable = self.sourceModel()
        return self.rows.accepts(table.results[source_row])

    def result_at(self, row: int) -> ImageResult | None:
        index = self.index(row, 0)
        return index.data(RESULT_ROLE) if index.isValid() else None
