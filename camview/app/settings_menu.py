"""The window's settings at run time: the Settings menu (output folder, reset), Help → About's
list of settings and their origins, and saving them on close. The rules (what wins, what is
remembered) are camview.app.saved_settings'; this only reads and sets the session's state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QByteArray
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QDialog, QFileDialog, QWidget

from camview.app.about import setting_rows, show_about
from camview.app.saved_settings import reset_options, save_settings, setting_values
from camview.app.session import Session
from camview.models import CamModel

RESET_TEXT = "Reset settings"
RESET_MENU = f"Settings → {RESET_TEXT}"  # how messages name the reset (menu "S&ettings")


class SettingsMenu:
    """The settings side of a session: values now, About, output folder, reset, save.
    `geometry()` is the window's to remember (None: full screen, keep the saved one)."""

    def __init__(self, session: Session, dialog_parent: QWidget,
                 geometry: Callable[[], QByteArray | None]) -> None:
        self.s = session
        self.parent = dialog_parent
        self.geometry = geometry

    def make_actions(self) -> list[QAction]:
        a = self.s.make_action
        return [a("output_folder", "Output folder…", [], self.choose_output_folder,
                  tip="Choose the folder for recordings and snapshots"),
                a("reset_settings", RESET_TEXT, [], self.reset,
                  tip="Forget the saved settings and go back to the defaults")]

    def about_action(self) -> QAction:
        return self.s.make_action("about", "About camview", [], self.show_about,
                                  tip="The version, and each setting with where its value came "
                                      "from")

    def values(self) -> dict[str, object]:
        """Every setting's value now (a model not loaded yet: the one asked for)."""
        s, pipe = self.s, self.s.pipeline
        model = s.model if s.model is not None else s.options.model
        return setting_values(model=model, method=pipe.method_name, style=pipe.style,
                              smoothing=pipe.smoothing, readout=s.readout,
                              output_dir=s.output.folder, runtime=s.runtime)

    def show_about(self) -> QDialog:
        rows = setting_rows(self.values(), self.s.options, self.s.output.where())
        return show_about(self.parent, rows, RESET_MENU)

    def choose_output_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.parent, "Folder for recordings and snapshots",
                                                str(self.s.output.folder_for("snapshot")))
        if path:
            self.set_output_folder(path)

    def set_output_folder(self, path: str | None) -> None:
        """Recordings and snapshots go to `path` (None: the platform's folders); remembered."""
        s = self.s
        s.output.folder = path
        if s.options.save_settings:
            self.save()
        s.show_status(f"recordings and snapshots go to {s.output.where()}",
                      folder=Path(path) if path else None, now=True)

    def reset(self) -> None:
        """Forget the saved settings and show the defaults (the command line's values stay)."""
        s = self.s
        s.settings.clear()
        s.settings.sync()
        o = s.options = reset_options(s.options)
        # presentation mode keeps its large labels
        s.pipeline.set_smoothing(o.smoothing)
        s.set_style(dataclasses.replace(o.style, label_scale=s.label_scale))
        if o.method != s.pipeline.method_name:
            s.set_method(o.method)
        model, wanted = s.model, o.model
        if model is not None and model.name != (
                wanted.name if isinstance(wanted, CamModel) else wanted):
            s.pipeline.set_model(wanted, **o.model_kwargs)
        s.output.folder = o.output_dir
        s.set_readout(o.readout)
        kept = sorted(o.given)
        s.show_status("settings reset to the defaults" +
                      (f" (the command line's {', '.join(kept)} kept)" if kept else ""), now=True)

    def save(self) -> None:
        """Remember what was changed in the window (see camview.app.saved_settings)."""
        s, values = self.s, self.values()
        if s.model is None:
            values["model"] = None  # none loaded: keep the saved one
        save_settings(s.settings, values, s.options, geometry=self.geometry())
