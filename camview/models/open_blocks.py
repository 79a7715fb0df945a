"""A model whose attention hides inside custom layers (a Keras Hub ViT: one ``ViTEncoder``
layer holding every ``ViTEncoderBlock``, each holding its ``MultiHeadAttention``), rebuilt as
one flat functional graph of the same layers, so camview.models.transformer reads its blocks
as it reads a ViT built from Keras layers.

Keras runs a custom layer's call() as one node: the layers it calls inside are not in the
graph, so neither the normalised tokens entering a block (the read layer) nor the attention
(rollout) can be reached. Here the graph is run again on a new input with each such layer's
own call() run on the symbolic tensors instead of the layer itself (and nested functional
models run inline), so the layers it calls become nodes; repeated until no layer in the graph
hides a MultiHeadAttention. A layer whose config Keras cannot write (Keras Hub's ``MLP``) is
opened too where its call() allows, so the graph can be fingerprinted and cloned. Layers are
not copied: the same objects, the same weights. The
sublayers a call() brings into the graph are renamed by their path, cut to the shortest tail
that is still unique (``transformer_block_2.ln_1``: Keras Hub names every block's norm
``ln_1``, and a graph's names must be unique).

Nothing is assumed about what a block does: the flat graph is trusted only if it gives the
file's own scores on a random input (else the model is kept as loaded and a note says why).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: How many levels of layers inside layers are opened at most (Keras Hub's ViT: two, the
#: encoder and its blocks).
MAX_DEPTH = 6


def _attention():
    import keras

    return keras.layers.MultiHeadAttention


def _hides_attention(op) -> bool:
    """A layer (not a model, not an attention layer itself) with a MultiHeadAttention inside."""
    import keras

    if (not isinstance(op, keras.layers.Layer) or isinstance(op, keras.Model | _attention())):
        return False
    return any(isinstance(inner, _attention()) for inner in op._flatten_layers(include_self=False))


def _model_hides_attention(op) -> bool:
    import keras

    return isinstance(op, keras.Model) and any(
        isinstance(inner, _attention()) for inner in op._flatten_layers(include_self=False))


def _configurable(op) -> bool:
    """Whether Keras can write `op`'s config (to_json, clone_model: the OpenVINO conversion's
    fingerprint and the sanity check's copy need it). Keras Hub's ViT ``MLP`` cannot, so it
    is opened too, into its Dense layers."""
    try:
        op.get_config()
    except Exception:  # Keras raises NotImplementedError; a custom get_config anything
        return False
    return True


def needs_opening(model) -> bool:
    """Whether `model`'s own graph has no MultiHeadAttention node while a layer or nested
    model in it holds one."""
    ops = getattr(model, "operations", None) or []
    if any(isinstance(op, _attention()) for op in ops):
        return False
    return any(_hides_attention(op) or _model_hides_attention(op) for op in ops)


def _open_once(model) -> tuple[object, list[str]]:
    """`model`'s graph run again with each layer hiding attention opened (its call() on the
    symbolic tensors) and each nested model holding attention inlined; the names opened."""
    import keras

    opened: list[str] = []

    def call(op, *args, **kwargs):
        if _model_hides_attention(op) and getattr(op, "_run_through_graph", None):
            opened.append(op.name)
            return op._run_through_graph(args[0], operation_fn=lambda o: o, call_fn=call)
        hides = _hides_attention(op)
        if hides or (isinstance(op, keras.layers.Layer) and not _configurable(op)):
            for inner in op._flatten_layers(include_self=False, recursive=False):
                if not inner.name.startswith(f"{op.name}."):
                    inner.name = f"{op.name}.{inner.name}"
            try:
                out = op.call(*args, **kwargs)
            except Exception:
                if hides:
                    raise
                return op(*args, **kwargs)  # left closed: only its copy is lost
            opened.append(op.name)
            return out
        return op(*args, **kwargs)

    given = model.inputs[0]
    x = keras.Input(batch_shape=tuple(given.shape), dtype=given.dtype, name=given.name)
    out = model._run_through_graph(x, operation_fn=lambda o: o, call_fn=call)
    return keras.Model(x, out, name=model.name), opened


def open_blocks(model, title: str):
    """`model` as one flat graph whose MultiHeadAttention layers are nodes (module
    docstring), or `model` itself when nothing hides attention or the flat graph cannot be
    made or does not give the same scores (a note then says why)."""
    if len(getattr(model, "inputs", None) or []) != 1 or not needs_opening(model):
        return model
    flat = model
    try:
        for _ in range(MAX_DEPTH):
            flat, opened = _open_once(flat)
            if not opened:
                break
        _shorten_names(flat)
        flat, _ = _open_once(flat)  # the graph again, checked for unique names
        same = _same_scores(model, flat)
    except Exception as exc:  # a custom call() that cannot run on symbolic tensors
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        log.info("%s: its attention is inside custom layers that could not be opened into "
                 "the graph (%s): read as it is", title, reason)
        return model
    if not same:
        log.info("%s: its attention is inside custom layers; opened into the graph they gave "
                 "other scores than the model, so it is read as it is", title)
        return model
    return flat


def _shorten_names(model) -> None:
    """Each opened layer's dotted path (``vit_encoder.transformer_block_2.ln_1``) cut to its
    shortest tail of at least two parts that no other layer's path ends with
    (``transformer_block_2.ln_1``): the names --layer and inspect show."""
    layers = [op for op in model.operations if "." in op.name]
    paths = [op.name.split(".") for op in layers]
    for op, parts in zip(layers, paths, strict=True):
        for k in range(2, len(parts) + 1):
            tail = parts[-k:]
            if not any(other is not parts and other[-k:] == tail for other in paths):
                op.name = ".".join(tail)
                break


def _same_scores(model, flat) -> bool:
    """Both graphs' outputs on one random input agree to float32 rounding."""
    shape = tuple(model.inputs[0].shape)
    if any(d is None for d in shape[1:]):
        return True  # no fixed size to try; the transformer reader refuses such a model
    x = np.random.default_rng(0).uniform(-1, 1, (1, *shape[1:])).astype(np.float32)
    a = np.asarray(model(x, training=False), np.float64)
    b = np.asarray(flat(x, training=False), np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4,
                                                   atol=1e-5 * (np.abs(a).max() + 1)))
