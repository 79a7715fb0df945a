"""Writing what camview draws: videos, images and the scripting outputs.

Videos are H.264 mp4 through the ffmpeg that ships in the imageio-ffmpeg wheel, because
OpenCV's wheel has no H.264 encoder and its mp4v files do not play in slide software or
browsers. Without that ffmpeg, OpenCV's mp4v (or MJPG for .avi) is the fallback.

Every fault is an :class:`OutputError` with one line naming the file: ffmpeg runs as our own
subprocess with its messages kept in a temporary file, so its exit status and last error line
are known and none of its output reaches the terminal.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from camview.errors import OutputError
from camview.ffmpeg import FFmpegPipe, ffmpeg_exe
from camview.images import letterbox
from camview.sources import DEFAULT_FPS

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


#: Kernel file systems that show the system's state as files: no file can be made in them,
#: and they refuse with misleading codes (procfs answers "No such file or directory").
VIRTUAL_FILESYSTEMS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore", "bpf",
    "configfs", "efivarfs", "fusectl", "binfmt_misc", "devpts", "nsfs"})


def _unescape_mount(field: str) -> str:
    """/proc/self/mounts writes a space in a mount point as \\040 (octal)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def filesystem_type(path: Path) -> str | None:
    """The type of the file system holding `path` ('ext4', 'proc'), or None where unknown.

    Read from /proc/self/mounts (Linux) because Python has no call for it: os.statvfs has no
    type field. The longest mount point over the path's nearest existing folder wins.
    """
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    real = os.path.realpath(existing)
    best, best_len = None, -1
    for line in lines.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = _unescape_mount(fields[1])
        inside = real == mount or real.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= best_len:  # >=: a later mount over the same point wins
            best, best_len = fields[2], len(mount)
    return best


def _cause(folder: Path, exc: OSError) -> str:
    """Why nothing can be written in `folder`, in words: errno's text alone can mislead."""
    fs = filesystem_type(folder)
    if fs in VIRTUAL_FILESYSTEMS:
        return (f"{folder} is in the kernel's virtual {fs} file system, where no file can be "
                "made: choose a folder on a disk")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in folder {folder}"
    if exc.errno == errno.EROFS:
        return f"folder {folder} is on a read-only file system"
    if exc.errno == errno.ENOSPC:
        return f"the disk holding {folder} is full"
    return f"folder {folder} is not writable ({_reason(exc)})"


def _is_input(path: Path, inputs: tuple[str | Path, ...]) -> bool:
    for source in inputs:
        with contextlib.suppress(OSError):
            if Path(source).exists() and path.exists() and path.samefile(source):
                return True
        if Path(source).resolve() == path.resolve():
            return True
    return False


def _probe_file(path: Path) -> None:
    """Open the file for writing (and remove it again if it is new): the only test that is
    right for every cause, root included, for whom permission bits do not stop writes."""
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        if existed and exc.errno in (errno.EACCES, errno.EPERM):
            cause = f"no permission to write {path}"
        else:
            cause = _cause(path.parent, exc)
        raise OutputError(f"cannot write {path}: {cause}") from None
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()


def _probe_folder(folder: Path, what: str) -> None:
    """Make the folder and a file in it: `what` says which output needs it in messages."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{what}: folder {folder} cannot be created, a file of that name "
                          "exists") from None
    except OSError as exc:
        parent = next((p for p in folder.parents if p.is_dir()), folder.parent)
        raise OutputError(f"{what}: folder {folder} cannot be created: {_cause(parent, exc)}"
                          ) from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"{what}: {_cause(folder, exc)}") from None


def _blocking_file(path: Path) -> Path | None:
    """The first existing ancestor of `path` that is a file, which no folder can be made in."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_writable(path: str | Path, *, inputs: tuple[str | Path, ...] = (),
                   folder: bool | None = None) -> Path:
    """Refuse an output that cannot be written or would overwrite an input, before any work.

    `folder`: True for a folder output, False for a file, None to go by the name (no suffix
    and not an existing file: a folder).
    """
    path = Path(path)
    if _is_input(path, inputs):
        raise OutputError(f"output {path} is the input file: choose another name")
    if folder is None:
        folder = path.is_dir() or (path.suffix == "" and not path.exists())
    blocker = _blocking_file(path)
    if blocker is not None:
        raise OutputError(f"cannot write {path}: {blocker} is a file, not a folder")
    if folder:
        if path.exists() and not path.is_dir():
            raise OutputError(f"output folder {path} is a file: give a folder, or a file name "
                              f"ending in an image or video suffix")
        _probe_folder(path, f"cannot write {path}")
        return path
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    _probe_folder(parent, f"cannot write {path}")
    _probe_file(path)
    return path


class VideoWriter:
    """Frames (BGR uint8, all one size) to a video file; close() always leaves a valid file.

    A failed write raises OutputError after closing the file, so the frames written before
    stay playable. close() never raises (it runs in clean-up code); finish() closes and raises
    OutputError if the encoder failed while finishing the file.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else DEFAULT_FPS
        self.size = size  # (w, h) of the frames given to write()
        self.frames = 0
        self.error: str | None = None
        self._ffmpeg: FFmpegPipe | None = None
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

    def _open_ffmpeg(self) -> FFmpegPipe | None:
        exe = ffmpeg_exe()
        if exe is None:
            return None
        try:
            return FFmpegPipe(exe, self.path, self.fps, self._padded)
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


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator:
    """A file opened to write `path` that only takes its name once complete: written under a
    temporary name beside it, then renamed over it. A kill or a fault midway never leaves half
    a file where a good one was (JSON, .npy, the report); the temporary file is removed.
    A device or pipe (/dev/stdout) is written directly. OSError as open() raises it."""
    target = Path(os.path.realpath(path))  # a symlink's file is replaced, not the link
    if target.exists() and not target.is_file():
        # A device or a pipe (/dev/full, /dev/stdout): no file to put in its place.
        with open(target, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
        return
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                       dir=target.parent)
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
        with contextlib.suppress(OSError):  # mkstemp makes it private; keep the usual mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(partial, 0o666 & ~umask)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def write_image(path: str | Path, image: np.ndarray) -> None:
    path = Path(path)
    ok, data = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"cannot encode image {path}")
    try:
        path.write_bytes(data.tobytes())
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
