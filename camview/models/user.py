"""A user's own Keras classifier (.keras or .h5), e.g. a fine-tuned cats-vs-dogs net."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from camview.errors import ModelError
from camview.models.base import keras_warnings_summarised

USER_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def _check_container(path: Path) -> None:
    """Refuse a file that is not even the right container before Keras prints a traceback."""
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    if path.stat().st_size == 0:
        raise ModelError(f"model file {path} is empty")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ModelError(f"model file {path} is not a Keras model (.keras files are zip archives)")
    if path.suffix in (".h5", ".hdf5"):
        with path.open("rb") as f:
            if f.read(8) != b"\x89HDF\r\n\x1a\n":
                raise ModelError(f"model file {path} is not an HDF5 Keras model")


def load_user_model(path: str | Path):
    """The Keras model in `path`, its input size and a preprocess function.

    A saved model carries no record of its preprocessing; camview feeds RGB scaled to 0..1
    unless the model starts with its own Rescaling/Normalization layer, in which case it gets
    raw 0..255 RGB (the Keras tutorial way of fine-tuning keeps preprocessing in the model).
    """
    import keras

    path = Path(path)
    _check_container(path)
    try:
        with keras_warnings_summarised(f"model file {path}"):
            model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; all mean the same here
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"model file {path} cannot be loaded by Keras: {reason[:200]}") from None
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else ()
    if len(shape) != 4 or shape[-1] != 3:
        raise ModelError(f"model file {path}: input shape {shape} is not an RGB image batch")
    h, w = shape[1] or 224, shape[2] or 224
    raw_input = any(isinstance(layer, keras.layers.Rescaling | keras.layers.Normalization)
                    for layer in model.layers[:4])
    scale = np.float32(1.0 if raw_input else 1.0 / 255.0)

    def preprocess(bgr: np.ndarray) -> np.ndarray:
        return bgr[..., ::-1].astype(np.float32) * scale

    fixed = shape[1] is not None and shape[2] is not None
    return model, (h, w), preprocess, fixed
