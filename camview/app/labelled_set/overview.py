"""The set as a whole in the set view: the embedding scatter and the confusion matrix, as tabs
beside the selected image's maps.

The scatter is a pyqtgraph ScatterPlotItem: hovering a point names its image, clicking one
selects it in the list (imageClicked), the list's selection is ringed, and a class filter
dims the other classes. The confusion tab is the set's matrix (rows true, columns predicted,
then "other"); clicking a cell filters the list to that pair (pairClicked). Only widgets:
the set mode (controller) feeds them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QBrush, QColor
from PyQt6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget

from camview.models import CamModel
from camview.sets.results import ImageResult
from camview.sets.tally import Tally
from camview.sets.view_registry import view_tabs
from camview.sets.views.embedding import class_markers

DIMMED_ALPHA = 30
OTHER = "other"


#: pyqtgraph's symbols for the report's marker shapes.
SYMBOLS = {"circle": "o", "square": "s", "triangle": "t1", "diamond": "d"}

class SetOverview(QTabWidget):
    """Tabs "Scatter" and "Confusion" of one set run."""

    imageClicked = pyqtSignal(object)  # the ImageResult of the point clicked
    pairClicked = pyqtSignal(object)  # (true, predicted) of the cell clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMouseEnabled(False, False)
        self.plot.setMenuEnabled(False)
        self.points = pg.ScatterPlotItem(hoverable=True, size=8, tip=self._tip,
                                         hoverPen=pg.mkPen("k", width=2))
        self.ring = pg.ScatterPlotItem(size=18, brush=None, pen=pg.mkPen("#111", width=2))
        self.plot.addItem(self.points)
        self.plot.addItem(self.ring)
        self.points.sigClicked.connect(self._on_clicked)
        self.note = QLabel("The scatter comes when the set has been classified.")
        self.note.setWordWrap(True)
        scatter = QWidget()
        box = QVBoxLayout(scatter)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.plot, 1)
        box.addWidget(self.note)
        self.confusion = QTableWidget()
        self.confusion.cellClicked.connect(self._on_cell)
        # Each registered view with a tab (camview.sets.view_registry) gets its widget here,
        # titled as the view says; the order is the window's (the set at a glance first).
        built = {"embedding": scatter, "confusion": self.confusion}
        titles = view_tabs()
        for name, widget in built.items():
            if name in titles:
                self.addTab(widget, titles[name])
        self.results: list[ImageResult] = []
        self.xy = np.zeros((0, 2), np.float32)
        self._colours: dict[int, str] = {}
        self._classes: list[int] = []
        self._dim: int | None = None
        self._label: Callable[[int], str] = str

    # -- the scatter
    def clear(self) -> None:
        self.points.clear()
        self.ring.clear()
        self.results, self.xy = [], np.zeros((0, 2), np.float32)
        self.note.setText("The scatter comes when the set has been classified.")
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)

    def set_points(self, results: Sequence[ImageResult], points: np.ndarray,
                   label: Callable[[int], str], note: str) -> None:
        """One point per result with a finite position (points: (len(results), 2))."""
        keep = [n for n in range(len(results)) if np.isfinite(points[n, 0])]
        self.results = [results[n] for n in keep]
        self.xy = points[keep].astype(np.float32)
        self._label = label
        counts: dict[int, int] = {}
        for r in self.results:
            counts[r.true] = counts.get(r.true, 0) + 1
        self._markers = class_markers(counts)
        self.note.setText(note)
        self._draw()

    def _brush(self, r: ImageResult) -> QBrush:  # the report's markers (class_markers)
        colour = QColor(self._markers[r.true].colour)
        if self._dim is not None and r.true != self._dim and r.predicted != self._dim:
            colour.setAlpha(DIMMED_ALPHA)
        return QBrush(colour)

    def _draw(self) -> None:
        spots = [{"pos": (float(x), float(y)), "data": n, "brush": self._brush(r),
                  "symbol": SYMBOLS[self._markers[r.true].shape],
                  "pen": pg.mkPen("#111", width=1.2) if not r.correct else pg.mkPen(None),
                  "size": 10 if not r.correct else 7}
                 for n, (r, (x, y)) in enumerate(zip(self.results, self.xy, strict=True))]
        self.points.setData(spots=spots)
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.04)

    def _tip(self, x: float, y: float, data: int) -> str:
        r = self.results[data]
        confidence = "–" if not math.isfinite(r.confidence) else f"{100 * r.confidence:.1f} %"
        return (f"{r.path.name}: {self._label(r.true)} \u2192 {self._label(r.predicted)}, "
                f"{confidence}")

    def tip_of(self, result: ImageResult) -> str | None:
        for n, r in enumerate(self.results):
            if r.path == result.path and r.true == result.true:
                return self._tip(0, 0, n)
        return None

    def dim_others(self, cls: int | None) -> None:
        """The class filter: every point of another class faint (None: all full)."""
        if cls != self._dim:
            self._dim = cls
            if self.results:
                self._draw()

    def highlight(self, result: ImageResult | None) -> None:
        """Ring the list's selected image."""
        for n, r in enumerate(self.results):
            if result is not None and r.path == result.path and r.true == result.true:
                self.ring.setData(pos=[tuple(map(float, self.xy[n]))])
                return
        self.ring.clear()

    def position_of(self, result: ImageResult) -> tuple[float, float] | None:
        for n, r in enumerate(self.results):
            if r.path == result.path and r.true == result.true:
                return float(self.xy[n, 0]), float(self.xy[n, 1])
        return None

    def _on_clicked(self, _item, points, _event) -> None:
        if len(points):
            self.imageClicked.emit(self.results[points[0].data()])

    def shows(self) -> dict[str, Callable[[Tally, CamModel], None]]:
        """{view name: what shows it here from a classified set's tally}: the tabs filled at
        the end of a run (the scatter comes with its points, computed off the GUI thread)."""
        return {"confusion": lambda tally, model: self.set_confusion(tally.confusion(model))}

    # -- the confusion matrix
    def set_confusion(self, confusion: dict) -> None:
        """The matrix of Tally.confusion: rows true, columns predicted, then "other"."""
        labels, matrix = confusion["labels"], confusion["matrix"]
        self._classes = list(confusion["indices"])
        table = self.confusion
        table.clear()
        table.setRowCount(len(labels))
        table.setColumnCount(len(labels) + 1)
        table.setVerticalHeaderLabels(labels)
        table.setHorizontalHeaderLabels([*labels, OTHER])
        for r, row in enumerate(matrix):
            total = max(1, sum(row))
            for c, count in enumerate(row):
                item = QTableWidgetItem(str(count))
                share = count / total
                if count:
                    base = (26, 127, 55) if r == c else (180, 35, 24)
                    item.setBackground(QColor(*base, int(40 + 215 * share)))
                item.setToolTip(f"{labels[r]} \u2192 {([*labels, OTHER])[c]}: {count}")
                table.setItem(r, c, item)
        table.resizeColumnsToContents()

    def _on_cell(self, row: int, column: int) -> None:
        if row >= len(self._classes):
            return
        true = self._classes[row]
        predicted = self._classes[column] if column < len(self._classes) else None
        self.pairClicked.emit((true, predicted))
