"""The window's labelled-set mode: opening a set (menu, drop, --set), its run on a worker
thread, switching between the set view and the live views, following the window's model,
method and style.

While the set view is shown the live views are hidden and the live source is frozen (inference
idles on a held frame), so the set gets the CPU; "Back to live" closes the set, cancelling
its run, and unfreezes the source unless it was frozen before. Reopening the set is quick:
results are cached per model, preprocessing, file and modification time.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import QObject
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QFileDialog

from camview.app.labelled_set.view import BACK_TO_LIVE, SetView
from camview.app.labelled_set.worker import LatestJob, Pair, SetRun, explain_pair
from camview.app.session import Session
from camview.labels import imagenet_labels
from camview.maps import Cancelled
from camview.sets.classify import DEFAULT_BATCH
from camview.sets.dataset import (
    LabelledSet,
    keras_class_names,
    looks_like_labelled_set,
    name_classes_from_folders,
)
from camview.sets.results import ImageResult, ResultCache
from camview.sets.tally import Tally
from camview.sets.views.versus import Versus

#: Titles over the two maps: the picture is scaled down to fit beside the list, so larger.
TITLE_SCALE = 1.6


class SetMode(QObject):
    """The window's labelled-set mode: the set view (the window stacks it over the live views),
    its runs and its explanations. Everything here runs on the GUI thread; the work is in
    camview.app.labelled_set.worker."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.s = session
        self.view = SetView()
        self.shown = False
        self.spec: str | None = None  # the set shown
        self.run: SetRun | None = None
        self.tally = Tally(max_mistakes=0)  # the list ranks the mistakes itself
        self.cache_hits: int | None = None  # of the last finished run
        self.explainer = LatestJob()
        self.versus_job = LatestJob(name="camview-set-versus")  # the second model's run
        self.dataset: LabelledSet | None = None
        self.versus: Versus | None = None
        self._model = self._method = None  # what the run and the picture were made with
        self._explained: tuple | None = None
        self._was_frozen = False
        self.view.selected.connect(self.explain)
        self.view.selected.connect(self.view.overview.highlight)
        self.view.overview.imageClicked.connect(self.view.select_result)
        self.view.overview.pairClicked.connect(self._on_cell)
        self.view.back.connect(self.leave)
        self.view.versus.currentIndexChanged.connect(lambda _i: self.run_versus())
        self.versus_job.done.connect(self._on_versus)
        self.versus_job.failed.connect(self._on_versus_failed)
        self.explainer.done.connect(self._on_explained)
        self.explainer.failed.connect(self._on_explain_failed)
        session.modelChanged.connect(self._on_model)
        session.methodShown.connect(self._on_method)
        session.lookChanged.connect(self._on_style)
        session.setShown.connect(lambda title: None if title else self.leave())

    def make_actions(self) -> tuple[list[QAction], list[QAction]]:
        """(the Source menu's and toolbar's open action, the Source menu's set actions)."""
        a = self.s.make_action
        opening = [a("open_set", "Open labelled set…", ["Ctrl+L"], self.open_folder_dialog,
                     tip="A folder with one subfolder per class: its mistakes, most confident "
                         "first")]
        return opening, [
            a("open_set_csv", "Open labelled set from CSV…", [], self.open_csv_dialog,
              tip="A CSV of path,label rows (paths relative to it)"),
            a("set_next", "Next image of the set", ["J"], lambda: self.step(1)),
            a("set_previous", "Previous image of the set", ["K"], lambda: self.step(-1)),
            a("back_to_live", BACK_TO_LIVE, ["Ctrl+B"], self.leave,
              tip="Close the labelled set and return to the live views"),
        ]

    # -- opening
    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.view, "Open a labelled set (one subfolder per class)",
            self.s.settings.value("last_dir", ""))
        if path:
            self.s.settings.setValue("last_dir", path)
            self.open(path)

    def open_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.view, "Open a labelled set (a CSV of path,label rows)",
            self.s.settings.value("last_dir", ""), "CSV files (*.csv);;All files (*)")
        if path:
            self.s.settings.setValue("last_dir", str(Path(path).parent))
            self.open(path)

    def open_if_set(self, path: str) -> bool:
        """Open a dropped path as a set when it looks like one; False: it is a plain source."""
        model = self.s.model
        labels = model.labels if model is not None else imagenet_labels()
        # A model without label names takes a folder per class as its set (Keras' order).
        unnamed = model is not None and not model.labels_named and \
            keras_class_names(path, len(model.labels)) is not None
        if not unnamed and not looks_like_labelled_set(path, labels):
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
        self.dataset = self.versus = None
        model = self.s.model
        name = Path(self.spec).name or self.spec
        self._model = model
        if model is None:
            self.view.start(name, str)
            self.view.accuracy.setText("waiting for the model to load…")
            return
        named = name_classes_from_folders(model, self.spec)  # before the set is read by name
        self.view.start(f"{name} — {model.name}", model.short_label)
        if named:
            self.s.show_status(named, error=True, colour="#b60")  # held: a convention applied
        self.run = SetRun(self.spec, model)
        self.run.opened.connect(self._on_opened)
        self.run.resultsReady.connect(self._on_results)
        self.run.embedded.connect(self._on_embedded)
        self.run.finished.connect(self._on_finished)
        self.run.failed.connect(self._on_failed)
        self.run.start()

    def _cancel_run(self) -> None:
        if self.run is not None:
            self.run.cancel()
            self.run = None

    # -- the run's signals
    def _on_opened(self, dataset: LabelledSet) -> None:
        self.dataset = dataset
        self.view.listed(dataset)
        if dataset.warnings:
            self.s.show_status(dataset.warnings[0] + (
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
        self._show_set_views()
        self.run_versus()
        self.cache_hits = hits
        n = len(self.tally.results)
        self.view.finish(f"all {hits} from the cache" if hits == n and n else
                         f"{hits} of {n} from the cache" if hits else "done")
        self.run = None

    def _on_embedded(self, embedded) -> None:
        if self.sender() is not self.run or self._model is None:
            return
        self._on_results()  # the points are by set position: every result first
        done, points = embedded
        how = "t-SNE" if done.method == "tsne" else "PCA (too few images for t-SNE)"
        self.view.overview.set_points(
            self.tally.results, points[:len(self.tally.results)], self._model.short_label,
            f"{done.dims} channels of {self._model.read_layer}, pooled, reduced with {how}; "
            "diamonds are mistakes. Hover: the image; click: select it.")
        self.view.overview.dim_others(self.view.cls.currentData())
        self.view.overview.highlight(self.view.current())

    def _show_set_views(self) -> None:
        """The set-level views the window shows (confusion, where each class looks), once the
        set is classified."""
        if self._model is not None and self.tally.per_class:
            self.view.show_set_views(self.tally, self._model)

    # -- a second model over the same set
    def run_versus(self) -> None:
        """Run the model chosen in the view's versus list over the set, in the background
        (once the set's own run is done); its summary goes under the filters."""
        name = self.view.versus.currentData()
        if self.versus is not None:
            self.versus = None
            self.view.set_versus(None)
            self.explain()  # the picture without the second model's row
        if name is None or self.dataset is None or self._model is None:
            self.view.versus_note.setText("")
            self.versus_job.submit(lambda cancel: None)  # drops a run in progress
            return
        if self.run is not None:
            self.view.versus_note.setText(f"{name} runs once the set is classified…")
            return
        first, images = self._model, self.dataset.images

        def job(cancel):
            from camview.models import load_model

            versus = Versus(first, load_model(name), images)
            cache = ResultCache.default()
            try:
                versus.run(batch_size=DEFAULT_BATCH, cache=cache, cancel=cancel)
            finally:
                if cache is not None:
                    cache.close()
            if cancel.is_set():
                raise Cancelled
            return versus

        self.view.versus_note.setText(f"running {name} over the set…")
        self.versus_job.submit(job)

    def _on_versus(self, token: int, versus) -> None:
        if token != self.versus_job.latest or versus is None or not self.shown:
            return
        self.versus = versus
        self.view.set_versus(versus)
        self.explain()  # the selected image gains the second model's maps
        v = versus.summary(self.tally.results)
        first = self._model.name if self._model is not None else "first"
        unmatched = (f"; no {v['model']} label for: {', '.join(v['unmatched'])}"
                     if v["unmatched"] else "")
        self.view.versus_note.setText(
            f"{v['model']}: top-1 {100 * v['accuracy']['top1']:.1f} %, top-5 "
            f"{100 * v['accuracy']['top5']:.1f} %; agrees with {first} on "
            f"{100 * v['agree']:.1f} %; only {first} right on {v['only_first_right']}, only "
            f"{v['model']} right on {v['only_second_right']}{unmatched}")

    def _on_versus_failed(self, token: int, message: str) -> None:
        if token == self.versus_job.latest:
            self.view.versus_note.setText(message)
            self.s.show_status(message, error=True)

    def _on_cell(self, pair) -> None:
        """A confusion cell: the list shows that pair (the diagonal: the class's images)."""
        true, predicted = pair
        view = self.view
        if predicted == true or predicted is None:
            view.mistakes_only.setChecked(predicted is None)
            view.choose_pair(None)
            view.set_class_filter(true, "true")
        elif (true, predicted) in self.tally.confusions:
            view.mistakes_only.setChecked(True)
            view.set_class_filter(None)
            view.choose_pair((true, predicted))

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self.run:
            return
        self.run = None
        self.view.progress.hide()
        self.view.accuracy.setText(message)
        self.s.show_status(message, error=True)

    # -- explaining the selected image
    def _style(self):
        style = self.s.current_style()
        return replace(style, layout="overlay", topk=0,
                       label_scale=max(style.label_scale, TITLE_SCALE))

    def explain(self, result: ImageResult | None = None) -> None:
        """Draw the selected image's two maps on the explain thread (the newest choice wins),
        and the second model's two when it has run over the set."""
        result = result or self.view.current()
        cfg = self.s.pipeline.config()
        model, method = cfg.model, cfg.method
        if result is None or model is None or method is None:
            return
        if result.problem:
            self._explained = None
            self.view.show_note(f"{result.path}: {result.problem}")
            return
        style = self._style()
        versus = self.versus if model is self._model else None  # its results are the run's
        key = (result.path, result.true, id(model), id(method), style, id(versus))
        if key == self._explained:
            return
        self._explained = key
        self._method = method
        second = versus.result_for(result) if versus is not None else None
        note = "" if versus is None or second is not None else (
            f"{versus.second.name} has no label for {model.short_label(result.true)}")

        fit = (self.view.picture.width(), self.view.picture.height())

        def job(cancel):
            # The second model's method is built here, off the GUI thread (once per name).
            pair = None if second is None else (
                versus.second, versus.method_for(method.name), second)
            return explain_pair(model, method, result, style, cancel, pair, note, fit)

        self.view.show_note(f"drawing the {method.title} maps of {result.path.name}…")
        self.explainer.submit(job)

    def _on_explained(self, token: int, pair: Pair) -> None:
        if token == self.explainer.latest and self.shown:
            self.view.show_pair(pair, self._method.title if self._method else "")

    def _on_explain_failed(self, token: int, message: str) -> None:
        if token == self.explainer.latest:
            self._explained = None
            self.view.show_note(message)

    def _on_model(self, model) -> None:
        """A new model runs the set again; the selected image is drawn again at once."""
        if not self.shown or self.spec is None or model is self._model:
            return
        wanted = self.view.current()
        self._restart()
        if wanted is not None:  # drawn now, and selected again when the run lists it
            self.view.wanted = wanted.path
            self.explain(wanted)

    def _on_method(self, _name: str) -> None:
        """A method switch redraws the picture (classification does not depend on it)."""
        if self.shown and self.spec is not None:
            self.explain()

    def _on_style(self, *_args) -> None:
        if self.shown:
            self.explain()

    # -- switching views
    def _show(self) -> None:
        s = self.s
        if not self.shown:
            self._was_frozen = s.frozen
            s.freeze(True)
            self.shown = True
        s.setShown.emit(f"labelled set {self.spec}")  # the window shows the view
        s.show_status(f"labelled set {self.spec}; the live source is paused — "
                      f"{BACK_TO_LIVE} ({s.keys('back_to_live')}) returns to it", now=True)
        self.view.list.setFocus()

    def leave(self) -> None:
        """Back to the live views: the set is closed (its run cancelled), the source runs on
        (unless it was frozen before the set was opened)."""
        if not self.shown:
            return
        self._cancel_run()
        self.versus_job.submit(lambda cancel: None)  # drops a second model's run
        self.versus = None
        self.spec = None
        self._explained = None
        self.shown = False
        s = self.s
        s.setShown.emit("")
        s.freeze(self._was_frozen, "live" if not self._was_frozen else "frozen")

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
        self.versus_job.stop(timeout)
