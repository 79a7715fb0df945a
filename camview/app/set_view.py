"""The set view: a labelled set's images ranked by the model's mistakes, and for the selected
one the map of the class it chose beside the map of the class it should have chosen.

SetView is the widget (the list, its filters, the accuracy and the picture); SetMode is the
window's side of it: opening a set (menu, drop, --set), the run on a worker thread, switching
between the set and the live views, and following the window's model, method and style.

While the set view is shown the live views are hidden and the live source is frozen (inference
idles on a held frame), so the set gets the CPU; "Back to live" closes the set, cancelling
its run, and unfreezes the source unless it was frozen before. Reopening the set is quick:
results are cached per model, preprocessing, file and modification time.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QItemSelectionModel, QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from camview.app.set_table import CONFIDENCE, SIDES, RowFilter, SetFilter, SetTable, percent
from camview.app.set_worker import LatestJob, Pair, SetRun, explain_pair
from camview.app.widgets import ImageView
from camview.dataset import LabelledSet, looks_like_labelled_set
from camview.evaluate import Tally
from camview.labels import imagenet_labels
from camview.results import ImageResult

if TYPE_CHECKING:
    from camview.app.window import MainWindow

ANY_CLASS = "Any class"
#: Titles over the two maps: the picture is scaled down to fit beside the list, so larger.
TITLE_SCALE = 1.6
ALL_PAIRS = "All pairs"
BACK_TO_LIVE = "Back to live"


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
        column.addWidget(self.list, 1)
        confused = QGroupBox("Confused pairs: true → predicted (click to filter)")
        QVBoxLayout(confused).addWidget(self.pairs)
        column.addWidget(confused)
        right = QWidget()
        shown = QVBoxLayout(right)
        shown.setContentsMargins(0, 0, 0, 0)
        shown.addWidget(self.picture, 1)
        shown.addWidget(self.caption)
        split = QSplitter(Qt.Orientation.Horizontal)
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
        self.pairs.blockSignals(True)
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
        self.pairs.blockSignals(False)

    # -- filters
    def pair_filter(self) -> tuple[int, int] | None:
        item = self.pairs.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def row_filter(self) -> RowFilter:
        return RowFilter(self.mistakes_only.isChecked(), self.cls.currentData(),
                         self.side.currentData(), self.pair_filter())

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
        self._keep_current_visible()

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
        self.caption.setText(f"{method_title} maps of {r.path.name}: {pair.titles[0]} | "
                             f"{pair.titles[1]}\ntop-5: {top}\n{r.path}")

    def show_note(self, text: str) -> None:
        self.caption.setText(text)


class SetMode(QObject):
    """The window's labelled-set mode: the set view stacked over the live views, its runs and
    its explanations. Everything here runs on the GUI thread; the work is in set_worker."""

    def __init__(self, window: MainWindow, live: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.view = SetView()
        self.stack = QStackedWidget()
        self.stack.addWidget(live)
        self.stack.addWidget(self.view)
        self.spec: str | None = None  # the set shown
        self.run: SetRun | None = None
        self.tally = Tally(max_mistakes=0)  # the list ranks the mistakes itself
        self.cache_hits: int | None = None  # of the last finished run
        self.explainer = LatestJob()
        self._model = self._method = None  # what the run and the picture were made with
        self._explained: tuple | None = None
        self._was_frozen = False
        self.view.selected.connect(self.explain)
        self.view.back.connect(self.leave)
        self.explainer.done.connect(self._on_explained)
        self.explainer.failed.connect(self._on_explain_failed)
        window.bridge.configChanged.connect(self._on_config)
        p = window.panel
        for combo in (p.style, p.colormap):
            combo.currentIndexChanged.connect(self._on_style)
        for slider in (p.threshold, p.alpha):
            slider.valueChanged.connect(self._on_style)

    @property
    def shown(self) -> bool:
        return self.stack.currentWidget() is self.view

    # -- opening
    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.window, "Open a labelled set (one subfolder per class)",
            self.window.settings.value("last_dir", ""))
        if path:
            self.window.settings.setValue("last_dir", path)
            self.open(path)

    def open_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open a labelled set (a CSV of path,label rows)",
            self.window.settings.value("last_dir", ""), "CSV files (*.csv);;All files (*)")
        if path:
            self.window.settings.setValue("last_dir", str(Path(path).parent))
            self.open(path)

    def open_if_set(self, path: str) -> bool:
        """Open a dropped path as a set when it looks like one; False: it is a plain source."""
        model = self.window.pipeline.current_model
        labels = model.labels if model is not None else imagenet_labels()
        if not looks_like_labelled_set(path, labels):
            return False
        self.open(path)
        return True

    def open(self, spec: str | Path) -> None:
        """Show the set at `spec` and classify it in the background (replacing any set)."""
        self.spec = str(spec)
        self._show()
        self._restart()

    def _restart(self) -> None:
        """(Re)run the set with the window's current model; waits for one to be loaded."""
        self._cancel_run()
        self.tally = Tally(max_mistakes=0)
        self.cache_hits = None
        model = self.window.pipeline.current_model
        name = Path(self.spec).name or self.spec
        self._model = model
        if model is None:
            self.view.start(name, str)
            self.view.accuracy.setText("waiting for the model to load…")
            return
        self.view.start(f"{name} — {model.name}", model.short_label)
        self.run = SetRun(self.spec, model)
        self.run.opened.connect(self._on_opened)
        self.run.resultsReady.connect(self._on_results)
        self.run.finished.connect(self._on_finished)
        self.run.failed.connect(self._on_failed)
        self.run.start()

    def _cancel_run(self) -> None:
        if self.run is not None:
            self.run.cancel()
            self.run = None

    # -- the run's signals
    def _on_opened(self, dataset: LabelledSet) -> None:
        self.view.listed(dataset)
        if dataset.warnings:
            self.window.show_status(dataset.warnings[0] + (
                f" (and {len(dataset.warnings) - 1} more)" if len(dataset.warnings) > 1 else ""),
                error=True, colour="#b60")

    def _on_results(self) -> None:
        if self.run is None or self.sender() is not self.run:
            return
        results = self.run.take_results()
        for r in results:
            self.tally.add(r)
        self.view.add(results, self.tally)

    def _on_finished(self, hits: int) -> None:
        if self.sender() is not self.run:
            return
        self._on_results()  # any results still waiting
        self.cache_hits = hits
        n = len(self.tally.results)
        self.view.finish(f"all {hits} from the cache" if hits == n and n else
                         f"{hits} of {n} from the cache" if hits else "done")
        self.run = None

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self.run:
            return
        self.run = None
        self.view.progress.hide()
        self.view.accuracy.setText(message)
        self.window.show_status(message, error=True)

    # -- explaining the selected image
    def _style(self):
        style = self.window.current_style()
        return replace(style, layout="overlay", topk=0,
                       label_scale=max(style.label_scale, TITLE_SCALE))

    def explain(self, result: ImageResult | None = None) -> None:
        """Draw the selected image's two maps on the explain thread (the newest choice wins)."""
        result = result or self.view.current()
        cfg = self.window.pipeline.config()
        model, method = cfg.model, cfg.method
        if result is None or model is None or method is None:
            return
        if result.problem:
            self._explained = None
            self.view.show_note(f"{result.path}: {result.problem}")
            return
        style = self._style()
        key = (result.path, result.true, id(model), id(method), style)
        if key == self._explained:
            return
        self._explained = key
        self._method = method
        self.view.show_note(f"drawing the {method.title} maps of {result.path.name}…")
        self.explainer.submit(lambda cancel: explain_pair(model, method, result, style, cancel))

    def _on_explained(self, token: int, pair: Pair) -> None:
        if token == self.explainer.latest and self.shown:
            self.view.show_pair(pair, self._method.title if self._method else "")

    def _on_explain_failed(self, token: int, message: str) -> None:
        if token == self.explainer.latest:
            self._explained = None
            self.view.show_note(message)

    def _on_config(self) -> None:
        """A model or method switch: the picture is drawn again at once; a new model also
        runs the set again (classification does not depend on the method)."""
        if not self.shown or self.spec is None:
            return
        if self.window.pipeline.current_model is not self._model:
            wanted = self.view.current()
            self._restart()
            if wanted is not None:  # drawn now, and selected again when the run lists it
                self.view.wanted = wanted.path
                self.explain(wanted)
        else:
            self.explain()

    def _on_style(self, *_args) -> None:
        if self.shown:
            self.explain()

    # -- switching views
    def _show(self) -> None:
        w = self.window
        if not self.shown:
            self._was_frozen = w.pipeline.frozen
            w.pipeline.freeze(True)
            w._set_checked("freeze", True)
            self.stack.setCurrentWidget(self.view)
            self._show_live_panels(False)
            if w._fit_pending:  # the first frame must not size the window for the live views
                w._fit_pending = False
                screen = w.screen().availableGeometry() if w.screen() else None
                if screen is not None and not w.isMaximized():
                    w.resize(min(screen.width(), 1500), min(screen.height() - 40, 900))
        w.setWindowTitle(f"camview — labelled set {self.spec}")
        w.show_status(f"labelled set {self.spec}; the live source is paused — "
                      f"{BACK_TO_LIVE} ({w.actions_by_name['back_to_live'].shortcut().toString()})"
                      " returns to it", now=True)
        self.view.list.setFocus()

    def leave(self) -> None:
        """Back to the live views: the set is closed (its run cancelled), the source runs on
        (unless it was frozen before the set was opened)."""
        if not self.shown:
            return
        self._cancel_run()
        self.spec = None
        self._explained = None
        w = self.window
        self.stack.setCurrentIndex(0)
        self._show_live_panels(True)
        w.pipeline.freeze(self._was_frozen)
        w._set_checked("freeze", self._was_frozen)
        w._update_title()
        w.show_status("live" if not self._was_frozen else "frozen", now=True)

    def _show_live_panels(self, on: bool) -> None:
        """The live frame's top classes and target are hidden beside a set's images (they
        would name the paused frame's classes); model, method and overlay stay."""
        for widget in (self.window.panel.top, self.window.panel.target):
            widget.parentWidget().setVisible(on)

    def step(self, delta: int) -> None:
        if self.shown:
            self.view.step(delta)

    def close(self, timeout: float = 1.0) -> None:
        """The window closes: stop both threads (briefly waiting for them)."""
        run, self.run = self.run, None
        if run is not None:
            run.cancel()
            run.join(timeout)
        self.explainer.stop(timeout)
