"""What a Keras layer is, as the graph readers (camview.models.head, .graph, .transformer)
ask it: the producer of a tensor, a model's operations, pass-through layers, the layers that
only squash scores into probabilities, and the binary-scores layer."""

from __future__ import annotations

from functools import cache


def children(model) -> list:
    """A Functional model's operations (layers and ops such as TrueDivide), in order; a
    Sequential's layers."""
    ops = getattr(model, "operations", None)
    return list(ops if ops is not None else model.layers)


def producer(tensor):
    """The layer (or op) that made `tensor` and the tensors it was called on."""
    op, node_index, _ = tensor._keras_history
    node = op._inbound_nodes[node_index]
    return op, list(node.input_tensors)


# Keras is imported when a graph is read, not when the kinds are: `camview --help` and
# `camview models` need HeadKind but not the seconds TensorFlow takes to import.
@cache
def pass_through() -> tuple[type, ...]:
    import keras

    return (keras.layers.Dropout, keras.layers.SpatialDropout2D,
            keras.layers.GaussianDropout, keras.layers.GaussianNoise)


SQUASHING = ("softmax", "sigmoid")  # turn scores into probabilities; maps read before them


def activation_name(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


def is_squashing_layer(layer) -> bool:
    """A layer that only turns scores into probabilities: Softmax, Activation(softmax/sigmoid)."""
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return True
    return isinstance(layer, keras.layers.Activation) and activation_name(layer) in SQUASHING


@cache
def binary_scores_layer() -> type:
    import keras

    class BinaryScores(keras.layers.Layer):
        """z (batch, 1) -> [-z/2, +z/2]: softmax of it is [1 - sigmoid(z), sigmoid(z)]."""

        def call(self, z):
            return keras.ops.concatenate([-0.5 * z, 0.5 * z], axis=-1)

    return BinaryScores
