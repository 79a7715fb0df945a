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

May import: camview.errors only (and the packages of its own files: images, ffmpeg).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from camview.errors import SourceError
from camview.sources.base import (
    CAMERA_FIRST_FRAME_TIMEOUT_S,
    DEFAULT_FPS,
    DEMO_SPEC,
    VIDEO_EXTENSIONS,
    Frame,
    Pacing,
    Source,
    Timing,
    is_demo,
)
from camview.sources.camera import CameraSource
from camview.sources.demo import DEMO_ORDER, DemoSource, demo_photos, write_demo_video
from camview.sources.images import IMAGE_SUFFIXES
from camview.sources.stills import FolderSource, ImageSource, natural_key
from camview.sources.video import VideoSource

log = logging.getLogger(__name__)

__all__ = ["CAMERA_FIRST_FRAME_TIMEOUT_S", "DEFAULT_FPS", "DEMO_ORDER", "DEMO_SPEC",
           "VIDEO_EXTENSIONS", "CameraSource", "DemoSource", "FolderSource", "Frame",
           "ImageSource", "Pacing", "Source", "Timing", "VideoSource", "demo_photos", "is_demo",
           "natural_key", "open_source", "write_demo_video"]


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
