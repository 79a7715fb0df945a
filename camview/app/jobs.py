"""The window's one on-demand job at a time (a slow map, scores, a sanity check, …); the bar
in the status line that shows it is camview.app.job_bar.

camview.live.ondemand's JobRunner calls back on its worker thread; Jobs turns those calls into
signals, so each outcome reaches its caller on the GUI thread. Every part submits through the
session's one Jobs, so a new job cancels the one running, whoever asked for it, and one bar
with one Cancel button serves them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from camview.live.ondemand import Job, JobRunner, Work


def _ignore(*_args) -> None:
    pass


class Jobs(QObject):
    """Submit work, hear about its outcome on the GUI thread; `started`/`progressed`/`ended`
    describe the newest job (for the bar)."""

    started = pyqtSignal(str)  # what the job is, as the bar says it
    progressed = pyqtSignal(int, int)  # done, total
    ended = pyqtSignal()
    failed = pyqtSignal(str)  # one line for the status bar
    _outcome = pyqtSignal(object, str, object)  # job, kind, value (from the worker thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner()
        self.job: Job | None = None  # the newest job submitted, until it ends
        self._callbacks: dict[Job, tuple[Callable, Callable, Callable]] = {}
        self._outcome.connect(self._on_outcome)

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def submit(self, what: str, work: Work, on_done: Callable[[Any], None], *,
               on_failed: Callable[[str], None] = _ignore,
               on_cancelled: Callable[[bool], None] = _ignore) -> Job:
        """Run `work(progress, cancel)` on the worker (cancelling the job running), shown as
        `what` in the bar. on_done(result), on_failed(message) or on_cancelled(newest) is
        called on the GUI thread; `newest`: no newer job replaced this one."""
        emit = self._outcome.emit
        job = self.runner.submit(
            work, lambda r: emit(job, "done", r),
            on_progress=lambda d, t: emit(job, "progress", (d, t)),
            on_failed=lambda m: emit(job, "failed", m),
            on_cancelled=lambda: emit(job, "cancelled", None))
        self._callbacks[job] = (on_done, on_failed, on_cancelled)
        self.job = job
        self.started.emit(what)
        return job

    def cancel(self) -> bool:
        """Stop the job running; True if there was one."""
        return self.runner.cancel()

    def stop(self, timeout: float = 1.0) -> None:
        self.runner.stop(timeout)

    def _on_outcome(self, job: Job, kind: str, value: object) -> None:
        if kind == "progress":
            if job is self.job:
                self.progressed.emit(*value)
            return
        callbacks = self._callbacks.pop(job, None)
        newest = job is self.job
        if newest:
            self.job = None
            self.ended.emit()
        if callbacks is None:
            return
        on_done, on_failed, on_cancelled = callbacks
        if kind == "done":
            on_done(value)
        elif kind == "failed":
            on_failed(value)
            self.failed.emit(value)
        else:
            on_cancelled(newest)
