"""ImageNet CNNs from keras.applications, with the weights Keras downloads and caches.

Built with ``classifier_activation=None`` so the output is the pre-softmax score Grad-CAM
wants. Offline with an empty cache, the build fails inside Keras' downloader; that becomes one
line naming the model, the cache folder and what to do. Which nets camview offers is the
registry's business (camview.models.registry): one entry each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from camview.errors import ModelError
from camview.models.base import keras_warnings_summarised


@dataclass(frozen=True)
class KerasApp:
    name: str  # camview's name for it
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications submodule holding preprocess_input (the family)
    size: int
    weights_file: str  # the file Keras caches under <keras home>/models
    download_mb: float  # its size, to say what the first use will fetch


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights (KERAS_HOME, default ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def cached_weights(app: KerasApp) -> Path | None:
    path = keras_cache_dir() / app.weights_file
    return path if path.is_file() else None


def build_keras_app(app: KerasApp, weights: str | None):
    """The Keras model built with `weights`: 'imagenet', None (random) or a file."""
    import keras

    constructor = getattr(keras.applications, app.constructor)
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise ModelError(f"{app.name}: weights file {weights} does not exist")
    try:
        with keras_warnings_summarised(f"{app.name}: loading weights {weights}"):
            return constructor(weights=weights, classifier_activation=None,
                               input_shape=(app.size, app.size, 3))
    except Exception as exc:  # Keras raises a bare Exception for a failed download
        if weights == "imagenet" and cached_weights(app) is None:
            raise ModelError(
                f"{app.name}: ImageNet weights are not in the Keras cache ({keras_cache_dir()}) "
                "and could not be downloaded; run once with internet access to cache them, or "
                "use --weights none (random weights) or --weights FILE",
                window_hint=f"{app.name}: ImageNet weights could not be downloaded: connect to the "
                            f"internet and choose {app.name} again (downloaded once, then kept in "
                            f"{keras_cache_dir()}), or choose another model"
            ) from None
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"{app.name}: cannot load weights {weights}: {reason}") from None
