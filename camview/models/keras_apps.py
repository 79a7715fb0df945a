"""ImageNet CNNs from keras.applications, with the weights Keras downloads and caches.

Built with ``classifier_activation=None`` so the output is the pre-softmax score Grad-CAM
wants. Offline with an empty cache, the build fails inside Keras' downloader; that becomes one
line naming the model, the cache folder and what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from camview.errors import ModelError
from camview.models.base import keras_warnings_summarised


@dataclass(frozen=True)
class KerasApp:
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications submodule holding preprocess_input
    size: int
    weights_file: str  # the file Keras caches under <keras home>/models


KERAS_APPS: dict[str, KerasApp] = {
    "mobilenet_v2": KerasApp("MobileNetV2", "mobilenet_v2", 224,
                             "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"),
    "resnet50": KerasApp("ResNet50", "resnet", 224,
                         "resnet50_weights_tf_dim_ordering_tf_kernels.h5"),
    "inception_v3": KerasApp("InceptionV3", "inception_v3", 299,
                             "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    "efficientnet_b0": KerasApp("EfficientNetB0", "efficientnet", 224, "efficientnetb0.h5"),
    "densenet121": KerasApp("DenseNet121", "densenet", 224,
                            "densenet121_weights_tf_dim_ordering_tf_kernels.h5"),
    "vgg16": KerasApp("VGG16", "vgg16", 224, "vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
}


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights (KERAS_HOME, default ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def cached_weights(name: str) -> Path | None:
    path = keras_cache_dir() / KERAS_APPS[name].weights_file
    return path if path.is_file() else None


def build_keras_app(name: str, weights: str | None):
    """The Keras model and its preprocess function; weights: 'imagenet', None or a file."""
    import keras

    app = KERAS_APPS[name]
    constructor = getattr(keras.applications, app.constructor)
    preprocess_input = getattr(keras.applications, app.module).preprocess_input
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise ModelError(f"{name}: weights file {weights} does not exist")
    try:
        with keras_warnings_summarised(f"{name}: loading weights {weights}"):
            model = constructor(weights=weights, classifier_activation=None,
                                input_shape=(app.size, app.size, 3))
    except Exception as exc:  # Keras raises a bare Exception for a failed download
        if weights == "imagenet" and cached_weights(name) is None:
            raise ModelError(
                f"{name}: ImageNet weights are not in the Keras cache ({keras_cache_dir()}) and "
                "could not be downloaded; run once with internet access to cache them, or use "
                "--weights none (random weights) or --weights FILE",
                window_hint=f"{name}: ImageNet weights could not be downloaded: connect to the "
                            f"internet and choose {name} again (downloaded once, then kept in "
                            f"{keras_cache_dir()}), or choose another model"
            ) from None
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"{name}: cannot load weights {weights}: {reason}") from None

    def preprocess(bgr):
        # keras.applications' preprocess_input expects RGB in 0..255 and converts itself.
        return preprocess_input(bgr[..., ::-1].astype("float32"))

    return model, preprocess
