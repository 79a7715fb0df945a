"""Frames, the Source base class, and how a source is paced."""

from __future__ import annotations

import abc
import enum
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from camview.errors import SourceError
from camview.sources.images import to_bgr8

log = logging.getLogger(__name__)


VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")
#: How long a camera may take to deliver its first frame after opening.
CAMERA_FIRST_FRAME_TIMEOUT_S = 5.0
#: The frame rate assumed when a source does not say (the demo's, a video without one).
DEFAULT_FPS = 30.0


def header_fps(cap) -> float | None:
    """The frame rate an opened cv2.VideoCapture reports, None when it is no usable number
    (cameras and files report 0, NaN or 90000 when they do not know)."""
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if math.isfinite(fps) and 0 < fps <= 1000 else None


class Pacing(enum.Enum):
    """How a caller paces a source's frames; each Source class says which it needs."""

    STILL = "still"  # one image: hold it
    FOLDER = "folder"  # a slide show: hold each image for a while, then loop
    LIVE = "live"  # as delivered: the device sets the pace (a camera)
    TIMED = "timed"  # by the frames' timestamps on a monotonic clock (videos, the demo)


@dataclass(frozen=True)
class Frame:
    """One frame: its 0-based index in the source, its time in seconds, and the BGR image.

    ``timestamp``: for videos the media time (from the container, or index/fps); for cameras
    the seconds since the source was opened; for still images and folders the index (a
    nominal second per image); for the demo, index/fps. ``path``: the file the frame was read
    from when each frame has its own (still images, folders), so outputs can keep its name.
    ``repeat``: the previous frame's picture again, for a slot the video stores as "repeat
    the previous frame" (a zero-length packet): the same image, so a map need not be
    computed again, but a frame of its own so the video keeps its timing.
    """

    index: int
    timestamp: float
    image: np.ndarray
    path: str | None = None
    repeat: bool = False


@dataclass(frozen=True)
class Timing:
    """When a video's pictures really start, read from its packets rather than taken from its
    header's rate: ``times`` in seconds after the first picture (sorted), and ``end``, where
    the last picture ends (the stream's length from its first picture on)."""

    times: np.ndarray
    end: float

    @property
    def shortest(self) -> float | None:
        """The shortest interval between two pictures (s), None for one picture."""
        gaps = np.diff(self.times)
        gaps = gaps[gaps > 0]
        return float(gaps.min()) if gaps.size else None

    def steady(self, fps: float) -> bool:
        """Whether every picture starts on a slot of 1/`fps`, one picture at most in each: a
        constant-rate stream, perhaps with slots it stores as "repeat the previous frame"
        (tree.avi). Otherwise the stream's rate varies (a VFR recording): its pictures come
        when they come, a burst faster than `fps`, then a hold of any length."""
        slots = self.times * fps
        # A timestamp rounded to the ms is off by up to 0.03 of a slot at 60 fps.
        on_slot = np.abs(slots - np.round(slots)) < 0.25
        return bool(on_slot.all()) and np.unique(np.round(slots)).size == slots.size


class Source(abc.ABC):
    """A stream of frames. ``read()`` returns the next Frame, or None at the end.

    Attributes: ``name`` (for messages and the UI), ``fps`` (the native rate, None for stills
    and folders), ``frame_count`` (None when unknown or live), ``is_live`` (camera and demo),
    ``pacing`` (how a caller paces it, a :class:`Pacing`), ``seekable`` (``seek(index)``
    works), ``warnings`` (problems the source lived with).

    ``ended``: the last read found the end of the stream (a reader that stopped early did not).

    ``open()`` is idempotent and returns the source. ``read()`` and iteration open it when
    needed, and ``close()`` may be called more than once. A Source is a context manager.
    """

    fps: float | None = None
    frame_count: int | None = None
    is_live: bool = False
    pacing: Pacing = Pacing.TIMED
    seekable: bool = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.warnings: list[str] = []
        self._opened = False
        self._next_index = 0
        self.ended = False

    # -- lifecycle
    def open(self) -> Source:
        if not self._opened:
            self._next_index = 0
            self.ended = False
            self._open()
            self._opened = True
        return self

    def close(self) -> None:
        if self._opened:
            self._opened = False
            self._close()

    @property
    def is_open(self) -> bool:
        return self._opened

    def __enter__(self) -> Source:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- reading
    def read(self) -> Frame | None:
        """The next frame, or None at the end of the stream."""
        self.open()
        got = self._read()
        if got is None:
            self.ended = True
            return None
        image, timestamp, *repeat = got
        index = self._next_index
        self._next_index += 1
        return Frame(index, float(index if timestamp is None else timestamp), to_bgr8(image),
                     self._frame_path(), repeat=bool(repeat and repeat[0]))

    def seek(self, index: int) -> None:
        """Make ``index`` the next frame to read (only when ``seekable``)."""
        raise SourceError(f"{self.name} cannot seek")

    def timing(self) -> Timing | None:
        """When the pictures of a video file really start, from its packets; None for other
        sources, or when the file cannot tell (the frames' own timestamps still hold)."""
        return None

    # -- for subclasses
    @abc.abstractmethod
    def _open(self) -> None: ...

    def _close(self) -> None:  # noqa: B027 - sources without resources need no close
        pass

    @abc.abstractmethod
    def _read(self) -> tuple[np.ndarray, float | None] | tuple[np.ndarray, float, bool] | None:
        """(image in any to_bgr8-able form, timestamp or None for the index[, repeat]), or
        None at the end."""

    def _frame_path(self) -> str | None:
        """The file of the frame just read, when frames are files (stills, folders)."""
        return None

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("%s", message)


DEMO_SPEC = "demo"  # the source spec that names the bundled demo


def is_demo(spec: str | int | None) -> bool:
    """Whether a source spec names the bundled demo (not a folder called demo: './demo')."""
    return isinstance(spec, str) and spec.strip().casefold() == DEMO_SPEC
