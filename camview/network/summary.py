"""A model summary as MATLAB's analyzeNetwork gives it: every layer, its output shape at the
size camview really feeds, its parameters.

Keras' own summary shows ``(None, None, None, 32)`` for a net that takes any size; camview
feeds a definite size (a 640x480 frame in ``shorter`` mode is 224x299 for a 224 net), so the
shapes here come from one real forward pass of a zero image at that size, each operation's
output recorded on the way, through nested bases too. Parameters are counted per layer once
(a layer called twice is not counted twice), so they sum to Keras' ``count_params()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from camview.maps import METHODS
from camview.maps.base import NO_BACKWARD
from camview.models.base import CamModel
from camview.models.graph import children, spatial_layers
from camview.models.head import HeadKind

#: The frame size the shapes are worked out for unless told otherwise: a VGA camera's.
DEFAULT_FRAME = (480, 640)


@dataclass(frozen=True)
class LayerRow:
    """One layer (or op) of the summary; `path` is ``base/layer`` inside a nested base."""

    path: str
    type: str
    shape: tuple[int, ...] | None  # output shape without the batch; None for several outputs
    params: int  # this layer's own parameters (0 for a nested base: its layers count them)
    trainable: int
    depth: int  # 0 at the top level, 1 inside a nested base...
    nested: bool = False  # a base whose layers follow it
    read: bool = False  # the layer maps are read from
    selectable: bool = False  # a layer --layer takes


@dataclass(frozen=True)
class Summary:
    model: str
    input_shape: tuple[int, ...]  # (h, w, channels) fed
    frame: tuple[int, int]  # (h, w) of the frame it was worked out for
    rows: list[LayerRow] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable for r in self.rows)

    def to_json(self) -> dict:
        """The `--json` form: concrete shapes, params summing to Keras' count_params()."""
        return {"model": self.model, "frame": list(self.frame),
                "input": list(self.input_shape),
                "layers": [{"name": r.path, "type": r.type,
                            "shape": None if r.shape is None else list(r.shape),
                            "params": r.params, "trainable": r.trainable,
                            "nested": r.nested, "read_layer": r.read,
                            "layer_option": r.selectable} for r in self.rows],
                "total_params": self.total_params, "trainable_params": self.trainable_params,
                "non_trainable_params": self.total_params - self.trainable_params}


def methods_serving(head: HeadKind) -> list[str]:
    """The titles of every method that can map a model with this head (the one METHODS list)."""
    return [m.title for m in METHODS.values() if m.serves(head)]


def head_line(model: CamModel) -> str:
    """What follows the read layer and every method that serves it, and why the others
    do not."""
    serving = [m.title for m in METHODS.values() if m.applies_to(model) is None]
    refused: dict[str, list[str]] = {}
    for m in METHODS.values():
        if (why := m.applies_to(model)) is not None:
            refused.setdefault(why, []).append(m.title)
    line = f"head {model.head.value}: {', '.join(serving)}"
    if model.transformer is None:
        refused.pop("not a vision transformer", None)  # rollout: not worth a line for a CNN
    refused.pop(NO_BACKWARD, None)  # said once below, for the whole model
    if refused:
        line += "".join(f" (not {', '.join(titles)}: {why})" for why, titles in refused.items())
    if not model.can_backward:
        line += ("; an ONNX model runs forward only (OpenVINO): no method that needs a "
                 "backward pass")
    return line


def output_shapes(keras_model, input_shape: tuple[int, ...]) -> dict[int, tuple | None]:
    """id(operation) -> its output shape without the batch, from one forward pass of zeros at
    `input_shape` (h, w, c), through nested Functional and Sequential bases."""
    import keras

    shapes: dict[int, tuple | None] = {}

    def record(op, out):
        flat = keras.tree.flatten(out)
        shapes.setdefault(id(op), tuple(int(d) for d in flat[0].shape[1:])
                          if len(flat) == 1 else None)

    def run(model, x):
        def call(op, *args, **kwargs):
            out = run(op, args[0]) if _is_graph(op) else op(*args, **kwargs)
            record(op, out)
            return out

        if isinstance(model, keras.Sequential):
            for layer in model.layers:
                x = call(layer, x)
            return x
        return model._run_through_graph(x, operation_fn=lambda op: op, call_fn=call)

    zeros = np.zeros((1, *input_shape), np.float32)
    for layer in children(keras_model):
        if isinstance(layer, keras.layers.InputLayer):
            shapes[id(layer)] = tuple(input_shape)
    run(keras_model, zeros)
    return shapes


def _is_graph(op) -> bool:
    """A nested model whose own layers can be listed and run one by one."""
    import keras

    return isinstance(op, keras.Sequential) or (isinstance(op, keras.Model)
                                                 and hasattr(op, "_run_through_graph"))


def _own_params(op, seen: set[int]) -> tuple[int, int]:
    """(all, trainable) parameters of a leaf layer, each weight counted once in the model."""
    total = trainable = 0
    trainable_ids = {id(w) for w in getattr(op, "trainable_weights", [])}
    for w in getattr(op, "weights", []):
        if id(w) in seen:
            continue
        seen.add(id(w))
        n = int(np.prod(w.shape))
        total += n
        trainable += n if id(w) in trainable_ids else 0
    return total, trainable


#: onnx.TensorProto's float, float16, double and bfloat16: the element types of weights.
FLOAT_TYPES = (1, 10, 11, 16)


def graph_summary(model: CamModel, frame: tuple[int, int] = DEFAULT_FRAME) -> Summary:
    """An ONNX model's summary: one row per node (named by the tensor it makes, which
    --layer takes), its output shape at the size `frame` is fed at (OpenVINO works them
    out), its weights (the initializers it reads, each counted once)."""
    h, w = model.network_size(frame)
    graph = model.graph
    shapes = model.tensor_shapes((h, w))
    selectable = set(graph.spatial_tensors())
    rows, seen = [], set()
    for node in graph.model.graph.node:
        if node.op_type == "Constant" or (node.op_type == "Identity"
                                          and node.output[0] in graph.initializers):
            continue  # a weight, or the TorchScript exporter's alias of a shared one
        params = 0
        for name in node.input:
            tensor = graph.initializers.get(name)
            # learnt numbers only (not the shapes and axes torch writes as int64), each
            # once though aliases name it again
            if tensor is not None and tensor.data_type in FLOAT_TYPES and id(tensor) not in seen:
                seen.add(id(tensor))
                params += int(np.prod(tensor.dims))
        out = node.output[0]
        rows.append(LayerRow(out, node.op_type, shapes.get(out), params, params, 0, False,
                             out == model.read_layer, out in selectable))
    return Summary(model.name, (h, w, model.channels), tuple(frame), rows)


def summarise(model: CamModel, frame: tuple[int, int] = DEFAULT_FRAME) -> Summary:
    """Every layer of `model` in order, at the input size a `frame` (h, w) is fed at."""
    import keras

    if model.keras_model is None:  # an ONNX graph
        return graph_summary(model, frame)
    h, w = model.network_size(frame)
    input_shape = (h, w, model.channels)
    shapes = output_shapes(model.keras_model, input_shape)
    selectable = {info.path for info in spatial_layers(model.keras_model)}
    rows: list[LayerRow] = []
    seen: set[int] = set()

    def visit(m, prefix: str, depth: int) -> None:
        for op in children(m):
            if depth and isinstance(op, keras.layers.InputLayer):
                continue  # a nested base's input is the outer layer's output, shown already
            path = prefix + op.name
            nested = _is_graph(op)
            params, trainable = (0, 0) if nested else _own_params(op, seen)
            rows.append(LayerRow(path, type(op).__name__, shapes.get(id(op)), params,
                                 trainable, depth, nested, path == model.read_layer,
                                 path in selectable))
            if nested:
                visit(op, path + "/", depth + 1)

    visit(model.keras_model, "", 0)
    return Summary(model.name, input_shape, tuple(frame), rows)


def shape_text(shape: tuple | None) -> str:
    return "-" if shape is None else "x".join(str(d) for d in shape)


def summary_lines(summary: Summary) -> list[str]:
    """The summary as a table: a mark (R read layer, L taken by --layer), the layer indented
    by its depth, type, output shape, params (trainable); then the totals."""
    table = [("", "layer", "type", "output", "params", "trainable")]
    for r in summary.rows:
        mark = "R" if r.read else ("L" if r.selectable else "")
        params = "(its layers)" if r.nested else f"{r.params:,}"
        table.append((mark, "  " * r.depth + r.path.rsplit("/", 1)[-1] if r.depth else r.path,
                      r.type, shape_text(r.shape), params,
                      "" if r.nested else f"{r.trainable:,}"))
    widths = [max(len(row[k]) for row in table) for k in range(len(table[0]))]
    right = {4, 5}
    lines = ["  ".join(c.rjust(wd) if k in right else c.ljust(wd)
                       for k, (c, wd) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in table]
    total, trainable = summary.total_params, summary.trainable_params
    fed = shape_text(summary.input_shape)
    lines.append(f"total params: {total:,} (trainable {trainable:,}, non-trainable "
                 f"{total - trainable:,}); {len(summary.rows)} layers; output shapes are "
                 f"height x width x channels for a {summary.frame[1]}x{summary.frame[0]} "
                 f"(width x height) frame, fed at {fed}; R: read layer, L: --layer takes it")
    return lines
