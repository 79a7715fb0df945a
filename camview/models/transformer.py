"""A vision transformer read from its Keras graph: its tokens, its blocks, its attention.

A model is read as a transformer when the class scores, walked back through the head
(pooling, a class token's slice, dropout, normalisation), come from a token sequence
(batch, N, dim) rather than a (batch, h, w, c) map, and the graph holds MultiHeadAttention
layers. What is found:

- the grid: N tokens = front tokens (class, distillation, register: dropped) + the patch
  tokens, folded on input size / patch size, the patch size read from the patch embedding
  (a Conv2D whose stride equals its kernel) or, without one, guessed from the count
  (camview.models.tokens, which does the arithmetic for any runtime);
- the blocks: one per MultiHeadAttention whose queries are the N tokens; each block's read
  layer is the layer that made its queries, the normalised tokens entering the block (a
  pre-norm ViT's LayerNormalization). The default read layer is the last block's: where
  pytorch-grad-cam's ViT recipe reads, because the last block's output carries no gradient
  to the patch tokens when the head reads the class token;
- every layer whose output is the N tokens, for ``--layer``, shown as its grid;
- the pooling: by the class token, or by averaging the tokens (then, with no front tokens and
  one dense layer after it, CAM is defined per token at the averaged tokens' layer);
- attention in windows (Swin-style: queries of fewer tokens than N): the last stage's tokens
  are still read if they fold into a grid; rollout then does not apply.

`attention_pass` re-runs the graph with every block's attention probabilities as extra
outputs (Keras' own ``return_attention_scores=True``), which the rollout maps read.

Only the model's own top-level graph is read (a ViT built with the functional API, or a
subclassed one traced into it); a model whose blocks are custom layers hiding their attention
(a Keras Hub ViT) was opened into such a graph when loaded (camview.models.open_blocks), its
patch embedding still inside a custom layer, where it is looked for too.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cache

from camview.errors import ModelError
from camview.models.layer_kinds import (
    activation_name,
    binary_scores_layer,
    children,
    is_squashing_layer,
    pass_through,
    producer,
)
from camview.models.tokens import TokenGrid, token_grid


@dataclass(frozen=True)
class Transformer:
    """What camview read of a vision transformer (module docstring)."""

    grid: TokenGrid
    dim: int
    blocks: tuple[str, ...]  # each block's read layer (its normalised input tokens), in order
    attention: tuple[str, ...]  # the MultiHeadAttention layers over the N tokens, in order
    token_layers: tuple[str, ...]  # every layer --layer takes, in graph order
    pooling: str  # "class token" or "average"
    cam_layer: str | None  # the tokens one dense layer reads, averaged; None: CAM undefined
    windows: int | None = None  # tokens per attention window (Swin-style), else None

    @property
    def default_layer(self) -> str:
        return self.blocks[-1] if self.blocks else self.token_layers[-1]

    def describe(self) -> str:
        """One line for `camview inspect`."""
        if self.windows:
            blocks = (f"attention in windows of {self.windows} tokens (Swin-style): the "
                      "last stage's tokens are read; rollout does not apply")
        else:
            blocks = f"{len(self.blocks)} blocks"
        pooled = ("head reads the class token" if self.pooling == "class token"
                  else "head averages the tokens")
        return f"vision transformer: {self.grid.describe()}; {blocks}; {pooled}"


_FOUND: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@cache
def _attention_types() -> tuple[type, ...]:
    import keras

    return (keras.layers.MultiHeadAttention,)


def _is_layer(op) -> bool:
    import keras

    return isinstance(op, keras.layers.Layer) and not isinstance(op, keras.layers.InputLayer)


def _output(op):
    nodes = getattr(op, "_inbound_nodes", None) or []
    outputs = nodes[-1].output_tensors if nodes else []
    return outputs[0] if len(outputs) == 1 else None


def _patch_convs(ops):
    """(name, layer) of each patch embedding: a Conv2D whose stride equals its kernel, in the
    graph or inside a custom layer of it (Keras Hub's ViTPatchingAndEmbedding)."""
    import keras

    def is_patch(op) -> bool:
        return (isinstance(op, keras.layers.Conv2D) and tuple(op.strides) == tuple(op.kernel_size)
                and max(op.strides) > 1)

    for op in ops:
        if is_patch(op):
            yield op.name, op
        elif _is_layer(op) and not isinstance(op, keras.Model):
            for inner in op._flatten_layers(include_self=False):
                if is_patch(inner):
                    yield f"{inner.name} in {op.name}", inner


def find_transformer(model, title: str, scores=None) -> Transformer | None:
    """The vision transformer in `model`'s graph, or None when it is not one (a CNN: the
    head reads a spatial map). ModelError, one line, when it is a transformer whose tokens
    cannot be read as an image grid. `scores`: the pre-softmax scores tensor (default the
    model's output). Read once per model."""
    if model in _FOUND:
        return _FOUND[model]
    found = _read(model, title, scores if scores is not None else model.outputs[0])
    _FOUND[model] = found
    return found


def _token_tensor(scores):
    """Walk back from the scores through single-input ops to the first tensor of rank 3 or
    4: the tokens (rank 3) or a CNN's map (rank 4, None returned). Also the ops passed."""
    tensor, passed = scores, []
    while len(tensor.shape) not in (3, 4):
        op, inputs = producer(tensor)
        if len(inputs) != 1 or not hasattr(inputs[0], "_keras_history"):
            return None, passed
        passed.append(op)
        tensor = inputs[0]
    return (tensor if len(tensor.shape) == 3 else None), passed


def _read(model, title: str, scores) -> Transformer | None:
    import keras

    ops = children(model)
    attention = [op for op in ops if isinstance(op, _attention_types())]
    if not attention:
        return None
    tokens, head_ops = _token_tensor(scores)
    if tokens is None:
        return None  # a CNN with an attention block before its map: read as a CNN
    n, dim = tokens.shape[1], tokens.shape[2]
    if n is None:
        raise ModelError(f"{title} is a transformer whose token count is not fixed "
                         f"(tokens of shape {tuple(tokens.shape)}): save it with a fixed "
                         "input size")
    patch_conv = next(_patch_convs(ops), None)
    patch = tuple(int(s) for s in patch_conv[1].strides) if patch_conv is not None else None
    how = (f"the stride of {patch_conv[0]}" if patch_conv is not None else "")
    grid = token_grid(int(n), tuple(model.inputs[0].shape[1:3]), patch, title, how)

    blocks, over_tokens, windows = [], [], None
    for op in attention:
        query = op._inbound_nodes[0].input_tensors[0]
        if len(query.shape) == 3 and query.shape[1] == n:
            blocks.append(producer(query)[0].name)
            over_tokens.append(op.name)
        else:
            windows = query.shape[1] if len(query.shape) == 3 else None
    token_layers = tuple(op.name for op in ops if _is_layer(op)
                         and (out := _output(op)) is not None and len(out.shape) == 3
                         and out.shape[1] == n)
    if not token_layers:
        raise ModelError(f"{title} is a transformer but no layer of it outputs its {n} "
                         "tokens (they are made by ops, not layers), so none can be read")
    if windows is None and not blocks:
        raise ModelError(f"{title} has MultiHeadAttention layers but none attends over the "
                         f"{n} tokens its head reads: camview reads vision transformers whose "
                         "blocks attend over their patch tokens")
    averaged = bool(head_ops) and _averages_tokens(head_ops[-1])
    cam_layer = None
    if averaged and grid.prefix == 0:
        rest = [op for op in head_ops[:-1]
                if not isinstance(op, pass_through()) and not is_squashing_layer(op)]
        made_by = producer(tokens)[0]
        one_dense = (len(rest) == 1 and isinstance(rest[0], keras.layers.Dense)
                     and activation_name(rest[0]) in ("linear", "softmax", "sigmoid"))
        if one_dense and _is_layer(made_by):
            cam_layer = made_by.name
    return Transformer(grid, int(dim), tuple(blocks), tuple(over_tokens), token_layers,
                       "average" if averaged else "class token", cam_layer,
                       windows if not blocks else None)


def _averages_tokens(op) -> bool:
    """A GlobalAveragePooling1D, or a mean over the token axis as an op (Keras Hub's
    ``pooling="gap"``: ``ops.mean(x, axis=[1])``)."""
    import keras

    if isinstance(op, keras.layers.GlobalAveragePooling1D):
        return True
    axis = getattr(op, "axis", None)
    axis = list(axis) if isinstance(axis, list | tuple) else [axis]
    return type(op).__name__ == "Mean" and axis == [1] and not getattr(op, "keepdims", False)


@cache
def fold_layer() -> type:
    """A Keras layer taking (batch, N, dim) tokens to (their patch tokens as a (batch, gh, gw,
    dim) grid, the same N tokens rebuilt from that grid): the read layer's activations as
    the (h, w, k) map every method takes, and the graph going on from the grid, so the grid
    has the class score's gradient."""
    import keras

    class TokensThroughGrid(keras.layers.Layer):
        def __init__(self, prefix: int, grid: tuple[int, int], **kwargs) -> None:
            super().__init__(**kwargs)
            self.prefix, self.grid = prefix, tuple(grid)

        def call(self, tokens):
            front, patches = tokens[:, :self.prefix, :], tokens[:, self.prefix:, :]
            dim = tokens.shape[-1]
            grid = keras.ops.reshape(patches, (-1, *self.grid, dim))
            flat = keras.ops.reshape(grid, (-1, self.grid[0] * self.grid[1], dim))
            return grid, keras.ops.concatenate([front, flat], axis=1)

        def get_config(self) -> dict:
            return {**super().get_config(), "prefix": self.prefix, "grid": self.grid}

    return TokensThroughGrid


def fold(tensor, found: Transformer):
    """The symbolic tokens `tensor` (batch, N, d) -> (its grid (batch, gh, gw, d), the
    tokens the graph goes on from)."""
    grid, tokens = fold_layer()(found.grid.prefix, found.grid.grid,
                                name="tokens_as_grid")(tensor)
    return grid, tokens


def attention_pass(model, found: Transformer, final=None, binary: bool = False):
    """x -> [pre-softmax scores, each block's attention probabilities (batch, heads, N,
    N)...]: the graph run on real tensors with ``return_attention_scores=True`` given to
    every block's MultiHeadAttention (Keras then computes the softmax it returns instead of
    a fused kernel; the probabilities returned are the ones the block multiplies its values
    by, so under a GradientTape their gradient is the class score's). `final`, a softmax
    layer, is skipped.

    A function, not a keras.Model: Keras 3.15 cannot build a Functional model from a second
    call of a MultiHeadAttention layer with that flag (the scores come out "not connected
    to inputs"), while running the same graph on tensors works."""
    if not found.attention:
        raise ModelError(f"{model.name} attends in windows (Swin-style): rollout needs "
                         "attention over all the tokens")
    wanted = set(found.attention)
    scores_layer = None
    if binary:
        scores_layer = binary_scores_layer()(name="binary_scores")

    def run(x):
        captured: dict[str, object] = {}

        def call(op, *args, **kwargs):
            if op is final:
                return args[0]
            if op.name in wanted:
                out, probabilities = op(*args, **{**kwargs, "return_attention_scores": True,
                                                  "training": False})
                captured[op.name] = probabilities
                return out
            return op(*args, **kwargs)

        scores = model._run_through_graph(x, operation_fn=lambda op: op, call_fn=call)
        if scores_layer is not None:
            scores = scores_layer(scores)
        return [scores, *(captured[name] for name in found.attention)]

    return run
