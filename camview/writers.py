"""Writing what camview draws: videos, images and the scripting outputs.

Videos are H.264 mp4 through the ffmpeg that ships in the imageio-ffmpeg wheel, because
OpenCV's wheel has no H.264 encoder and its mp4v files do not play in slide software or
browsers. Without that ffmpeg, OpenCV's mp4v (or MJPG for .avi) is the fallback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from camview.errors import OutputError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def check_writable(path: str | Path, *, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Refuse an output that cannot be written or would overwrite an input, before any work."""
    path = Path(path)
    for source in inputs:
        try:
            if Path(source).exists() and path.exists() and path.samefile(source):
                raise OutputError(f"output {path} is the input file: choose another name")
        except OSError:
            pass
        if Path(source).resolve() == path.resolve():
            raise OutputError(f"output {path} is the input file: choose another name")
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or path.suffix == "":
        parent = path
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"output folder {parent} cannot be created: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output folder {parent} is not writable")
    return path


class VideoWriter:
    """Frames (BGR uint8, all one size) to a video file; close() always leaves a valid file."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.size = size  # (w, h) of the frames given to write()
        self.frames = 0
        self._ffmpeg = None
        self._cv = None
        # yuv420p needs even sides: pad by one pixel rather than rescale the picture.
        self._padded = (size[0] + size[0] % 2, size[1] + size[1] % 2)
        suffix = self.path.suffix.lower()
        if suffix in (".mp4", ".m4v", ".mov", ".mkv"):
            self._ffmpeg = self._open_ffmpeg()
        if self._ffmpeg is None:
            fourcc = "MJPG" if suffix == ".avi" else "mp4v"
            self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc),
                                       self.fps, size)
            if not self._cv.isOpened():
                raise OutputError(f"cannot write video {self.path} (codec {fourcc})")

    def _open_ffmpeg(self):
        try:
            import imageio_ffmpeg
        except ImportError:
            return None
        try:
            gen = imageio_ffmpeg.write_frames(
                str(self.path), self._padded, fps=self.fps, codec="libx264",
                pix_fmt_in="bgr24", pix_fmt_out="yuv420p", macro_block_size=1,
                quality=None, output_params=["-crf", "20", "-preset", "veryfast",
                                             "-movflags", "+faststart"],
                ffmpeg_log_level="error")
            gen.send(None)
        except (OSError, RuntimeError) as exc:
            log.warning("H.264 writer unavailable (%s); using OpenCV's mp4v", exc)
            return None
        return gen

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if (w, h) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        try:
            if self._ffmpeg is not None:
                if self._padded != self.size:
                    frame = cv2.copyMakeBorder(frame, 0, self._padded[1] - self.size[1], 0,
                                               self._padded[0] - self.size[0],
                                               cv2.BORDER_REPLICATE)
                self._ffmpeg.send(np.ascontiguousarray(frame))
            else:
                self._cv.write(frame)
        except (OSError, RuntimeError, BrokenPipeError) as exc:
            self.close()
            raise OutputError(f"writing video {self.path} failed after {self.frames} frames "
                              f"(disk full?): {exc}") from None
        self.frames += 1

    def close(self) -> None:
        """Finish the file; safe to call twice and after a failed write."""
        gen, self._ffmpeg = self._ffmpeg, None
        if gen is not None:
            try:
                gen.close()
            except (OSError, RuntimeError) as exc:
                log.warning("closing %s: %s", self.path, exc)
        cv, self._cv = self._cv, None
        if cv is not None:
            cv.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_image(path: str | Path, image: np.ndarray) -> None:
    path = Path(path)
    ok, data = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"cannot encode image {path}")
    try:
        path.write_bytes(data.tobytes())
    except OSError as exc:
        raise OutputError(f"cannot write image {path}: {exc.strerror}") from None
