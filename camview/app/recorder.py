"""Recording the composed view (raw | overlay, as shown) to an H.264 mp4, off the GUI thread.

Each frame is composed by the core's compose_layout (a black panel until the first map). The
file keeps its first frame's size: a view that changes shape meanwhile (the compare view's grid
turned on or off) is scaled to fit and padded with black, never stretched.

The GUI hands over each new raw frame and the latest overlay panel (references only, nothing is
copied or encoded on the GUI thread); a writer thread composes and encodes them. One frame is
written per source frame; when no frame comes (a still image, a frozen view) the last view is
repeated at the recording's rate, so the video keeps wall-clock time. A bounded queue means a
slow disk drops frames instead of blocking the GUI. A failed write (disk full) stops the
recording, closes the partial file (it stays playable) and reports through `on_failure`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from camview.drawing.layout import compose_layout
from camview.drawing.output_files import check_writable
from camview.drawing.writers import VideoWriter
from camview.errors import CamviewError, for_window
from camview.sources import DEFAULT_FPS

log = logging.getLogger(__name__)

_STOP = object()


class Recorder:
    """One recording: start(), add_frame()/set_overlay() from the GUI, stop()."""

    def __init__(self, path: str | Path, fps: float | None, layout: str = "side-by-side",
                 on_failure: Callable[[str], None] | None = None, queue_size: int = 60) -> None:
        self.path = check_writable(path)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else DEFAULT_FPS
        self.layout = layout
        self.on_failure = on_failure or (lambda message: None)
        self.frames = 0
        self.dropped = 0
        self.started_at = 0.0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._overlay: np.ndarray | None = None
        self._writer: VideoWriter | None = None
        self._thread = threading.Thread(target=self._run, name="camview-recorder", daemon=True)
        self._active = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self._active else 0.0

    def start(self) -> Recorder:
        self.started_at = time.monotonic()
        self._active = True
        self._thread.start()
        return self

    def set_overlay(self, overlay: np.ndarray) -> None:
        """The newest overlay panel; each written frame uses the newest one."""
        self._overlay = overlay

    def add_frame(self, raw: np.ndarray) -> None:
        """A new raw frame (the caller must not modify it afterwards)."""
        if not self._active:
            return
        try:
            self._queue.put_nowait(raw)
        except queue.Full:
            self.dropped += 1

    def stop(self, timeout: float = 5.0) -> int:
        """Finish the file; returns the frames written. Safe to call more than once."""
        if self._thread.ident is None:
            return self.frames
        self._active = False
        while True:  # make room for the stop marker even if the writer is stuck
            try:
                self._queue.put(_STOP, timeout=0.05)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("recorder: the writer is still busy after %.1f s", timeout)
        return self.frames

    # -- the writer thread
    def _run(self) -> None:
        period = 1.0 / self.fps
        last: np.ndarray | None = None
        next_due = time.monotonic() + period
        try:
            while True:
                wait = max(0.0, next_due + period / 2 - time.monotonic())
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    if last is not None:  # no new frame: repeat the view to keep time
                        self._write(last)
                    next_due += period
                    continue
                if item is _STOP:
                    return
                last = item
                self._write(item)
                next_due = time.monotonic() + period
        except CamviewError as exc:
            self._active = False
            self.on_failure(for_window(exc))
        except Exception as exc:
            self._active = False
            log.exception("recording failed")
            self.on_failure(f"recording failed: {type(exc).__name__}: {exc}")
        finally:
            self._close()

    def _write(self, raw: np.ndarray) -> None:
        view = compose_layout(raw, self._overlay, self.layout)
        if self._writer is None:
            h, w = view.shape[:2]
            self._writer = VideoWriter(self.path, self.fps, (w, h))
        self._writer.write(view)
        self.frames += 1

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        self._active = False
        if writer is not None:
            writer.close()
