"""What the window starts with, and what it remembers between runs.

An option comes from the command line, else from the saved settings, else from its default;
`Options.given` names the ones the command line gave, so a saved value never overrides them.
Settings live in QSettings (the platform's place), or in an ini file in $CAMVIEW_SETTINGS_DIR
for tests and portable use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

from camview.errors import CamviewError
from camview.maps import method_class
from camview.models import DEFAULT_MODEL, CamModel
from camview.overlay import OverlayStyle
from camview.sources import Source

#: The saved OverlayStyle fields and how to read each back (QSettings' ini files store text).
STYLE_KEYS = {"style": str, "threshold": float, "alpha": float, "colormap": str, "layout": str}


def open_settings() -> QSettings:
    """The user's settings, or an ini file in $CAMVIEW_SETTINGS_DIR (tests, portable use)."""
    folder = os.environ.get("CAMVIEW_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "camview.ini"), QSettings.Format.IniFormat)
    return QSettings("camview", "camview")


@dataclass
class Options:
    """What the window starts with (command line over saved settings over defaults)."""

    source: str | int | Source | None = None  # None: camera 0, else the demo
    record: str | None = None
    model: str | CamModel = DEFAULT_MODEL
    model_kwargs: dict = field(default_factory=dict)  # weights, labels, read_layer, resize
    method: str = "cam"
    target: str | None = None
    style: OverlayStyle = field(default_factory=OverlayStyle)
    smoothing: float = 0.0
    readout: bool = True
    output_dir: str | None = None  # snapshots and recordings without a path
    given: set[str] = field(default_factory=set)  # options given on the command line
    save_settings: bool = True


def options_with_settings(options: Options, settings: QSettings) -> Options:
    """Saved settings fill in every option the command line did not give."""
    given = options.given
    changes: dict = {}
    for key, kind in STYLE_KEYS.items():
        value = settings.value(key)
        if value is not None and key not in given:
            try:
                changes[key] = kind(value)
            except (TypeError, ValueError):
                continue
    try:
        style = dataclasses.replace(options.style, **changes).validate()
    except ValueError:
        style = options.style
    out = dataclasses.replace(options, style=style)
    model, method = settings.value("model"), settings.value("method")
    if model and "model" not in given:
        out.model = str(model)
    if method and "method" not in given:
        with contextlib.suppress(CamviewError):
            out.method = method_class(str(method)).name
    smoothing = settings.value("smoothing")
    if smoothing is not None and "smoothing" not in given:
        with contextlib.suppress(TypeError, ValueError):
            out.smoothing = float(smoothing)
    readout = settings.value("readout")
    if readout is not None:
        out.readout = str(readout).lower() in ("true", "1")
    return out


def save_settings(settings: QSettings, *, model: str | None, method: str, style: OverlayStyle,
                  smoothing: float, readout: bool, geometry: QByteArray | None) -> None:
    """Remember what options_with_settings reads back (model None: none loaded, keep the old
    one; geometry None: the window is full screen, keep its normal size)."""
    if model is not None:
        settings.setValue("model", model)
    settings.setValue("method", method)
    for key in STYLE_KEYS:
        settings.setValue(key, getattr(style, key))
    settings.setValue("smoothing", smoothing)
    settings.setValue("readout", readout)
    if geometry is not None:
        settings.setValue("geometry", geometry)
    settings.sync()


def saved_geometry(settings: QSettings) -> QByteArray | None:
    """The window's size and place from the last run, None on the first run."""
    return settings.value("geometry")
