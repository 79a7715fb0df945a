"""The set view's list: one row per classified image, and the filters over it.

The rows are the set run's results in arrival (set) order; QSortFilterProxyModel sorts and
filters them, so sorting by any column and the filters are Qt's own machinery: the table only
says what each cell shows and what it sorts by. A second model run over the set (Versus) adds
its column, the view hiding it while there is none.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PyQt6.QtGui import QColor

from camview.sets.results import ImageResult
from camview.sets.views.versus import Versus

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2
COLUMNS = ("File", "True class", "Predicted", "Confidence", "Second model")
PREDICTED = COLUMNS.index("Predicted")
CONFIDENCE = COLUMNS.index("Confidence")
VERSUS = COLUMNS.index("Second model")  # its top-1 and %, headed by its name
MISTAKE_COLOUR = QColor("#c33")


def percent(p: float) -> str:
    return f"{100 * p:.1f} %" if math.isfinite(p) else "–"


class SetTable(QAbstractTableModel):
    """The results of a set, one row each; `label(i)` names class i."""

    def __init__(self, label: Callable[[int], str]) -> None:
        super().__init__()
        self.label = label
        self.results: list[ImageResult] = []
        self.versus: Versus | None = None

    def clear(self, label: Callable[[int], str] | None = None) -> None:
        self.beginResetModel()
        self.results = []
        self.versus = None
        if label is not None:
            self.label = label
        self.endResetModel()

    def set_versus(self, versus: Versus | None) -> None:
        """Show a second model's results in its column (None: no second model). Only that
        column changes, so the selection and the sorting stay."""
        self.versus = versus
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, VERSUS, VERSUS)
        if self.results:
            self.dataChanged.emit(self.index(0, VERSUS),
                                  self.index(len(self.results) - 1, VERSUS))

    def second(self, r: ImageResult) -> ImageResult | None:
        """The second model's result for row `r` (None: no second model, or no result)."""
        return self.versus.result_for(r) if self.versus is not None else None

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
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if section == VERSUS and self.versus is not None:
                return self.versus.second.name
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == VERSUS:
            return "The second model's top-1 (red: wrong)"
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
        if role == Qt.ItemDataRole.ForegroundRole and self._wrong(r, column):
            return MISTAKE_COLOUR
        if role == Qt.ItemDataRole.TextAlignmentRole and column == CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _wrong(self, r: ImageResult, column: int) -> bool:
        """Whether the cell is a wrong answer (drawn in red): the first model's or the
        second's."""
        if column == PREDICTED:
            return not r.correct
        if column == VERSUS:
            second = self.second(r)
            return second is not None and not second.correct
        return False

    def _text(self, r: ImageResult, column: int) -> str:
        if column == VERSUS:
            return self._second_text(r)
        if column == 0:
            return r.path.name
        if column == 1:
            return self.label(r.true)
        if r.problem:
            return "unreadable" if column == 2 else "–"
        return self.label(r.predicted) if column == 2 else percent(r.confidence)

    def _second_text(self, r: ImageResult) -> str:
        second = self.second(r)
        if second is None:  # not classified by it (yet), or a class it has no name for
            return "–"
        if second.problem:
            return "unreadable"
        return f"{self.versus.second.short_label(second.predicted)} {percent(second.confidence)}"

    def _sort_key(self, r: ImageResult, column: int):
        if column == CONFIDENCE:  # unreadable images sort below every probability
            return r.confidence if math.isfinite(r.confidence) else -1.0
        return self._text(r, column).casefold()

    def _tooltip(self, r: ImageResult) -> str:
        if r.problem:
            return f"{r.path}\n{r.problem}"
        top = "\n".join(f"{percent(p):>8}  {self.label(i)}" for i, p in r.top)
        text = f"{r.path}\ntrue class {self.label(r.true)}: {percent(r.true_prob)}\n{top}"
        second = self.second(r)
        if second is not None and not second.problem:
            name = self.versus.second.short_label
            text += f"\n{self.versus.second.name}:\n" + "\n".join(
                f"{percent(p):>8}  {name(i)}" for i, p in second.top)
        return text


@dataclass(frozen=True)
class RowFilter:
    """Which rows show: mistakes only (and unreadable images), a class as the true or the
    predicted class (or either), a confusion pair (true, predicted), the images where the
    two models differ (one right, the other wrong)."""

    mistakes_only: bool = True
    cls: int | None = None
    side: str = "either"  # "either" | "true" | "predicted"
    pair: tuple[int, int] | None = None
    differ: bool = False

    def accepts(self, r: ImageResult, second: ImageResult | None = None) -> bool:
        """`second`: the second model's result for the image (the differ filter's)."""
        if self.mistakes_only and r.correct:
            return False
        if self.differ and (second is None or r.problem or second.problem
                            or r.correct == second.correct):
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
        r = table.results[source_row]
        return self.rows.accepts(r, table.second(r))

    def result_at(self, row: int) -> ImageResult | None:
        index = self.index(row, 0)
        return index.data(RESULT_ROLE) if index.isValid() else None
