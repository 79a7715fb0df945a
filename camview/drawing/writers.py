"""Writing what camview draws: videos, images and the scripting outputs.

Videos are H.264 mp4 through the ffmpeg that ships in the imageio-ffmpeg wheel, because
OpenCV's wheel has no H.264 encoder and its mp4v files do not play in slide software or
browsers. Without that ffmpeg, OpenCV's mp4v (or MJPG for .avi) is the fallback.

Every fault is an :class:`OutputError` with one line naming the file: ffmpeg runs as our own
subprocess with its messages kept in a temporary file, so its exit status and last error line
are known and none of its output reaches the terminal. Every file is written under a partial
name and renamed at the end (camview.drawing.output_files), so a good file of the same name survives
a kill, a fault or a second writer.

A raw pipe carries no timestamps, so every video is written at one constant rate. A render of
a video places each frame at its own time on that rate (:class:`TimedVideo`), so a
variable-frame-rate source keeps its timing too (:func:`video_rate` says how fine the rate
is). Not true variable-rate files: the pipe cannot carry timestamps, and the library that can
(PyAV 18, its own ffmpeg with libx264: a 36 MB wheel, 102 MB installed) would be a second
encoder beside this one for what half an output frame of difference gains.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from camview.drawing.output_files import PartialFile, atomic_file
from camview.errors import OutputError
from camview.sources import DEFAULT_FPS, Timing
from camview.sources.ffmpeg import FFmpegPipe, ffmpeg_exe
from camview.sources.images import letterbox

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")
#: The finest rate a variable-frame-rate source is written at (unless its header's is finer):
#: a burst faster than this loses pictures from the video (never from the JSON), as in
#: ffmpeg's own conversion to a constant rate; finer would encode mostly copies.
MAX_VARIABLE_RATE = 60


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def video_rate(fps: float | None, timing: Timing | None) -> float:
    """The constant rate a video of a source's frames is written at.

    The header's rate, when every picture has a slot of its own at it (a constant-rate
    stream, also one that stores repeated slots). A variable-rate stream, whose pictures come
    closer than that (the header of a VFR file gives an average, or a guess), gets the rate of
    its shortest interval, so each picture has a slot of its own and starts within half an
    output frame of its time; at most MAX_VARIABLE_RATE.
    """
    base = float(fps) if fps and fps > 0 else DEFAULT_FPS
    shortest = timing.shortest if timing is not None else None
    if shortest is None or timing.steady(base):
        return base
    finest = math.ceil(1.0 / shortest - 1e-6)  # ceil: no two pictures share a slot
    return float(max(base, min(finest, MAX_VARIABLE_RATE)))


class VideoWriter:
    """Frames (BGR uint8, all one size) to a video file; close() always leaves a valid file.

    The video is encoded into a partial file and takes its name when closed, so the file of
    that name before stays whole until then, whatever happens to this process. A failed write
    raises OutputError after closing the file, so the frames written before stay playable.
    close() never raises (it runs in clean-up code); finish() closes and raises OutputError if
    the encoder failed while finishing the file, which then replaces nothing.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        # The rate the file really has (ffmpeg takes a fraction), so that slot n is n/fps.
        self.fps = float(Fraction(float(fps) if fps and fps > 0 else DEFAULT_FPS)
                         .limit_denominator(1001))
        self.size = size  # (w, h) of the frames given to write()
        self.frames = 0
        self.error: str | None = None
        self._ffmpeg: FFmpegPipe | None = None
        self._cv = None
        # yuv420p needs even sides: pad by one pixel rather than rescale the picture.
        self._padded = (size[0] + size[0] % 2, size[1] + size[1] % 2)
        try:
            self._partial: PartialFile | None = PartialFile(self.path)
        except OSError as exc:
            raise OutputError(f"cannot write video {self.path}: {_reason(exc)}") from None
        suffix = self.path.suffix.lower()
        if suffix in (".mp4", ".m4v", ".mov", ".mkv"):
            self._ffmpeg = self._open_ffmpeg()
        if self._ffmpeg is None:
            fourcc = "MJPG" if suffix == ".avi" else "mp4v"
            self._cv = cv2.VideoWriter(str(self._partial.path),
                                       cv2.VideoWriter_fourcc(*fourcc), self.fps, size)
            if not self._cv.isOpened():
                self._partial.discard()
                raise OutputError(f"cannot write video {self.path} (codec {fourcc})")

    def _open_ffmpeg(self) -> FFmpegPipe | None:
        exe = ffmpeg_exe()
        if exe is None:
            return None
        try:
            return FFmpegPipe(exe, self._partial.path, self.fps, self._padded)
        except OSError as exc:
            log.warning("H.264 writer unavailable (%s); using OpenCV's mp4v", _reason(exc))
            return None

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if (w, h) != self.size:  # a view that changed shape mid-video: fitted, not stretched
            frame = letterbox(frame, self.size)
        try:
            if self._ffmpeg is not None:
                if self._padded != self.size:
                    frame = cv2.copyMakeBorder(frame, 0, self._padded[1] - self.size[1], 0,
                                               self._padded[0] - self.size[0],
                                               cv2.BORDER_REPLICATE)
                self._ffmpeg.write(np.ascontiguousarray(frame))
            elif self._cv is not None:
                self._cv.write(frame)
            else:
                raise OSError("the writer is closed")
        except (OSError, ValueError) as exc:
            self._close()
            detail = self.error or (_reason(exc) if isinstance(exc, OSError) else str(exc))
            raise OutputError(f"writing video {self.path} failed after {self.frames} frames: "
                              f"{detail}") from None
        self.frames += 1

    def _close(self) -> bool:
        """Finish the file; True if the encoder failed just now (kept in ``error``)."""
        pipe, self._ffmpeg = self._ffmpeg, None
        failed = False
        if pipe is not None:
            error = pipe.close()
            if error and self.error is None:
                self.error, failed = error, True
        cv, self._cv = self._cv, None
        if cv is not None:
            cv.release()
        partial, self._partial = self._partial, None
        if partial is not None:
            if self.error is None:
                try:
                    partial.commit()
                except OSError as exc:
                    self.error, failed = f"cannot rename it into place: {_reason(exc)}", True
            else:
                partial.discard()  # a broken file replaces nothing
        return failed

    def close(self) -> None:
        """Finish the file; safe to call twice and after a failed write. Never raises, as it
        runs in clean-up code: an encoder failure is logged and kept in ``error``."""
        if self._close():
            log.warning("video %s: the encoder failed: %s", self.path, self.error)

    def finish(self) -> None:
        """Finish the file, raising OutputError if the encoder failed (a full disk, say)."""
        self._close()
        if self.error:
            raise OutputError(f"writing video {self.path} failed after {self.frames} frames: "
                              f"{self.error}")

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TimedVideo:
    """Frames with media times onto a VideoWriter's constant rate, each at its own time.

    A frame of time t goes into output slot (t - start) * fps rounded, so it is shown within
    half an output frame of its source time: a gap before it holds the picture before (written
    again), and a frame whose slot an earlier one already took is left out of the video only.
    ``finish`` holds the last picture until the source's end, so the video lasts as long.
    """

    def __init__(self, video: VideoWriter, start: float) -> None:
        self.video, self.start = video, start
        self.slots = 0  # slots written
        self.left_out = 0  # frames whose slot was taken
        self._held: np.ndarray | None = None
        self._last: float | None = None  # the time of the last frame given

    def _slot(self, time: float) -> int:
        # Half up, not Python's round to even: pictures one slot apart never share a slot.
        return math.floor((time - self.start) * self.video.fps + 0.5)

    def _hold(self, slot: int) -> None:
        while self._held is not None and self.slots < slot:
            self.video.write(self._held)
            self.slots += 1

    def write(self, view: np.ndarray, time: float) -> None:
        self._last = time
        slot = self._slot(time)
        if slot < self.slots:
            self.left_out += 1
            return
        self._hold(slot)
        self.video.write(view)
        self.slots += 1
        self._held = view

    def finish(self, timing: Timing | None) -> None:
        """Hold the last picture until the end of a stream read to its end, so the video
        lasts as long as the source; not when the source's last picture was never read (a
        file cut short ends with its last readable picture, as it plays)."""
        if timing is None or self._last is None:
            return
        if self._last >= self.start + timing.times[-1] - 0.5 / self.video.fps:
            self._hold(self._slot(self.start + timing.end))


def write_image(path: str | Path, image: np.ndarray, *, sweep: bool = True) -> None:
    """Encode by the name's suffix and write whole (a partial file renamed into place).
    `sweep`: see PartialFile (a folder of frames is swept once by its writer instead)."""
    path = Path(path)
    ok, data = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"cannot encode image {path}")
    try:
        with atomic_file(path, "wb", sweep=sweep) as f:
            f.write(data.tobytes())
    except OSError as exc:
        raise OutputError(f"cannot write image {path}: {_reason(exc)}") from None


def finish_each(steps: list[Callable[[], object]]) -> list[OutputError]:
    """Run every output step, each even if another failed, so nothing computed is lost; the
    faults, in order (render's and evaluate's outputs alike)."""
    errors = []
    for step in steps:
        try:
            step()
        except OutputError as exc:
            errors.append(exc)
    return errors
