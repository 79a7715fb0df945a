"""What the window starts with, what it remembers between runs, and where each value came from.

A setting comes from the command line, else from the saved settings, else from its default;
`Options.given` names the ones the command line gave, so a saved value never overrides them,
and `Options.origins` says for each setting where its value came from (Help → About lists it).
Only what is changed in the window is remembered, and only where it differs from the default:
a value given on the command line is for that run, so it cannot silently shape a later one.
Settings live in QSettings (the platform's place), or in an ini file in $CAMVIEW_SETTINGS_DIR
for tests and portable use.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

from camview.drawing.overlay import OverlayStyle
from camview.errors import CamviewError
from camview.maps import DEFAULT_METHOD, method_class
from camview.models import DEFAULT_MODEL, CamModel
from camview.models.preprocess import AUTO, MODES
from camview.models.registry import spec_for
from camview.models.runtimes import check_runtime
from camview.sources import Source

COMMAND_LINE, SAVED, DEFAULT = "command line", "saved", "default"
CHANGED = "changed in this window"

#: The OverlayStyle fields that are settings (topk is the command line's only).
STYLE_FIELDS = ("style", "colormap", "layout", "threshold", "alpha", "topk", "scale")


def _flag(text: object) -> bool:
    return str(text).lower() in ("true", "1")


def _method(text: object) -> str:
    return method_class(str(text)).name


def _between(low: float, high: float) -> Callable[[object], float]:
    """A reader of a number saved as text that must lie in low..high: NaN, infinity or a
    value out of range is refused (ValueError) rather than reaching a slider's int()."""
    def read(text: object) -> float:
        value = float(str(text))
        if not low <= value <= high:  # False for NaN too
            raise ValueError(f"{value} is not in {low}..{high}")
        return value
    return read


#: The remembered settings and how to read each back (QSettings' ini files store text).
REMEMBERED: dict[str, Callable[[object], object]] = {
    "model": str, "method": _method, "style": str, "colormap": str, "layout": str,
    "scale": str, "threshold": _between(0.0, 1.0), "alpha": _between(0.0, 1.0),
    "smoothing": _between(0.0, 0.95), "readout": _flag,
    "output_dir": str, "runtime": check_runtime,
}


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
    labelled_set: str | None = None  # a set to open at start (--set), shown over the live
    model: str | CamModel = DEFAULT_MODEL
    model_kwargs: dict = field(default_factory=dict)  # weights, labels, read_layer, resize
    method: str = DEFAULT_METHOD
    target: str | None = None
    style: OverlayStyle = field(default_factory=OverlayStyle)
    smoothing: float = 0.0
    readout: bool = True
    output_dir: str | None = None  # snapshots and recordings without a path
    runtime: str = "auto"  # the forward runtime asked for (camview.models.runtimes)
    compare: tuple[str, ...] | None = None  # --compare: start with these methods in a grid
    compare_model: str | None = None  # --compare-model: a second model's row in that grid
    #: --compare-labels/-weights/-preprocess/-resize: the second model's own loading options
    #: (load_second_model's). Like the compare and its model they are not saved in the
    #: settings: a compare is asked for at each start (a flag or the Compare box), and a
    #: saved second model's options would be applied to a model the user no longer names.
    compare_kwargs: dict = field(default_factory=dict)
    given: set[str] = field(default_factory=set)  # settings given on the command line
    save_settings: bool = True
    origins: dict[str, str] = field(default_factory=dict)  # setting -> COMMAND_LINE/SAVED/DEFAULT
    ignored: list[str] = field(default_factory=list)  # saved settings refused, as name=value


def setting_values(*, model: str | CamModel, method: str, style: OverlayStyle, smoothing: float,
                   readout: bool, output_dir: str | None, runtime: str) -> dict[str, object]:
    """Every setting by name, as saved, compared and listed (the output folder '' when the
    platform's folders are used)."""
    values: dict[str, object] = {
        "model": model.name if isinstance(model, CamModel) else str(model), "method": method}
    values.update({name: getattr(style, name) for name in STYLE_FIELDS})
    values.update(smoothing=smoothing, readout=readout, output_dir=output_dir or "",
                  runtime=runtime)
    return values


def option_values(options: Options) -> dict[str, object]:
    o = options
    return setting_values(model=o.model, method=o.method, style=o.style, smoothing=o.smoothing,
                          readout=o.readout, output_dir=o.output_dir, runtime=o.runtime)


DEFAULTS = option_values(Options())


def _with_values(options: Options, values: dict[str, object]) -> Options:
    """`options` with some settings replaced (names as in setting_values)."""
    style = {k: v for k, v in values.items() if k in STYLE_FIELDS}
    out = dataclasses.replace(options, style=dataclasses.replace(options.style, **style))
    for name in ("model", "method", "smoothing", "readout", "runtime"):
        if name in values:
            setattr(out, name, values[name])
    if "output_dir" in values:
        out.output_dir = str(values["output_dir"]) or None
    return out


_UNREADABLE = object()


def _saved(settings: QSettings, name: str) -> object | None:
    """A saved setting read back: None when missing, _UNREADABLE when not a valid value."""
    text = settings.value(name)
    if text is None or text == "":
        return None
    try:
        return REMEMBERED[name](text)
    except (TypeError, ValueError, CamviewError):
        return _UNREADABLE


def options_with_settings(options: Options, settings: QSettings) -> Options:
    """Saved settings fill in every setting the command line did not give; `origins` says
    where each value came from, `ignored` which saved values were not valid (each falls back
    to its default)."""
    read = {name: value for name in REMEMBERED if name not in options.given
            and (value := _saved(settings, name)) is not None}
    ignored = [f"{name}={settings.value(name)}" for name, value in read.items()
               if value is _UNREADABLE]
    saved = {name: value for name, value in read.items() if value is not _UNREADABLE}
    try:
        _with_values(options, saved).style.validate()
    except (ValueError, CamviewError):  # a bad saved style: the style defaults instead
        ignored += [f"{k}={settings.value(k)}" for k in saved if k in STYLE_FIELDS]
        saved = {k: v for k, v in saved.items() if k not in STYLE_FIELDS}
    out = _with_values(options, saved)
    out.ignored = ignored
    out.origins = {name: COMMAND_LINE if name in options.given else SAVED if name in saved
                   else DEFAULT for name in DEFAULTS}
    return out


def reset_options(options: Options) -> Options:
    """The settings as if nothing were saved: the command line's values, else the defaults."""
    defaults = {k: v for k, v in DEFAULTS.items() if k not in options.given}
    out = _with_values(options, defaults)
    if "model" not in options.given:
        out.model_kwargs = {}
    out.origins = {name: COMMAND_LINE if name in options.given else DEFAULT for name in DEFAULTS}
    return out


def saved_changes(options: Options) -> list[str]:
    """'layout overlay', … for each saved setting in use that differs from its default."""
    values = option_values(options)
    return [f"{name} {value}" for name, value in values.items()
            if options.origins.get(name) == SAVED and value != DEFAULTS[name]]


def origin_now(options: Options, name: str, value: object) -> str:
    """Where a setting's current value came from: its start origin, or changed since."""
    if value != option_values(options)[name]:
        return CHANGED
    return options.origins.get(name, DEFAULT)


def save_settings(settings: QSettings, values: dict[str, object], start: Options,
                  geometry: QByteArray | None) -> None:
    """Remember the settings changed in the window (`values` as setting_values gives them;
    model None: none loaded, keep the saved one). A command-line value not changed is left
    alone (it was for this run); a value equal to its default is forgotten. Geometry None:
    the window is full screen, keep its normal size."""
    given = option_values(start)
    for name in REMEMBERED:
        value = values.get(name)
        if value is None or (name in start.given and value == given[name]):
            continue
        if value == DEFAULTS[name]:
            settings.remove(name)
        else:
            settings.setValue(name, value)
    if geometry is not None:
        settings.setValue("geometry", geometry)
    settings.sync()


def saved_geometry(settings: QSettings) -> QByteArray | None:
    """The window's size and place from the last run, None on the first run."""
    return settings.value("geometry")


# -- the preprocessing chosen in the window for a model file, remembered per file

PREPROCESS_KEY = "preprocess_by_file"  # QSettings: {absolute model path: mode}, as JSON


def is_model_file(name: str | CamModel) -> bool:
    """A user's model file (any format of camview.models.formats) rather than a built-in
    model name."""
    name = name.name if isinstance(name, CamModel) else str(name)
    return spec_for(name) is None


def file_key(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def _remembered_all(settings: QSettings) -> dict[str, str]:
    try:
        found = json.loads(str(settings.value(PREPROCESS_KEY, "{}")))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def remembered_preprocess(settings: QSettings, path: str) -> str | None:
    """The preprocessing last chosen in the window for model file `path`, None if none."""
    mode = _remembered_all(settings).get(file_key(path))
    return mode if mode in MODES else None


def remember_preprocess(settings: QSettings, path: str, mode: str) -> None:
    """Remember `mode` for model file `path` (auto: forget it, auto is the default)."""
    every = _remembered_all(settings)
    if mode == AUTO:
        every.pop(file_key(path), None)
    else:
        every[file_key(path)] = mode
    settings.setValue(PREPROCESS_KEY, json.dumps(every))
    settings.sync()
