"""Class activation map methods over one small base, and the one list of their names.

Every method answers the same question, "where does the network look for class c in this
input". The live ones take one compiled TensorFlow call per frame, built once per model and
layer: CAM reads the activations the forward pass already returned; the gradient methods run
forward and backward in one call and only say how they weigh the activations (per channel or
per position); Eigen-CAM decomposes the activations; the saliency family differentiates back
to the pixels. The on-demand ones (SmoothGrad, Integrated Gradients, Score-CAM, occlusion,
RISE) batch many forward (or backward) passes and take progress and cancel.

Maps are returned raw (each method's docstring says what that means for it: the --map .npy
contract). Resizing and normalising belong to the overlay.

May import: camview.errors, camview.labels, camview.sources, camview.models.
"""

from __future__ import annotations

from typing import Any

from camview.errors import ModelError
from camview.maps.base import Cancelled, MapResult, Method, Progress
from camview.maps.cam import CAM
from camview.maps.eigen import EigenCAM
from camview.maps.gradient import (
    GradCAM,
    GradCAMPlusPlus,
    GradientMethod,
    HiResCAM,
    LayerCAM,
    XGradCAM,
)
from camview.maps.integrated_gradients import IntegratedGradients
from camview.maps.perturbation import RISE, BatchedForward, Occlusion, ScoreCAM
from camview.maps.saliency import GuidedGradCAM, Saliency, SmoothGrad
from camview.maps.validity import map_problem, normalise
from camview.models.base import CamModel

__all__ = ["CAM", "DEFAULT_METHOD", "METHODS", "RISE", "BatchedForward", "Cancelled", "EigenCAM",
           "GradCAM", "GradCAMPlusPlus", "GradientMethod", "GuidedGradCAM", "HiResCAM",
           "IntegratedGradients", "LayerCAM", "MapResult", "Method", "Occlusion", "Progress",
           "Saliency", "ScoreCAM", "SmoothGrad", "XGradCAM", "make_method", "map_problem",
           "method_class", "normalise"]

#: Every method, in the order menus and the README list them. Each class says its title,
#: summary, paper, whether it is live or on demand and whether it is class-agnostic.
#: The method camview draws unless told otherwise: the reference program's.
DEFAULT_METHOD = CAM.name

METHODS: dict[str, type[Method]] = {m.name: m for m in (
    CAM, GradCAM, GradCAMPlusPlus, LayerCAM, HiResCAM, XGradCAM, EigenCAM, Saliency,
    GuidedGradCAM, SmoothGrad, IntegratedGradients, ScoreCAM, Occlusion, RISE)}


def _key(name: str) -> str:
    """Case, hyphens, underscores and spaces do not matter: 'Grad-CAM++' is 'gradcam++'."""
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


_LOOKUP = {_key(m.name): m.name for m in METHODS.values()}
_LOOKUP.update({_key(m.title): m.name for m in METHODS.values()})
_LOOKUP.update({"gradcampp": "gradcam++", "gradcamplusplus": "gradcam++",
                "vanillagradient": "saliency", "fasterscorecam": "scorecam",
                "occlusionsensitivity": "occlusion", "ig": "integrated-gradients"})


def method_class(name: str) -> type[Method]:
    """The method called `name` (case-insensitive; hyphens, underscores, spaces ignored)."""
    key = _LOOKUP.get(_key(name))
    if key is None:
        raise ModelError(f"unknown method {name!r}: use one of {', '.join(METHODS)}")
    return METHODS[key]


def make_method(name: str, model: CamModel, layer: str | None = None,
                **options: Any) -> Method:
    """The method `name` for `model` at `layer`. Options the method does not take (see its
    `options`) and options left None are ignored, so one set of command-line options can
    serve several methods (render --compare)."""
    cls = method_class(name)
    given = {k: v for k, v in options.items() if k in cls.options and v is not None}
    return cls(model, layer, **given)
