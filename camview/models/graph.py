"""Walking a Keras graph: its layers in order through nested bases, the layers maps can be
read from (`--layer`, `inspect`), and running the graph split at a nested layer.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from camview.errors import ModelError
from camview.models.layer_kinds import children

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class LayerInfo:
    """A layer maps can be read from: its path (``base/layer`` inside a nested base) and
    output shape without the batch (None where any size is taken)."""

    path: str
    shape: tuple


def _output_shape(op) -> tuple | None:
    nodes = getattr(op, "_inbound_nodes", None) or []
    outputs = nodes[-1].output_tensors if nodes else []
    return tuple(outputs[0].shape) if len(outputs) == 1 else None


def traced_subclass(model, title: str):
    """A subclassed model (a keras.Model with its own call(), built by being called, no
    Input) as a functional graph of its own layers: its call() run on a symbolic input of
    the shape it was built with (its build config), so the layers it calls become nodes that
    maps can be read from. The same layers and weights; ModelError saying why, in words,
    when it cannot be done. A model that has a graph already is returned as it is."""
    import keras

    if getattr(model, "inputs", None) or not isinstance(model, keras.Model):
        return model
    kind = type(model).__name__
    config = model.get_build_config() or {}
    shape = config.get("input_shape")
    if not shape or isinstance(shape, dict) or not isinstance(shape[0], (int, type(None))):
        raise ModelError(f"{title} is a subclassed model ({kind}) that records no single "
                         "input shape (saved before it was ever called, or with several "
                         "inputs), so camview cannot trace it: call it once on a batch of "
                         "images before saving, or build it as keras.Model(inputs, outputs)")
    inputs = keras.Input(batch_shape=(None, *shape[1:]), name="image")
    try:
        outputs = model.call(inputs)
    except Exception as exc:  # the user's call(): any failure means the same here
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ModelError(f"{title} is a subclassed model ({kind}) whose call() cannot be "
                         f"traced on a symbolic input of shape {tuple(shape[1:])} ({reason}): "
                         "build it as keras.Model(inputs, outputs) to use it here") from None
    if not isinstance(outputs, keras.KerasTensor):
        raise ModelError(f"{title} is a subclassed model ({kind}) whose call() returns "
                         f"{type(outputs).__name__}; camview needs one output of class scores")
    return keras.Model(inputs, outputs, name=model.name)


def is_preprocessing(op) -> bool:
    """A Keras preprocessing or augmentation layer (Rescaling, Normalization, RandomFlip,
    Resizing...): its output is the input image, transformed, so it has no map to show."""
    return any(c.__module__.startswith("keras.src.layers.preprocessing")
               for c in type(op).__mro__)


def spatial_layers(model: keras.Model) -> list[LayerInfo]:
    """Every layer with a spatial (batch, h, w, c) output, through nested bases, in order:
    what ``--layer`` takes (``camview inspect`` lists them). Preprocessing and augmentation
    layers are left out: what they output is still the picture, not features. A vision
    transformer's layers that output its tokens are in too, shaped as their grid (gh, gw,
    dim) (camview.models.transformer)."""
    import keras

    from camview.models.transformer import find_transformer

    found: list[LayerInfo] = []
    vit = find_transformer(model, model.name) if getattr(model, "outputs", None) else None
    tokens = set(vit.token_layers) if vit is not None else set()

    def visit(m, prefix: str) -> None:
        for op in children(m):
            if (isinstance(op, keras.layers.InputLayer) or not isinstance(op, keras.layers.Layer)
                    or is_preprocessing(op)):
                continue
            shape = _output_shape(op)
            if shape is not None and len(shape) == 4:
                found.append(LayerInfo(prefix + op.name, shape[1:]))
            elif not prefix and op.name in tokens:  # a transformer's tokens, as their grid
                found.append(LayerInfo(op.name, (*vit.grid.grid, shape[-1])))
            if isinstance(op, keras.Model):
                visit(op, f"{prefix}{op.name}/")

    visit(model, "")
    return found


def resolve_layer(model: keras.Model, name: str, title: str) -> list[str]:
    """``base/layer`` or a plain name (unique among the spatial layers) -> the path as a list;
    ModelError naming the nearest candidates otherwise."""
    candidates = spatial_layers(model)
    paths = [c.path for c in candidates]
    if name in paths:
        return name.split("/")
    same = [p for p in paths if p.rsplit("/", 1)[-1] == name]
    if len(same) == 1:
        return same[0].split("/")
    if same:
        raise ModelError(f"{title} has {len(same)} layers named {name!r} ({', '.join(same)}): "
                         "give the full path")
    found = _find(model, name.split("/"))
    if found is not None:
        if is_preprocessing(found):
            why = (f"it is a {type(found).__name__} layer, which outputs the input picture "
                   "transformed, not features")
        else:
            shape = _output_shape(found)
            shown = "x".join("?" if d is None else str(d) for d in shape[1:]) if shape else "?"
            why = (f"its output is {shown} ({type(found).__name__}), not a (height, width, "
                   "channels) map")
        raise ModelError(f"layer {name!r} of {title} exists but cannot be read for maps: {why}"
                         f" (camview inspect lists the layers --layer takes)")
    # Nearest by plain name, shown as the full paths --layer takes.
    last = {p.rsplit("/", 1)[-1]: p for p in reversed(paths)}
    near = [last[n] for n in difflib.get_close_matches(name.rsplit("/", 1)[-1], list(last),
                                                       n=4, cutoff=0.5)]
    hint = f"nearest: {', '.join(near)}" if near else f"its last ones: {', '.join(paths[-4:])}"
    raise ModelError(f"{title} has no layer named {name!r} with a spatial output ({hint}; "
                     "camview inspect lists them all)")


def _find(model, path: list[str]):
    """The layer at `path` (``base/layer``), or one of that plain name anywhere inside; None."""
    import keras

    node = model
    for step in path:
        match = ([op for op in children(node) if op.name == step]
                 if isinstance(node, keras.Model) else [])
        if not match:
            node = None
            break
        node = match[0]
    if node is not None or len(path) != 1:
        return node
    for op in children(model):
        if isinstance(op, keras.Model) and (inner := _find(op, path)) is not None:
            return inner
    return None


def _run_split(model, x, path: list[str], final=None, through=None):
    """Run `model`'s graph on `x` again, returning (its output, the output of the layer at
    `path`): a nested base on the path is itself run split. `final` (a softmax layer) is
    skipped, so the output is the scores before it. `through(out)` -> (captured, passed on):
    what is returned for the layer and what the graph continues from (a transformer's tokens
    folded into their grid and unfolded again, so the grid is on the scores' path and has
    their gradient)."""
    import keras

    captured = []

    def call(op, *args, **kwargs):
        if op is final:
            return args[0]
        if op.name != path[0]:
            return op(*args, **kwargs)
        if len(path) == 1:
            out = op(*args, **kwargs)
            kept, out = through(out) if through is not None else (out, out)
            captured.append(kept)
            return out
        out, inner = _run_split(op, args[0], path[1:])
        captured.append(inner)
        return out

    if isinstance(model, keras.Sequential):
        out = x
        for layer in model.layers:
            out = call(layer, out)
    else:
        out = model._run_through_graph(x, operation_fn=lambda op: op, call_fn=call)
    if not captured:
        raise ModelError(f"layer {'/'.join(path)!r} is not on the path from the input to the "
                         "scores")
    return out, captured[0]
