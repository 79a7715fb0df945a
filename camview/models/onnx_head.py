"""The head of an ONNX classifier's graph (camview.models.onnx_graph): the read tensor, found
as for a Keras model (camview.models.head) by walking back from the scores through the head's
single-input nodes to the global average pooling (GlobalAveragePool, a ReduceMean over the
two spatial axes, an AveragePool as large as its input), and what the head is from there on,
read from the initializers (numpy):

- pooling then [Flatten/Reshape/Squeeze/Transpose] then Gemm or MatMul(+Add), or a 1x1 Conv
  on the pooled map: ``fc``, its weights (k, classes);
- pooling alone with as many channels as classes (SqueezeNet): ``direct``;
- pooling, LayerNormalization, then the linear layer (ConvNeXt): ``norm-fc``, whose
  gradient is known in closed form too (camview.maps.closed_form); the LayerNorm may be
  written as the nine elementary ops PyTorch exports below opset 17
  (decomposed_layer_norm);
- anything else: ``gradient-only``.

A graph with one output score (a binary logit z) is shown as two classes [-z/2, +z/2], as a
Keras model is (camview.models.head): its head's weights as such (two_class).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from camview.errors import ModelError
from camview.models.head import HeadKind
from camview.models.onnx_graph import OnnxGraph, pooled

#: Ops on a pooled vector that only change its shape (a Transpose of a (n, k, 1, 1) map too).
SHAPING_OPS = ("Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout",
               "Transpose")
#: Ops the read tensor is followed back through to the activation that made it (VGG's last
#: max pooling, as for Keras).
PASS_BACK_OPS = ("MaxPool", "AveragePool", "Dropout", "Identity")


@dataclass(frozen=True)
class Head:
    """What the graph says after its read tensor (module docstring)."""

    read_tensor: str
    channel_axis: int  # 1 (NCHW) or 3 (NHWC) in the read tensor
    kind: HeadKind
    weights: np.ndarray | None = None  # (k, classes) of a linear head
    norm: tuple[np.ndarray, np.ndarray, float] | None = None  # LayerNorm's (gamma, beta, eps)
    default_tensor: str | None = None  # the one found from the graph




def global_pool_axis(graph: OnnxGraph, node) -> int | None:
    """The channel axis of the map a global average pooling node pools, or None when the
    node is no global average pooling."""
    op = node.op_type
    source = node.input[0] if node.input else ""
    if op == "GlobalAveragePool":
        return 1
    if op == "AveragePool":
        shape = graph.shape(source)
        kernel = tuple(graph.attribute(node, "kernel_shape", ()))
        if shape and len(shape) == 4 and None not in shape[2:] and kernel == shape[2:]:
            return 1
        return None
    if op == "ReduceMean" and graph.rank(source) == 4:
        axes = graph.attribute(node, "axes")
        if axes is None and len(node.input) > 1:
            value = graph.constant(node.input[1])
            axes = None if value is None else value.tolist()
        axes = sorted(a % 4 for a in (axes or []))
        if axes == [2, 3]:
            return 1
        if axes == [1, 2]:
            return 3
    return None

def find_head(graph: OnnxGraph, read_tensor: str | None = None) -> Head:
    """The read tensor (the one found, or `read_tensor` when one is named) and the head
    after it; ModelError when the graph has no spatial map before its head."""
    chain, tensor, axis = [], graph.scores_tensor, None
    found = None
    while True:
        node = graph.producers.get(tensor)
        if node is None:
            break
        axis = global_pool_axis(graph, node)
        if axis is not None:
            chain.append(node)
            found = node.input[0]
            break
        shape = graph.shape(tensor)
        if shape is not None and len(shape) == 4 and not pooled(shape):
            found, axis = tensor, graph.channel_axis(tensor)  # no global pooling
            break
        norm = decomposed_layer_norm(graph, node)
        if norm is not None:  # nine nodes that are one LayerNorm: one step back
            chain.append(norm)
            tensor = norm.source
            continue
        inputs = graph.data_inputs(node)
        if len(inputs) != 1:
            break
        chain.append(node)
        tensor = inputs[0]
    if found is not None:
        kind, weights, norm = _classify(graph, chain[::-1], found, axis)
        if kind is HeadKind.GRADIENT_ONLY:
            found = _past_pooling(graph, found)
    if found is None and read_tensor is None:
        raise ModelError(f"model file {graph.path} has no convolutional feature map before "
                         "its head (no spatial tensor found): class activation maps need "
                         "a CNN, convolutions then pooling then the classifier")
    if read_tensor is None or read_tensor == found:
        head = Head(found, axis, kind, weights, norm, found)
        return two_class(head) if graph.binary else head
    if read_tensor not in graph.spatial_tensors():
        shown = ", ".join(graph.spatial_tensors()[-5:])
        raise ModelError(f"model file {graph.path} has no spatial tensor {read_tensor!r} "
                         f"(the last ones: {shown}; `camview inspect --layers` lists all)")
    return Head(read_tensor, graph.channel_axis(read_tensor), HeadKind.GRADIENT_ONLY,
                default_tensor=found)

#: z (1,) -> [-z/2, +z/2]: a binary logit as two class scores (camview.models.head), whose
#: softmax is [1 - sigmoid(z), sigmoid(z)]. OpenVINO's scores get it too (onnx_model).
TWO_CLASS = np.array([[-0.5, 0.5]], np.float32)


def two_class(head: Head) -> Head:
    """The head of a one-logit graph as two classes, as camview.models.head._two_class makes
    a Keras model's: a one-channel map pooled into z (direct) is an fc head of weight 1; a
    linear head's weights w (k, 1) become [-w/2, +w/2] (k, 2), under a LayerNorm too (its
    closed form is linear in the weight column)."""
    if head.kind is HeadKind.DIRECT:
        return replace(head, kind=HeadKind.FC, weights=TWO_CLASS.copy())
    if head.weights is not None:
        return replace(head, weights=head.weights @ TWO_CLASS)
    return head


def _past_pooling(graph: OnnxGraph, tensor: str) -> str:
    while True:
        node = graph.producers.get(tensor)
        if node is None or node.op_type not in PASS_BACK_OPS:
            return tensor
        if node.op_type == "AveragePool" and global_pool_axis(graph, node) is not None:
            return tensor
        tensor = node.input[0]

def _classify(graph: OnnxGraph, chain: list, features: str, axis: int
              ) -> tuple[HeadKind, np.ndarray | None, tuple | None]:
    """The head kind from the pooling node on (module docstring)."""
    if not chain or global_pool_axis(graph, chain[0]) is None:
        return HeadKind.GRADIENT_ONLY, None, None
    core = [n for n in chain[1:] if n.op_type not in SHAPING_OPS]
    channels = (graph.shape(features) or (None,) * 4)[axis]
    classes = graph.output_count()  # a binary logit's one (the model shows it as two)
    if not core:
        ok = channels == classes
        return (HeadKind.DIRECT, None, None) if ok else (HeadKind.GRADIENT_ONLY, None, None)
    norm = None
    if isinstance(core[0], DecomposedLayerNorm):
        norm, core = core[0].norm, core[1:]
    elif core[0].op_type == "LayerNormalization":
        norm = _layer_norm(graph, core[0])
        if norm is None:
            return HeadKind.GRADIENT_ONLY, None, None
        core = core[1:]
    weights = _linear(graph, core)
    if weights is None or weights.shape[1] != classes:
        return HeadKind.GRADIENT_ONLY, None, None
    return (HeadKind.NORM_FC if norm else HeadKind.FC), weights, norm

@dataclass(frozen=True)
class DecomposedLayerNorm:
    """A LayerNorm over the last axis written as elementary ops (torch.onnx.export below
    opset 17): mean = ReduceMean(x), d = x - mean, n = d / Sqrt(ReduceMean(Pow(d, 2)) + eps),
    then [* gamma] [+ beta]. Stands in the head's chain for those nodes."""

    source: str  # x
    norm: tuple[np.ndarray, np.ndarray, float]  # (gamma, beta, eps), as _layer_norm's
    op_type: str = "DecomposedLayerNorm"


def decomposed_layer_norm(graph: OnnxGraph, end) -> DecomposedLayerNorm | None:
    """The decomposed LayerNorm ending at node `end` (its last Add, Mul or Div), or None
    when the nodes before it are not exactly that pattern."""
    node, gamma, beta = end, None, None

    def split(n):  # (the computed input, the constant's value) of an op on one constant
        if n is None or len(n.input) != 2:
            return None, None
        values = [graph.constant(name) for name in n.input]
        if (values[0] is None) == (values[1] is None):
            return None, None
        return (n.input[1], values[0]) if values[1] is None else (n.input[0], values[1])

    if node.op_type == "Add":
        x, beta = split(node)
        if x is None or beta.ndim != 1:
            return None
        node = graph.producers.get(x)
    if node is not None and node.op_type == "Mul":
        x, gamma = split(node)
        if x is None or gamma.ndim != 1:
            return None
        node = graph.producers.get(x)
    if node is None or node.op_type != "Div" or len(node.input) != 2:
        return None
    d, std = node.input
    sqrt = graph.producers.get(std)
    add = graph.producers.get(sqrt.input[0]) if sqrt is not None and sqrt.op_type == "Sqrt" \
        else None
    if add is None or add.op_type != "Add":
        return None
    var_name, eps = split(add)
    var = graph.producers.get(var_name) if var_name is not None else None
    if var is None or eps.size != 1 or not _mean_of_last_axis(graph, var):
        return None
    pow_node = graph.producers.get(var.input[0])
    if pow_node is None or pow_node.op_type != "Pow" or split(pow_node)[0] != d:
        return None
    two = split(pow_node)[1]
    if two.size != 1 or float(two.reshape(-1)[0]) != 2.0:
        return None
    sub = graph.producers.get(d)
    if sub is None or sub.op_type != "Sub" or len(sub.input) != 2:
        return None
    x, mean = sub.input
    mean_node = graph.producers.get(mean)
    if (mean_node is None or mean_node.input[0] != x
            or not _mean_of_last_axis(graph, mean_node)):
        return None
    k = (graph.shape(x) or (None,))[-1]
    size = next((v.size for v in (gamma, beta) if v is not None), k)
    if size is None or (k is not None and size != k):
        return None
    gamma = np.ones(size, np.float32) if gamma is None else gamma
    beta = np.zeros(size, np.float32) if beta is None else beta
    if gamma.size != size or beta.size != size:
        return None
    return DecomposedLayerNorm(x, (gamma.astype(np.float32), beta.astype(np.float32),
                                   float(eps.reshape(-1)[0])))


def _mean_of_last_axis(graph: OnnxGraph, node) -> bool:
    """A ReduceMean over the last axis alone, keeping it (as a LayerNorm's two means)."""
    if node.op_type != "ReduceMean" or not graph.attribute(node, "keepdims", 1):
        return False
    axes = graph.attribute(node, "axes")
    if axes is None and len(node.input) > 1:
        value = graph.constant(node.input[1])
        axes = None if value is None else value.tolist()
    rank = graph.rank(node.input[0])
    return axes is not None and len(axes) == 1 and (
        axes[0] == -1 or (rank is not None and axes[0] == rank - 1))


def _layer_norm(graph: OnnxGraph, node) -> tuple[np.ndarray, np.ndarray, float] | None:
    gamma = graph.constant(node.input[1]) if len(node.input) > 1 else None
    beta = graph.constant(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if gamma is None or gamma.ndim != 1 or graph.attribute(node, "axis", -1) not in (-1, 1, 3):
        return None
    beta = np.zeros_like(gamma) if beta is None else beta
    return (gamma.astype(np.float32), beta.astype(np.float32),
            float(graph.attribute(node, "epsilon", 1e-5)))

def _linear(graph: OnnxGraph, core: list) -> np.ndarray | None:
    """(k, classes) of one linear layer: Gemm, MatMul then an Add of a constant, or a
    1x1 Conv on the pooled map; None for anything else."""
    if not core:
        return None
    node, rest = core[0], core[1:]
    if node.op_type == "Gemm" and not rest and not graph.attribute(node, "transA", 0):
        b = graph.constant(node.input[1])
        if b is None or b.ndim != 2:
            return None
        b = b.T if graph.attribute(node, "transB", 0) else b
        return (float(graph.attribute(node, "alpha", 1.0)) * b).astype(np.float32)
    if node.op_type == "MatMul":
        b = graph.constant(node.input[1])
        if b is None or b.ndim != 2 or graph.constant(node.input[0]) is not None:
            return None
        if rest and not (len(rest) == 1 and rest[0].op_type == "Add"
                         and any(graph.constant(n) is not None for n in rest[0].input)):
            return None
        return b.astype(np.float32)
    if node.op_type == "Conv" and not rest:
        w = graph.constant(node.input[1])
        if w is None or w.ndim != 4 or w.shape[2:] != (1, 1):
            return None
        if graph.attribute(node, "group", 1) != 1:
            return None
        return w[:, :, 0, 0].T.astype(np.float32)
    return None
