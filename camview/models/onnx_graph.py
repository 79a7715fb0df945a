"""Reading an ONNX classifier's graph with the `onnx` package: its one
image input, its class scores, its tensors' shapes and layouts, its weights (and a copy of
them to randomise, for the sanity check). Its head: camview.models.onnx_head.

Nothing here runs the network (OpenVINO does, camview.models.onnx_model); this only reads
what the file says, so a detector or a segmenter fails in one line before anything is
compiled (a corrupt file or a missing external-data file fails earlier, in
camview.models.onnx_check).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from camview.errors import ModelError

#: Ops that end a classifier by turning scores into probabilities; maps read before them.
SQUASHING_OPS = ("Softmax", "LogSoftmax", "Sigmoid")
#: Ops whose tensors are laid out NCHW in ONNX whatever the framework was.
CHANNELS_FIRST_OPS = ("Conv", "ConvTranspose", "BatchNormalization", "MaxPool",
                      "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                      "InstanceNormalization", "LRN")

_FLOAT = 1  # onnx.TensorProto.FLOAT
#: How to export a dynamic batch (from an example batch of 2: from 1, torch's dynamo exporter
#: may bake the 1 into the graph), said where a file's fixed batch stands in the way.
DYNAMIC_BATCH = ("export it with a dynamic batch from an example batch of 2: "
                 "torch.onnx.export(model, (torch.randn(2, 3, 224, 224),), 'model.onnx', "
                 "dynamic_shapes=({0: 'batch'},)) (docs/own-model.md)")
#: The input's channel axis in each layout (the --input-layout choices).
LAYOUT_AXIS = {"NCHW": 1, "NHWC": 3}
#: Ops that keep a tensor's layout and channels (a normalisation before the first
#: convolution), followed from the input to find its layout.
ELEMENTWISE_OPS = ("Add", "Sub", "Mul", "Div", "Cast", "Identity", "Clip", "Relu", "Neg",
                   "Abs", "Sqrt", "Pow", "Max", "Min", "Dropout")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@dataclass
class OnnxGraph:
    """An ONNX classifier's graph with its weights (external data loaded), read once."""

    path: Path
    model: Any  # onnx.ModelProto
    _shapes: dict[str, tuple] = field(default_factory=dict, repr=False)
    #: True for a copy whose weights changed (the sanity check's): OpenVINO then reads
    #: `model`, not the file at `path`
    modified: bool = False
    #: "NCHW" or "NHWC" given by --input-layout, for an input the graph leaves ambiguous
    layout: str | None = None
    #: Tensors of nodes camview added (a vision transformer's folded tokens) that OpenVINO
    #: must keep though no output reads them: made outputs of the graph it reads
    extra_outputs: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path, layout: str | None = None) -> OnnxGraph:
        """The file's graph; `layout` (nchw or nhwc, --input-layout): its input's, when the graph
        leaves it ambiguous."""
        import onnx

        try:
            model = onnx.load(str(path))
        except Exception as exc:
            raise ModelError(f"model file {path} cannot be read as ONNX: "
                             f"{_first_line(exc)}") from None
        graph = cls(Path(path), model, layout=None if layout is None else layout.upper())
        graph._infer_shapes()
        return graph

    def _infer_shapes(self) -> None:
        """Every tensor's shape the file states or ONNX's shape inference finds (None for an
        unknown dimension). With data propagation: torch's exporters compute a ViT's
        reshapes from Shape ops (the batch, the token count), which without it leave the
        attention scores' sizes unknown symbols, (?, ?, ?, ?) instead of (?, 2, 17, 17)."""
        import onnx

        inferred = self.model.graph  # the stated shapes, if inference fails both ways
        for data_prop in (True, False):  # without it where propagating values fails
            try:
                inferred = onnx.shape_inference.infer_shapes(self.model,
                                                             data_prop=data_prop).graph
                break
            except Exception:  # an op inference does not know
                continue
        for info in [*inferred.input, *inferred.value_info, *inferred.output]:
            if info.type.HasField("tensor_type") and info.type.tensor_type.HasField("shape"):
                self._shapes[info.name] = tuple(
                    d.dim_value if d.HasField("dim_value") else None
                    for d in info.type.tensor_type.shape.dim)

    # -- the graph ---------------------------------------------------------------------
    @cached_property
    def initializers(self) -> dict[str, Any]:
        found = {t.name: t for t in self.model.graph.initializer}
        for node in self.model.graph.node:  # Constant nodes are weights too
            if node.op_type == "Constant":
                value = _constant_value(node)
                if value is not None:  # scalars too: the 2 of a decomposed LayerNorm's Pow
                    found[node.output[0]] = value
            elif node.op_type == "Identity" and node.input and node.input[0] in found:
                # torch.onnx.export (TorchScript) keeps one copy of equal weights and
                # names the others by Identity nodes (a ConvNeXt head's LayerNorm gamma)
                found[node.output[0]] = found[node.input[0]]
        return found

    @cached_property
    def producers(self) -> dict[str, Any]:
        return {out: node for node in self.model.graph.node for out in node.output}

    @cached_property
    def consumers(self) -> dict[str, list]:
        found: dict[str, list] = {}
        for node in self.model.graph.node:
            for name in node.input:
                found.setdefault(name, []).append(node)
        return found

    def constant(self, name: str) -> np.ndarray | None:
        """An initializer's (or Constant's) value, None for a computed tensor."""
        from onnx import numpy_helper

        tensor = self.initializers.get(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def shape(self, name: str) -> tuple | None:
        return self._shapes.get(name)

    def rank(self, name: str) -> int | None:
        shape = self.shape(name)
        return None if shape is None else len(shape)

    def data_inputs(self, node) -> list[str]:
        """A node's inputs that are computed (not weights, not left out)."""
        return [n for n in node.input if n and n not in self.initializers]

    @staticmethod
    def attribute(node, name: str, default: Any = None) -> Any:
        import onnx

        for attr in node.attribute:
            if attr.name == name:
                return onnx.helper.get_attribute_value(attr)
        return default

    # -- input and output --------------------------------------------------------------
    @cached_property
    def image_input(self):
        """The one graph input that is not a weight (old exporters list weights as inputs)."""
        inputs = [i for i in self.model.graph.input if i.name not in self.initializers]
        if len(inputs) != 1:
            names = ", ".join(repr(i.name) for i in inputs)
            raise ModelError(f"model file {self.path} has {len(inputs)} inputs ({names}); "
                             "camview needs one image input")
        return inputs[0]

    def input_layout(self) -> tuple[str, int, tuple]:
        """("NCHW" or "NHWC", channels, (batch, h, w) with None for a dynamic one)."""
        tensor = self.image_input
        shape = self.shape(tensor.name) or ()
        elem = tensor.type.tensor_type.elem_type
        if elem != _FLOAT:
            import onnx

            kind = onnx.TensorProto.DataType.Name(elem).lower()
            raise ModelError(f"model file {self.path}: its input {tensor.name!r} is {kind}, "
                             "not a float32 image (export the network with a float input)")
        if len(shape) != 4:
            raise ModelError(f"model file {self.path}: its input has shape {_text(shape)}, "
                             "not an image batch; camview needs one image input (batch, "
                             "channels, height, width)")
        batch = shape[0]
        layout = self._layout(shape)
        axis = LAYOUT_AXIS[layout]
        channels = shape[axis] or self._layout_in_graph[1]
        if channels is None:
            raise ModelError(f"model file {self.path}: its input {_text(shape)} does not "
                             "state its channels, nor does a convolution reading it; export "
                             "it with a fixed channel count")
        h, w = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
        if batch is not None and batch != 1:
            raise ModelError(f"model file {self.path}: its batch size is fixed to {batch}; "
                             f"{DYNAMIC_BATCH}")
        return layout, int(channels), (batch, h, w)

    def _layout(self, shape: tuple) -> str:
        """NCHW or NHWC: the --input-layout given, else where the input states 1 or 3 channels,
        else (both ends could be, e.g. (1, 3, ?, 3), or the channels are dynamic) what the
        graph does with the input first; ModelError when nothing settles it."""
        fits = [name for name, axis in LAYOUT_AXIS.items() if shape[axis] in (1, 3, None)]
        stated = [name for name, axis in LAYOUT_AXIS.items() if shape[axis] in (1, 3)]
        found = self._layout_in_graph[0]
        read = (stated[0] if len(stated) == 1 else found if found in fits else None)
        if self.layout is not None:
            if self.layout not in fits or read not in (None, self.layout):
                raise ModelError(f"model file {self.path}: --input-layout "
                                 f"{self.layout.lower()} does not fit its input "
                                 f"{_text(shape)}, which the file says is {read or 'neither'}")
            return self.layout
        if read is not None:
            return read
        if not fits:
            raise ModelError(f"model file {self.path}: its input has shape {_text(shape)}, "
                             "with neither 1 nor 3 channels first or last; a frame gives 1 "
                             "(grayscale) or 3 (RGB)")
        raise ModelError(f"model file {self.path}: its input {_text(shape)} could be NCHW or "
                         "NHWC and the graph does not say which; give --input-layout nchw or "
                         "--input-layout nhwc")

    @cached_property
    def _layout_in_graph(self) -> tuple[str | None, int | None]:
        """(layout, channels) as the graph first uses its input, through elementwise ops
        (a normalisation): a convolution or another NCHW op reading it means NCHW (its
        weights give the channels), a Transpose to NCHW before it NHWC; (None, None) when the
        input goes elsewhere first (a Reshape, several nodes)."""
        found: str | None = None
        tensor, seen = self.image_input.name, set()
        while tensor not in seen:
            seen.add(tensor)
            users = self.consumers.get(tensor, [])
            if len(users) != 1:  # read by several nodes: no one path to follow
                break
            node = users[0]
            if node.op_type in CHANNELS_FIRST_OPS:
                channels = None
                weight = self.constant(node.input[1]) if node.op_type == "Conv" else None
                if weight is not None and weight.ndim == 4:
                    channels = int(weight.shape[1]) * int(self.attribute(node, "group", 1))
                return found or "NCHW", channels
            if node.op_type == "Transpose" and found is None:
                perm = tuple(self.attribute(node, "perm", ()))
                found = {(0, 3, 1, 2): "NHWC", (0, 2, 3, 1): "NCHW"}.get(perm)
                if found is None:
                    break
            elif node.op_type not in ELEMENTWISE_OPS or len(self.data_inputs(node)) != 1:
                break
            tensor = node.output[0]
        return found, None

    @cached_property
    def output(self):
        outputs = list(self.model.graph.output)
        if len(outputs) != 1:
            shapes = ", ".join(f"{o.name} {_text(self.shape(o.name))}" for o in outputs[:4])
            raise ModelError(f"model file {self.path} has {len(outputs)} outputs ({shapes}): "
                             "a detector's boxes and scores, or several heads; camview needs "
                             "one output of class scores")
        out = outputs[0]
        shape = self.shape(out.name)
        if shape is not None and len(shape) != 2:
            raise ModelError(f"model file {self.path}: its output has shape {_text(shape)}, "
                             f"{_looks_like(shape)}; camview needs class scores of shape "
                             "(batch, classes)")
        return out

    def output_count(self) -> int:
        """The scores the graph gives per image: one per class, or one binary logit."""
        shape = self.shape(self.output.name)
        if shape is None or shape[-1] is None:
            raise ModelError(f"model file {self.path}: its output's class count is not "
                             "stated in the graph")
        return int(shape[-1])

    @property
    def binary(self) -> bool:
        """One output, a binary classifier's logit: shown as two classes [-z/2, +z/2], as a
        Keras model's (camview.models.head)."""
        return self.output_count() == 1

    def class_count(self) -> int:
        """Classes shown: the outputs, or two for one binary logit."""
        return 2 if self.binary else self.output_count()

    @cached_property
    def scores_tensor(self) -> str:
        """The class scores before a final softmax or sigmoid (Grad-CAM wants the score)."""
        name = self.output.name
        node = self.producers.get(name)
        if node is not None and node.op_type in SQUASHING_OPS:
            return node.input[0]
        return name

    # -- layers ------------------------------------------------------------------------
    def spatial_tensors(self) -> list[str]:
        """Every rank-4 tensor a node makes that is not the 1x1 pooled vector of the head,
        in graph order: what --layer may name."""
        out = []
        for node in self.model.graph.node:
            for name in node.output:
                shape = self.shape(name)
                if (shape is not None and len(shape) == 4 and not pooled(shape)
                        and node.op_type not in ("Constant", "Shape")):
                    out.append(name)
        return out

    def channel_axis(self, name: str) -> int:
        """Where a rank-4 tensor keeps its channels: 1 for the NCHW ops ONNX convolutions
        use, 3 after a Transpose to NHWC or at an NHWC input, else as its producer's input."""
        seen = set()
        while name not in seen:
            seen.add(name)
            if name == self.image_input.name:
                return 1 if self.input_layout()[0] == "NCHW" else 3
            node = self.producers.get(name)
            if node is None:
                return 1
            if node.op_type in CHANNELS_FIRST_OPS:
                return 1
            if node.op_type == "Reshape" and self.rank(node.input[0]) == 3:
                return 3  # a token sequence (batch, tokens, dim) folded: dim stays last
            if node.op_type == "Transpose":
                perm = tuple(self.attribute(node, "perm", ()))
                if perm == (0, 2, 3, 1):
                    return 3
                if perm == (0, 3, 1, 2):
                    return 1
            inputs = self.data_inputs(node)
            if not inputs:
                return 1
            name = inputs[0]
        return 1


    # -- weights, for the sanity check ---------------------------------------------------
    def copy(self) -> OnnxGraph:
        """An independent copy (the sanity check randomises its weights, never the file's)."""
        import onnx

        proto = onnx.ModelProto()
        proto.CopyFrom(self.model)
        return OnnxGraph(self.path, proto, dict(self._shapes), modified=True,
                         layout=self.layout, extra_outputs=list(self.extra_outputs))

    def weighted_layers(self) -> list[GraphLayer]:
        """The nodes holding a learnt array of two or more dimensions (convolutions, linear
        layers), in graph order: what the sanity check randomises, as for Keras layers."""
        out = []
        for i, node in enumerate(self.model.graph.node):
            weights = [n for n in node.input[1:] if n in self.initializers]
            if any(len(self.initializers[n].dims) >= 2 for n in weights):
                out.append(GraphLayer(node.name or node.output[0] or f"node {i}", i,
                                      tuple(weights)))
        return out

    def head_layers(self, read_tensor: str) -> set[str]:
        """The names of the weighted layers after the read tensor (not feeding it)."""
        upstream, todo = set(), [read_tensor]
        while todo:
            node = self.producers.get(todo.pop())
            if node is not None and id(node) not in upstream:
                upstream.add(id(node))
                todo.extend(self.data_inputs(node))
        nodes = self.model.graph.node
        return {layer.name for layer in self.weighted_layers()
                if id(nodes[layer.index]) not in upstream}

    def randomise(self, layer: GraphLayer, rng: np.random.Generator) -> None:
        """New values for a layer's arrays, as camview.checks.sanity.randomise gives a Keras
        layer: a fixed-seed normal of each array's own mean and spread."""
        from onnx import numpy_helper

        for name in layer.weights:
            tensor = self.initializers[name]
            w = numpy_helper.to_array(tensor)
            if w.size > 1:
                new = (w.mean() + w.std() * rng.standard_normal(w.shape)).astype(w.dtype)
                # its own name: `name` may be an Identity alias of it (initializers)
                tensor.CopyFrom(numpy_helper.from_array(new, tensor.name))

    # -- metadata ----------------------------------------------------------------------
    @cached_property
    def metadata(self) -> dict[str, str]:
        return {p.key: p.value for p in self.model.metadata_props}


@dataclass(frozen=True)
class GraphLayer:
    """A weighted node of the graph, named as a Keras layer is for the sanity check."""

    name: str
    index: int  # in graph.node
    weights: tuple[str, ...]  # its initializers


def _constant_value(node):
    """A Constant node's value as a TensorProto (its `value`, or a number or list of them
    as torch writes a LayerNorm's epsilon or exponent), None for a sparse or string one."""
    from onnx import helper, numpy_helper

    for attr in node.attribute:
        if attr.name == "value":
            return attr.t
        if attr.name in ("value_float", "value_floats", "value_int", "value_ints"):
            dtype = np.float32 if "float" in attr.name else np.int64
            value = np.array(helper.get_attribute_value(attr), dtype)
            return numpy_helper.from_array(value, node.output[0])
    return None


def pooled(shape: tuple) -> bool:
    """A (n, k, 1, 1) or (n, 1, 1, k) tensor: a pooled vector kept as a map."""
    return tuple(shape[2:]) == (1, 1) or tuple(shape[1:3]) == (1, 1)


def _text(shape: tuple | None) -> str:
    if shape is None:
        return "(unknown)"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _looks_like(shape: tuple) -> str:
    """What a model whose output has `shape` probably is (for the refusal)."""
    if len(shape) == 4:
        return "a map per pixel: a segmenter's, not a classifier's"
    if len(shape) == 3:
        return "a list of boxes or tokens: a detector's or a sequence model's"
    return "not one score per class"
