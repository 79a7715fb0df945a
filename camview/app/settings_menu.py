"""The window's settings at run time: the Settings menu (output folder, reset), Help → About's
list of settings and their origins, and saving them on close. The rules (what wins, what is
remembered) are camview.app.saved_settings'; this only reads and sets the window's state."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QDialog, QFileDialog

from camview.app.about import setting_rows, show_about
from camview.app.actions import RESET_MENU
from camview.app.saved_settings import reset_options, save_settings, setting_values
from camview.models import CamModel

if TYPE_CHECKING:
    from camview.app.window import MainWindow


class Preferences:
    """The settings side of a MainWindow."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window

    def values(self) -> dict[str, object]:
        """Every setting's value now (a model not loaded yet: the one asked for)."""
        w, pipe = self.w, self.w.pipeline
        model = pipe.current_model if pipe.current_model is not None else w.options.model
        return setting_values(model=model, method=pipe.method_name, style=pipe.style,
                              smoothing=pipe.smoothing, readout=not w.readout.isHidden(),
                              output_dir=w.output.folder)

    def show_about(self) -> QDialog:
        rows = setting_rows(self.values(), self.w.options, self.w.output.where())
        return show_about(self.w, rows, RESET_MENU)

    def choose_output_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.w, "Folder for recordings and snapshots",
                                                str(self.w.output.folder_for("snapshot")))
        if path:
            self.set_output_folder(path)

    def set_output_folder(self, path: str | None) -> None:
        """Recordings and snapshots go to `path` (None: the platform's folders); remembered."""
        w = self.w
        w.output.folder = path
        if w.options.save_settings:
            self.save()
        w.show_status(f"recordings and snapshots go to {w.output.where()}",
                      folder=Path(path) if path else None, now=True)

    def reset(self) -> None:
        """Forget the saved settings and show the defaults (the command line's values stay)."""
        w = self.w
        w.settings.clear()
        w.settings.sync()
        o = w.options = reset_options(w.options)
        label_scale = w.current_style().label_scale  # presentation mode keeps its large labels
        w.pipeline.set_style(dataclasses.replace(o.style, label_scale=label_scale))
        w.pipeline.set_smoothing(o.smoothing)
        if o.method != w.pipeline.method_name:
            w.set_method(o.method)
        model, wanted = w.pipeline.current_model, o.model
        if model is not None and model.name != (
                wanted.name if isinstance(wanted, CamModel) else wanted):
            w.pipeline.set_model(wanted, **o.model_kwargs)
        w.output.folder = o.output_dir
        w.set_readout(o.readout)
        w.actions_by_name["readout"].setChecked(o.readout)
        w.apply_layout(o.style.layout)
        w.sync_controls()
        kept = sorted(o.given)
        w.show_status("settings reset to the defaults" +
                      (f" (the command line's {', '.join(kept)} kept)" if kept else ""), now=True)

    def save(self) -> None:
        """Remember what was changed in the window (see camview.app.saved_settings)."""
        w, values = self.w, self.values()
        if w.pipeline.current_model is None:
            values["model"] = None  # none loaded: keep the saved one
        save_settings(w.settings, values, w.options,
                      geometry=None if w.presenting else w.saveGeometry())
