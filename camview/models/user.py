"""A user's own Keras classifier (.keras, .h5 or .hdf5), e.g. a fine-tuned cats-vs-dogs net: the
loader of camview.models.formats' Keras entries.

Every way a saved model can be unusable gets one line naming the file and what to do: not a
model at all, cut short, a custom layer Keras cannot rebuild (``--import FILE.py`` runs the
module that registers it), a Keras Hub model without keras-hub installed (camview.models.hub),
several inputs, an input that is not an image.
"""

from __future__ import annotations

import importlib
import logging
import re
import runpy
import sys
from pathlib import Path

from camview.errors import ModelError
from camview.models.base import input_channels, keras_warnings_summarised, not_an_image
from camview.models.graph import traced_subclass
from camview.models.hub import converter_preprocessing, require_keras_hub, without_converter
from camview.models.open_blocks import open_blocks
from camview.models.preprocess import AUTO, Preprocessing, choose

log = logging.getLogger(__name__)

#: How Keras names a class it cannot find (Keras 3 .keras; legacy .h5).
_UNKNOWN_CLASS = (re.compile(r"Could not locate (?:class|function) '([^']+)'"),
                  re.compile(r"Unknown (?:layer|object|activation)[^']*'([^']+)'"))


def import_user_modules(paths: list[str] | None) -> None:
    """Run each --import FILE.py once, before any model is loaded, so the custom layers it
    registers (``@keras.saving.register_keras_serializable()``) can be rebuilt."""
    for path in paths or []:
        file = Path(path)
        if not file.is_file():
            raise ModelError(f"--import {path}: no such file")
        try:
            runpy.run_path(str(file), run_name=f"camview_user_{file.stem}")
        except SystemExit as exc:  # the file ended the program while camview imported it
            raise ModelError(f"--import {path} called sys.exit({exc.code!r}) while it was "
                             "imported: a file for --import only defines and registers "
                             "classes") from None
        except Exception as exc:  # the user's code: report it, do not crash
            raise ModelError(f"--import {path} failed: {type(exc).__name__}: "
                             f"{(str(exc).strip().splitlines() or [''])[0][:160]}") from None


def _python_function(text: str, name: str) -> str | None:
    """'os.system' when the config Keras could not rebuild names `name` from a module of
    Python itself (os, subprocess, builtins...), not a class of the user's."""
    found = re.search(r"'module': '([\w.]+)', 'class_name': '" + re.escape(name) + "'", text)
    if found is None:
        return None
    module = found.group(1)
    if module.split(".")[0] not in sys.stdlib_module_names:
        return None
    try:  # only looked up, never called: is it something Python itself defines there?
        defined = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return f"{module}.{name}" if callable(defined) else None


#: How Keras 3 says it rebuilt a model but could not put the saved weights back into some
#: of its layers, and how it lists them.
_NOT_RESTORED = re.compile(r"A total of (\d+) objects could not be loaded")
_LAYER_NAME = re.compile(r"<\w+ name=([^,>]+)")


def _weights_not_restored(path: Path, text: str, hub: bool) -> ModelError | None:
    """The one line for a file whose layers Keras rebuilt but whose saved weights do not fit
    them (Keras Hub's EfficientNet saved by keras-hub 0.32 with Keras 3.15 is such a file:
    Keras skips the weights of the blocks' inner containers and the layers after them get
    none): a model with some layers left at random weights would draw maps of nothing."""
    found = _NOT_RESTORED.search(text)
    if found is None:
        return None
    import keras

    listed = text[text.find("List of objects"):] if "List of objects" in text else text
    names = list(dict.fromkeys(_LAYER_NAME.findall(listed)))
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    made_by = f"Keras {keras.__version__}"
    if hub:
        from importlib.metadata import version

        made_by += f" with keras-hub {version('keras-hub')}"
    return ModelError(
        f"model file {path}: Keras rebuilt the model but could not restore the saved weights "
        f"of {found.group(1)} of its layers ({shown}): the weights in the file do not fit the "
        f"layers {made_by} builds from its config (a file saved by another version, or a "
        "model class that this version cannot save and load back); camview does not run a "
        "model with layers left at random weights")


def _load_error(path: Path, exc: Exception, hub: bool = False) -> ModelError:
    text = str(exc).strip()
    if (restored := _weights_not_restored(path, text, hub)) is not None:
        return restored
    for pattern in _UNKNOWN_CLASS:
        found = pattern.search(text)
        if found and (function := _python_function(text, found.group(1))):
            return ModelError(
                f"model file {path} names the Python function {function} as a layer: Keras "
                "refuses to call it from a file (it could run anything), so nothing ran; "
                "this is not a model file to trust")
        if found:
            return ModelError(
                f"model file {path} uses the custom class {found.group(1)!r}, which Keras "
                "cannot rebuild: register it with @keras.saving.register_keras_serializable() "
                "in a Python file and pass --import FILE.py")
    if "Lambda" in text and "safe_mode" in text:
        return ModelError(
            f"model file {path} holds a Lambda layer, Python code stored in the file; Keras "
            "refuses to run such code from a file (it could do anything). If you trust the "
            "file, pass --import FILE.py with a FILE.py holding the two lines `import keras` "
            "and `keras.config.enable_unsafe_deserialization()`; better, rebuild the model "
            "without Lambda layers")
    reason = text.splitlines()[0] if text else type(exc).__name__
    return ModelError(f"model file {path} cannot be loaded by Keras (damaged, cut short or not "
                      f"a Keras model): {reason[:200]}")


def check_image_input(model, title: str) -> tuple[int | None, int | None, int]:
    """(h, w, channels) of the model's one image input; ModelError saying what is wrong."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ModelError(f"{title}: it has {len(inputs)} inputs; camview needs one image input")
    shape = tuple(inputs[0].shape)
    if len(shape) != 4:
        raise ModelError(not_an_image(title, shape, inputs[0].dtype))
    return shape[1], shape[2], input_channels(model, title)


def load_user_model(path: str | Path, preprocess: str | None = None):
    """The Keras model in `path`, its input size, its `Preprocessing` and whether the input
    size is fixed.

    A saved model carries no record of its preprocessing: ``preprocess`` names it
    (camview.models.preprocess), or None/'auto' reads it from the model and says when that
    is a guess. The file's container was checked already (camview.models.formats).
    """
    import keras

    path = Path(path)
    hub = require_keras_hub(path)  # a Keras Hub model: keras-hub imported, or one line
    try:
        with keras_warnings_summarised(f"model file {path}"):
            model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; all mean the same here
        raise _load_error(path, exc, hub) from None
    traced = traced_subclass(model, f"model file {path}")
    if traced is not model:
        model = traced
        log.info("model file %s is a subclassed model: traced through its call() at the "
                    "input shape it was built with, %s (frames are resized to it)", path.name,
                    "x".join(str(d) for d in tuple(model.inputs[0].shape)[1:]))
    h, w, channels = check_image_input(model, f"model file {path}")
    converted = converter_preprocessing(model, channels) if hub else None
    loaded_class = model  # open_blocks may rebuild it as a plain functional model
    # Keras Hub keeps a ViT's blocks inside one encoder layer: opened into the graph here.
    model = open_blocks(model, f"model file {path.name}")
    chosen: Preprocessing
    if converted is not None and (preprocess is None or preprocess.lower() == AUTO):
        chosen = converted
    else:
        chosen = choose(preprocess, model, channels, f"model file {path.name}")
        missing = without_converter(loaded_class, f"model file {path.name}") if hub else None
        if missing and chosen.note:  # a guess: say why a Keras Hub file leaves it one
            log.info("%s", missing)
    fixed = h is not None and w is not None
    return model, (h or 224, w or 224), chosen, fixed
