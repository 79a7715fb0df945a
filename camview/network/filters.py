"""A convolution's kernels as small pictures: the first layer's in colour, later ones in grey.

The first convolution sees the image itself, so each of its kernels is a small RGB picture
(what colour edge or blob it answers to). Each tile is scaled symmetrically around zero on its
own, so a 0 weight is mid-grey, positive weights brighter and negative darker, and enlarged
with nearest-neighbour so a 3x3 kernel stays nine visible cells; tiles are numbered. A later
convolution's kernel has one slice per input channel, shown in grey, the first N of them; a
depthwise convolution has one slice per channel.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import cv2
import numpy as np

from camview.errors import ModelError
from camview.models.base import CamModel
from camview.models.graph import children
from camview.network.layer_outputs import grid_size
from camview.network.pixels import frame_channel_of_input

DEFAULT_MAX = 64
TILE = 48  # smallest tile side in pixels; kernels are enlarged by a whole factor to reach it
GAP = 4
LABEL = 14  # pixels under each tile for its number
BACKGROUND = 32


@dataclass(frozen=True)
class Kernels:
    """A convolution's weights and how they are shown."""

    path: str
    kind: str  # "Conv2D", "DepthwiseConv2D", "SeparableConv2D"
    kernel: np.ndarray  # as Keras stores it: (kh, kw, in, out), depthwise (kh, kw, in, mult)
    colour: bool  # the first convolution over the image: one RGB tile per output filter
    tiles: np.ndarray  # (n, kh, kw) grey or (n, kh, kw, 3) BGR slices, all of them
    names: list[str]  # one number per tile: "5" (filter 5) or "5.2" (filter 5, input 2)

    def describe(self, shown: int) -> str:
        kh, kw = self.kernel.shape[:2]
        if self.colour:
            what = f"{self.tiles.shape[0]} kernels {kh}x{kw} over the image's colours (RGB)"
        elif self.kind == "Conv2D":
            what = (f"{self.kernel.shape[3]} filters x {self.kernel.shape[2]} input channels = "
                    f"{self.tiles.shape[0]} kernels {kh}x{kw} (grey, one per input channel)")
        else:
            what = f"{self.tiles.shape[0]} depthwise kernels {kh}x{kw} (grey, one per channel)"
        more = (f"; showing the first {shown} (--max to change)" if shown < self.tiles.shape[0]
                else "")
        return f"{self.path} ({self.kind}): {what}{more}"


def _conv_types() -> tuple[type, ...]:
    import keras

    return (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def all_layers(model) -> list[tuple[str, object]]:
    """(path, layer) of every layer, through nested bases, in order."""
    import keras

    found = []

    def visit(m, prefix: str) -> None:
        for op in children(m):
            if isinstance(op, keras.layers.Layer) and not isinstance(op, keras.layers.InputLayer):
                found.append((prefix + op.name, op))
            if isinstance(op, keras.Model):
                visit(op, f"{prefix}{op.name}/")

    visit(model, "")
    return found


def convolutions(model) -> list[tuple[str, object]]:
    """(path, layer) of every 2-D convolution, in order."""
    return [(p, op) for p, op in all_layers(model) if isinstance(op, _conv_types())]


def _named(paths: list[str]) -> str:
    shown = paths if len(paths) <= 6 else [*paths[:3], "…", *paths[-2:]]
    return f"{', '.join(shown)} ({len(paths)} in all)"


def find_convolution(model: CamModel, layer: str | None) -> tuple[str, object]:
    """The convolution `layer` names (``base/layer`` or a unique plain name), or the first one;
    ModelError in one line naming the convolutions otherwise."""
    convs = convolutions(model.keras_model)
    if not convs:
        raise ModelError(f"{model.name} has no 2-D convolution, so it has no filters to show")
    if layer is None:
        return convs[0]
    layers = all_layers(model.keras_model)
    match = [(p, op) for p, op in layers if p == layer] or \
            [(p, op) for p, op in layers if p.rsplit("/", 1)[-1] == layer]
    conv_paths = [p for p, _ in convs]
    if len(match) > 1:
        raise ModelError(f"{model.name} has {len(match)} layers named {layer!r} "
                         f"({', '.join(p for p, _ in match)}): give the full path")
    if not match:
        near = difflib.get_close_matches(layer, conv_paths, n=3, cutoff=0.5)
        hint = f"nearest: {', '.join(near)}; " if near else ""
        raise ModelError(f"{model.name} has no layer named {layer!r} ({hint}its convolutions: "
                         f"{_named(conv_paths)})")
    path, op = match[0]
    if not isinstance(op, _conv_types()):
        raise ModelError(f"layer {path!r} of {model.name} is a {type(op).__name__}, not a "
                         f"convolution; its convolutions: {_named(conv_paths)}")
    return path, op


def graph_convolutions(model: CamModel) -> list[tuple[str, str, np.ndarray]]:
    """(name, kind, kernel in Keras' layout) of every 2-D convolution of an ONNX model's
    graph with constant weights, in order: a Conv whose groups are its input channels is
    depthwise ((kh, kw, in, mult)), else (kh, kw, in, out) from ONNX's (out, in, kh, kw)."""
    graph, found = model.graph, []
    for node in graph.model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2:
            continue
        w = graph.constant(node.input[1])
        if w is None or w.ndim != 4:
            continue
        out, per_group, kh, kw = w.shape
        group = int(graph.attribute(node, "group", 1))
        name = node.output[0]
        if group > 1 and per_group == 1:
            found.append((name, "DepthwiseConv2D",
                          w.reshape(group, out // group, kh, kw).transpose(2, 3, 0, 1)))
        elif group == 1:
            found.append((name, "Conv2D", w.transpose(2, 3, 1, 0)))
    return [(n, k, np.ascontiguousarray(w, np.float32)) for n, k, w in found]


def _graph_convolution(model: CamModel, layer: str | None) -> tuple[str, str, np.ndarray]:
    convs = graph_convolutions(model)
    if not convs:
        raise ModelError(f"{model.name} has no 2-D convolution, so it has no filters to show")
    if layer is None:
        return convs[0]
    match = [c for c in convs if c[0] == layer]
    if not match:
        names = [c[0] for c in convs]
        near = difflib.get_close_matches(layer, names, n=3, cutoff=0.5)
        hint = f"nearest: {', '.join(near)}; " if near else ""
        raise ModelError(f"{model.name} has no convolution making {layer!r} ({hint}its "
                         f"convolutions: {_named(names)})")
    return match[0]


def convolution_names(model: CamModel) -> list[str]:
    """What `kernels` takes as a layer, in order (the window's list)."""
    if model.keras_model is None:
        return [name for name, _, _ in graph_convolutions(model)]
    return [path for path, _ in convolutions(model.keras_model)]


def kernels(model: CamModel, layer: str | None = None) -> Kernels:
    """The kernels of `layer` (default the first convolution) and their tiles."""
    import keras

    if model.keras_model is None:  # an ONNX graph: read from its initializers
        path, kind, kernel = _graph_convolution(model, layer)
        first = graph_convolutions(model)[0][0] == path
    else:
        path, op = find_convolution(model, layer)
        kind = next(t.__name__ for t in (keras.layers.SeparableConv2D,
                                         keras.layers.DepthwiseConv2D, keras.layers.Conv2D)
                    if isinstance(op, t))
        weights = op.depthwise_kernel if kind == "SeparableConv2D" else op.kernel
        kernel = np.asarray(weights.numpy(), np.float32)
        first = convolutions(model.keras_model)[0][0] == path
    kh, kw, cin, cout = kernel.shape
    if kind == "Conv2D" and first and cin == 3 == model.channels:
        order = frame_channel_of_input(model)  # input channel j is frame channel order[j]
        bgr = np.zeros((cout, kh, kw, 3), np.float32)
        for j, channel in enumerate(order):
            bgr[..., channel] = kernel[:, :, j, :].transpose(2, 0, 1)
        return Kernels(path, kind, kernel, True, bgr, [str(o) for o in range(cout)])
    if kind == "Conv2D":
        tiles = kernel.transpose(3, 2, 0, 1).reshape(cout * cin, kh, kw)
        names = [f"{o}.{i}" for o in range(cout) for i in range(cin)]
        if cin == 1:
            names = [str(o) for o in range(cout)]
    else:  # depthwise: channel i, multiplier m -> output channel i * mult + m
        tiles = kernel.transpose(2, 3, 0, 1).reshape(cin * cout, kh, kw)
        names = [str(k) for k in range(cin * cout)]
    return Kernels(path, kind, kernel, False, tiles, names)


def symmetric_uint8(tile: np.ndarray) -> np.ndarray:
    """A tile scaled around zero on its own: 0 -> 128, the largest |weight| -> 0 or 255."""
    peak = float(np.max(np.abs(tile))) if tile.size else 0.0
    scaled = tile / peak if peak > 0 else np.zeros_like(tile)
    return np.clip(np.rint(128.0 + 127.0 * scaled), 0, 255).astype(np.uint8)


def filter_grid(k: Kernels, limit: int = DEFAULT_MAX) -> np.ndarray:
    """The first `limit` tiles of `k` as one numbered BGR uint8 grid image."""
    if int(limit) != limit or limit < 1:
        raise ModelError(f"--max must be a whole number >= 1, not {limit}")
    tiles = k.tiles[:int(limit)]
    n, kh, kw = tiles.shape[:3]
    factor = max(1, math.ceil(TILE / max(kh, kw)))
    th, tw = kh * factor, kw * factor
    rows, cols = grid_size(n)
    cell_h, cell_w = th + LABEL, max(tw, 28)
    image = np.full((GAP + rows * (cell_h + GAP), GAP + cols * (cell_w + GAP), 3), BACKGROUND,
                    np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        tile = symmetric_uint8(tiles[i])
        if tile.ndim == 2:
            tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
        big = cv2.resize(tile, (tw, th), interpolation=cv2.INTER_NEAREST)
        y, x = GAP + r * (cell_h + GAP), GAP + c * (cell_w + GAP)
        image[y:y + th, x:x + tw] = big
        cv2.putText(image, k.names[i], (x, y + th + LABEL - 3), cv2.FONT_HERSHEY_PLAIN, 0.8,
                    (220, 220, 220), 1, cv2.LINE_AA)
    return image
