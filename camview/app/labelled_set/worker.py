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

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from camview.dataset import LabelledImage, open_labelled_set
from camview.embedding import FeatureStore, embed
from camview.errors import CamviewError, for_window
from camview.evaluation import DEFAULT_BATCH, classify_set, network_input
from camview.explain import describe, draw_compare
from camview.images import load_image, shrink
from camview.maps import Cancelled, Method
from camview.models import CamModel
from camview.overlay import OverlayStyle
from camview.results import ImageResult, ResultCache, result_of

log = logging.getLogger(__name__)

#: Long side of the photo the two maps are drawn on (the view scales the picture to fit).
PICTURE_SIDE = 640


@dataclass
class Pair:
    """One image of the set explained: the picture of its two maps and its classification by
    the model that drew them (after a model switch, before the set's run reaches it)."""

    picture: np.ndarray  # BGR: [photo | predicted class | true class], each titled
    result: ImageResult
    titles: tuple[str, str]


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


def explain_pair(model: CamModel, method: Method, result: ImageResult, style: OverlayStyle,
                 cancel: threading.Event | None = None) -> Pair:
    """Classify one image of the set again with `model` (the input the set run uses) and draw
    the photo itself, then the maps of its predicted class and its true class, side by side
    and titled (the maps alone hide the colours the network saw)."""
    image, _ = load_image(result.path)
    x = network_input(model, image)[None]
    first = method.explain(x, None, cancel=cancel)  # the top-1 map; its scores classify
    fresh = result_of(LabelledImage(result.path, result.true), result.index, first.logits)
    titles = pair_titles(fresh, model.short_label)
    second = method.explain(x, titles[2], cancel=cancel)
    photo = shrink(image, PICTURE_SIDE)
    panels = [(title, describe(model, m, topk=0, pinned=False))
              for title, m in zip(titles[:2], (first, second), strict=True)]
    picture = draw_compare(photo, panels, replace(style, layout="side-by-side", topk=0))
    return Pair(picture, fresh, titles[:2])


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
                done = embed(features.array())
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
