"""The bundled demo: real photos shown with a slow pan and zoom, like a camera."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np

from camview.errors import SourceError
from camview.sources.base import DEFAULT_FPS, DEMO_SPEC, Pacing, Source
from camview.sources.images import decode_image
from camview.sources.stills import natural_key

log = logging.getLogger(__name__)


DEMO_ORDER = ("chelsea", "coffee", "rocket", "astronaut", "camera")


def demo_photos() -> list[tuple[str, bytes]]:
    """The bundled demo photos as (name, JPEG bytes), in the order the demo shows them.

    Read through importlib.resources from the package ``camview.resources``, so they load
    from a wheel or a zip as well as from a checkout.
    """
    from importlib.resources import files

    folder = files("camview.resources") / "demo"
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
