"""Saving the view as the window shows it: a recording (mp4) or a snapshot (PNG).

Both compose raw | overlay (or the overlay alone) with the core's compose_layout, the one
compose path the headless renderer uses too. Files without a path given go to the output
folder (--output-dir), else a camview folder in the user's Videos/Pictures folder (Qt's
QStandardPaths reads the XDG user dirs and each platform's equivalents for us), never the
working folder, named by the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QStandardPaths

from camview.app.recorder import Recorder
from camview.drawing.layout import compose_layout
from camview.drawing.writers import write_image
from camview.errors import OutputError

FOLDERS = {"recording": QStandardPaths.StandardLocation.MoviesLocation,
           "snapshot": QStandardPaths.StandardLocation.PicturesLocation}


class ViewOutput:
    """The recording in progress (at most one) and snapshots; errors raise CamviewError."""

    def __init__(self, folder: str | None, on_record_failure: Callable[[str], None]) -> None:
        self.folder = folder
        self.on_record_failure = on_record_failure  # called on the recorder's thread
        self.recorder: Recorder | None = None

    def folder_for(self, kind: str) -> Path:
        """Where files of `kind` ('recording' or 'snapshot') go; made on first use."""
        if self.folder:
            return Path(self.folder).expanduser()
        found = QStandardPaths.writableLocation(FOLDERS[kind]) or str(Path.home())
        return Path(found) / "camview"

    def where(self) -> str:
        """Where files go, for a message: one folder, or the recordings' and snapshots'."""
        if self.folder:
            return str(self.folder_for("snapshot"))
        return f"{self.folder_for('recording')} and {self.folder_for('snapshot')}"

    def new_path(self, kind: str, suffix: str) -> Path:
        """A new time-stamped file in the output folder for `kind` (never overwrites one)."""
        folder = self.folder_for(kind)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot make the {kind} folder {folder}: "
                              f"{exc.strerror or exc}") from None
        stem = f"camview-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = folder / f"{stem}{suffix}", 1
        while path.exists():
            n += 1
            path = folder / f"{stem}-{n}{suffix}"
        return path

    def start_recording(self, path: str | Path | None, fps: float | None, layout: str,
                        raw: np.ndarray | None, overlay: np.ndarray | None) -> Recorder:
        """Start recording, seeded with the view shown now (so a still image records too)."""
        path = Path(path) if path else self.new_path("recording", ".mp4")
        self.recorder = Recorder(path, fps, layout, on_failure=self.on_record_failure).start()
        if overlay is not None:
            self.recorder.set_overlay(overlay)
        if raw is not None:
            self.recorder.add_frame(raw)
        return self.recorder

    def stop_recording(self) -> Recorder | None:
        """Finish the file; the stopped recorder (its path and frames), None if none ran."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.stop()
        return recorder

    def snapshot(self, raw: np.ndarray, overlay: np.ndarray | None, layout: str) -> Path:
        path = self.new_path("snapshot", ".png")
        write_image(path, compose_layout(raw, overlay, layout))
        return path
