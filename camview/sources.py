"""Frame sources behind one interface: camera, video file, still image, image folder, demo.

Every source yields :class:`Frame` objects whose ``image`` is BGR uint8 HxWx3 and C-contiguous
(OpenCV's native order). Sources only produce frames. The caller paces them, using ``fps`` when
it is known.

    with open_source("clip.mp4") as src:
        for frame in src:
            ...

Faults the user can fix (a missing file, a camera that does not exist, a file that is not a
video) raise :class:`camview.errors.SourceError` with a one-line message that names the
file or device. Problems a source can live with, such as a truncated video or an unreadable
image in a folder, are added to ``source.warnings`` and logged once.
"""

from __future__ import annotations

import abc
import enum
import logging
import math
import re
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camview.errors import SourceError
from camview.ffmpeg import decode_frames
from camview.images import IMAGE_SUFFIXES, check_file, decode_image, load_image, to_bgr8

log = logging.getLogger(__name__)

#: Common video files (what file dialogs offer); open_source tries any other file as a video too.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")
#: How long a camera may take to deliver its first frame after opening.
CAMERA_FIRST_FRAME_TIMEOUT_S = 5.0
#: The frame rate assumed when a source does not say (the demo's, a video without one).
DEFAULT_FPS = 30.0


class Pacing(enum.Enum):
    """How a caller paces a source's frames; each Source class says which it needs."""

    STILL = "still"  # one image: hold it
    FOLDER = "folder"  # a slide show: hold each image for a while, then loop
    LIVE = "live"  # as delivered: the device sets the pace (a camera)
    TIMED = "timed"  # by the frames' timestamps on a monotonic clock (videos, the demo)


# ---------------------------------------------------------------------------------------------
# Frames and the base class


@dataclass(frozen=True)
class Frame:
    """One frame: its 0-based index in the source, its time in seconds, and the BGR image.

    ``timestamp``: for videos the media time (from the container, or index/fps); for cameras
    the seconds since the source was opened; for still images and folders the index (a
    nominal second per image); for the demo, index/fps.
    """

    index: int
    timestamp: float
    image: np.ndarray


class Source(abc.ABC):
    """A stream of frames. ``read()`` returns the next Frame, or None at the end.

    Attributes: ``name`` (for messages and the UI), ``fps`` (the native rate, None for stills
    and folders), ``frame_count`` (None when unknown or live), ``is_live`` (camera and demo),
    ``pacing`` (how a caller paces it, a :class:`Pacing`), ``seekable`` (``seek(index)``
    works), ``warnings`` (problems the source lived with).

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

    # -- lifecycle
    def open(self) -> Source:
        if not self._opened:
            self._next_index = 0
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
            return None
        image, timestamp = got
        index = self._next_index
        self._next_index += 1
        return Frame(index, float(index if timestamp is None else timestamp), to_bgr8(image))

    def seek(self, index: int) -> None:
        """Make ``index`` the next frame to read (only when ``seekable``)."""
        raise SourceError(f"{self.name} cannot seek")

    # -- for subclasses
    @abc.abstractmethod
    def _open(self) -> None: ...

    def _close(self) -> None:  # noqa: B027 - sources without resources need no close
        pass

    @abc.abstractmethod
    def _read(self) -> tuple[np.ndarray, float | None] | None:
        """(image in any to_bgr8-able form, timestamp or None for the index), or None."""

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("%s", message)


# ---------------------------------------------------------------------------------------------
# Camera


class CameraSource(Source):
    """An OpenCV camera by index. Fails with SourceError if the camera does not exist or has not
    delivered a first frame within :data:`CAMERA_FIRST_FRAME_TIMEOUT_S`."""

    is_live = True
    pacing = Pacing.LIVE

    def __init__(self, index: int, first_frame_timeout_s: float = CAMERA_FIRST_FRAME_TIMEOUT_S):
        super().__init__(f"camera {index}")
        self.index = int(index)
        self.timeout_s = first_frame_timeout_s
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self._t0 = 0.0

    def _open(self) -> None:
        if self.index < 0:
            raise SourceError(f"camera index {self.index} is invalid: use 0, 1, ...")
        if sys.platform.startswith("linux") and not Path(f"/dev/video{self.index}").exists():
            raise SourceError(f"camera {self.index} not found (/dev/video{self.index} does not "
                              "exist): is a camera connected? Try another index")
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {self.index} cannot be opened: is it connected, or in use "
                              "by another program?")
        result: list = []
        abandoned = threading.Event()

        def first_read() -> None:
            result.append(cap.read())
            if abandoned.is_set():  # too late: the opener gave up, release here
                cap.release()

        reader = threading.Thread(target=first_read, name=f"camera{self.index}-open", daemon=True)
        reader.start()
        reader.join(self.timeout_s)
        if reader.is_alive():
            abandoned.set()
            raise SourceError(f"camera {self.index} opened but delivered no frame within "
                              f"{self.timeout_s:g} s")
        ok, image = result[0]
        if not ok or image is None:
            cap.release()
            raise SourceError(f"camera {self.index} opened but delivered no frame")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if math.isfinite(fps) and 0 < fps <= 1000 else None
        self._cap, self._first, self._t0 = cap, image, time.monotonic()

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap, self._first = None, None

    def _read(self) -> tuple[np.ndarray, float]:
        if self._first is not None:
            image, self._first = self._first, None
            return image, 0.0
        assert self._cap is not None
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"camera {self.index} stopped delivering frames")
        return image, time.monotonic() - self._t0


# ---------------------------------------------------------------------------------------------
# Video file


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


class VideoSource(Source):
    """Every readable frame of a video file, in order, none dropped.

    ``fps`` and ``frame_count`` are what the container's header claims. A file holding fewer
    frames than its header claims (a truncated download, a recording cut off) plays to its
    last readable frame and ends with one warning, not an error. OpenCV reads it; where
    OpenCV gives up before the header's count, ffmpeg decodes the rest that can be decoded
    (see :func:`camview.ffmpeg.decode_frames`).
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

    def _open(self) -> None:
        check_file(self.path, "video")
        api = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
        cap = cv2.VideoCapture(str(self.path), api)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"video {self.path}: {_unopenable_reason(self.path)}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if math.isfinite(fps) and 0 < fps <= 1000 else None
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if math.isfinite(count) and count > 0 else None
        self._cap, self._rest, self._last_ts = cap, None, -1.0
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

    def _recover(self, start: int, size: tuple[int, int]) -> np.ndarray | None:
        """Frame `start` from ffmpeg, keeping its stream for the frames after it; or None."""
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

    def _read(self) -> tuple[np.ndarray, float] | None:
        if self._cap is None:
            return None
        if self._first is not None:
            image, self._first = self._first, None
            return image, self._first_ts
        index = self._next_index
        if self._rest is not None:
            image = next(self._rest, None)
            if image is not None:
                return image, self._nominal_time(index)
        else:
            ok, image = self._cap.read()
            if ok and image is not None:
                return image, self._media_time(index)
            if self.frame_count is not None and index < self.frame_count:
                image = self._recover(index, self._size)
                if image is not None:
                    return image, self._nominal_time(index)
        if self.frame_count is not None and index < self.frame_count:
            self._warn(f"video {self.path}: its header claims {self.frame_count} frames but "
                       f"only {index} could be read (a truncated or damaged file?)")
        self._close()
        return None

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


# ---------------------------------------------------------------------------------------------
# Still images


class ImageSource(Source):
    """One still image as a one-frame source (the live window keeps showing it)."""

    pacing = Pacing.STILL

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(self.path.name)
        self.frame_count = 1
        self._image: np.ndarray | None = None
        self._done = False

    def _open(self) -> None:
        self._image, warnings = load_image(self.path)
        for message in warnings:
            self._warn(message)
        self._done = False

    def _close(self) -> None:
        self._image = None

    def _read(self) -> tuple[np.ndarray, float] | None:
        if self._done or self._image is None:
            return None
        self._done = True
        return self._image, 0.0


def natural_key(name: str) -> tuple:
    """A sort key that orders 'img2' before 'img10' (case-insensitive)."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


class FolderSource(Source):
    """Every image in a folder (not its subfolders), in natural order (img2 before img10).

    Unreadable images are skipped with a warning. ``current_path`` is the file of the frame
    last read. ``frame_count`` counts the image files found, including any that are skipped.
    """

    seekable = True
    pacing = Pacing.FOLDER

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(self.path.name or str(self.path))
        self.paths: list[Path] = []
        self.current_path: Path | None = None
        self._pos = 0
        self._delivered = 0

    def _open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"folder {self.path}: no such folder")
        try:
            entries = list(self.path.iterdir())
        except OSError as exc:
            raise SourceError(f"folder {self.path}: cannot be listed "
                              f"({exc.strerror or exc})") from None
        self.paths = sorted(
            (p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES
             and not p.name.startswith(".") and p.is_file()),
            key=lambda p: natural_key(p.name))
        if not self.paths:
            raise SourceError(f"folder {self.path}: contains no images "
                              f"({', '.join(e[1:] for e in IMAGE_SUFFIXES)})")
        self.frame_count = len(self.paths)
        self._pos = 0
        self._delivered = 0

    def _read(self) -> tuple[np.ndarray, None] | None:
        while self._pos < len(self.paths):
            path = self.paths[self._pos]
            self._pos += 1
            try:
                image, warnings = load_image(path)
            except SourceError as exc:
                self._warn(f"skipped {exc}")
                continue
            for message in warnings:
                self._warn(message)
            self.current_path = path
            self._delivered += 1
            return image, None
        if self._delivered == 0:
            raise SourceError(f"folder {self.path}: none of its {len(self.paths)} images could "
                              "be read")
        return None

    def seek(self, index: int) -> None:
        self.open()
        self._pos = min(max(0, int(index)), len(self.paths))
        self._next_index = self._pos


# ---------------------------------------------------------------------------------------------
# Demo


DEMO_ORDER = ("chelsea", "coffee", "rocket", "astronaut", "camera")


def demo_photos() -> list[tuple[str, bytes]]:
    """The bundled demo photos as (name, JPEG bytes), in the order the demo shows them.

    Read through importlib.resources from the package ``camview.resources`` (the repository's
    top-level resources/ folder, installed under that name), so they load from a wheel or a
    zip. A source checkout that is not installed falls back to resources/ beside camview/.
    """
    folder = None
    try:
        from importlib.resources import files

        candidate = files("camview.resources") / "demo"
        if candidate.is_dir():
            folder = candidate
    except (ImportError, OSError, TypeError):
        pass
    if folder is None:
        folder = Path(__file__).resolve().parent.parent / "resources" / "demo"
        if not folder.is_dir():
            return []

    def key(name: str) -> tuple:
        stem = name.rsplit(".", 1)[0]
        return (DEMO_ORDER.index(stem) if stem in DEMO_ORDER else len(DEMO_ORDER),
                natural_key(name))

    entries = sorted((e for e in folder.iterdir() if e.name.lower().endswith(".jpg")),
                     key=lambda e: key(e.name))
    return [(e.name.rsplit(".", 1)[0], e.read_bytes()) for e in entries]


class DemoSource(Source):
    """The bundled demo: real photos of ImageNet objects shown with a slow pan and zoom.

    Each photo is shown for ``seconds_per_photo`` (6 s) with a 0.8 s crossfade into the next,
    and the photos repeat forever unless ``duration_s`` is given. Frame i shows media time
    i/fps, so the output is deterministic. Pacing is the caller's job: ``fps`` gives the
    intended rate. A frame costs about one warpAffine (under 1 ms at 640x480) plus a blend
    during crossfades.
    """

    is_live = True
    pacing = Pacing.TIMED  # live, but its frames carry their own media time
    seconds_per_photo = 6.0
    crossfade_s = 0.8
    zoom_range = (1.0, 1.3)

    def __init__(self, duration_s: float | None = None, fps: float = DEFAULT_FPS,
                 size: tuple[int, int] = (640, 480)) -> None:
        super().__init__(DEMO_SPEC)
        width, height = (int(v) for v in size)
        if width < 1 or height < 1:
            raise SourceError(f"demo frame size must be positive, not {width}x{height}")
        if not (math.isfinite(fps) and fps > 0):
            raise SourceError(f"demo fps must be positive, not {fps}")
        self.size = (width, height)
        self.fps = float(fps)
        self.duration_s = duration_s
        self.frame_count = None if duration_s is None else max(0, round(duration_s * fps))
        self.photo_names: list[str] = []
        self._photos: list[np.ndarray] = []
        self._plans: list[tuple[float, float, float, float, float, float]] = []

    def _open(self) -> None:
        bundled = demo_photos()
        if not bundled:
            raise SourceError("the demo photos are missing (camview/resources/demo/*.jpg): "
                              "reinstall camview")
        width, height = self.size
        photos = []
        for name, data in bundled:
            image, _ = decode_image(data, f"demo photo {name}")
            # Pre-scale so the photo just covers the output: the pan/zoom then only enlarges
            # (by up to zoom_range[1]), with no aliasing from shrinking a large photo per frame.
            h, w = image.shape[:2]
            cover = max(width / w, height / h)
            new = (max(width, math.ceil(w * cover)), max(height, math.ceil(h * cover)))
            interp = cv2.INTER_AREA if cover < 1 else cv2.INTER_LINEAR
            photos.append(cv2.resize(image, new, interpolation=interp))
        self._photos = photos
        self.photo_names = [name for name, _ in bundled]
        rng = np.random.default_rng(12345)
        z0, z1 = self.zoom_range
        self._plans = []
        for k in range(len(photos)):
            # Alternate zooming in and out; pan between two points near the centre.
            za, zb = (z0, z1) if k % 2 == 0 else (z1, z0)
            ax, ay, bx, by = rng.uniform(0.3, 0.7, size=4)
            self._plans.append((za, zb, ax, ay, bx, by))

    def _close(self) -> None:
        self._photos = []

    def photo_at(self, t: float) -> int:
        """The index into ``photo_names`` of the photo shown at time t (seconds)."""
        return int(t // self.seconds_per_photo) % len(self._photos)

    def _view(self, k: int, u: float) -> np.ndarray:
        """Photo k at progress u in [0, 1+] of its segment."""
        photo = self._photos[k]
        za, zb, ax, ay, bx, by = self._plans[k]
        s = min(max(u, 0.0), 1.0)
        s = s * s * (3 - 2 * s)  # smoothstep: ease in and out
        zoom = za + (zb - za) * s
        h, w = photo.shape[:2]
        width, height = self.size
        half_w, half_h = width / 2 / zoom, height / 2 / zoom
        cx = min(max((ax + (bx - ax) * s) * w, half_w), w - half_w)
        cy = min(max((ay + (by - ay) * s) * h, half_h), h - half_h)
        m = np.array([[zoom, 0, width / 2 - zoom * cx], [0, zoom, height / 2 - zoom * cy]])
        return cv2.warpAffine(photo, m, self.size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)

    def _read(self) -> tuple[np.ndarray, float] | None:
        index = self._next_index
        if self.frame_count is not None and index >= self.frame_count:
            return None
        t = index / self.fps
        seg = self.seconds_per_photo
        n = len(self._photos)
        k = self.photo_at(t)
        local = t - (t // seg) * seg
        image = self._view(k, local / seg)
        fade_start = seg - self.crossfade_s
        if n > 1 and local > fade_start:
            w = (local - fade_start) / self.crossfade_s
            nxt = self._view((k + 1) % n, 0.0)
            image = cv2.addWeighted(image, 1.0 - w, nxt, w, 0.0)
        return image, t


# ---------------------------------------------------------------------------------------------
# Choosing a source


def write_demo_video(path: str | Path, seconds: float, fps: float = DEFAULT_FPS,
                     size: tuple[int, int] = (640, 480)) -> Path:
    """Record the demo to an MJPG .avi: a real file that plays like a camera, for benchmarks
    and soak runs that must not depend on a video lying around."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    with DemoSource(fps=fps, size=size) as demo:
        for _ in range(round(seconds * fps)):
            writer.write(demo.read().image)
    writer.release()
    return Path(path)


DEMO_SPEC = "demo"  # the source spec that names the bundled demo


def is_demo(spec: str | int | None) -> bool:
    """Whether a source spec names the bundled demo (not a folder called demo: './demo')."""
    return isinstance(spec, str) and spec.strip().casefold() == DEMO_SPEC


def open_source(spec: str | int, *, opened: bool = True) -> Source:
    """The source a command-line spec names, opened unless ``opened=False``.

    An int or a string of digits ('0', '1') is a camera index, 'demo' is the bundled demo,
    a folder is a FolderSource, a file with an image extension is an ImageSource, and any
    other file is a VideoSource. Use './demo' for a folder named demo. Raises SourceError
    for a missing path (naming it) and for anything that cannot be opened.
    """
    source: Source
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        source = CameraSource(int(spec))
    else:
        text = str(spec).strip()
        if not text:
            raise SourceError("no source given: use a camera index, 'demo', or a file/folder")
        if text.isdigit():
            source = CameraSource(int(text))
        elif is_demo(text):
            source = DemoSource()
        else:
            path = Path(text).expanduser()
            if not path.exists():
                raise SourceError(f"{text}: no such file or folder")
            if path.is_dir():
                source = FolderSource(path)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                source = ImageSource(path)
            else:
                source = VideoSource(path)
    return source.open() if opened else source
