"""Class activation map methods over one small base, and the one list of their names.

Every method answers the same question, "where does the network look for class c in this
input". The live ones take one compiled TensorFlow call per frame, built once per model and
layer: CAM reads the activations the forward pass already returned; the gradient methods run
forward and backward in one call and only say how they weigh the activations (per channel or
per position); Eigen-CAM decomposes the activations; the saliency family differentiates back
to the pixels; Recipro-CAM runs the head alone on masked copies of the activations. The
on-demand ones (SmoothGrad, Integrated Gradients, Score-CAM, occlusion, RISE) batch many
forward (or backward) passes and take progress and cancel.

Maps are returned raw (each method's docstring says what that means for it: the --map .npy
contract). Resizing and normalising belong to the overlay.

Each method declares its options (camview.maps.options) beside itself; `method_options` lists
them all, and the command line, render's request and the window are made from that list.

May import: camview.errors, camview.labels, camview.sources, camview.models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from camview.errors import CamviewError, ModelError
from camview.maps.base import TOP_N, Cancelled, MapResult, Method, Progress
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
from camview.maps.options import MethodOption, merge_options
from camview.maps.perturbation import RISE, BatchedForward, Occlusion, ScoreCAM
from camview.maps.reciprocam import ReciproCAM
from camview.maps.rollout import GradientRollout, Rollout
from camview.maps.saliency import GuidedGradCAM, Saliency, SmoothGrad
from camview.maps.validity import map_problem, normalise
from camview.models.base import CamModel

__all__ = ["CAM", "DEFAULT_METHOD", "METHODS", "RISE", "TOP_N", "TRANSFORMER_METHOD",
           "BatchedForward", "Cancelled", "EigenCAM", "GradCAM", "GradCAMPlusPlus",
           "GradientMethod", "GradientRollout", "GuidedGradCAM", "HiResCAM",
           "IntegratedGradients", "LayerCAM", "MapResult", "Method", "MethodOption",
           "Occlusion", "Progress", "ReciproCAM", "Rollout", "Saliency", "ScoreCAM",
           "SmoothGrad", "XGradCAM", "check_options", "fallback_method", "make_method",
           "map_problem", "method_class", "method_options", "normalise", "option_takers"]

#: Every method, in the order menus and the README list them. Each class says its title,
#: summary, paper, whether it is live or on demand and whether it is class-agnostic.
#: The method camview draws unless told otherwise: the reference program's.
DEFAULT_METHOD = CAM.name

METHODS: dict[str, type[Method]] = {m.name: m for m in (
    CAM, GradCAM, GradCAMPlusPlus, LayerCAM, HiResCAM, XGradCAM, EigenCAM, Saliency,
    GuidedGradCAM, SmoothGrad, IntegratedGradients, ScoreCAM, Occlusion, RISE, ReciproCAM,
    Rollout, GradientRollout)}


#: The method camview recommends for a vision transformer, at its default read layer (the
#: last block's normalised input): found the mark on the trained test ViT as often as any
#: (docs/vit-findings.md), class-specific and live. The window falls back to it when CAM is
#: asked of a ViT.
TRANSFORMER_METHOD = "hirescam"


def fallback_method(model: CamModel) -> str:
    """The method used when the one asked for cannot map `model`: HiResCAM for a vision
    transformer (TRANSFORMER_METHOD; rollout for one without a backward pass: an ONNX ViT),
    else Grad-CAM."""
    if getattr(model, "transformer", None) is None:
        return "gradcam"
    return (TRANSFORMER_METHOD if METHODS[TRANSFORMER_METHOD].serves_model(model)
            else Rollout.name)


def _key(name: str) -> str:
    """Case, hyphens, underscores and spaces do not matter: 'Grad-CAM++' is 'gradcam++'."""
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


_LOOKUP = {_key(m.name): m.name for m in METHODS.values()}
_LOOKUP.update({_key(m.title): m.name for m in METHODS.values()})
_LOOKUP.update({"gradcampp": "gradcam++", "gradcamplusplus": "gradcam++",
                "vanillagradient": "saliency", "fasterscorecam": "scorecam",
                "occlusionsensitivity": "occlusion", "ig": "integrated-gradients",
                "attentionrollout": "rollout", "gradrollout": "gradient-rollout"})


def method_class(name: str) -> type[Method]:
    """The method called `name` (case-insensitive; hyphens, underscores, spaces ignored)."""
    key = _LOOKUP.get(_key(name))
    if key is None:
        raise ModelError(f"unknown method {name!r}: use one of {', '.join(METHODS)}")
    return METHODS[key]


def method_options(methods: Iterable[type[Method]] | None = None) -> tuple[MethodOption, ...]:
    """Every option the methods take (default: all of METHODS), in METHODS' order, each name
    once; two methods declaring one name differently is refused (ValueError)."""
    return merge_options(m.options for m in (METHODS.values() if methods is None else methods))


def option_takers(name: str) -> list[type[Method]]:
    """The methods that take the option `name`, in METHODS' order."""
    return [m for m in METHODS.values() if any(o.name == name for o in m.options)]


def check_options(names: Iterable[str], options: Mapping[str, Any]) -> dict[str, Any]:
    """The options given for methods `names` (None values left out), each checked against
    its declaration: an unknown option, one none of the methods takes (not silently
    ignored) or a value out of range is a CamviewError in one line."""
    names = list(names)
    declared = {o.name: o for o in method_options()}
    given = {k: v for k, v in options.items() if v is not None}
    for key, value in given.items():
        option = declared.get(key)
        if option is None:
            raise CamviewError(f"unknown method option {key!r}: use one of "
                               f"{', '.join(declared)}")
        if not any(m in option_takers(key) for m in map(method_class, names)):
            takers = ", ".join(m.name for m in option_takers(key))
            raise CamviewError(f"{option.flag} applies to {takers} only, not to "
                               f"{', '.join(names)}")
        option.check(value)
    return given


def make_method(name: str, model: CamModel, layer: str | None = None,
                **options: Any) -> Method:
    """The method `name` for `model` at `layer`. Options the method does not take (see its
    `options`) and options left None are ignored, so one set of command-line options can
    serve several methods (render --compare)."""
    cls = method_class(name)
    taken = {o.name for o in cls.options}
    given = {k: v for k, v in options.items() if k in taken and v is not None}
    return cls(model, layer, **given)
