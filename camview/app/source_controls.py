"""Choosing the live source: a video or image file, a folder of images, a camera, the demo
(Source menu and toolbar). The last folder used is remembered for the next dialog."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QWidget

from camview.app.file_patterns import patterns
from camview.app.session import Session
from camview.sources import DEMO_SPEC, VIDEO_EXTENSIONS
from camview.sources.images import IMAGE_SUFFIXES


class SourceControls:
    """The source dialogs (parented to `dialog_parent`) and their actions."""

    def __init__(self, session: Session, dialog_parent: QWidget) -> None:
        self.s = session
        self.parent = dialog_parent

    def make_actions(self) -> list[QAction]:
        a = self.s.make_action
        return [
            a("open_file", "Open video or image…", ["Ctrl+O"], self.open_file),
            a("open_folder", "Open image folder…", ["Ctrl+Shift+O"], self.open_folder),
            a("camera", "Camera…", ["Ctrl+K"], self.choose_camera),
            a("demo", "Demo", ["Ctrl+D"], lambda: self.s.set_source(DEMO_SPEC)),
        ]

    def _last_dir(self) -> str:
        return self.s.settings.value("last_dir", "")

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "Open a video or an image", self._last_dir(),
            f"Videos and images ({patterns(*VIDEO_EXTENSIONS, *IMAGE_SUFFIXES)});;"
            "All files (*)")
        if path:
            self.s.settings.setValue("last_dir", str(Path(path).parent))
            self.s.set_source(path)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.parent, "Open a folder of images",
                                                self._last_dir())
        if path:
            self.s.settings.setValue("last_dir", path)
            self.s.set_source(path)

    def choose_camera(self) -> None:
        index, ok = QInputDialog.getInt(self.parent, "Camera", "Camera index:", 0, 0, 63)
        if ok:
            self.s.set_source(index)
