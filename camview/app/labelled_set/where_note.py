"""Where each class looks, in the set view: under the class filter, where the chosen class's
maps peak and how consistently; with no class chosen, the flagged classes; flagged classes in
red in the filter, their flag as its tooltip. The window's side of camview.sets.views.where.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QComboBox, QLabel

from camview.models import CamModel
from camview.sets.tally import Tally
from camview.sets.views.where import region_name

FLAG_COLOUR = "#b42318"


class WhereNote(QLabel):
    """The note under the class filter `classes` (its items' data: class indices; row 0 is
    "any class"); `label(i)` names class i."""

    def __init__(self, classes: QComboBox, label: Callable[[int], str]) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self.classes, self.label = classes, label
        self.where_of: dict[int, tuple[dict | None, str | None]] = {}

    def show_tally(self, tally: Tally, model: CamModel) -> None:
        """A classified set's "where" of each of its classes."""
        self.set_where({c: tally.where.summary(c, model.short_label(c))
                        for c in tally.per_class})

    def set_where(self, where_of: dict[int, tuple[dict | None, str | None]]) -> None:
        """Each class's "where" and flag; flagged classes marked in the class filter."""
        self.where_of = where_of
        for row in range(1, self.classes.count()):
            _, flag = where_of.get(self.classes.itemData(row), (None, None))
            self.classes.setItemData(row, QColor(FLAG_COLOUR) if flag else None,
                                     Qt.ItemDataRole.ForegroundRole)
            self.classes.setItemData(row, flag, Qt.ItemDataRole.ToolTipRole)
        self.refresh()

    def flagged(self) -> list[int]:
        return [c for c, (_, flag) in self.where_of.items() if flag]

    def refresh(self) -> None:
        """The note for the class chosen in the filter now."""
        cls = self.classes.currentData()
        if cls is None:
            names = [self.label(c) for c in self.flagged()]
            self.setText(f"flagged (maps in one place near an edge): {', '.join(names)}"
                         if names else "")
            self.setStyleSheet(f"color: {FLAG_COLOUR};" if names else "")
            return
        where, flag = self.where_of.get(cls, (None, None))
        if where is None:
            self.setText("")
            return
        y, x = where["peak"]
        text = (f"where {self.label(cls)} looks: mean map peaks at the "
                f"{region_name(y, x)} (y {y:.2f}, x {x:.2f}); "
                f"{100 * where['consistency']:.0f} % of its {where['images']} maps peak near it")
        self.setText(text + (f"\n{flag}" if flag else ""))
        self.setStyleSheet(f"color: {FLAG_COLOUR};" if flag else "")
