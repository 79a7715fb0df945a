"""The set view's background work: a labelled set classified, and the selected image explained.

Both run on Python threads and reach the GUI only through Qt signals (queued into the GUI
thread), so no widget is touched off it. Results are coalesced as the bridge does for live
frames: while the GUI has not taken the last batch, new results join it instead of queueing
another event, so a set read from the cache at thousands of images a second never floods the
event loop.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from camview.drawing.explain import Explanation, describe, draw
from camview.drawing.layout import compose_grid, separator_width, title_bar
from camview.drawing.overlay import OverlayStyle
from camview.errors import CamviewError, for_window
from camview.maps import Cancelled, Method
from camview.models import CamModel
from camview.sets.batches import network_input
from camview.sets.classify import DEFAULT_BATCH, classify_set
from camview.sets.dataset import LabelledImage, open_labelled_set
from camview.sets.results import ImageResult, ResultCache, result_of
from camview.sets.views.embedding import FeatureStore, embed
from camview.sources.images import load_image, shrink

log = logging.getLogger(__name__)

#: Long side of the photo the maps are drawn on (the view scales the picture to fit).
PICTURE_SIDE = 640


@dataclass(frozen=True)
class Side:
    """The second model's row of the picture: its classification of the image, its two
    panels' titles and the method that drew them (Grad-CAM when it cannot do CAM)."""

    model: CamModel
    result: ImageResult
    titles: tuple[str, str]
    method_title: str


@dataclass
class Pair:
    """One image of the set explained: the picture of its two maps and its classification by
    the model that drew them (after a model switch, before the set's run reaches it); with a
    second model, its row of maps too, or why it has none."""

    picture: np.ndarray  # BGR: [photo | predicted class | true class], titled; per model
    result: ImageResult
    titles: tuple[str, str]
    versus: Side | None = None
    versus_note: str = ""


#: What explain_pair needs of a second model: the model, its method, its result for the image.
SecondModel = tuple[CamModel, Method, ImageResult]


def pair_titles(result: ImageResult, label) -> tuple[str, str, int]:
    """The two panels' titles and the second panel's class: the true class beside a wrong
    prediction; beside a right one, the runner-up (the class it was nearly taken for)."""
    def said(i: int, p: float) -> str:
        return f"{label(i)} {100 * p:.1f} %"

    first = said(result.predicted, result.confidence)
    if not result.correct:
        return f"predicted: {first}", f"true: {said(result.true, result.true_prob)}", result.true
    second, p = result.top[1] if len(result.top) > 1 else result.top[0]
    return f"predicted = true: {first}", f"runner-up: {said(second, p)}", second


def model_maps(model: CamModel, method: Method, result: ImageResult, image: np.ndarray,
               cancel: threading.Event | None = None,
               drawn_hw: tuple[int, int] | None = None
               ) -> tuple[ImageResult, tuple[str, str], list[Explanation]]:
    """One model's side of an image: it classifies the image again (the input the set run
    uses), then its maps of the predicted class and of the true class (or runner-up), to be
    drawn on a picture of size `drawn_hw` (a centre crop's map is placed on it)."""
    x = network_input(model, image)[None]
    first = method.explain(x, None, cancel=cancel)  # the top-1 map; its scores classify
    fresh = result_of(LabelledImage(result.path, result.true), result.index, first.logits)
    titles = pair_titles(fresh, model.short_label)
    second = method.explain(x, titles[2], cancel=cancel)
    return fresh, titles[:2], [describe(model, m, topk=0, pinned=False, frame_hw=drawn_hw)
                               for m in (first, second)]


def explain_pair(model: CamModel, method: Method, result: ImageResult, style: OverlayStyle,
                 cancel: threading.Event | None = None,
                 versus: SecondModel | None = None, versus_note: str = "",
                 fit: tuple[int, int] | None = None) -> Pair:
    """Draw the photo itself, then the maps of its predicted class and its true class, side
    by side and titled (the maps alone hide the colours the network saw). With a second
    model, its photo (as it sees it) and two maps too: a row each, or a column each when
    that draws larger in `fit` (the view's width, height)."""
    image, _ = load_image(result.path)
    photo = shrink(image, PICTURE_SIDE)
    panel = replace(style, layout="overlay", topk=0)
    fresh, titles, maps = model_maps(model, method, result, image, cancel, photo.shape[:2])
    if versus is None:
        cells = [("Frame", photo), *((t, draw(photo, m, panel))
                                     for t, m in zip(titles, maps, strict=True))]
        picture = compose_grid(cells, label_scale=style.label_scale)
        return Pair(picture, fresh, titles, None, versus_note)
    second, second_method, second_result = versus
    second_fresh, second_titles, second_maps = model_maps(
        second, second_method, second_result, image, cancel, photo.shape[:2])
    rows = [[(model.name, photo)],  # each model's photo names it; its maps name the classes
            [(second.name, as_seen_by(second, photo))]]
    for row, row_titles, row_maps in zip(rows, (titles, second_titles), (maps, second_maps),
                                         strict=True):
        row += [(t, draw(photo, m, panel)) for t, m in zip(row_titles, row_maps, strict=True)]
    if fit is None or larger_in_rows(photo.shape[:2], style.label_scale, fit):
        columns, cells = 3, rows[0] + rows[1]
    else:  # a column per model: cells go row by row, the two models' side by side
        columns, cells = 2, [c for two in zip(*rows, strict=True) for c in two]
    picture = compose_grid(cells, label_scale=style.label_scale, columns=columns)
    return Pair(picture, fresh, titles, Side(second, second_fresh, second_titles,
                                             second_method.title))


def larger_in_rows(photo_hw: tuple[int, int], label_scale: float,
                   fit: tuple[int, int]) -> bool:
    """Whether two models' six panels draw larger in `fit` (width, height) as a row per
    model (3 x 2) than as a column per model (2 x 3): wide views take rows, tall ones
    columns."""
    h, w = photo_hw
    cell_h = h + title_bar("", w, h, scale=label_scale).shape[0]
    sep = separator_width(h)

    def scale(columns: int, rows: int) -> float:
        return min(fit[0] / (columns * w + (columns - 1) * sep),
                   fit[1] / (rows * cell_h + (rows - 1) * sep))

    return scale(3, 2) >= scale(2, 3)


def as_seen_by(model: CamModel, photo: np.ndarray) -> np.ndarray:
    """The photo in the model's channels (grey for a one-channel model), so a row of maps
    begins with what that model was given."""
    if model.channels == 1:
        return cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return photo


class SetRun(QObject):
    """One labelled set through one model, on its own thread; `cancel()` ends it.

    Signals (queued to the GUI thread): opened(LabelledSet) once the set is listed,
    resultsReady() when results wait in take_results(), finished(cache_hits) at the end of a
    run that was not cancelled, failed(message) for a set that cannot be opened or a run
    that broke off.
    """

    opened = pyqtSignal(object)
    resultsReady = pyqtSignal()
    embedded = pyqtSignal(object)  # Embedding and its points by set position, before finished
    finished = pyqtSignal(int)
    failed = pyqtSignal(str)

    def __init__(self, spec: str | Path, model: CamModel, *, batch_size: int = DEFAULT_BATCH,
                 use_cache: bool = True) -> None:
        super().__init__()
        self.spec, self.model = spec, model
        self.batch_size, self.use_cache = batch_size, use_cache
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[ImageResult] = []
        self._signalled = False
        # The thread holds the only needed reference to self: a replaced run lives until it
        # has stopped, and its late signals are blocked by cancel().
        self.thread = threading.Thread(target=self._work, name="camview-set", daemon=True)

    def start(self) -> SetRun:
        self.thread.start()
        return self

    def cancel(self) -> None:
        """Stop after the batch in progress; nothing more reaches the GUI. Returns at once."""
        self._cancel.set()
        self.blockSignals(True)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def join(self, timeout: float) -> bool:
        """Wait (closing the window only) for the thread; True when it has ended."""
        if self.thread.ident is not None:
            self.thread.join(timeout)
        return not self.thread.is_alive()

    def take_results(self) -> list[ImageResult]:
        with self._lock:
            out, self._pending, self._signalled = self._pending, [], False
        return out

    # -- on the worker thread
    def _emit(self, signal, *args) -> None:
        if self._cancel.is_set():
            return
        try:
            signal.emit(*args)
        except RuntimeError:  # the receiving side is gone (the window closed meanwhile)
            self._cancel.set()

    def _offer(self, result: ImageResult) -> None:
        with self._lock:
            self._pending.append(result)
            if self._signalled:
                return
            self._signalled = True
        self._emit(self.resultsReady)

    def _work(self) -> None:
        cache = None
        try:
            dataset = open_labelled_set(self.spec, self.model.labels)
            self._emit(self.opened, dataset)
            cache = ResultCache.default() if self.use_cache else None
            features, rows = FeatureStore(), []
            for result in classify_set(self.model, dataset.images, batch_size=self.batch_size,
                                       cache=cache, cancel=self._cancel, views=True):
                if result.views is not None:
                    features.append(result.views.features)
                    rows.append(result.index)
                self._offer(result)
            if features.count and not self.cancelled:  # t-SNE: seconds, off the GUI thread
                done = embed(features)
                points = np.full((len(dataset), 2), np.nan, np.float32)
                points[rows] = done.points
                self._emit(self.embedded, (done, points))
            self._emit(self.finished, cache.hits if cache is not None else 0)
        except CamviewError as exc:
            self._emit(self.failed, for_window(exc))
        except Exception as exc:  # a bug: said in the window, logged with its traceback
            log.exception("classifying %s failed", self.spec)
            self._emit(self.failed, f"classifying {self.spec} failed: {type(exc).__name__}: "
                                    f"{exc}")
        finally:
            if cache is not None:
                cache.close()


class LatestJob(QObject):
    """Runs the newest job submitted on one worker thread; jobs that wait are replaced, not
    queued, so walking a list quickly explains only where the walk stops. A job is called
    with a cancel event, set when a newer job comes (a slow method then stops early).

    done(token, value) and failed(token, message) come back on the GUI thread with the token
    submit() returned, so the caller can ignore an answer it no longer wants.
    """

    done = pyqtSignal(int, object)
    failed = pyqtSignal(int, str)

    def __init__(self, name: str = "camview-set-explain") -> None:
        super().__init__()
        self._wake = threading.Condition()
        self._job: tuple[int, Callable[[threading.Event], object]] | None = None
        self._cancel = threading.Event()  # the running job's
        self._token = 0
        self._stopping = False
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)
        self.thread.start()

    def submit(self, job: Callable[[threading.Event], object]) -> int:
        with self._wake:
            self._cancel.set()
            self._token += 1
            self._job = (self._token, job)
            self._wake.notify()
            return self._token

    @property
    def latest(self) -> int:
        return self._token

    def stop(self, timeout: float = 1.0) -> bool:
        with self._wake:
            self._stopping, self._job = True, None
            self._cancel.set()
            self._wake.notify()
        self.blockSignals(True)
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._job is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                (token, job), self._job = self._job, None
                self._cancel = cancel = threading.Event()
            try:
                value = job(cancel)
            except Cancelled:
                continue
            except CamviewError as exc:
                self._emit(self.failed, token, for_window(exc))
                continue
            except Exception as exc:
                log.exception("explaining failed")
                self._emit(self.failed, token, f"explaining failed: {type(exc).__name__}: {exc}")
                continue
            self._emit(self.done, token, value)

    def _emit(self, signal, *args) -> None:
        with contextlib.suppress(RuntimeError):  # the window closed meanwhile
            signal.emit(*args)
