#!/usr/bin/env python3
"""Unplug a (simulated) camera in the middle of a recording, in the real window.

The camera delivers frames, stops after --fail-after frames, refuses to reopen for --down
seconds, then works again. Passes (exit 0) when the window says the camera stopped, the
recording in progress was closed and plays back, and frames come back after the outage.
Runs offscreen unless a DISPLAY is set (then you can watch it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np

from camview.errors import SourceError
from camview.sources import DemoSource, Pacing, Source


class UnpluggableCamera(Source):
    """A live 30 fps source that is pulled out after `fail_after` frames for `down_s`."""

    is_live = True
    pacing = Pacing.LIVE
    fps = 30.0

    def __init__(self, fail_after: int, down_s: float) -> None:
        super().__init__("camera 0 (simulated)")
        self.fail_after, self.down_s = fail_after, down_s
        self.unplugged_at: float | None = None
        self.delivered = 0
        self._demo = DemoSource(fps=30, size=(640, 480))

    def _open(self) -> None:
        if self.unplugged_at is not None and time.monotonic() - self.unplugged_at < self.down_s:
            raise SourceError("camera 0 not found (unplugged)")
        self._demo.open()

    def _read(self):
        time.sleep(1 / 30)
        if self.unplugged_at is None and self.delivered >= self.fail_after:
            self.unplugged_at = time.monotonic()
            raise SourceError("camera 0 stopped delivering frames")
        self.delivered += 1
        return self._demo.read().image, None


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        n += int(image is not None and np.any(image))
    cap.release()
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fail-after", type=int, default=90, help="frames before the unplug")
    parser.add_argument("--down", type=float, default=2.0, help="seconds it stays unplugged")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    from PyQt6.QtWidgets import QApplication

    from camview.app.saved_settings import Options, open_settings
    from camview.app.window import MainWindow

    tmp = Path(tempfile.mkdtemp(prefix="camview-unplug-"))
    os.environ.setdefault("CAMVIEW_SETTINGS_DIR", str(tmp))
    recording = tmp / "talk.mp4"
    camera = UnpluggableCamera(args.fail_after, args.down)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(Options(source=camera, record=str(recording), model=args.model,
                                save_settings=False), open_settings())
    statuses: list[str] = []
    window.show()
    window.start()

    def pump(until, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app.processEvents()
            text = window.status_text()
            if text and (not statuses or statuses[-1] != text):
                statuses.append(text)
            if until():
                return True
            time.sleep(0.01)
        return False

    told = pump(lambda: camera.unplugged_at is not None and any(
        "stopped delivering" in s or " lost" in s for s in statuses), args.timeout)
    closed = pump(lambda: window.recording.recorder is None, 5.0)
    frames_in_file = count_frames(recording) if recording.exists() else 0
    delivered_before = camera.delivered
    resumed = pump(lambda: camera.delivered > delivered_before + 30, args.down + 15.0)
    window.close()
    stopped = not any(t.name.startswith("camview") and t.is_alive()
                      for t in threading.enumerate())

    checks = {
        "window said the camera stopped": told,
        "recording closed": closed,
        f"recording plays back ({frames_in_file} frames)": frames_in_file > 0,
        "frames came back after the outage": resumed,
        "threads stopped on close": stopped,
    }
    for text in statuses:
        print(f"status: {text}")
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
