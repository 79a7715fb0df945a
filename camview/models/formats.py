"""Every model file format camview reads or refuses, each declared once in `FORMATS`.

An entry says what a format is called, its suffixes, a cheap check of its container (run
before TensorFlow is imported, so a text file named .keras fails in a second rather than
after seconds of loading and a traceback), and the loader that turns the file into a Keras
classifier. Formats camview refuses (a PyTorch checkpoint, an OpenVINO IR) are entries too,
with the advice given instead. `check_model_name` and `load_model`, the command line's help,
the window's file dialog and README all read this list, so a new format is one entry here
(plus its loader and a line of README, which a test holds to the suffixes declared here).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camview.errors import ModelError
from camview.models.onnx_check import check_onnx
from camview.models.onnx_load import load_onnx
from camview.models.preprocess import Preprocessing
from camview.models.user import load_user_model

#: What a loader returns: the network (a Keras model, or what the format's model_class
#: takes), its input size (h, w), how frames are fed to it, and whether it takes only that
#: size.
Loaded = tuple[Any, tuple[int, int], Preprocessing, bool]
#: A loader: the file and the --preprocess asked for (None: read it from the model).
Loader = Callable[[Path, str | None], Loaded]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class ModelFormat:
    """One model file format: read by `load`, or refused with `advice` when load is None."""

    name: str  # what the format is, as a sentence names it ("an HDF5 Keras model")
    suffixes: tuple[str, ...]  # lower case, the first the usual one
    family: str = ""  # what a file dialog groups it under ("Keras": "Keras models (…)")
    check: Callable[[Path], None] | None = None  # the container, without TensorFlow
    load: Loader | None = None
    advice: str = ""  # a refused format: what it is and what to do instead
    #: The CamModel class over what `load` returns (None: camview.models.base.CamModel,
    #: a Keras model); imported when a file of the format is loaded.
    model_class: Callable[[], type] | None = None
    #: Whether `load` takes layout= (--input-layout nchw|nhwc): a file whose input may be laid out
    #: either way (ONNX); a Keras model's is NHWC.
    layouts: bool = False

    @property
    def refused(self) -> bool:
        return self.load is None


def _check_zip(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise ModelError(f"model file {path} is not a Keras model (.keras files are zip "
                         "archives; this one is not, or is cut short)")


def _check_hdf5(path: Path) -> None:
    with path.open("rb") as f:
        if f.read(len(_HDF5_SIGNATURE)) != _HDF5_SIGNATURE:
            raise ModelError(f"model file {path} is not an HDF5 Keras model")


def _onnx_model_class() -> type:
    from camview.models.onnx_model import OnnxCamModel

    return OnnxCamModel


#: Keras' two containers and ONNX, loaded; then weight files camview reads for one built-in network
#: only (as --weights), never as a model of their own: refused, the advice says so.
FORMATS: tuple[ModelFormat, ...] = (
    ModelFormat("a Keras model", (".keras",), "Keras", _check_zip, load_user_model),
    ModelFormat("an HDF5 Keras model", (".h5", ".hdf5"), "Keras", _check_hdf5, load_user_model),
    ModelFormat("an ONNX model", (".onnx",), "ONNX", check_onnx, load_onnx,
                model_class=_onnx_model_class, layouts=True),
    ModelFormat("a PyTorch checkpoint", (".pth",), advice=(
        "a PyTorch checkpoint; camview reads only EfficientNet-Lite0's, as --model "
        "efficientnet_lite0 --weights FILE (your own network: export it as .onnx with "
        "torch.onnx.export, see docs/own-model.md)")),
    ModelFormat("a PyTorch file", (".pt",), advice=(
        "a PyTorch file; camview reads only EfficientNet-Lite0's .pth, as --model "
        "efficientnet_lite0 --weights FILE (your own network: export it as .onnx with "
        "torch.onnx.export, see docs/own-model.md)")),
    ModelFormat("an OpenVINO IR", (".xml",), advice=(
        "an OpenVINO IR; camview reads only SqueezeNet 1.1's, as --model squeezenet "
        "--weights FILE")),
    ModelFormat("OpenVINO IR weights", (".bin",), advice=(
        "OpenVINO IR weights; camview reads only SqueezeNet 1.1's, as --model squeezenet "
        "--weights FILE")),
)

#: The formats camview loads, in the order help texts and the file dialog name them.
LOADABLE = tuple(f for f in FORMATS if not f.refused)
#: Every suffix of a model file camview loads (".keras", ".h5", ".hdf5").
MODEL_SUFFIXES = tuple(s for f in LOADABLE for s in f.suffixes)
#: How help texts name those suffixes: ".keras/.h5/.hdf5".
SUFFIXES_TEXT = "/".join(MODEL_SUFFIXES)
#: How help texts name a model file: "a .keras/.h5/.hdf5 file".
FILE_PHRASE = f"a {SUFFIXES_TEXT} file"
#: The help of every argument that takes a model (--model, inspect's MODEL, --versus, …).
MODEL_HELP = f"a model name (see `camview models`) or {FILE_PHRASE}"


def format_of(path: str | Path) -> ModelFormat | None:
    """The format `path`'s suffix declares (any case), None for a suffix no entry has."""
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def check_model_file(name: str | Path) -> ModelFormat:
    """The loadable format of model file `name`, its container checked; ModelError naming
    the file and what to do for a missing, empty or mislabelled file or a refused format.

    A file whose suffix no entry declares is handed to the first format's loader (Keras),
    which says in its own words what it cannot read.
    """
    found = format_of(name)
    if found is not None and found.refused:
        raise ModelError(f"{name}: {found.advice}")
    path = Path(name)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    if path.stat().st_size == 0:
        raise ModelError(f"model file {path} is empty")
    if found is None:
        return LOADABLE[0]
    if found.check is not None:
        found.check(path)
    return found


def dialog_title() -> str:
    """The window's file dialog title: "Open a Keras classifier"."""
    families = list(dict.fromkeys(f.family for f in LOADABLE))
    return f"Open a {' or '.join(families)} classifier"


def dialog_filter() -> str:
    """The window's file dialog filter, one entry per family ("Keras models (*.keras *.h5
    *.hdf5)"), after one for every model file when there is more than one family."""
    families: dict[str, list[str]] = {}
    for entry in LOADABLE:
        families.setdefault(entry.family, []).extend(entry.suffixes)
    filters = [f"{family} models ({_patterns(suffixes)})"
               for family, suffixes in families.items()]
    if len(filters) > 1:
        filters.insert(0, f"All models ({_patterns(MODEL_SUFFIXES)})")
    return ";;".join(filters)


def _patterns(suffixes: list[str] | tuple[str, ...]) -> str:
    return " ".join(f"*{s}" for s in suffixes)
