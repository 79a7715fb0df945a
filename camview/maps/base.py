"""What every map method shares: the result type, what a method says about itself, and one
compiled call per model and layer.

Maps are returned raw (each method's docstring says what raw means for it); resizing and
normalising belong to the overlay.
"""

from __future__ import annotations

import threading
from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from camview.errors import ModelError
from camview.maps.options import MethodOption
from camview.maps.read_pass import explain_rules
from camview.maps.validity import map_problem
from camview.models.base import CamModel, softmax
from camview.models.head import HeadKind

#: Why a method cannot map a model without a backward pass (Method.applies_to).
NO_BACKWARD = "it needs a backward pass, which an ONNX model on OpenVINO has not"

#: progress(done, total): called by the on-demand methods after each batched call.
Progress = Callable[[int, int], None]


class Cancelled(Exception):
    """An on-demand map was cancelled through its `cancel` event before it was done."""


#: How many classes a result reports (render's JSON per frame, evaluate's per image), whatever
#: the picture draws.
TOP_N = 5


@dataclass(frozen=True)
class MapResult:
    cam: np.ndarray  # (h, w) float32, raw; its resolution is the method's (see its docstring)
    logits: np.ndarray  # (classes,) pre-softmax scores of the unaltered input
    target: int  # the class the map is for
    #: Pixel-level gradient maps are heavy-tailed: a few pixels hold the maximum and min-max
    #: scaling leaves the rest black. Such a method sets this percentile, and `drawn` caps
    #: the map there (as saliency maps are usually shown); `cam` stays raw.
    clip_percentile: float | None = None
    #: Numbers a method reports beside its map, for render's JSON frame (Integrated
    #: Gradients: {"completeness": {...}}); None for most methods.
    details: dict | None = None

    # The three below are read several times per frame (words, drawing, smoothing, the
    # window); each is worked out once per result.
    @cached_property
    def drawn(self) -> np.ndarray:
        """The map to draw: `cam`, capped at clip_percentile when the method sets one."""
        if self.clip_percentile is None or self.problem is not None:
            return self.cam
        return np.minimum(self.cam, np.percentile(self.cam, self.clip_percentile))

    @cached_property
    def probabilities(self) -> np.ndarray:
        return softmax(self.logits)

    def top(self, k: int) -> list[tuple[int, float]]:
        """The k most probable classes as (index, probability), highest first."""
        probs = self.probabilities
        k = min(k, probs.size)
        best = np.argpartition(-probs, k - 1)[:k]
        best = best[np.argsort(-probs[best], kind="stable")]
        return [(int(i), float(probs[i])) for i in best]

    @cached_property
    def problem(self) -> str | None:
        """Why this map cannot be drawn or trusted, or None when it can."""
        problem = map_problem(self.cam)
        if problem is None and not np.isfinite(self.logits).all():
            problem = "NaN or Inf in the class scores"
        return problem


class Method(ABC):
    """A way to compute the map of one class for one network input.

    A method whose map is a rule over one layer's activations (and their class gradient)
    writes that rule, `from_arrays`, in numpy and sets `shares_pass`: the tensors come from
    one compiled pass per model and layer that every such method shares (read_pass). Any
    other method writes `_map`, the body of its own compiled TensorFlow call of (input,
    target) -> (map, scores, class), built once per model and layer and cached on the model,
    so switching methods back and forth never retraces. target < 0 asks for the top-1 class,
    chosen inside the call. The on-demand (perturbation) methods override `explain` instead
    and batch their forward passes.

    The class attributes describe the method once for the CLI, the window and the README.
    """

    name: ClassVar[str]  # what --method takes
    title: ClassVar[str]  # what a person reads
    summary: ClassVar[str]  # one line: what the map shows
    paper: ClassVar[str]  # "Author et al. YEAR"
    #: True: about one forward pass or a few, fit for every live frame; False: seconds, on
    #: demand (the frozen frame, render), with progress and cancel.
    live: ClassVar[bool] = True
    #: True when the map does not depend on the target class (it only reports it).
    class_agnostic: ClassVar[bool] = False
    #: Keyword options the constructor takes beyond (model, layer), each setting the attribute
    #: of its name: declared once here, read by the CLI, render's request and the window.
    options: ClassVar[tuple[MethodOption, ...]] = ()
    #: See MapResult.clip_percentile (the pixel-level gradient maps set 99).
    clip_percentile: ClassVar[float | None] = None
    #: The map is `from_arrays` of a layer's activations: such methods at one layer share one
    #: compiled pass (camview.maps.read_pass), several at once in a live compare
    #: (camview.maps.shared_pass), and a runtime without a backward pass can compute it
    #: (camview.maps.closed_form). False: the method's own compiled call (`_map`).
    shares_pass: ClassVar[bool] = False
    #: `from_arrays` also reads the class score's gradient to those activations (the shared
    #: pass then runs one backward pass too). Only meaningful with shares_pass.
    needs_activation_gradient: ClassVar[bool] = False
    #: Under a direct head (each class its own channel: SqueezeNet) the map reads the class's
    #: channel alone: CAM by definition, a gradient method because the gradient is zero on
    #: every other channel and its rule weighs a zero gradient zero (tests check each).
    reads_class_channel_only: ClassVar[bool] = False
    #: The map is read from a vision transformer's attention (rollout), not from a layer's
    #: activations: only models with attention over their tokens can have it (applies_to).
    needs_attention: ClassVar[bool] = False

    @classmethod
    def serves(cls, head: HeadKind) -> bool:
        """Whether the method can map a model with this head (CAM alone needs pooling then
        one dense layer); `camview inspect` names the methods from this."""
        return True

    @classmethod
    def forward_only(cls, head: HeadKind) -> bool:
        """Whether the method maps the read layer of a model with this head from forward
        passes alone (runs_on_forward_runtime for the read layer): all a model without a
        backward pass (an ONNX file on OpenVINO) can serve."""
        from camview.maps.closed_form import CLOSED_FORM_HEADS

        return cls.shares_pass and (not cls.needs_activation_gradient
                                    or head in CLOSED_FORM_HEADS)

    @classmethod
    def applies_to(cls, model: CamModel) -> str | None:
        """Why the method cannot map `model` at its read layer, in a few words, or None when
        it can: its head (serves), a model without a backward pass (forward passes alone), or
        what the model is (rollout needs a vision transformer's attention; CAM is not defined
        for one without an averaging dense head). `camview inspect`, the window's method list
        and the refusals read this."""
        if not cls.serves(model.head):
            return "the head is not pooling then one dense layer"
        if not model.can_backward and not cls.forward_only(model.head):
            return NO_BACKWARD
        return None

    @classmethod
    def forward_only_at_any_layer(cls) -> bool:
        """Whether the method maps any layer from forward passes alone (no gradient, no
        head read): what a model without a backward pass serves at another layer."""
        return cls.shares_pass and not cls.needs_activation_gradient

    @classmethod
    def serves_model(cls, model: CamModel) -> bool:
        """Whether the method can map `model` at its read layer (applies_to says why not)."""
        return cls.applies_to(model) is None

    def __init__(self, model: CamModel, layer: str | None = None, **options: object) -> None:
        """`options`: values of the method's declared `options` by name, each checked and set
        as the attribute of its name (left out or None: its default) before the call is
        compiled, as the compiled call may depend on them."""
        for option in self.options:
            setattr(self, option.name, option.check(options.pop(option.name, None)))
        if options:
            raise TypeError(f"{type(self).__name__} takes no option {', '.join(options)}")
        self.model = model
        self.layer = layer or model.read_layer
        if not model.can_backward:
            if not self.runs_on_forward_runtime():
                raise ModelError(forward_only_refusal(model, self))
            return  # nothing of TensorFlow's to compile: explain runs the model's runtime
        if self.shares_pass:  # the read pass compiles per layer, shared (read_pass)
            model.features_at(self.layer)  # a layer the model has not: said now
            return
        self._run = model.compiled_once(self._cache_key(), self._compile)

    def _cache_key(self) -> tuple:
        """What the compiled call depends on: the method and the layer (and, for a method
        with options baked into its graph, those)."""
        return (type(self).__name__, self.layer)

    def _map(self, feature_model, x, target):
        """TF ops: (map (h, w), scores (classes,), class) for one input: the body of the
        method's own compiled call (a method that shares_pass has `from_arrays` instead)."""
        raise NotImplementedError(f"{type(self).__name__} has no compiled call of its own")

    def from_arrays(self, features: np.ndarray, grads: np.ndarray | None, score: np.float32,
                    c: int) -> np.ndarray:
        """The map (h, w) from one input's activations (h, w, k), in numpy: their gradient
        (None unless needs_activation_gradient), the class score, and the class's channel
        (see shares_pass and camview.maps.read_pass)."""
        raise NotImplementedError(f"{type(self).__name__} has no shared pass")

    def _compile(self):
        import tensorflow as tf

        feature_model = self.model.features_at(self.layer)
        body = self._map

        @tf.function(input_signature=[self.model.input_spec, tf.TensorSpec([], tf.int32)])
        def run(x, target):
            return body(feature_model, x, target)

        return run

    def runs_on_forward_runtime(self) -> bool:
        """Whether a forward-only runtime (OpenVINO) would compute this method's work: a map
        of the read layer's activations, whose class gradient, if it needs one, is known in
        closed form from the head (camview.maps.closed_form). Perturbation methods override
        it: their many forward passes all run there."""
        from camview.maps.closed_form import CLOSED_FORM_HEADS

        if not self.shares_pass:
            return False
        if self.needs_activation_gradient:
            return (self.layer == self.model.read_layer
                    and self.model.head in CLOSED_FORM_HEADS)
        # From the activations alone: a model without a backward pass gives another layer's
        # too (CamModel.forward_of: an ONNX graph compiled with that tensor as its output).
        return self.layer == self.model.read_layer or not self.model.can_backward

    def explain(self, batch: np.ndarray, target: int | None = None, *,
                progress: Progress | None = None,
                cancel: threading.Event | None = None) -> MapResult:
        """The map of class `target` (None: the top-1 class) for one prepared input.

        `progress` and `cancel` matter to the on-demand methods only (they raise Cancelled
        when `cancel` is set); a live method is one call and ignores them, so every caller
        can pass them to any method.
        """
        if self.shares_pass:  # the layer's tensors, then this method's rule (read_pass)
            (cam,), logits, c = explain_rules(self.model, [self], batch, target)
            return MapResult(cam, logits, c, self.clip_percentile)
        cam, logits, c = self._run(batch, np.int32(-1 if target is None else target))
        return MapResult(cam.numpy(), logits.numpy(), int(c), self.clip_percentile)


def served_methods(model: CamModel) -> list[str]:
    """The names of the methods that can map `model` at its read layer, in METHODS' order."""
    from camview.maps import METHODS

    return [m.name for m in METHODS.values() if m.serves_model(model)]


def forward_only_refusal(model: CamModel, method: Method) -> str:
    """One line: `method` needs a backward pass `model` does not have, and what it serves."""
    from camview.maps import METHODS

    if method.layer == model.read_layer:
        served, where = served_methods(model), ""
    else:
        served = [m.name for m in METHODS.values() if m.forward_only_at_any_layer()]
        where = f" at layer {method.layer!r}"
    return (f"{method.title}{where} needs a backward pass, and {model.name} runs only "
            f"forward (an ONNX model on OpenVINO): use {', '.join(served)}")
