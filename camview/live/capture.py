"""The capture thread: reads the source at its pace into the mailbox, holds, loops, reconnects.

How a source is paced is the source's own attribute (:class:`camview.sources.Pacing`): a still
image is held, a folder shows each image for FOLDER_SECONDS, a camera is read as it delivers,
and videos and the demo follow their frames' timestamps on a monotonic clock.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from camview.errors import SourceError, for_window
from camview.live.error_kind import ErrorKind
from camview.live.mailbox import Delivery
from camview.sources import Frame, Pacing, Source, open_source

log = logging.getLogger(__name__)

HOLD_RATE = 5.0  # re-deliveries per second of a held frame (still image, frozen, ended video)
FOLDER_SECONDS = 2.0  # how long each image of a folder is shown
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 5.0  # back-off of a lost camera
LATE_RESET_S = 0.25  # a video this late re-anchors its clock instead of racing to catch up


class CaptureHost(Protocol):
    """All the capture thread may call on whoever runs it (the Pipeline)."""

    def put(self, item: Delivery) -> None: ...
    def frame_delivered(self, frame: Frame, now: float) -> None: ...
    def source_changed(self, source: Source) -> None: ...
    def status(self, message: str, error: bool = False) -> None: ...
    def notice(self, message: str) -> None: ...
    def error(self, message: str, kind: ErrorKind) -> None: ...


class MediaClock:
    """When a frame is due on the monotonic clock: its media time (or, for a folder, its index)
    measured from an anchor frame. Re-anchors on a jump back (a loop) and when it falls more
    than LATE_RESET_S behind, so a stall is skipped over instead of raced through."""

    def __init__(self) -> None:
        self._anchor: tuple[float, float] | None = None  # (monotonic, media time) of a frame

    def reset(self) -> None:
        self._anchor = None

    def due(self, pacing: Pacing, frame: Frame) -> float | None:
        """The monotonic time to deliver `frame` at; None: at once."""
        if pacing in (Pacing.LIVE, Pacing.STILL):
            return None
        media = frame.index * FOLDER_SECONDS if pacing is Pacing.FOLDER else frame.timestamp
        now = time.monotonic()
        if self._anchor is None or media < self._anchor[1]:
            self._anchor = (now, media)
        due = self._anchor[0] + (media - self._anchor[1])
        if now - due > LATE_RESET_S:
            self._anchor = (now, media)
            due = now
        return due


class Capture:
    """The capture thread: reads the source at its pace, fills the mailbox, handles loss."""

    def __init__(self, host: CaptureHost, loop_video: bool) -> None:
        self.host = host
        self.loop_video = loop_video
        self.source: Source | None = None
        self.last: Frame | None = None  # the frame held / last delivered
        self.frozen = False
        self.ended = False  # a still image shown, or a video at its end without looping
        self.clock = MediaClock()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: tuple[str | int | Source, str | int | None] | None = None
        self._step = False
        self._kick = False
        self._next_hold = 0.0
        self.thread = threading.Thread(target=self._run, name="camview-capture", daemon=True)

    # -- requests (any thread)
    def request_source(self, spec: str | int | Source, fallback: str | int | None) -> None:
        with self._lock:
            self._pending = (spec, fallback)
        self._wake.set()

    def set_frozen(self, frozen: bool) -> None:
        with self._lock:
            self.frozen = frozen
            self.clock.reset()
        self._wake.set()

    def request_step(self) -> None:
        with self._lock:
            self.frozen, self._step = True, True
        self._wake.set()

    def kick(self) -> None:
        """Re-deliver the held frame now (after a config change)."""
        self._kick = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # -- the thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._tick()
                except Exception as exc:  # a bug: say so, hold the frame, keep the thread
                    log.exception("capture failed")
                    self.host.error(f"internal error in capture: {type(exc).__name__}: {exc}",
                                    ErrorKind.INTERNAL)
                    self.ended = True
        finally:
            self._close_source()

    def _tick(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._switch(*pending)
        src = self.source
        if src is None:
            self._wait(0.1)
            return
        with self._lock:
            step, self._step = self._step, False
        if step:
            self._advance(src, paced=False)
            return
        if self.frozen or self.ended:
            if self.frozen and not self.ended and src.pacing is Pacing.LIVE:
                self._drain(src)  # keep a camera's buffer fresh and notice it going away
                self._hold_until(time.monotonic())
            else:
                self._hold_until(time.monotonic() + 1.0 / HOLD_RATE)
            return
        self._advance(src, paced=True)

    def _switch(self, spec: str | int | Source, fallback: str | int | None) -> None:
        name = spec.name if isinstance(spec, Source) else str(spec)
        self.host.status(f"opening {name}…")
        try:
            new = spec.open() if isinstance(spec, Source) else open_source(spec)
        except SourceError as exc:
            if fallback is None:
                # OPEN, not SOURCE: the current source (if any) keeps running.
                self.host.error(for_window(exc), ErrorKind.OPEN)
                return
            try:
                new = open_source(fallback)
            except SourceError as exc2:
                self.host.error(str(exc2), ErrorKind.OPEN)
                return
            log.debug("%s", exc)
            camera = isinstance(spec, int) or str(spec).strip().isdigit()
            self.host.notice(f"no camera found — showing the {new.name}" if camera
                             else f"{exc} — showing {new.name} instead")
        self._close_source()
        self.source, self.last, self.ended = new, None, False
        self.clock.reset()
        self.host.source_changed(new)
        self.host.status(f"showing {new.name}")

    def _close_source(self) -> None:
        src, self.source = self.source, None
        if src is not None:
            try:
                src.close()
            except Exception:
                log.exception("closing %s", src.name)

    def _read(self, src: Source) -> Frame | None:
        """The next frame; None when the source ended or failed (then the last one is held)."""
        try:
            frame = src.read()
            if frame is None and (src.pacing is Pacing.FOLDER or (
                    src.pacing is Pacing.TIMED and self.loop_video and not src.is_live)):
                src.close()  # loop: start again
                src.open()
                self.clock.reset()
                frame = src.read()
        except SourceError as exc:
            self.host.error(for_window(exc), ErrorKind.SOURCE)
            if src.pacing is Pacing.LIVE and self._reconnect(src):
                return None if self._stop.is_set() else self._read(src)
            frame = None
        if frame is None:
            self.ended = True
        return frame

    def _reconnect(self, src: Source) -> bool:
        """Retry a lost live source with back-off; False when stopped or replaced meanwhile."""
        delay = RETRY_FIRST_S
        while not self._stop.is_set():
            self.host.status(f"{src.name} lost — retrying in {delay:g} s", error=True)
            if self._hold_until(time.monotonic() + delay, interrupt_on_request=True):
                return False
            try:
                src.close()
                src.open()
            except SourceError as exc:
                log.debug("reconnect %s: %s", src.name, exc)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.host.status(f"{src.name} is back")
            return True
        return False

    def _advance(self, src: Source, paced: bool) -> None:
        frame = self._read(src)
        if frame is None:
            return
        if paced:
            due = self.clock.due(src.pacing, frame)
            if due is not None:
                self._hold_until(due, interrupt_on_request=True)
            if self._stop.is_set():
                return
        self._deliver(frame)

    def _hold_until(self, until: float, interrupt_on_request: bool = False) -> bool:
        """Sleep until `until`, re-delivering the held frame at HOLD_RATE and on kicks.

        True when interrupted by stop, a new source, a step or a freeze change."""
        while True:
            now = time.monotonic()
            if self._kick or (self.last is not None and now >= self._next_hold):
                self._kick = False
                if self.last is not None:
                    self.host.put(Delivery(self.last, now, fresh=False))
                self._next_hold = now + 1.0 / HOLD_RATE
            if self._stop.is_set():
                return True
            if interrupt_on_request and (self._pending is not None or self._step):
                return True
            if now >= until:
                return False
            timeout = until - now
            if self.last is not None:
                timeout = min(timeout, self._next_hold - now)
            self._wake.wait(max(0.001, timeout))
            self._wake.clear()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _drain(self, src: Source) -> None:
        try:
            src.read()
        except SourceError as exc:
            self.host.error(for_window(exc), ErrorKind.SOURCE)
            if not self._reconnect(src):
                self.ended = True

    def _deliver(self, frame: Frame) -> None:
        now = time.monotonic()
        self.last = frame
        self._next_hold = now + 1.0 / HOLD_RATE
        self.host.put(Delivery(frame, now, fresh=True))
        self.host.frame_delivered(frame, now)
