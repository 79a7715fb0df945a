"""Reading a Keras functional graph: where maps come from and what the head after them is.

Walks back from the scores through single-input layers to the first spatial (rank-4) tensor,
then past pooling and dropout to the activation that produced it. That is "the last spatial
activation before global pooling" for any network built the usual way, whatever its layer
names, and also works when the convolutional base is a nested model (the usual way to build
a fine-tuned classifier).
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


class HeadKind(str, enum.Enum):
    """What follows the read layer, which decides whether CAM can read it (module docstring
    of camview.models.base)."""

    DIRECT = "direct"
    FC = "fc"
    GRADIENT_ONLY = "gradient-only"


# Keras is imported when a graph is read, not when the kinds are: `camview --help` and
# `camview models` need HeadKind but not the seconds TensorFlow takes to import.
@cache
def _pass_through() -> tuple[type, ...]:
    import keras

    return (keras.layers.Dropout, keras.layers.SpatialDropout2D,
            keras.layers.GaussianDropout, keras.layers.GaussianNoise)


@cache
def _pooling() -> tuple[type, ...]:
    import keras

    return (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


@dataclass
class Head:
    read_layer: str
    kind: HeadKind
    fc_weights: np.ndarray | None
    feature_model: keras.Model


def _producer(tensor):
    """The layer that made `tensor` and the tensors it was called on."""
    op, node_index, _ = tensor._keras_history
    node = op._inbound_nodes[node_index]
    return op, list(node.input_tensors)


def _is_softmax(layer) -> bool:
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return True
    if isinstance(layer, keras.layers.Activation):
        return getattr(layer.activation, "__name__", "") == "softmax"
    return False


def _has_softmax(layer) -> bool:
    return getattr(getattr(layer, "activation", None), "__name__", "") == "softmax"


def _layer_output(model: keras.Model, name: str, title: str):
    try:
        layer = model.get_layer(name)
    except ValueError:
        names = ", ".join(layer.name for layer in model.layers[-8:])
        raise ModelError(f"{title} has no layer named {name!r} (its last layers: {names})"
                         ) from None
    tensor = layer._inbound_nodes[0].output_tensors[0]
    if len(tensor.shape) != 4:
        raise ModelError(f"layer {name!r} of {title} is not spatial (output shape "
                         f"{tuple(tensor.shape)}); maps need a convolutional layer")
    return tensor


def analyse_head(model: keras.Model, read_layer: str | None = None,
                 title: str | None = None) -> Head:
    """Find the read layer, the pre-softmax scores and the head kind of `model`.

    `title` names the model in messages (its file, say: a saved model's own name is often
    just "functional"); default the Keras model's name.
    """
    import keras

    title = title or model.name
    if len(model.outputs) != 1:
        raise ModelError(f"{title} has {len(model.outputs)} outputs; camview explains "
                         "classifiers with one output of class scores")
    scores = model.outputs[0]
    if len(scores.shape) != 2:
        raise ModelError(f"{title}'s output has shape {tuple(scores.shape)}; camview "
                         "expects class scores of shape (batch, classes)")

    # The scores before softmax: Grad-CAM wants the class score, not its probability.
    last, inputs = _producer(scores)
    if _is_softmax(last):
        scores = inputs[0]
    elif _has_softmax(last):
        # A Dense(activation="softmax"): read the same layer without its softmax. Setting the
        # activation is how Keras itself swaps it; the model is ours, loaded for this use.
        last.activation = keras.activations.linear

    # Walk back to the first spatial tensor, remembering the head layers on the way.
    head_layers = []
    tensor = scores
    while len(tensor.shape) != 4:
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

    auto_tensor = tensor
    if read_layer is not None:
        tensor = _layer_output(model, read_layer, title)
    name = _producer(tensor)[0].name

    kind, fc = HeadKind.GRADIENT_ONLY, None
    if tensor is auto_tensor:
        kind, fc = _classify_head(head_layers, tensor, scores)
    # A single input passed as itself, not a list: Keras warns when the call structure differs.
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    feature_model = keras.Model(inputs, [tensor, scores], name=f"{model.name}_features")
    return Head(name, kind, fc, feature_model)


def _classify_head(head_layers, features, scores) -> tuple[HeadKind, np.ndarray | None]:
    import keras

    core = [layer for layer in head_layers if not isinstance(layer, _pass_through())]
    if not core or not isinstance(core[0], keras.layers.GlobalAveragePooling2D):
        return HeadKind.GRADIENT_ONLY, None
    if getattr(core[0], "keepdims", False):
        return HeadKind.GRADIENT_ONLY, None
    if len(core) == 1 and features.shape[-1] == scores.shape[-1]:
        return HeadKind.DIRECT, None
    if (len(core) == 2 and isinstance(core[1], keras.layers.Dense)
            and getattr(core[1].activation, "__name__", "") == "linear"):
        return HeadKind.FC, np.asarray(core[1].kernel.numpy(), dtype=np.float32)
    return HeadKind.GRADIENT_ONLY, None
