"""A camera by index, through OpenCV."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from camview.errors import SourceError
from camview.sources.base import CAMERA_FIRST_FRAME_TIMEOUT_S, Pacing, Source, header_fps

log = logging.getLogger(__name__)


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

    def check_present(self) -> None:
        """SourceError when the camera plainly is not there, without opening the device (so
        the command line can say so before TensorFlow is imported)."""
        if self.index < 0:
            raise SourceError(f"camera index {self.index} is invalid: use 0, 1, ...")
        if sys.platform.startswith("linux") and not Path(f"/dev/video{self.index}").exists():
            raise SourceError(f"camera {self.index} not found (/dev/video{self.index} does not "
                              "exist): is a camera connected? Try another index")

    def _open(self) -> None:
        self.check_present()
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
        self.fps = header_fps(cap)
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
