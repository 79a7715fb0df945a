"""A vision transformer read from its ONNX graph (timm, torchvision, Hugging Face exports):
its tokens, its blocks, its attention, and the read tensor folded into the patch grid.

What is found, as camview.models.transformer finds it in a Keras graph:

- the blocks' attention: the Softmax nodes whose output is square over its last two axes
  (batch, heads, t, t), one per block, in graph order;
- the grid: t tokens = front tokens (class, distillation, register: dropped, at the front
  as timm and torchvision put them) + the patch tokens, folded on input size / patch size,
  the patch size read from the patch embedding (a Conv whose strides equal its kernel)
  (camview.models.tokens does the arithmetic);
- each block's read tensor: the normalised tokens entering it, the LayerNormalization
  nearest upstream of its attention (one node, or the elementary ops torch writes below
  opset 17: camview.models.onnx_head.decomposed_layer_norm); the default is the last
  block's;
- the pooling: the class token (a Gather or Slice of the tokens) or their mean (ReduceMean).

The read tensor is made an NHWC map as a CNN's is (the front tokens sliced off, the rest
reshaped to (batch, gh, gw, dim)) by two nodes added to the graph, so the forward-pass
methods (RISE, occlusion, Eigen-CAM, the set views) read it as they read a CNN's. Its head
(the rest of the last block, which also reads the un-normalised tokens, then the final
norm and the classifier) is not a closed form: gradient-only.
"""

from __future__ import annotations

from camview.errors import ModelError
from camview.models.head import HeadKind
from camview.models.onnx_graph import OnnxGraph
from camview.models.onnx_head import Head, decomposed_layer_norm
from camview.models.tokens import token_grid
from camview.models.transformer import Transformer

#: What the folded read tensor of a block's normalised tokens is called in the graph.
GRID_SUFFIX = ":grid"
#: Ops that take the class token out of the tokens (the head's pooling by class token).
CLASS_TOKEN_OPS = ("Gather", "Slice")


def attention_softmaxes(graph: OnnxGraph, sized: bool = True) -> list[str]:
    """The outputs of the Softmax nodes over square (…, t, t) rank-4 scores that weigh the
    values (a MatMul reads them first): one per block of attention over all the tokens.
    A softmax that only happens to be square (MobileViT-v2's over 4 pixels of 4 patches, at
    a 64x64 input) is read by a Mul. `sized` False: those whose t is not known (a ViT
    taking any input size) too."""
    found = []
    for node in graph.model.graph.node:
        if node.op_type != "Softmax" or graph.attribute(node, "axis", -1) not in (-1, 3):
            continue
        shape = graph.shape(node.output[0])
        if shape is None or len(shape) != 4:
            continue
        square = shape[-1] is not None and shape[-1] == shape[-2]
        if not (square or (not sized and None in shape[-2:])):
            continue
        if any(user.op_type == "MatMul" and user.input[0] == node.output[0]
               for user in graph.consumers.get(node.output[0], [])):
            found.append(node.output[0])
    return found


def _patch_size(graph: OnnxGraph) -> tuple[tuple[int, int] | None, str]:
    """The strides of the first Conv whose strides equal its kernel (the patch embedding),
    and where they came from, worded as for a Keras ViT; (None, "") without one."""
    for node in graph.model.graph.node:
        if node.op_type != "Conv":
            continue
        kernel = tuple(graph.attribute(node, "kernel_shape", ()))
        strides = tuple(graph.attribute(node, "strides", ()))
        if len(kernel) == 2 and kernel == strides and kernel != (1, 1):
            return kernel, f"the stride of {node.name or node.output[0]}"
    return None, ""


def _norm_before(graph: OnnxGraph, tensor: str) -> str | None:
    """The output of the LayerNormalization nearest upstream of `tensor` (breadth first)."""
    seen, todo = set(), [tensor]
    while todo:
        following = []
        for name in todo:
            node = graph.producers.get(name)
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if node.op_type == "LayerNormalization" or (
                    node.op_type in ("Add", "Mul", "Div")
                    and decomposed_layer_norm(graph, node) is not None):
                return node.output[0]
            following.extend(graph.data_inputs(node))
        todo = following
    return None


def norm_input(graph: OnnxGraph, norm_output: str) -> str:
    """The tokens a block's LayerNormalization (one node, or decomposed) normalises: the
    residual stream entering the block."""
    node = graph.producers[norm_output]
    decomposed = (decomposed_layer_norm(graph, node)
                  if node.op_type != "LayerNormalization" else None)
    return decomposed.source if decomposed is not None else node.input[0]


def _pooling(graph: OnnxGraph, prefix: int) -> str:
    """"class token" when the head takes one token out, "average" when it averages them."""
    tensor = graph.scores_tensor
    for _ in range(32):
        node = graph.producers.get(tensor)
        if node is None:
            break
        if node.op_type in CLASS_TOKEN_OPS and graph.rank(node.input[0]) == 3:
            return "class token"
        if node.op_type == "ReduceMean" and graph.rank(node.input[0]) == 3:
            return "average"
        inputs = graph.data_inputs(node)
        if len(inputs) != 1:
            break
        tensor = inputs[0]
    return "class token" if prefix else "average"


def find_vit(graph: OnnxGraph, title: str) -> Transformer | None:
    """What camview reads of the graph as a vision transformer, or None when it has no
    attention over square token scores (a CNN); ModelError when its tokens do not fold."""
    attention = attention_softmaxes(graph)
    _layout, _channels, (_batch, h, w) = graph.input_layout()
    if (h is None or w is None) and (attention or attention_softmaxes(graph, sized=False)):
        raise ModelError(f"{title} is a vision transformer that takes any input size (its "
                         "height and width are dynamic), so its tokens' grid is not known: "
                         "export it at its own size with a dynamic batch only "
                         "(dynamic_shapes=({0: 'batch'},) in torch.onnx.export)")
    if not attention:
        return None
    tokens = graph.shape(attention[-1])[-1]
    patch, how = _patch_size(graph)
    grid = token_grid(tokens, (h, w), patch, title, how)
    blocks = tuple(_norm_before(graph, a) for a in attention)
    if None in blocks:
        raise ModelError(f"{title} is a vision transformer ({len(attention)} attention "
                         "blocks) whose blocks have no LayerNormalization before their "
                         "attention (one node, or ReduceMean, Sub, Pow, ReduceMean, Add, "
                         "Sqrt, Div, Mul, Add): its tokens cannot be read")
    dim = (graph.shape(blocks[-1]) or (None,))[-1]
    return Transformer(grid, int(dim or 0), blocks, tuple(attention), blocks,
                       _pooling(graph, grid.prefix), None)


def vit_head(graph: OnnxGraph, found: Transformer, read_layer: str | None) -> Head:
    """The read tensor (the last block's normalised tokens, or the block named), folded into
    an NHWC grid by nodes added to the graph (module docstring)."""
    tokens = found.default_layer
    if read_layer is not None:
        tokens = read_layer.removesuffix(GRID_SUFFIX)
        if tokens not in found.blocks:
            shown = ", ".join(found.blocks)
            raise ModelError(f"model file {graph.path} has no block input {read_layer!r}: a "
                             f"vision transformer's layers are its blocks' normalised tokens "
                             f"({shown})")
    for block in found.blocks:  # every block's grid, so inspect and --layer know them all
        _fold(graph, block, found)
    folded = tokens + GRID_SUFFIX
    return Head(folded, 3, HeadKind.GRADIENT_ONLY,
                default_tensor=found.default_layer + GRID_SUFFIX)


def _fold(graph: OnnxGraph, tokens: str, found: Transformer) -> str:
    """Add Slice (the front tokens off) and Reshape (to (batch, gh, gw, dim)) after `tokens`
    unless there already; the folded tensor's name."""
    import numpy as np
    from onnx import helper, numpy_helper

    name = tokens + GRID_SUFFIX
    if name in graph.producers:
        return name
    gh, gw = found.grid.grid
    dim = graph.shape(tokens)[-1]
    consts = {f"{name}.start": [found.grid.prefix], f"{name}.end": [np.iinfo(np.int64).max],
              f"{name}.axes": [1], f"{name}.shape": [-1, gh, gw, dim]}
    graph.model.graph.initializer.extend(
        numpy_helper.from_array(np.array(v, np.int64), k) for k, v in consts.items())
    patches = f"{tokens}:patches"
    graph.model.graph.node.extend([
        helper.make_node("Slice", [tokens, f"{name}.start", f"{name}.end", f"{name}.axes"],
                         [patches], name=patches),
        helper.make_node("Reshape", [patches, f"{name}.shape"], [name], name=name)])
    for cached in ("producers", "consumers", "initializers"):
        graph.__dict__.pop(cached, None)
    graph._shapes[patches] = (None, gh * gw, dim)
    graph._shapes[name] = (None, gh, gw, dim)
    graph.modified = True  # OpenVINO reads the graph with the fold, not the file
    graph.extra_outputs.append(name)
    return name
