"""Class activation map methods over one small base, and the one list of their names.

Every method answers the same question, "where does the network look for class c in this
input", with one network pass per frame: CAM reads the activations the forward pass already
returned; the gradient methods run forward and backward in one compiled TensorFlow function,
built once per model and layer (the gradient only crosses the head, so it costs about one
forward pass). Each gradient method only says how it weighs the activations (per channel
or per position).

Maps are returned raw, at the read layer's resolution: CAM as the weighted sum without ReLU,
Grad-CAM and Grad-CAM++ after their ReLU. Resizing and normalising belong to the overlay.
"""

from __future__ import annotations

from camview.errors import ModelError
from camview.maps.base import MapResult, Method
from camview.maps.cam import CAM
from camview.maps.gradient import GradCAM, GradCAMPlusPlus, GradientMethod
from camview.maps.validity import map_problem, normalise
from camview.models.base import CamModel

__all__ = ["CAM", "METHODS", "GradCAM", "GradCAMPlusPlus", "GradientMethod", "MapResult",
           "Method", "make_method", "map_problem", "method_class", "normalise"]

METHODS: dict[str, type[Method]] = {m.name: m for m in (CAM, GradCAM, GradCAMPlusPlus)}
_ALIASES = {"grad-cam": "gradcam", "gradcampp": "gradcam++", "grad-cam++": "gradcam++",
            "gradcamplusplus": "gradcam++"}


def method_class(name: str) -> type[Method]:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in METHODS:
        raise ModelError(f"unknown method {name!r}: use one of {', '.join(METHODS)}")
    return METHODS[key]


def make_method(name: str, model: CamModel, layer: str | None = None) -> Method:
    return method_class(name)(model, layer)
