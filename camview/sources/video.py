"""Every readable frame of a video file, also of a cut one."""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from camview.errors import SourceError
from camview.sources.base import DEFAULT_FPS, Pacing, Source, Timing, header_fps
from camview.sources.ffmpeg import decode_frames, frame_times
from camview.sources.images import check_file

log = logging.getLogger(__name__)


def _mp4_boxes(path: Path) -> list[tuple[bytes, int]] | None:
    """The top-level boxes (type, size) of an MP4/MOV file, or None if it is not one. A box
    that runs past the end of the file is listed with the size it claims."""
    boxes: list[tuple[bytes, int]] = []
    size_of_file = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= size_of_file and len(boxes) < 10_000:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                size = size_of_file - offset
            if not boxes and kind != b"ftyp":
                return None
            if size < 8:
                break
            boxes.append((kind, size))
            offset += size
    return boxes or None


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(512)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def _unopenable_reason(path: Path) -> str:
    """Why OpenCV could not open `path`, as far as the file itself shows."""
    try:
        boxes = _mp4_boxes(path)
        if boxes is not None and b"moov" not in [kind for kind, _ in boxes]:
            return ("an MP4 without its index (no moov box): the recording was cut off or "
                    "never finished, so no player can open it")
        if _looks_like_text(path):
            return "a text file, not a video"
    except (OSError, struct.error):
        pass
    return ("cannot be opened as a video (not a video file, an unsupported codec, or a "
            "damaged or truncated file)")


#: The longest run of repeated slots filled in where the header gives no frame count (a
#: variable-frame-rate stream): a longer gap is more likely a bad timestamp than a still.
MAX_REPEAT_S = 10.0


class VideoSource(Source):
    """Every readable frame of a video file, in order, none dropped, with its timing.

    ``fps`` and ``frame_count`` are what the container's header claims; each frame's
    timestamp is its media time. A frame slot the file stores as "repeat the previous frame"
    (a zero-length packet, as in OpenCV's own sample tree.avi) is read by OpenCV as nothing
    at all: the next frame simply arrives with a later media time. Each such slot is given as
    the previous picture again (``Frame.repeat``), so a frame is one slot of 1/fps and
    whatever is made of the frames (a render's video, its JSON times) keeps the source's
    duration. A variable-frame-rate stream (pictures not on one rate's slots, see
    :meth:`Timing.steady`) has no slots: its frames are its pictures, at their own times.

    A file holding fewer frames than its header claims (a truncated download, a recording
    cut off) plays to its last readable frame and ends with one warning, not an error.
    OpenCV reads it; where OpenCV gives up before the header's count, ffmpeg decodes the
    rest that can be decoded (see :func:`camview.sources.ffmpeg.decode_frames`). Slots missing at
    the end of a file that has repeated slots before are taken as repeats too, not as cut.
    """

    seekable = True
    pacing = Pacing.TIMED

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(self.path.name)
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self._rest: Iterator[np.ndarray] | None = None
        self._size = (0, 0)
        self._last_ts = -1.0
        self._timing: Timing | None = None
        self._timed = False  # _timing was looked up (it is None when the file cannot tell)
        self._reset_slots()

    def timing(self) -> Timing | None:
        """When the pictures really start (one ffmpeg pass over the packets, done once)."""
        if not self._timed:
            found = frame_times(self.path)
            self._timing, self._timed = (None if found is None else Timing(*found)), True
        return self._timing

    def _reset_slots(self) -> None:
        self._first_ts = 0.0
        self._pending: tuple[np.ndarray, float] | None = None  # a frame ahead of its slot
        self._last_image: np.ndarray | None = None
        self._decoded = 0  # pictures decoded, as ffmpeg numbers them (no repeated slots)
        self._repeats = 0
        self._tail_repeats = False
        self._tail_end: int | None = None  # the slot after the last one the file really holds

    def _open(self) -> None:
        check_file(self.path, "video")
        api = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
        cap = cv2.VideoCapture(str(self.path), api)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"video {self.path}: {_unopenable_reason(self.path)}")
        self.fps = header_fps(cap)
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if math.isfinite(count) and count > 0 else None
        self._cap, self._rest, self._last_ts = cap, None, -1.0
        self._reset_slots()
        ok, image = cap.read()
        if not ok or image is None:
            size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            image = self._recover(0, size) if min(size) > 0 else None
        if image is None:
            self._close()
            raise SourceError(f"video {self.path}: contains no readable frame (a damaged or "
                              "truncated file?)")
        self._first, self._size = image, (image.shape[1], image.shape[0])
        self._first_ts = self._media_time(0) if self._rest is None else 0.0

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap, self._first = None, None
        if self._rest is not None:
            self._rest.close()
            self._rest = None
        self._pending = self._last_image = None

    def _recover(self, start: int, size: tuple[int, int]) -> np.ndarray | None:
        """Picture `start` from ffmpeg, keeping its stream for the ones after it; or None."""
        self._rest = decode_frames(self.path, start, size)
        image = next(self._rest, None)
        if image is None:
            self._rest.close()
            self._rest = None
        return image

    def _media_time(self, index: int) -> float:
        """The container's time of the frame just read, or index/fps when it has none."""
        assert self._cap is not None
        ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        ts = ms / 1000.0 if math.isfinite(ms) else -1.0
        if ts < 0 or (index > 0 and ts <= self._last_ts):
            ts = index / self.fps if self.fps else self._last_ts + 1.0 / DEFAULT_FPS
        self._last_ts = ts
        return ts

    def _slot(self, ts: float, index: int) -> int:
        """The slot (frame index at the header's rate) a frame of media time `ts` fills;
        `index` (no repeats) when the rate is unknown or the gap is not believable."""
        if not self.fps:
            return index
        slot = round((ts - self._first_ts) * self.fps)
        if slot <= index:
            return index
        timing = self.timing()
        if timing is not None and not timing.steady(self.fps):
            return index  # a variable rate: a late picture is a hold, not repeated slots
        if self.frame_count is not None:
            return slot if slot < self.frame_count else index
        return slot if slot - index <= MAX_REPEAT_S * self.fps else index

    def _shown(self, image: np.ndarray, ts: float, index: int):
        """A decoded picture: given now, or held while the slots before it repeat the last."""
        if self._last_image is not None and self._slot(ts, index) > index:
            self._pending = (image, ts)
            return self._repeat(index)
        self._last_image = image
        return image, ts

    def _repeat(self, index: int) -> tuple[np.ndarray, float, bool]:
        assert self._last_image is not None
        self._repeats += 1
        ts = self._first_ts + index / self.fps if self.fps else self._last_ts
        return self._last_image, ts, True

    def _read(self):
        if self._cap is None:
            return None
        index = self._next_index
        if self._first is not None:
            image, self._first = self._first, None
            self._decoded += 1
            self._last_image = image
            return image, self._first_ts
        if self._pending is not None:
            image, ts = self._pending
            self._pending = None
            return self._shown(image, ts, index)
        if self._tail_repeats and index < self._slots_held():
            return self._repeat(index)
        if self._rest is not None:
            image = next(self._rest, None)
            if image is not None:
                self._decoded += 1
                self._last_image = image
                return image, self._nominal_time(index)
        elif not self._tail_repeats:
            ok, image = self._cap.read()
            if ok and image is not None:
                self._decoded += 1
                return self._shown(image, self._media_time(index), index)
            if self.frame_count is not None and index < self.frame_count:
                image = self._recover(self._decoded, self._size)
                if image is not None:
                    self._decoded += 1
                    self._last_image = image
                    return image, self._nominal_time(index)
                if self._repeats and self._last_image is not None and (
                        index < self._slots_held()):
                    # Slots after the last picture of a file that repeats pictures: repeats.
                    self._tail_repeats = True
                    return self._repeat(index)
        if self.frame_count is not None and index < self.frame_count:
            self._warn(f"video {self.path}: its header claims {self.frame_count} frames but "
                       f"only {index} could be read (a truncated or damaged file?)")
        self._close()
        return None

    def _slots_held(self) -> int:
        """How many slots the file really holds, for repeats after its last picture: the
        end of its last packet at the header's rate, never the header's frame count alone (a
        header that lies would otherwise repeat the last picture for as long as it claims).
        Without ffmpeg, at most MAX_REPEAT_S of repeats after the last picture."""
        if self._tail_end is None:
            count = self.frame_count or 0
            timing = self.timing() if self.fps else None
            if timing is not None:
                held = round(timing.end * self.fps)
            else:
                held = self._next_index + round(MAX_REPEAT_S * (self.fps or DEFAULT_FPS))
            self._tail_end = min(count, held)
        return self._tail_end

    def _nominal_time(self, index: int) -> float:
        """A frame's time when only its index is known: after the last media time."""
        ts = index / self.fps if self.fps else self._last_ts + 1.0 / DEFAULT_FPS
        ts = max(ts, self._last_ts + 1e-6)
        self._last_ts = ts
        return ts

    def seek(self, index: int) -> None:
        self.open()
        index = max(0, int(index))
        if self.frame_count is not None:
            index = min(index, self.frame_count - 1)
        if self._cap is None:  # ended and closed: reopen
            self._opened = False
            self.open()
        assert self._cap is not None
        if self._rest is not None:
            self._rest.close()
            self._rest = None
        self._first = None
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self._next_index = index
        self._last_ts = -1.0
        self._pending, self._tail_repeats, self._decoded = None, False, index
