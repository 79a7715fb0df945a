"""The set view: a labelled set's images ranked by the model's mistakes, and for the selected
one the map of the class it chose beside the map of the class it should have chosen; with a
second model chosen, its column in the list and its two maps under the first's.

Only the widget (the list, its filters, the accuracy and the picture); the window's side of
it (opening, runs, switching views) is camview.app.labelled_set.controller.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QItemSelectionModel, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from camview.app.image_view import ImageView
from camview.app.labelled_set.overview import SetOverview
from camview.app.labelled_set.table import (
    CONFIDENCE,
    SIDES,
    VERSUS,
    RowFilter,
    SetFilter,
    SetTable,
    percent,
)
from camview.app.labelled_set.where_note import WhereNote
from camview.app.labelled_set.worker import Pair
from camview.app.signal_blocking import signals_blocked
from camview.models import REGISTRY, CamModel
from camview.sets.dataset import LabelledSet
from camview.sets.results import ImageResult
from camview.sets.tally import Tally
from camview.sets.views.versus import Versus

ANY_CLASS = "Any class"
NO_VERSUS = "No second model"
ALL_PAIRS = "All pairs"
BACK_TO_LIVE = "Back to live"


def list_model_names() -> list[str]:
    """The built-in models a second run may use (the registry's names)."""
    return list(REGISTRY)


class SetView(QWidget):
    """The list of a set's images with its filters, the set's accuracy, the two maps.

    Emits selected(ImageResult) when the current row changes, back() for "Back to live".
    """

    selected = pyqtSignal(object)
    back = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = SetTable(str)
        self.rows = SetFilter(self.table)
        self.title = QLabel("")
        self.title.setStyleSheet("font-weight: bold;")
        self.accuracy = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%v of %m")
        self.back_button = QPushButton(BACK_TO_LIVE)
        self.back_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.back_button.clicked.connect(self.back.emit)

        self.mistakes_only = QCheckBox("Mistakes only")
        self.mistakes_only.setChecked(True)
        self.mistakes_only.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.differ = QCheckBox("Models differ")  # shown with a second model's results
        self.differ.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.differ.setToolTip("Only the images one model gets right and the other wrong "
                               "(with Mistakes only: those only the second model gets right)")
        self.differ.hide()
        self.cls = QComboBox()
        self.cls.addItem(ANY_CLASS, None)
        self.cls.setMinimumContentsLength(16)
        self.cls.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.side = QComboBox()
        for key, text in SIDES.items():
            self.side.addItem(text, key)
        self.side.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pairs = QListWidget()
        self.pairs.setMaximumHeight(120)
        self.list = QTableView()
        self.list.setModel(self.rows)
        self.list.setSortingEnabled(True)
        self.list.sortByColumn(CONFIDENCE, Qt.SortOrder.DescendingOrder)
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.verticalHeader().hide()
        self.list.setAlternatingRowColors(True)
        header = self.list.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, self.table.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.list.setColumnHidden(VERSUS, True)  # until a second model has run
        self.versus = QComboBox()  # a second model run over the same set
        self.versus.addItem(NO_VERSUS, None)
        for name in list_model_names():
            self.versus.addItem(f"versus {name}", name)
        self.versus.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.versus.setToolTip("Run a second model over the set: both accuracies, how often "
                               "they agree, where one is right and the other wrong")
        self.versus_note = QLabel("")
        self.versus_note.setWordWrap(True)
        # Where the chosen class looks; the table names the classes of the run shown.
        self.where = WhereNote(self.cls, lambda c: self.table.label(c))
        self.overview = SetOverview()
        self.picture = ImageView("select an image")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.wanted: Path | None = None  # the image to select when it arrives (a re-run)
        #: Until the user picks a row, the top row stays selected as results come (and sort).
        self.user_chose = False
        self._selecting = False
        self._layout()
        self._connect()

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.accuracy, 1)
        top.addWidget(self.progress)
        top.addWidget(self.versus)
        top.addWidget(self.back_button)
        filters = QHBoxLayout()
        filters.addWidget(self.mistakes_only)
        filters.addWidget(QLabel("Class"))
        filters.addWidget(self.cls, 1)
        filters.addWidget(self.side)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(filters)
        column.addWidget(self.where)
        versus = QHBoxLayout()  # the second model's summary and its filter, under the others
        versus.addWidget(self.versus_note, 1)
        versus.addWidget(self.differ, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(versus)
        column.addWidget(self.list, 1)
        confused = QGroupBox("Confused pairs: true → predicted (click to filter)")
        QVBoxLayout(confused).addWidget(self.pairs)
        column.addWidget(confused)
        right = QWidget()
        shown = QVBoxLayout(right)
        shown.setContentsMargins(0, 0, 0, 0)
        self.pictures = pictures = QSplitter(Qt.Orientation.Vertical)
        pictures.addWidget(self.picture)
        pictures.addWidget(self.overview)
        pictures.setStretchFactor(0, 3)
        pictures.setStretchFactor(1, 2)
        shown.addWidget(pictures, 1)
        shown.addWidget(self.caption)
        self.split = split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)  # the picture (two maps side by side) takes the width
        split.setSizes([440, 800])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(split, 1)

    def _connect(self) -> None:
        self.mistakes_only.toggled.connect(self._apply_filter)
        self.differ.toggled.connect(self._on_differ)
        self.cls.currentIndexChanged.connect(self._apply_filter)
        self.side.currentIndexChanged.connect(self._apply_filter)
        self.pairs.currentRowChanged.connect(self._apply_filter)
        self.list.selectionModel().currentRowChanged.connect(self._on_current)
        self.rows.layoutChanged.connect(self._keep_current_visible)

    # -- filling
    def start(self, name: str, label) -> None:
        """A new run of set `name` (label(i) names class i): empty list, filters kept."""
        self.table.clear(label)
        self.wanted = None
        self.user_chose = False
        self.title.setText(name)
        self.accuracy.setText("listing the set…")
        self.progress.setRange(0, 0)  # busy until the set is listed
        self.progress.show()
        self.picture.clear()
        self.caption.setText("")
        self._set_pairs({})
        self.overview.clear()
        self.set_where({})
        self.set_versus(None)

    def set_versus(self, versus: Versus | None) -> None:
        """A second model's results in the list (its column and the differ filter), or none."""
        if versus is None:  # nothing left to differ from (unchecked before the rows go)
            with signals_blocked(self.differ):
                self.differ.setChecked(False)
        shown = not self.list.isColumnHidden(VERSUS)
        self.table.set_versus(versus)
        self.list.setColumnHidden(VERSUS, versus is None)
        self.differ.setVisible(versus is not None)
        self._apply_filter()
        if versus is not None and not shown:
            self._make_room()

    def _make_room(self) -> None:
        """The second model arrived: the list widens to show its column (up to 3/5 of the
        width: in a small window the file names would go first) and the picture, now two
        rows of maps, takes more of the height."""
        header = self.list.horizontalHeader()
        wanted = sum(max(header.sectionSizeHint(c), self.list.sizeHintForColumn(c))
                     for c in range(self.table.columnCount()) if not self.list.isColumnHidden(c))
        wanted += 2 * self.list.frameWidth() + self.list.verticalScrollBar().sizeHint().width()
        left, right = self.split.sizes()
        grown = min(wanted, 3 * (left + right) // 5)
        if grown > left:
            self.split.setSizes([grown, left + right - grown])
        top, bottom = self.pictures.sizes()
        if top < 2 * bottom:
            picture = 2 * (top + bottom) // 3
            self.pictures.setSizes([picture, top + bottom - picture])

    def listed(self, dataset: LabelledSet) -> None:
        self.progress.setRange(0, len(dataset))
        self.progress.setValue(0)
        classes = {image.label for image in dataset.images}
        self._add_classes(classes)

    def add(self, results: list[ImageResult], tally: Tally) -> None:
        """New results (the tally has them already): rows, accuracy, pairs, progress."""
        self.table.add(results)
        self._add_classes({r.predicted for r in results if not r.problem})
        self.progress.setValue(len(tally.results))
        self.show_accuracy(tally)
        self._set_pairs(tally.confusions)
        if self.current() is None or not self.user_chose:
            self._select_wanted()

    def _select_wanted(self, last: bool = False) -> None:
        """Select the image wanted (kept across a re-run) once it is listed, else the top row
        (at once when nothing is wanted; at the end of the run when it never came)."""
        if self.wanted is not None:
            rows = [r.path for r in self.visible()]
            if self.wanted in rows:
                self.select_row(rows.index(self.wanted))
                self.wanted = None
                return
            if not last:
                return
            self.wanted = None
        if self.rows.rowCount():
            self.select_row(0)

    def show_accuracy(self, tally: Tally, note: str = "") -> None:
        acc = tally.accuracy()
        problems = len(tally.problems)
        parts = [f"top-1 {percent(acc['top1'])}", f"top-5 {percent(acc['top5'])}",
                 f"{tally.count} images", f"{tally.mistakes} mistakes"]
        if problems:
            parts.append(f"{problems} unreadable")
        self.accuracy.setText(" · ".join(parts) + (f"  ({note})" if note else ""))

    def finish(self, note: str) -> None:
        self.progress.hide()
        if self.current() is None:
            self._select_wanted(last=True)
        self.accuracy.setText(f"{self.accuracy.text()}  ({note})")

    def _add_classes(self, classes: set[int]) -> None:
        """List new classes in the class filter, in alphabetical order."""
        known = {self.cls.itemData(i) for i in range(1, self.cls.count())}
        for cls in sorted(classes - known):
            name = self.table.label(cls)
            row = 1
            while row < self.cls.count() and self.cls.itemText(row).casefold() < name.casefold():
                row += 1
            self.cls.insertItem(row, name, cls)

    def _set_pairs(self, confusions) -> None:
        """The confusion pairs, most frequent first; the chosen pair stays chosen."""
        chosen = self.pair_filter()
        ranked = sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))
        wanted = [None] + [pair for pair, _ in ranked]
        shown = [self.pairs.item(i).data(Qt.ItemDataRole.UserRole)
                 for i in range(self.pairs.count())]
        with signals_blocked(self.pairs):
            if wanted != shown:
                self.pairs.clear()
                self.pairs.addItem(ALL_PAIRS)
                self.pairs.item(0).setData(Qt.ItemDataRole.UserRole, None)
                for pair, _ in ranked:
                    self.pairs.addItem(QListWidgetItem())
                    self.pairs.item(self.pairs.count() - 1).setData(Qt.ItemDataRole.UserRole, pair)
            for i, (pair, count) in enumerate(ranked, 1):
                true, predicted = pair
                self.pairs.item(i).setText(f"{self.table.label(true)} → "
                                           f"{self.table.label(predicted)}   ×{count}")
            self.pairs.setCurrentRow(wanted.index(chosen) if chosen in wanted else 0)

    # -- filters
    def pair_filter(self) -> tuple[int, int] | None:
        item = self.pairs.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def row_filter(self) -> RowFilter:
        return RowFilter(self.mistakes_only.isChecked(), self.cls.currentData(),
                         self.side.currentData(), self.pair_filter(), self.differ.isChecked())

    def _on_differ(self, on: bool) -> None:
        """Turned on, both kinds of difference show: Mistakes only would hide the images only
        the first model gets right (checking it again keeps those the second gets right)."""
        if on and self.mistakes_only.isChecked():
            with signals_blocked(self.mistakes_only):
                self.mistakes_only.setChecked(False)
        self._apply_filter()

    def set_class_filter(self, cls: int | None, side: str = "either") -> None:
        self.side.setCurrentIndex(self.side.findData(side))
        self.cls.setCurrentIndex(max(0, self.cls.findData(cls)))

    def choose_pair(self, pair: tuple[int, int] | None) -> None:
        for i in range(self.pairs.count()):
            if self.pairs.item(i).data(Qt.ItemDataRole.UserRole) == pair:
                self.pairs.setCurrentRow(i)
                return

    def _apply_filter(self, *_args) -> None:
        self.rows.set_filter(self.row_filter())
        self.overview.dim_others(self.cls.currentData())
        self.where.refresh()
        self._keep_current_visible()

    # -- the set-level views
    def show_set_views(self, tally: Tally, model: CamModel) -> None:
        """Each registered view this view shows (the overview's tabs, where each class looks
        under the filters), from the run's tally once the set is classified."""
        shows = {**self.overview.shows(), "where": self.where.show_tally}
        for view in tally.views:
            if view.name in shows:
                shows[view.name](tally, model)

    def set_where(self, where_of: dict[int, tuple[dict | None, str | None]]) -> None:
        self.where.set_where(where_of)

    def flagged(self) -> list[int]:
        return self.where.flagged()

    def select_result(self, result: ImageResult) -> None:
        """Select `result` in the list (a click in the scatter), widening the filters when
        it is not shown."""
        rows = [(r.path, r.true) for r in self.visible()]
        if (result.path, result.true) not in rows:
            with signals_blocked(self.mistakes_only), signals_blocked(self.cls), \
                    signals_blocked(self.pairs), signals_blocked(self.differ):
                self.mistakes_only.setChecked(False)
                self.differ.setChecked(False)
                self.cls.setCurrentIndex(0)
                self.pairs.setCurrentRow(0)
            self._apply_filter()
            rows = [(r.path, r.true) for r in self.visible()]
        if (result.path, result.true) in rows:
            self.select_row(rows.index((result.path, result.true)), by_user=True)

    def _keep_current_visible(self) -> None:
        if self.current() is None:
            self._select_wanted()
        elif self.list.currentIndex().isValid():
            self.list.scrollTo(self.list.currentIndex())

    # -- the selection
    def current(self) -> ImageResult | None:
        index = self.list.currentIndex()
        return self.rows.result_at(index.row()) if index.isValid() else None

    def visible(self) -> list[ImageResult]:
        """The rows as shown, top to bottom."""
        return [self.rows.result_at(r) for r in range(self.rows.rowCount())]

    def select_row(self, row: int, *, by_user: bool = False) -> None:
        index = self.rows.index(row, 0)
        if not index.isValid() or index == self.list.currentIndex():
            return
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        self._selecting = not by_user
        try:
            self.list.selectionModel().setCurrentIndex(index, flags)
        finally:
            self._selecting = False
        self.list.scrollTo(index)

    def step(self, delta: int) -> None:
        """Walk the list (J: next, K: previous), stopping at its ends."""
        count = self.rows.rowCount()
        if not count:
            return
        index = self.list.currentIndex()
        row = index.row() + delta if index.isValid() else 0
        self.select_row(min(max(row, 0), count - 1), by_user=True)

    def _on_current(self, current, _previous) -> None:
        result = self.rows.result_at(current.row()) if current.isValid() else None
        if result is not None and not self._selecting:
            self.user_chose = True  # a click, the arrow keys, J/K
        if result is not None:
            self.selected.emit(result)

    def show_pair(self, pair: Pair, method_title: str) -> None:
        self.picture.set_image(pair.picture)
        r = pair.result
        top = ", ".join(f"{self.table.label(i)} {percent(p)}" for i, p in r.top)
        lines = [f"{method_title} maps of {r.path.name}: {pair.titles[0]} | {pair.titles[1]}",
                 f"top-5: {top}"]
        second = pair.versus
        if second is not None:
            name = second.model.short_label
            top = ", ".join(f"{name(i)} {percent(p)}" for i, p in second.result.top)
            lines += [f"{second.model.name} ({second.method_title}): {second.titles[0]} | "
                      f"{second.titles[1]}", f"{second.model.name} top-5: {top}"]
        elif pair.versus_note:
            lines.append(pair.versus_note)
        self.caption.setText("\n".join([*lines, str(r.path)]))

    def show_note(self, text: str) -> None:
        self.caption.setText(text)
