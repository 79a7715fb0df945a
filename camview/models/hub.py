"""A Keras Hub model saved as .keras (a ``keras_hub.models.ViTImageClassifier``, say): the
optional extra it needs, and the preprocessing its saved image converter names.

A .keras file is a zip whose config.json names each object's Python module. Keras imports a
named module itself when it rebuilds the model, so a file naming ``keras_hub...`` classes
loads when ``keras-hub`` is installed and fails deep inside Keras when it is not ("parent
module ... cannot be imported"). That is read here first, from the config alone (no
TensorFlow), and said in one line naming the extra to install. keras-hub is imported only
for such a file: it takes seconds and most models do not need it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from camview.errors import ModelError
from camview.models.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, rgb

#: The extra that installs keras-hub (pyproject.toml), and the command that adds it.
EXTRA = "hub"
INSTALL = f'pip install "camview[{EXTRA}]"'


def _classes(node) -> Iterator[str]:
    """Every keras_hub class a Keras config names, outermost first."""
    if isinstance(node, dict):
        module = node.get("module")
        if isinstance(module, str) and module.split(".")[0] == "keras_hub":
            yield str(node.get("class_name"))
        for value in node.values():
            yield from _classes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _classes(value)


def hub_classes(path: Path) -> list[str]:
    """The keras_hub classes the .keras file at `path` names (none for any other file, or one
    whose config cannot be read: Keras then says what is wrong with it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    return list(dict.fromkeys(_classes(config)))


def require_keras_hub(path: Path) -> bool:
    """Import keras_hub when the file at `path` names its classes (True), so Keras finds them;
    False for a file that does not. ModelError, one line, when keras-hub is not installed."""
    classes = hub_classes(path)
    if not classes:
        return False
    try:
        import keras_hub  # noqa: F401  (registers its classes with Keras)
    except ImportError:
        raise ModelError(f"model file {path} is a Keras Hub model ({classes[0]}): install "
                         f"keras-hub, the camview extra for it: {INSTALL}") from None
    return True


def converter_preprocessing(model, channels: int) -> Preprocessing | None:
    """What a Keras Hub task's saved image converter does to an RGB 0..255 image (x * scale
    + offset, per channel or for all), as camview's preprocessing; None when the model has no
    converter or the converter scales nothing. camview resizes frames itself (the model's
    fixed input size), so the converter's resizing is not needed."""
    converter = getattr(getattr(model, "preprocessor", None), "image_converter", None)
    scale, offset = getattr(converter, "scale", None), getattr(converter, "offset", None)
    if converter is None or (scale is None and offset is None):
        return None
    s = np.asarray(1.0 if scale is None else scale, np.float32).reshape(-1)
    o = np.asarray(0.0 if offset is None else offset, np.float32).reshape(-1)
    if channels == 1:
        s, o = s[:1], o[:1]
    name = next((mode for mode, (ms, mo) in _NAMED.items()
                 if np.allclose(s, ms, rtol=1e-4) and np.allclose(o, mo, atol=1e-4)),
                f"RGB x{_shown(s)} {_shown(o, sign=True)}")

    def transform(image: np.ndarray) -> np.ndarray:
        return rgb(image) * s + o

    why = (f"the file's Keras Hub image converter ({type(converter).__name__}) scales RGB "
           f"0..255 by {_shown(s)} and adds {_shown(o)}")
    return Preprocessing(name, why, transform)


def without_converter(model, title: str) -> str | None:
    """What to say when a Keras Hub task was saved without its preprocessor: the scaling it
    was trained with is then nowhere in the file (the backbone itself takes the image as
    given), and how to keep it in the file next time. None when it has one."""
    if getattr(model, "preprocessor", None) is not None:
        return None
    task = type(model).__name__
    return (f"{title} is a Keras Hub {task} saved without its preprocessor, so the file does "
            f"not say how its images were scaled; save it with one ({task}(..., "
            "preprocessor=...)) and camview feeds what its image converter does")


#: The converter's numbers that are one of camview's named modes (``torch``: Keras Hub's
#: ResNet, DenseNet... presets write ImageNet's mean/std as a scale and offset on 0..255).
_NAMED = {"raw": (1.0, 0.0), "unit": (1 / 255, 0.0), "tf": (1 / 127.5, -1.0),
          "torch": (1 / (255 * np.array(IMAGENET_STD)),
                    -np.array(IMAGENET_MEAN) / np.array(IMAGENET_STD))}


def _shown(values: np.ndarray, sign: bool = False) -> str:
    text = ",".join(f"{v:{'+' if sign else ''}.4g}" for v in values)
    return text if values.size == 1 else f"({text})"
