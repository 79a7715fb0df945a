"""Still images: one image, or a folder of them in natural order."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from camview.errors import SourceError
from camview.sources.base import Pacing, Source
from camview.sources.images import IMAGE_SUFFIXES, load_image

log = logging.getLogger(__name__)


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

    def _frame_path(self) -> str | None:
        return str(self.path)


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

    def _frame_path(self) -> str | None:
        return None if self.current_path is None else str(self.current_path)

    def seek(self, index: int) -> None:
        self.open()
        self._pos = min(max(0, int(index)), len(self.paths))
        self._next_index = self._pos
