"""Help → About: the version, and each setting with its value and where that value came from
(command line, saved, default, or changed in this window)."""

from __future__ import annotations

from PyQt6.QtWidgets import QDialog, QWidget

from camview import __version__
from camview.app.dialogs import table_dialog
from camview.app.saved_settings import Options, origin_now

NAMES = {"output_dir": "output folder"}  # a setting's name where its key is not plain words


def setting_rows(values: dict[str, object], start: Options,
                 output_folders: str) -> list[tuple[str, str, str]]:
    """(setting, value, origin) for each setting; `output_folders` stands for the platform's
    folders (an empty output_dir)."""
    rows = []
    for name, value in values.items():
        text = ({True: "on", False: "off"}[value] if isinstance(value, bool) else
                f"{value:.2f}" if isinstance(value, float) else
                output_folders if name == "output_dir" and not value else str(value))
        rows.append((NAMES.get(name, name), text, origin_now(start, name, value)))
    return rows


def show_about(parent: QWidget, rows: list[tuple[str, str, str]], reset_menu: str) -> QDialog:
    note = (f"camview {__version__} — live class activation maps.\n"
            "A setting comes from the command line, else from the saved settings, else from its "
            "default. What you change in the window is remembered for the next run; what the "
            f"command line gives is for this run only. {reset_menu} forgets the saved settings.")
    return table_dialog(parent, "About camview", ["setting", "value", "from"], rows, note)
