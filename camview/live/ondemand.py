"""On-demand work beside the live loop: a slow method's map of the frozen frame (Score-CAM,
occlusion, SmoothGrad) or the faithfulness scores of a map, computed once on a worker thread,
with progress and cancel, never on the caller's (the GUI's) thread.

The live loop keeps its one-compiled-call-per-frame methods; a job here takes seconds, so it
runs only when asked, one at a time: asking for another cancels the one running (its result is
dropped, so a cancelled job leaves whatever the caller showed before). Qt-free: the window
turns the callbacks, called on the worker thread, into signals.

    runner = JobRunner()
    runner.submit(MapRequest(model, "scorecam", None, (), frame, None).run,
                  on_done=show, on_progress=bar)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import numpy as np

from camview.checks.faithfulness import Faithfulness, score_maps
from camview.errors import CamviewError, for_window
from camview.live.callbacks import call_safely
from camview.maps import Cancelled, MapResult, Progress, make_method
from camview.models import CamModel
from camview.sources import Frame

log = logging.getLogger(__name__)

#: work(progress, cancel) -> result; raises camview.maps.Cancelled when cancel is set.
Work = Callable[[Progress, threading.Event], Any]


@dataclass(frozen=True, eq=False)
class MapRequest:
    """One slow method's map of one frame, and what it depends on (`key`): a request with
    the same key gives the same map, so it need not run again."""

    model: CamModel
    method: str
    layer: str | None  # None: the model's read layer
    options: tuple[tuple[str, Any], ...]  # the method's options (max_channels, patch...)
    frame: Frame
    target: int | None  # None: the frame's top-1 class

    @property
    def key(self) -> tuple:
        return (id(self.model), self.method, self.layer, self.options, id(self.frame),
                self.target)

    def run(self, progress: Progress, cancel: threading.Event) -> MapResult:
        method = make_method(self.method, self.model, self.layer, **dict(self.options))
        return method.explain(self.model.prepare(self.frame.image), self.target,
                              progress=progress, cancel=cancel)


@dataclass(frozen=True, eq=False)
class ScoreRequest:
    """Deletion and insertion scores of named maps of one frame, plus the random baseline
    (camview.checks.faithfulness.score_maps)."""

    model: CamModel
    frame: Frame
    maps: dict[str, np.ndarray]  # title -> raw map
    target: int  # the class the maps are of

    def run(self, progress: Progress, cancel: threading.Event) -> dict[str, Faithfulness]:
        return score_maps(self.model, self.model.prepare(self.frame.image), self.maps,
                          self.target, progress=progress, cancel=cancel)


def _noop(*_args) -> None:
    pass


@dataclass(eq=False)
class Job:
    """A submitted piece of work and where its outcome goes (called on the worker thread)."""

    work: Work
    on_done: Callable[[Any], None]
    on_progress: Callable[[int, int], None] = _noop
    on_failed: Callable[[str], None] = _noop  # one line, worded for the window
    on_cancelled: Callable[[], None] = _noop
    cancel: threading.Event = field(default_factory=threading.Event)
    number: int = 0


class JobRunner:
    """One worker thread running at most one job at a time; a newer job cancels the older.

    A job is cancelled between two of its batched calls (a fraction of a second); a job
    that does not look at its cancel event (one compiled call, SmoothGrad) finishes, and
    its result is dropped."""

    def __init__(self, name: str = "camview-ondemand") -> None:
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._current: Job | None = None  # the newest job submitted, until it is over
        self._numbers = count(1)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, work: Work, on_done: Callable[[Any], None], *,
               on_progress: Callable[[int, int], None] = _noop,
               on_failed: Callable[[str], None] = _noop,
               on_cancelled: Callable[[], None] = _noop) -> Job:
        """Queue `work`, cancelling the job running or waiting; returns the new job."""
        job = Job(work, on_done, on_progress, on_failed, on_cancelled,
                  number=next(self._numbers))
        with self._lock:
            if self._current is not None:
                self._current.cancel.set()
            self._current = job
        self._queue.put(job)
        return job

    def cancel(self) -> bool:
        """Cancel the job running or waiting; True if there was one."""
        with self._lock:
            job = self._current
        if job is None:
            return False
        job.cancel.set()
        return True

    @property
    def busy(self) -> bool:
        """A job is running or waiting."""
        with self._lock:
            return self._current is not None

    def stop(self, timeout: float = 1.0) -> bool:
        """Cancel any job and end the thread; True if it ended within `timeout`."""
        self.cancel()
        self._queue.put(None)
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._do(job)
            with self._lock:
                if self._current is job:
                    self._current = None

    def _do(self, job: Job) -> None:
        def progress(done: int, total: int) -> None:
            if not job.cancel.is_set():
                job.on_progress(done, total)

        try:
            if job.cancel.is_set():
                raise Cancelled("cancelled before it started")
            result = job.work(progress, job.cancel)
            if job.cancel.is_set():
                raise Cancelled("cancelled: the result came too late")
        except Cancelled:
            call_safely(job.on_cancelled)
        except CamviewError as exc:
            call_safely(job.on_failed, for_window(exc))
        except Exception as exc:  # a bug: logged, reported, the thread keeps going
            log.exception("on-demand job failed")
            call_safely(job.on_failed, f"internal error: {type(exc).__name__}: {exc}")
        else:
            call_safely(job.on_done, result)
