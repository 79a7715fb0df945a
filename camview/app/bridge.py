"""Pipeline callbacks -> Qt signals, so widgets are only ever touched on the GUI thread.

The callbacks run on the pipeline's threads; emitting a signal there queues the call into the
GUI thread. Frames and results are coalesced newest-wins: while the GUI has not taken the
previous one, a newer one replaces it instead of queueing another event, so a busy GUI never
builds a backlog.
"""

from __future__ import annotations

import threading

from PyQt6.QtCore import QObject, pyqtSignal

from camview.live import Result
from camview.sources import Frame, Source


class _Slot:
    """The newest value and whether a signal for it is already on its way."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = None
        self._pending = False

    def offer(self, value) -> bool:
        """Store; True when the caller should emit (nothing is pending yet)."""
        with self._lock:
            self._value = value
            if self._pending:
                return False
            self._pending = True
            return True

    def take(self):
        with self._lock:
            self._pending = False
            return self._value


class Bridge(QObject):
    """Signals carrying the pipeline's events to the GUI thread."""

    frameReady = pyqtSignal()  # take the frame with take_frame()
    resultReady = pyqtSignal()  # take the result with take_result()
    status = pyqtSignal(str)
    error = pyqtSignal(str, object)  # message, ErrorKind
    configChanged = pyqtSignal()  # a model/method request finished
    sourceChanged = pyqtSignal(object)  # the new Source
    recordFailed = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._frame = _Slot()
        self._result = _Slot()

    def callbacks(self) -> dict:
        """Keyword arguments for Pipeline(...)."""
        return {"on_frame": self.on_frame, "on_result": self.on_result,
                "on_status": self.status.emit, "on_error": self.error.emit,
                "on_config": self.configChanged.emit, "on_source": self.on_source}

    # -- called on pipeline threads
    def on_frame(self, frame: Frame) -> None:
        if self._frame.offer(frame):
            self.frameReady.emit()

    def on_result(self, result: Result) -> None:
        if self._result.offer(result):
            self.resultReady.emit()

    def on_source(self, source: Source) -> None:
        self.sourceChanged.emit(source)

    # -- called on the GUI thread
    def take_frame(self) -> Frame | None:
        return self._frame.take()

    def take_result(self) -> Result | None:
        return self._result.take()
