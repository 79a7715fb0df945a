"""The models camview knows by name, and loading any of them behind one interface.

May import: camview.errors, camview.labels, camview.sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import camview.models.no_telemetry  # noqa: F401  (first: before anything imports OpenVINO)
from camview.errors import ModelError
from camview.models.base import DEFAULT_NAMES, CamModel, ResizeMode, default_resize
from camview.models.download import Progress
from camview.models.formats import FILE_PHRASE, ModelFormat, check_model_file, format_of
from camview.models.head import HeadKind
from camview.models.registry import (
    DEFAULT_MODEL,
    IMAGENET_LABELS,
    REGISTRY,
    ModelSpec,
    WeightsState,
    WeightsStatus,
    spec_for,
)

__all__ = ["DEFAULT_MODEL", "REGISTRY", "CamModel", "HeadKind", "ModelInfo",
           "ModelSpec", "ResizeMode", "WeightsState", "WeightsStatus", "check_model_name",
           "default_resize",
           "known_head", "list_models", "load_model", "model_names"]


@dataclass(frozen=True)
class ModelInfo:
    """One row of `camview models` (and of the window's model list)."""

    name: str
    head: HeadKind
    input_size: int
    resize: ResizeMode
    preprocessing: str
    status: WeightsStatus

    @property
    def weights(self) -> str:
        return f"{self.status.summary}: {self.status.detail}"


def check_model_name(name: str) -> ModelSpec | None:
    """The built-in spec `name` names, or None for a model file that looks usable; a
    ModelError for anything else. Needs no TensorFlow, so a wrong --model fails at once."""
    found = _spec_or_format(name)
    return found if isinstance(found, ModelSpec) else None


def _spec_or_format(name: str) -> ModelSpec | ModelFormat:
    """The built-in spec `name` names, else the format of the model file it names with its
    container checked (camview.models.formats); ModelError for anything else."""
    spec = spec_for(name)
    if spec is not None:
        return spec
    if format_of(name) is None and not Path(name).exists():
        raise ModelError(f"unknown model {name!r}: use one of {', '.join(model_names())} "
                         f"or a path to {FILE_PHRASE}")
    return check_model_file(name)


def known_head(name: str) -> HeadKind | None:
    """The head kind of a model known by name (None for a file), without building it: lets a
    request it cannot serve (CAM of VGG16) fail before seconds of loading."""
    spec = spec_for(name)
    return spec.head if spec else None


def list_models() -> list[ModelInfo]:
    """Every model camview knows by name and whether its weights are available here."""
    return [ModelInfo(s.name, s.head, s.input_size, s.resize, s.preprocessing,
                      s.weights_status()) for s in REGISTRY.values()]


def model_names() -> list[str]:
    return list(REGISTRY)


def _labels(spec: ModelSpec | None, n_classes: int, labels: str | Path | None
            ) -> tuple[list[str], str]:
    """The class names and where they come from (shown by `camview inspect`)."""
    from camview.labels import imagenet_labels, read_labels_file

    if labels is not None:
        return read_labels_file(labels, expected=n_classes), str(labels)
    if spec is not None or n_classes == 1000:
        return list(imagenet_labels()), IMAGENET_LABELS
    if n_classes == 1001:  # TF-slim and some exports: a background class first
        return ["background", *imagenet_labels()], f"{IMAGENET_LABELS}, background first"
    if n_classes == 2:
        return ["negative", "positive"], (f"{DEFAULT_NAMES} (--labels FILE: one name a line; "
                                          "for one binary output, the first is output < 0.5)")
    return ([f"class {i}" for i in range(n_classes)],
            f"{DEFAULT_NAMES} class 0.. (--labels FILE: one name a line, in output order)")


def load_model(
    name: str,
    *,
    weights: str | None = None,
    read_layer: str | None = None,
    resize: str | ResizeMode | None = None,
    labels: str | Path | None = None,
    preprocess: str | None = None,
    progress: Progress | None = None,
    runtime: str | None = None,
    input_layout: str | None = None,
) -> CamModel:
    """Build `name` (a known model or a path to a model file of camview.models.formats)
    ready for maps.

    weights: None for the model's default, "none" for random weights (timing), or a path.
    preprocess: for your own model, a mode of camview.models.preprocess (None: auto).
    progress: told one line per step of a first-use download (the window's status).
    runtime: the forward runtime (camview.models.runtimes: auto, tensorflow, openvino; None:
        $CAMVIEW_RUNTIME, else auto), checked before the seconds of loading.
    input_layout: "nchw" or "nhwc" (--input-layout), the input's layout in a file that may
        have either (ONNX) where the graph leaves it ambiguous; refused for other models.
    """
    from camview.models.runtimes import check_runtime, default_runtime

    runtime = default_runtime() if runtime is None else check_runtime(runtime)
    random_weights = weights is not None and str(weights).lower() == "none"
    found = _spec_or_format(name)
    spec = found if isinstance(found, ModelSpec) else None
    if input_layout is not None and (spec is not None or not found.layouts):
        raise ModelError(f"--input-layout is for ONNX models; {name} takes its input NHWC, as "
                         "Keras does")
    if spec is not None:
        if preprocess not in (None, "auto"):
            raise ModelError(f"--preprocess is for your own models; {spec.name} is fed the way "
                             f"it was trained ({spec.preprocessing})")
        built = spec.load(None if random_weights else weights, random_weights, progress)
        keras_model, chosen, source = built.keras_model, built.preprocess, built.source
        size, fixed, title = (spec.input_size,) * 2, spec.fixed_input, spec.name
        model_class: type[CamModel] = CamModel
    else:
        keras_model, size, chosen, fixed = found.load(
            Path(name), preprocess, **({} if input_layout is None else {"layout": input_layout}))
        source = title = name
        model_class = found.model_class() if found.model_class else CamModel
    names, names_from = _labels(spec, model_class.classes_of(keras_model), labels)
    model = model_class(title, keras_model, labels=names, input_size=size,
                     resize=ResizeMode(resize) if resize else default_resize(fixed),
                     preprocess=chosen, read_layer=read_layer, fixed_input=fixed,
                     source=source, labels_source=names_from)
    model.use_runtime(runtime, say=progress)
    return model
