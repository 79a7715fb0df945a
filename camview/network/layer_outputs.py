"""Layer outputs: a layer's activation channels, each normalised on its own, tiled in a grid.

"What does layer N see": a talk shows the first channels of an early layer (edges, colours)
beside a late one (parts, objects). The window's Layer outputs panel draws this live; the
activations come from one compiled call per model and layer (cached on the model, like the
map methods'), the tiling is plain numpy and OpenCV so it is tested without a window.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from camview.drawing.colour import resolve_colormap
from camview.models import CamModel

#: Channel counts the panel offers (the first N channels of the layer).
CHANNEL_COUNTS = (16, 64)
CELL = 64  # pixels per tile side in the tiled image (a channel is resized to it)
GAP = 2  # pixels between tiles
BACKGROUND = 24  # the grey of the gaps and of unused cells


def layer_activations(model: CamModel, layer: str, batch: np.ndarray) -> np.ndarray:
    """The (h, w, channels) float32 output of `layer` (a path `camview inspect` lists) for
    one prepared input. The compiled call is built once per model and layer (an ONNX
    model's: OpenVINO's, with that tensor as its output)."""
    if model.keras_model is None:
        forward = model.compiled_once(("layer outputs", layer), lambda: model.forward_at(layer))
        return np.array(forward(batch)[0][0], np.float32)

    def build():
        import tensorflow as tf

        feature_model = model.features_at(layer)

        @tf.function(input_signature=[model.input_spec], reduce_retracing=True)
        def run(x):
            return feature_model(x, training=False)[0][0]

        return run

    return model.compiled_once(("layer outputs", layer), build)(batch).numpy()


def normalise_channels(activations: np.ndarray) -> np.ndarray:
    """Each channel of (h, w, c) min-max scaled to [0, 1] on its own (a flat channel is 0),
    so a weak channel's pattern shows as clearly as a strong one's."""
    a = np.nan_to_num(np.asarray(activations, np.float32))
    lo = a.min(axis=(0, 1), keepdims=True)
    span = a.max(axis=(0, 1), keepdims=True) - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)


def grid_size(count: int) -> tuple[int, int]:
    """(rows, columns) of the most nearly square grid for `count` tiles, wider than tall."""
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def tile_channels(activations: np.ndarray, count: int, colormap: str = "viridis",
                  cell: int = CELL) -> np.ndarray:
    """The first `count` channels of (h, w, c) activations, each normalised on its own and
    coloured, as one BGR uint8 grid image (row by row, channel 0 top left); fewer tiles when
    the layer has fewer channels."""
    if activations.ndim != 3:
        raise ValueError(f"activations must be (h, w, channels), not {activations.shape}")
    shown = normalise_channels(activations[:, :, :max(1, count)])
    n = shown.shape[2]
    rows, cols = grid_size(n)
    h, w = activations.shape[:2]
    th, tw = (cell, max(1, round(cell * w / h))) if h >= w else (max(1, round(cell * h / w)), cell)
    image = np.full((rows * (th + GAP) - GAP, cols * (tw + GAP) - GAP, 3), BACKGROUND, np.uint8)
    table = resolve_colormap(colormap)
    for i in range(n):
        r, c = divmod(i, cols)
        # Nearest neighbour: a 7x7 channel shows its 49 cells, not a blur inventing detail.
        tile = cv2.resize(shown[:, :, i], (tw, th), interpolation=cv2.INTER_NEAREST)
        y, x = r * (th + GAP), c * (tw + GAP)
        image[y:y + th, x:x + tw] = cv2.applyColorMap(np.rint(tile * 255).astype(np.uint8),
                                                      table)
    return image
