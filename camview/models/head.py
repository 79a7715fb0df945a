"""The head after the read layer: where maps come from, the class scores, and what the head
between them is (CAM reads it; the closed forms use it).

Walks back from the scores through single-input layers to the first spatial (rank-4) tensor,
then past pooling and dropout to the activation that produced it. That is "the last spatial
activation before global pooling" for any network built the usual way, whatever its layer
names, and also works when the convolutional base is a nested model (the usual way to build
a fine-tuned classifier).

Scores are read before a final softmax or sigmoid (Grad-CAM wants the class score, not its
probability). A binary classifier's single output z (a logit, or a sigmoid's input) becomes
two class scores [-z/2, +z/2]: their softmax is exactly [1 - sigmoid(z), sigmoid(z)], the
positive class's map follows the logit and the negative class's its negation (scaled by 1/2,
which a drawn map never shows). A GAP + Dense(1) head with kernel w is then an fc head with
weights [-w/2, +w/2].

A vision transformer (scores made from a token sequence, attention layers in the graph) is
read by camview.models.transformer: its read layer's tokens are folded into their grid inside
the feature model, so every method sees the (h, w, k) map it sees for a CNN.

A layer named with ``--layer`` may sit inside a nested base (``base/layer``, or its plain
name when unique): the graph is run again with that base split so its inner activation comes
out beside the scores.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from camview.errors import ModelError

if TYPE_CHECKING:
    import keras

from camview.models.graph import _run_split, resolve_layer
from camview.models.layer_kinds import SQUASHING as _SQUASHING
from camview.models.layer_kinds import activation_name as _activation_name
from camview.models.layer_kinds import binary_scores_layer as _binary_scores_layer
from camview.models.layer_kinds import is_squashing_layer as _is_squashing_layer
from camview.models.layer_kinds import pass_through as _pass_through
from camview.models.layer_kinds import producer as _producer
from camview.models.transformer import Transformer, find_transformer, fold


class HeadKind(str, enum.Enum):
    """What follows the read layer, which decides whether CAM can read it (module docstring
    of camview.models.base)."""

    DIRECT = "direct"
    FC = "fc"
    #: pooling, a layer normalisation, then one dense layer (ConvNeXt): not linear, so no
    #: CAM, but its gradient is known in closed form (camview.maps.closed_form)
    NORM_FC = "norm-fc"
    GRADIENT_ONLY = "gradient-only"


@cache
def _pooling() -> tuple[type, ...]:
    import keras

    return (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


@dataclass(frozen=True)
class DenseWeights:
    """An fc head's weights as (k, classes), read from its layer whenever asked, never kept:
    a sanity check randomises the layer after the model is loaded, and every map (CAM, the
    closed forms) must see the weights the model has now.

    `layer`: the Dense layer, or a 1x1 convolution on the pooled map; None for a binary
    model whose one-channel map is pooled straight into its logit (weight 1). `binary`: the
    one logit z shown as two classes [-z/2, +z/2] (module docstring).
    """

    layer: object | None
    binary: bool = False

    def numpy(self) -> np.ndarray:
        """(k, classes) now: a read of the whole kernel (0.13 ms for 1280 x 1000)."""
        import tensorflow as tf

        w = self._kernel()
        if w is None:
            w = np.ones((1, 1), np.float32)
        else:
            w = np.asarray(tf.convert_to_tensor(w), np.float32)
            w = w.reshape(w.shape[-2], w.shape[-1])  # a 1x1 kernel (1, 1, k, classes)
        return np.concatenate([-0.5 * w, 0.5 * w], axis=1) if self.binary else w

    def column(self, c: int) -> np.ndarray:
        """Class c's weights (k,) now, as a map of one class reads them every frame: one
        column gathered, not the whole kernel read (0.08 ms against 0.13, Lite0's 1280 x
        1000)."""
        import tensorflow as tf

        binary_sign = (-0.5 if c == 0 else 0.5) if self.binary else 1.0
        w = self._kernel()
        if w is None:
            return np.full(1, binary_sign, np.float32)
        if len(w.shape) == 4:  # a 1x1 kernel (1, 1, k, classes)
            w = tf.reshape(w, (w.shape[-2], w.shape[-1]))
        column = 0 if self.binary else c
        return binary_sign * np.asarray(tf.gather(w, column, axis=1), np.float32)

    def _kernel(self):
        return None if self.layer is None else self.layer.kernel

    def frozen(self) -> ConstantWeights:
        """The weights and bias now, as numpy arrays that no longer follow the layer."""
        return ConstantWeights(self.numpy(), self.bias())

    def bias(self) -> np.ndarray:
        """The layer's bias now, (classes,) as `numpy`'s columns (zeros where it has none):
        the head's scores, not only its gradient, need it (camview.models.head_run)."""
        import keras

        b = None if self.layer is None else getattr(self.layer, "bias", None)
        if b is None:
            out = np.zeros(1 if self.layer is None else int(self.layer.kernel.shape[-1]),
                           np.float32)
        else:
            out = np.asarray(keras.ops.convert_to_numpy(b), np.float32).reshape(-1)
        return np.concatenate([-0.5 * out, 0.5 * out]) if self.binary else out


@dataclass(frozen=True)
class ConstantWeights:
    """A linear head's weights (k, classes) read once from a graph that has no variables (an
    ONNX file's initializers): the DenseWeights of a model run only by OpenVINO. A copy
    with other weights (the sanity check's) is another model with its own."""

    weights: np.ndarray
    offsets: np.ndarray | None = None  # the bias (classes,), where it is known

    def numpy(self) -> np.ndarray:
        return self.weights

    def column(self, c: int) -> np.ndarray:
        return self.weights[:, c]

    def bias(self) -> np.ndarray:
        return (np.zeros(self.weights.shape[1], np.float32) if self.offsets is None
                else self.offsets)

    def frozen(self) -> ConstantWeights:
        return self


@dataclass(frozen=True)
class NormHead:
    """A ``norm-fc`` head: pooled p (k,) -> LayerNorm(p) * gamma + beta -> weights (k,
    classes) + bias. Its gradient to p is in closed form (camview.maps.closed_form). Read
    once from an ONNX file's initializers (KerasNormHead reads a Keras model's live)."""

    weights: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    epsilon: float

    def column_and_gamma(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """(class c's weights (k,), gamma (k,)): what the closed-form gradient reads."""
        return self.weights[:, c], self.gamma

    def frozen(self) -> NormHead:
        return self


@dataclass(frozen=True)
class KerasNormHead:
    """A Keras ``norm-fc`` head (keras.applications ConvNeXt: GlobalAveragePooling2D,
    LayerNormalization, Dense), its weights read from the layers whenever asked, as
    DenseWeights reads a dense layer's (a sanity check randomises them after loading)."""

    norm: object
    dense: object

    @property
    def epsilon(self) -> float:
        return float(self.norm.epsilon)

    def column_and_gamma(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        k = int(self.dense.kernel.shape[0])
        gamma = (np.asarray(self.norm.gamma, np.float32) if self.norm.scale
                 else np.ones(k, np.float32))
        return np.asarray(tf.gather(self.dense.kernel, c, axis=1), np.float32), gamma

    def frozen(self) -> NormHead:
        """The head's weights now, as numpy arrays that no longer follow the layers."""
        k = int(self.dense.kernel.shape[0])
        _, gamma = self.column_and_gamma(0)
        beta = (np.asarray(self.norm.beta, np.float32) if self.norm.center
                else np.zeros(k, np.float32))
        return NormHead(np.asarray(self.dense.kernel, np.float32), gamma, beta, self.epsilon)


@dataclass
class Head:
    read_layer: str
    kind: HeadKind
    dense: DenseWeights | None
    feature_model: keras.Model
    default_layer: str | None = None  # the one found from the graph (CAM reads only it)
    norm_head: KerasNormHead | None = None  # a norm-fc head's layers
    transformer: Transformer | None = None  # what was read of a vision transformer
    final: object | None = None  # the softmax/sigmoid layer the scores are read before


def class_count(model: keras.Model) -> int:
    """Classes shown for `model`: its outputs, or two for a binary classifier's one output."""
    n = int(model.outputs[0].shape[-1])
    return 2 if n == 1 else n


def _two_class(dense: DenseWeights | None, kind: HeadKind
               ) -> tuple[HeadKind, DenseWeights | None]:
    """The head of a binary model as two classes (module docstring)."""
    if kind is HeadKind.DIRECT:  # GAP of a one-channel map: the map is z's own
        return HeadKind.FC, DenseWeights(None, binary=True)
    if dense is not None:
        return kind, DenseWeights(dense.layer, binary=True)
    return kind, None


def analyse_head(model: keras.Model, read_layer: str | None = None,
                 title: str | None = None) -> Head:
    """Find the read layer, the pre-softmax scores and the head kind of `model`.

    `title` names the model in messages (its file, say: a saved model's own name is often
    just "functional"); default the Keras model's name.
    """
    import keras

    title = title or model.name
    if len(model.outputs) != 1:
        raise ModelError(f"{title} has {len(model.outputs)} outputs; camview needs one output "
                         "of class scores")
    scores = model.outputs[0]
    if len(scores.shape) != 2:
        raise ModelError(f"{title}'s output has shape {tuple(scores.shape)}; camview "
                         "expects class scores of shape (batch, classes)")

    # The scores before softmax/sigmoid: Grad-CAM wants the class score, not its probability.
    last, inputs = _producer(scores)
    final = None
    if _is_squashing_layer(last):
        scores, final = inputs[0], last
    elif _activation_name(last) in _SQUASHING:
        # A Dense(activation="softmax"): read the same layer without its softmax. Setting the
        # activation is how Keras itself swaps it; the model is ours, loaded for this use.
        last.activation = keras.activations.linear
    binary = int(scores.shape[-1]) == 1

    found = find_transformer(model, title, scores)
    if found is not None:
        return _token_head(model, found, read_layer, final, binary, title)

    # Walk back to the first tensor with a spatial extent, remembering the head layers on the
    # way: past a global pooling that keeps its dims and the 1x1 convolutions after it
    # (MobileNetV3's head), whose 1x1 outputs have no map to show.
    head_layers = []
    tensor = scores
    while len(tensor.shape) != 4 or _after_kept_pooling(tensor):
        op, inputs = _producer(tensor)
        if len(inputs) != 1:
            break
        head_layers.append(op)
        tensor = inputs[0]
    if len(tensor.shape) != 4 or isinstance(_producer(tensor)[0], keras.layers.InputLayer):
        if read_layer is None:
            raise ModelError(f"{title} has no convolutional feature map before its head "
                             "(no spatial layer found): class activation maps need a CNN, "
                             "convolutions then pooling then the classifier")
        tensor = None
    else:
        # Past max-pooling/dropout to the activation itself (VGG16: block5_pool -> block5_conv3).
        while True:
            op, inputs = _producer(tensor)
            if not isinstance(op, _pooling() + _pass_through()) or len(inputs) != 1:
                break
            tensor = inputs[0]
    head_layers.reverse()
    auto_name = _producer(tensor)[0].name if tensor is not None else None

    path = resolve_layer(model, read_layer, title) if read_layer is not None else [auto_name]
    if path == [auto_name]:
        kind, dense = _classify_head(head_layers, tensor, scores)
        # A single input passed as itself, not a list: Keras warns when the structure differs.
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    else:
        kind, dense = HeadKind.GRADIENT_ONLY, None
        inputs = keras.Input(batch_shape=tuple(model.inputs[0].shape),
                             dtype=model.inputs[0].dtype)
        scores, tensor = _run_split(model, inputs, path, final)
    if binary:
        kind, dense = _two_class(dense, kind)
        scores = _binary_scores_layer()(name="binary_scores")(scores)
    feature_model = keras.Model(inputs, [tensor, scores], name=f"{model.name}_features")
    norm_head = None
    if kind is HeadKind.NORM_FC:
        if binary:  # one logit: the closed form is for class scores; TensorFlow's gradient
            kind = HeadKind.GRADIENT_ONLY
        else:
            core = [layer for layer in head_layers if _is_layer_norm(layer)
                    or isinstance(layer, keras.layers.Dense)]
            norm_head = KerasNormHead(core[0], core[1])
    return Head("/".join(path), kind, dense, feature_model, auto_name, norm_head, final=final)


def _token_head(model: keras.Model, found: Transformer, read_layer: str | None, final,
                binary: bool, title: str) -> Head:
    """A vision transformer's head (camview.models.transformer): the read layer's tokens
    folded into their grid inside the feature model, so every method sees an (h, w, k) map.
    CAM (an fc head) only at the tokens one dense layer reads averaged, without front
    tokens; gradient-only everywhere else."""
    import keras

    path = (resolve_layer(model, read_layer, title) if read_layer is not None
            else [found.default_layer])
    inputs = keras.Input(batch_shape=tuple(model.inputs[0].shape), dtype=model.inputs[0].dtype)
    scores, tensor = _run_split(model, inputs, path, final, through=lambda out: (
        fold(out, found) if len(out.shape) == 3 else (out, out)))
    kind, dense = HeadKind.GRADIENT_ONLY, None
    if found.cam_layer is not None and path == [found.cam_layer]:
        head_dense = _producer(scores)[0]
        kind, dense = HeadKind.FC, DenseWeights(head_dense)
    if binary:
        kind, dense = _two_class(dense, kind)
        scores = _binary_scores_layer()(name="binary_scores")(scores)
    feature_model = keras.Model(inputs, [tensor, scores], name=f"{model.name}_features")
    return Head("/".join(path), kind, dense, feature_model,
                found.cam_layer or found.default_layer, transformer=found, final=final)


def _after_kept_pooling(tensor) -> bool:
    """A 1x1 map that a global pooling keeping its dims made, directly or through 1x1
    layers after it: a pooled vector shaped as a map, part of the head. (A feature map that
    is 1x1 because the input is small is not: it is still the map, however coarse.)"""
    import keras

    global_pooling = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)
    while len(tensor.shape) == 4 and tuple(tensor.shape[1:3]) == (1, 1):
        op, inputs = _producer(tensor)
        if isinstance(op, global_pooling):
            return True
        if len(inputs) != 1:
            return False
        tensor = inputs[0]
    return False


def _is_dense(layer) -> bool:
    """A linear dense layer, or a 1x1 convolution applied to a pooled 1x1 map (the same
    product)."""
    import keras

    if getattr(getattr(layer, "activation", None), "__name__", "linear") != "linear":
        return False
    if isinstance(layer, keras.layers.Dense):
        return True
    return (isinstance(layer, keras.layers.Conv2D) and tuple(layer.kernel_size) == (1, 1)
            and layer.groups == 1)


def _classify_head(head_layers, features, scores) -> tuple[HeadKind, DenseWeights | None]:
    """DIRECT: global average pooling alone; FC: pooling then one linear dense layer (or a
    1x1 convolution on the pooled map, then a flatten); else GRADIENT_ONLY."""
    import keras

    shaping = (keras.layers.Flatten, keras.layers.Reshape)
    core = [layer for layer in head_layers if not isinstance(layer, _pass_through() + shaping)]
    if not core or not isinstance(core[0], keras.layers.GlobalAveragePooling2D):
        return HeadKind.GRADIENT_ONLY, None
    if len(core) == 1 and features.shape[-1] == scores.shape[-1]:
        return HeadKind.DIRECT, None
    if len(core) == 2 and _is_dense(core[1]):
        return HeadKind.FC, DenseWeights(core[1])
    if (len(core) == 3 and _is_layer_norm(core[1]) and isinstance(core[2], keras.layers.Dense)
            and _is_dense(core[2])):
        return HeadKind.NORM_FC, None
    return HeadKind.GRADIENT_ONLY, None


def _is_layer_norm(layer) -> bool:
    """A LayerNormalization over the pooled vector's one axis, the standard one (no RMS
    scaling): what the norm-fc closed form differentiates."""
    import keras

    if not isinstance(layer, keras.layers.LayerNormalization):
        return False
    axis = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
    return list(axis) in ([-1], [1]) and not getattr(layer, "rms_scaling", False)
