"""Exporter idioms in an ONNX graph made plain before camview reads its head.

torch.onnx.export's dynamo exporter (the default since torch 2.9) writes some identities the
long way round. The one met on torchvision's ConvNeXt: the pooled map (n, k, 1, 1) made
contiguous by an ``as_strided`` that comes out as Reshape(x, [-1]) then a Gather whose
indices are computed from the input's batch size (Shape, Range, Mul, Unsqueeze, Add). It
stands between the pooling and the head's LayerNorm, so the head is not found (a Gather of
two computed inputs), and the head cut out of the graph for Recipro-CAM would read the
network's input too.

Such a Gather is replaced by an Identity of x only when its indices, evaluated by
onnx.reference on a probe batch of two, are exactly 0, 1, 2, ... over x's shape: the
rewrite never changes what the graph computes. The graph is then marked modified, so
OpenVINO reads the rewritten graph, not the file.
"""

from __future__ import annotations

import numpy as np

from camview.models.onnx_graph import OnnxGraph

#: The side of the probe input the indices are evaluated on, where the input's is dynamic.
PROBE_SIDE = 64
#: The batch of that probe (two, so a batch-dependent index computation shows itself).
PROBE_BATCH = 2


def make_plain(graph: OnnxGraph) -> int:
    """Rewrite the idioms above in `graph` (in place); how many nodes were rewritten."""
    from onnx import helper

    nodes = graph.model.graph.node
    rewritten = 0
    for i, node in enumerate(list(nodes)):
        source = identity_gather_source(graph, node)
        if source is not None:
            nodes[i].CopyFrom(helper.make_node("Identity", [source], [node.output[0]],
                                               name=node.name or node.output[0]))
            rewritten += 1
    if rewritten:
        for cached in ("producers", "consumers", "initializers"):
            graph.__dict__.pop(cached, None)
        graph.modified = True  # OpenVINO reads the rewritten graph, not the file
    return rewritten


def identity_gather_source(graph: OnnxGraph, node) -> str | None:
    """x when `node` is Gather(Reshape(x, [-1]), indices) on axis 0 whose indices are
    0, 1, 2, ... in x's shape (x read whole, in order); else None."""
    if node.op_type != "Gather" or graph.attribute(node, "axis", 0) != 0 or len(node.input) != 2:
        return None
    flat = graph.producers.get(node.input[0])
    if flat is None or flat.op_type != "Reshape":
        return None
    target = graph.constant(flat.input[1])
    if target is None or target.reshape(-1).tolist() != [-1]:
        return None
    source = flat.input[0]
    shape, out = graph.shape(source), graph.shape(node.output[0])
    if (shape is None or out is None or len(shape) != len(out) or not shape
            or None in shape[1:] or any(a != b for a, b in zip(shape, out, strict=True)
                                        if a is not None and b is not None)):
        return None
    indices = _evaluate(graph, node.input[1])
    if indices is None:
        return None
    batch = shape[0] if shape[0] is not None else PROBE_BATCH
    full = (batch, *shape[1:])
    expected = np.arange(int(np.prod(full))).reshape(full)
    if indices.shape != expected.shape or not np.array_equal(indices, expected):
        return None
    return source


def _evaluate(graph: OnnxGraph, tensor: str) -> np.ndarray | None:
    """The value of a computed integer tensor for a probe input of batch two (the nodes
    computing it alone, run by onnx.reference), or None when it cannot be worked out that
    way (it reads activations, or an op the reference runtime lacks)."""
    value = graph.constant(tensor)
    if value is not None:
        return value
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    image = graph.image_input.name
    needed, todo, seen = [], [tensor], set()
    while todo:
        name = todo.pop()
        if name in seen or name == image or name in graph.initializers or not name:
            continue
        seen.add(name)
        producer = graph.producers.get(name)
        if producer is None:
            return None
        if producer.op_type not in INDEX_OPS:  # reads activations, not only shapes
            return None
        needed.append(producer)
        todo.extend(producer.input)
    order = {id(n): i for i, n in enumerate(graph.model.graph.node)}
    needed = sorted({id(n): n for n in needed}.values(), key=lambda n: order[id(n)])
    weights = {n for node in needed for n in node.input if n in graph.initializers}
    sub = helper.make_graph(
        needed, "indices", [graph.image_input],
        [helper.make_tensor_value_info(tensor, TensorProto.INT64, None)],
        [graph.initializers[n] for n in sorted(weights)])
    model = helper.make_model(sub, opset_imports=list(graph.model.opset_import))
    model.ir_version = graph.model.ir_version
    try:
        layout, channels, (_batch, h, w) = graph.input_layout()
        hw = (h or PROBE_SIDE, w or PROBE_SIDE)
        dims = ((PROBE_BATCH, channels, *hw) if layout == "NCHW"
                else (PROBE_BATCH, *hw, channels))
        (out,) = ReferenceEvaluator(model).run(None, {image: np.zeros(dims, np.float32)})
    except Exception:  # an op or attribute the reference runtime refuses: not rewritten
        return None
    return np.asarray(out)


#: The ops an index computation is made of (shapes and integer arithmetic); anything else
#: means the indices depend on the data, which no probe settles.
INDEX_OPS = ("Shape", "Size", "Squeeze", "Unsqueeze", "Range", "Mul", "Add", "Sub", "Div",
             "Gather", "Concat", "Reshape", "Expand", "Cast", "Slice", "Constant",
             "ConstantOfShape", "Identity", "Tile", "Transpose")
