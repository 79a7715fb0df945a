"""Class activation map methods: CAM, Grad-CAM and Grad-CAM++ over one small base.

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

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from camview.errors import ModelError
from camview.models.base import CamModel, HeadKind, softmax
from camview.overlay import map_problem


@dataclass(frozen=True)
class MapResult:
    cam: np.ndarray  # (h, w) float32, raw, at the read layer's resolution
    logits: np.ndarray  # (classes,) pre-softmax scores of the same pass
    target: int  # the class the map is for

    @property
    def probabilities(self) -> np.ndarray:
        return softmax(self.logits)

    def top(self, k: int) -> list[tuple[int, float]]:
        """The k most probable classes as (index, probability), highest first."""
        probs = self.probabilities
        k = min(k, probs.size)
        best = np.argpartition(-probs, k - 1)[:k]
        best = best[np.argsort(-probs[best], kind="stable")]
        return [(int(i), float(probs[i])) for i in best]

    @property
    def problem(self) -> str | None:
        """Why this map cannot be drawn or trusted, or None when it can."""
        problem = map_problem(self.cam)
        if problem is None and not np.isfinite(self.logits).all():
            problem = "NaN or Inf in the class scores"
        return problem


class Method(ABC):
    """A way to compute the map of one class for one network input.

    Each method is one compiled TensorFlow function of (input, target) -> (map, scores,
    class), built once per model and layer and cached on the model, so switching methods back
    and forth never retraces. target < 0 asks for the top-1 class, chosen inside the same
    call. Subclasses only write `_map`, the traced body.
    """

    name: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, model: CamModel, layer: str | None = None) -> None:
        self.model = model
        self.layer = layer or model.read_layer
        key = (type(self).__name__, self.layer)
        if key not in model.compiled:
            model.compiled[key] = self._compile()
        self._run = model.compiled[key]

    @abstractmethod
    def _map(self, feature_model, x, target):
        """TF ops: (map (h, w), scores (classes,), class) for one input."""

    def _compile(self):
        import tensorflow as tf

        feature_model = self.model.features_at(self.layer)
        body = self._map

        @tf.function(input_signature=[self.model.input_spec, tf.TensorSpec([], tf.int32)])
        def run(x, target):
            return body(feature_model, x, target)

        return run

    def explain(self, batch: np.ndarray, target: int | None = None) -> MapResult:
        """The map of class `target` (None: the top-1 class) for one prepared input."""
        cam, logits, c = self._run(batch, np.int32(-1 if target is None else target))
        return MapResult(cam.numpy(), logits.numpy(), int(c))


def _pick(logits, target):
    """The pinned class, or the top-1 when target < 0 (TF ops)."""
    import tensorflow as tf

    return tf.where(target < 0, tf.cast(tf.argmax(logits), tf.int32), target)


class CAM(Method):
    """Class activation mapping (Zhou et al. 2016): the head itself weighs the channels."""

    name = "cam"
    title = "CAM"

    def __init__(self, model: CamModel, layer: str | None = None) -> None:
        self.check_head(model.name, model.head)
        if layer not in (None, model.read_layer):
            raise ModelError(f"CAM reads only the layer before global pooling "
                             f"({model.read_layer!r}), not {layer!r}: use gradcam")
        super().__init__(model, layer)

    @staticmethod
    def check_head(name: str, head: HeadKind | None) -> None:
        """Refuse a model whose head CAM cannot read (None: not known yet, allowed)."""
        if head is HeadKind.GRADIENT_ONLY:
            raise ModelError(f"CAM needs global average pooling then one dense layer after the "
                             f"map layer; {name} has another head (gradient-only): use "
                             "--method gradcam or gradcam++")

    def _map(self, feature_model, x, target):
        import tensorflow as tf

        features, logits = feature_model(x, training=False)
        c = _pick(logits[0], target)
        if self.model.head is HeadKind.DIRECT:
            cam = tf.gather(features[0], c, axis=2)  # the class's own channel
        else:
            row = tf.gather(tf.constant(self.model.fc_weights), c, axis=1)
            cam = tf.tensordot(features[0], row, axes=[[2], [0]])
        return cam, logits[0], c


class GradientMethod(Method):
    """Forward and backward in one compiled call; subclasses say how to weigh the activations.

    The gradient only crosses the head after the read layer, so a map costs about one
    forward pass. `weights` may return one weight per channel (k,) or one per position and
    channel (h, w, k): the map is ReLU(sum over k of weights * activations) either way, by
    broadcasting, so a per-position method (Layer-CAM) is as short as a per-channel one.
    """

    @staticmethod
    @abstractmethod
    def weights(features, grads, score):
        """Weights (k,) or (h, w, k) from activations and gradients (h, w, k), as TF ops."""

    def _map(self, feature_model, x, target):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            features, logits = feature_model(x, training=False)
            tape.watch(features)
            c = _pick(logits[0], target)
            score = tf.gather(logits[0], c)
        grads = tape.gradient(score, features)[0]
        weights = self.weights(features[0], grads, score)
        cam = tf.nn.relu(tf.reduce_sum(weights * features[0], axis=-1))
        return cam, logits[0], c


class GradCAM(GradientMethod):
    """Grad-CAM (Selvaraju et al. 2017): channels weighted by their mean gradient."""

    name = "gradcam"
    title = "Grad-CAM"

    @staticmethod
    def weights(features, grads, score):
        import tensorflow as tf

        return tf.reduce_mean(grads, axis=(0, 1))


class GradCAMPlusPlus(GradientMethod):
    """Grad-CAM++ (Chattopadhyay et al. 2018), closed form with Y = exp(score).

    With Y = exp(S) the higher derivatives are exp(S) g^n; exp(S) cancels in alpha and is left
    as a positive factor on the weights. It is kept so the raw map matches the paper's, but
    capped at exp(80) so float32 cannot overflow; the drawn (normalised) map never sees it.
    """

    name = "gradcam++"
    title = "Grad-CAM++"

    @staticmethod
    def weights(features, grads, score):
        import tensorflow as tf

        g2 = tf.square(grads)
        g3 = g2 * grads
        denominator = 2.0 * g2 + tf.reduce_sum(features, axis=(0, 1)) * g3
        denominator = tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
        alpha = g2 / denominator
        weights = tf.reduce_sum(alpha * tf.nn.relu(grads), axis=(0, 1))
        return weights * tf.exp(tf.minimum(score, 80.0))


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
