"""Finding and driving the ffmpeg that ships in the imageio-ffmpeg wheel.

OpenCV's wheel cannot write H.264 and stops early at a damaged packet; this ffmpeg writes the
H.264 mp4s that slides and browsers play, and decodes the frames OpenCV would lose.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np


def ffmpeg_exe() -> str | None:
    """The ffmpeg of the imageio-ffmpeg wheel, or None without it."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        return None


def detached() -> dict:
    """Popen options that keep a terminal's Ctrl+C from killing ffmpeg before we close it, so
    an interrupted render still finishes a playable file."""
    if sys.platform.startswith("win"):
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _kill_me_with_my_parent() -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to kill the child when the thread that started it ends
    (prctl PR_SET_PDEATHSIG), resolved here so that the forked child only makes one C call;
    None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)


class _Spawner(threading.Thread):
    """Starts the children that must die with camview.

    Linux sends the parent-death signal when the *thread* that forked the child ends, not the
    process; render's and the recorder's writer threads end before their videos are closed,
    so children are started from this one thread, which lives as long as the process.
    """

    def __init__(self) -> None:
        super().__init__(name="camview-spawner", daemon=True)
        self.requests: queue.Queue = queue.Queue()
        self.preexec = _kill_me_with_my_parent()

    def run(self) -> None:
        while True:
            args, kwargs, reply = self.requests.get()
            try:
                reply.put(subprocess.Popen(args, preexec_fn=self.preexec, **kwargs))
            except BaseException as exc:  # handed to the caller, raised there
                reply.put(exc)


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def popen_tied(args: list[str], **kwargs) -> subprocess.Popen:
    """subprocess.Popen whose child the kernel kills when camview dies, however it dies
    (Linux); elsewhere a plain Popen. An ffmpeg left running would otherwise finish writing
    after a kill -9, to no one."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
            _spawner.start()
    if _spawner.preexec is None:
        return subprocess.Popen(args, **kwargs)
    reply: queue.Queue = queue.Queue(maxsize=1)
    _spawner.requests.put((args, kwargs, reply))
    result = reply.get()
    if isinstance(result, BaseException):
        raise result
    return result


class FFmpegPipe:
    """libx264 fed raw BGR frames through a pipe; its log goes to a temporary file."""

    def __init__(self, exe: str, path: Path, fps: float, size: tuple[int, int]) -> None:
        rate = Fraction(fps).limit_denominator(1001)
        cmd = [exe, "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
               "-s", f"{size[0]}x{size[1]}", "-r", str(rate), "-i", "-", "-an",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20", "-preset", "veryfast",
               "-movflags", "+faststart", str(path)]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as ffmpeg
        try:
            self.proc = popen_tied(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=self.log, **detached())
        except OSError:
            self.log.close()
            raise

    def write(self, frame: np.ndarray) -> None:
        self.proc.stdin.write(memoryview(frame).cast("B"))

    def last_error(self) -> str:
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().decode("utf-8", "replace")
                 .splitlines() if line.strip()]
        return lines[-1] if lines else f"ffmpeg exit status {self.proc.returncode}"

    def close(self) -> str | None:
        """Finish the file and wait for ffmpeg; its last error line if it failed."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait()
        except BaseException:  # Ctrl+C while waiting: do not leave ffmpeg running
            self.proc.kill()
            self.proc.wait()
            raise
        error = self.last_error() if self.proc.returncode else None
        self.log.close()
        return error


def frame_times(path: Path) -> tuple[np.ndarray, float] | None:
    """When each picture of the first video stream of `path` starts, in seconds after the
    first one (sorted), and where the last one ends; None without ffmpeg or when ffmpeg cannot
    read the file.

    Read from the packets themselves, not from the header's rate: ffmpeg copies them into its
    framecrc listing (one line per packet: stream, dts, pts, duration, size, checksum in the
    "#tb" time base), decoding nothing, so a header that lies about the frame count or the
    rate cannot move them. Zero-length packets ("repeat the previous frame") are no pictures.
    """
    exe = ffmpeg_exe()
    if exe is None:
        return None
    cmd = [exe, "-v", "quiet", "-nostdin", "-i", f"file:{path}", "-map", "0:v:0", "-c", "copy",
           "-f", "framecrc", "-"]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    base: Fraction | None = None
    starts, ends = [], []
    for line in done.stdout.splitlines():
        if line.startswith("#tb 0:"):
            base = Fraction(line.partition(":")[2].strip())
        elif line and not line.startswith("#"):
            try:
                _, _, pts, duration, size = (int(x) for x in line.split(",")[:5])
            except ValueError:
                continue
            if size > 0 and pts != -(2 ** 63):  # a picture with a time (not AV_NOPTS_VALUE)
                starts.append(pts)
                ends.append(pts + max(duration, 0))
    if base is None or not starts:
        return None
    first = min(starts)
    times = np.sort(np.array(starts, np.float64) - first) * float(base)
    return times, float((max(ends) - first) * base)


def decode_frames(path: Path, start: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The frames of `path` from index `start` on (w, h = `size`), decoded by imageio-ffmpeg's
    ffmpeg; nothing without it.

    OpenCV's reader stops at the first damaged packet and so loses the frames its decoder
    still holds (two or three at the cut of a truncated H.264 file, every one of a short
    one). ffmpeg itself hands them over. It decodes from the start, since only the frame count
    says which frames OpenCV already gave.
    """
    exe = ffmpeg_exe()
    if exe is None:
        return
    w, h = size
    cmd = [exe, "-v", "quiet", "-nostdin", "-i", f"file:{path}", "-map", "0:v:0",
           "-vf", f"select=gte(n\\,{start}),scale={w}:{h}", "-fps_mode", "passthrough",
           "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return
    nbytes = w * h * 3
    try:
        while len(data := proc.stdout.read(nbytes)) == nbytes:
            yield np.frombuffer(bytearray(data), np.uint8).reshape(h, w, 3)  # writable
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
