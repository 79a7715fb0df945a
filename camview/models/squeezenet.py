"""SqueezeNet 1.1 (ImageNet-1k) in Keras, with weights read from its OpenVINO IR.

The network is fully convolutional: conv10 has one channel per class and global average
pooling of its ReLU gives the scores, so ``relu_conv10`` IS the class activation map
(camview's ``direct`` head) and any input size works. The weights are not shipped with
camview; `resolve_weights_path` says where they are looked for and how to get them.

Layer names follow the Caffe/IR names with '/' replaced by '_' (Keras forbids '/'):
``conv1``, ``relu_conv1``, ``pool1``, ``fire2_squeeze1x1``, ``fire2_relu_squeeze1x1``,
``fire2_expand1x1``, ``fire2_expand3x3``, ``fire2_concat`` ... ``conv10``, ``relu_conv10``,
``pool10``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from camview.errors import ModelError
from camview.models.openvino_ir import ConvParams, IRModel, read_ir
from camview.models.squeezenet_weights import resolve_weights_path

# -- the network ------------------------------------------------------------------------
NUM_CLASSES = 1000
CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)
READ_LAYER = "relu_conv10"
# fire module -> (squeeze channels, channels of each expand branch)
FIRES = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128),
         6: (48, 192), 7: (48, 192), 8: (64, 256), 9: (64, 256)}
POOL_AFTER = {"relu_conv1": "pool1", "fire3": "pool3", "fire5": "pool5"}


def _expected_convs() -> dict[str, tuple[tuple[int, int, int, int], int, int]]:
    """IR conv name -> (OIHW shape, stride, padding) of SqueezeNet 1.1."""
    convs = {"conv1": ((64, 3, 3, 3), 2, 0)}
    channels = 64
    for n, (squeeze, expand) in FIRES.items():
        convs[f"fire{n}/squeeze1x1"] = ((squeeze, channels, 1, 1), 1, 0)
        convs[f"fire{n}/expand1x1"] = ((expand, squeeze, 1, 1), 1, 0)
        convs[f"fire{n}/expand3x3"] = ((expand, squeeze, 3, 3), 1, 1)
        channels = 2 * expand
    convs["conv10"] = ((NUM_CLASSES, channels, 1, 1), 1, 0)
    return convs


EXPECTED_CONVS = _expected_convs()


def keras_name(ir_name: str) -> str:
    """'fire2/squeeze1x1' -> 'fire2_squeeze1x1': Keras layer names may not contain '/'."""
    return ir_name.replace("/", "_")


# -- preprocessing ----------------------------------------------------------------------
@dataclass(frozen=True)
class MeanSubtract:
    """Resized BGR uint8 (h, w, 3) -> float32 BGR minus a per-channel mean.

    Caffe's SqueezeNet takes 0..255 BGR with the ImageNet mean removed and nothing else; the
    mean is kept as data because the IR carries its own.
    """

    mean_bgr: tuple[float, float, float] = CAFFE_MEAN_BGR

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        return np.asarray(bgr, dtype=np.float32) - np.asarray(self.mean_bgr, dtype=np.float32)


def preprocess(bgr: np.ndarray) -> np.ndarray:
    """Resized BGR uint8 -> float32 BGR minus the Caffe mean (104, 117, 123)."""
    return MeanSubtract()(bgr)


# -- the Keras model --------------------------------------------------------------------
def _conv(x, ir_name: str, filters: int, kernel: int, strides: int = 1):
    return keras.layers.Conv2D(filters, kernel, strides=strides,
                               padding="same" if kernel > 1 and strides == 1 else "valid",
                               name=keras_name(ir_name))(x)


def _relu(x, ir_name: str):
    return keras.layers.ReLU(name=keras_name(ir_name))(x)


def _ceil_max_pool(x, name: str, pool: int = 3, stride: int = 2):
    """Caffe max-pooling: the output size rounds UP, ceil((n - pool) / stride) + 1.

    Padding stride-1 rows/columns at the bottom/right makes 'valid' pooling give exactly that
    for every input size (ceil(a / s) == floor((a + s - 1) / s)), so no shape is needed at
    build time. The padding is zeros, which cannot win a max: the input follows a ReLU.
    """
    pad = stride - 1
    x = keras.layers.ZeroPadding2D(((0, pad), (0, pad)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(pool, strides=stride, padding="valid", name=name)(x)


def _fire(x, n: int, squeeze: int, expand: int):
    p = f"fire{n}/"
    x = _relu(_conv(x, p + "squeeze1x1", squeeze, 1), p + "relu_squeeze1x1")
    left = _relu(_conv(x, p + "expand1x1", expand, 1), p + "relu_expand1x1")
    right = _relu(_conv(x, p + "expand3x3", expand, 3), p + "relu_expand3x3")
    return keras.layers.Concatenate(axis=-1, name=keras_name(p + "concat"))([left, right])


def build_squeezenet(weights: Mapping[str, ConvParams] | None = None) -> keras.Model:
    """SqueezeNet 1.1: (1, h, w, 3) BGR-minus-mean float32 -> (1, 1000) pre-softmax scores.

    `weights` maps IR conv names ('conv1', 'fire2/squeeze1x1', ...) to their parameters, as
    `IRModel.convolutions()` gives them; None leaves Keras' random initialisation (for timing
    and tests that need no real weights). The tail is relu_conv10 -> pool10
    (GlobalAveragePooling2D) -> output, which camview recognises as a direct head.
    """
    inputs = keras.Input((None, None, 3), dtype="float32", name="data")
    x = _relu(_conv(inputs, "conv1", 64, 3, strides=2), "relu_conv1")
    x = _ceil_max_pool(x, "pool1")
    for n, (squeeze, expand) in FIRES.items():
        x = _fire(x, n, squeeze, expand)
        if f"fire{n}" in POOL_AFTER:
            x = _ceil_max_pool(x, POOL_AFTER[f"fire{n}"])
    # Caffe's drop9 (dropout 0.5) sits here; it does nothing at inference and is left out.
    x = _relu(_conv(x, "conv10", NUM_CLASSES, 1), READ_LAYER)
    scores = keras.layers.GlobalAveragePooling2D(name="pool10")(x)
    model = keras.Model(inputs, scores, name="squeezenet1_1")
    if weights is not None:
        for ir_name in EXPECTED_CONVS:
            params = weights[ir_name]
            layer = model.get_layer(keras_name(ir_name))
            kernel = np.transpose(params.weights, (2, 3, 1, 0))  # OIHW -> HWIO
            bias = params.bias if params.bias is not None else np.zeros(kernel.shape[-1])
            layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


# -- loading from the IR ----------------------------------------------------------------
@dataclass(frozen=True)
class LoadedSqueezeNet:
    """What `load_squeezenet` gives: the model, its preprocessing and where it came from."""

    model: keras.Model
    preprocess: MeanSubtract
    xml_path: Path


def mean_from_ir(ir: IRModel) -> tuple[float, float, float]:
    """The BGR mean to subtract, from the constant the IR adds to (or subtracts from) its input.

    The Model Optimizer folds ``--mean_values`` into an Add of minus the mean right after the
    input. An IR converted without it expects mean-subtracted input: the Caffe mean is used.
    """
    params = ir.by_type("Parameter")
    if len(params) != 1 or len(params[0].outputs[0].shape) != 4 or \
            params[0].outputs[0].shape[1] != 3:
        raise ModelError(f"{ir.xml_path}: not SqueezeNet 1.1 (expected one 1x3xHxW input)")
    users = ir.consumers(params[0])
    if len(users) == 1 and users[0].type == "Convolution":
        return CAFFE_MEAN_BGR
    if len(users) == 1 and users[0].type in ("Add", "Subtract"):
        op = users[0]
        value = ir.input_constant(op, 1 if ir.producer(op, 0).id == params[0].id else 0)
        if value is not None and value.size == 3:
            sign = -1.0 if op.type == "Add" else 1.0
            b, g, r = (float(sign * v) for v in value.astype(np.float64).reshape(3))
            return b, g, r
    raise ModelError(f"{ir.xml_path}: unexpected input preprocessing (camview expects only a "
                     "per-channel mean added to the BGR input)")


def check_squeezenet(ir: IRModel, convs: Mapping[str, ConvParams]) -> None:
    """Refuse an IR that is not SqueezeNet 1.1: conv names, shapes, strides, pads, pooling,
    and the order of each fire module's concat (expand1x1 first)."""
    def fail(reason: str) -> ModelError:
        return ModelError(f"{ir.xml_path}: not SqueezeNet 1.1 ({reason})")

    missing = sorted(set(EXPECTED_CONVS) - set(convs))
    extra = sorted(set(convs) - set(EXPECTED_CONVS))
    if missing or extra:
        detail = "; ".join(part for part in (
            f"missing convolutions {', '.join(missing[:4])}" if missing else "",
            f"unexpected convolutions {', '.join(extra[:4])}" if extra else "") if part)
        raise fail(detail)
    for name, (shape, stride, pad) in EXPECTED_CONVS.items():
        p = convs[name]
        if p.weights.shape != shape:
            raise fail(f"{name} weights are {p.weights.shape}, expected {shape}")
        if p.bias is None:
            raise fail(f"{name} has no bias")
        if (p.strides, p.pads_begin, p.pads_end, p.dilations) != (
                (stride,) * 2, (pad,) * 2, (pad,) * 2, (1, 1)):
            raise fail(f"{name} has strides {p.strides}, pads {p.pads_begin}/{p.pads_end}, "
                       f"dilations {p.dilations}; expected stride {stride}, pad {pad}")
    pools = ir.by_type("MaxPool")
    if len(pools) != len(POOL_AFTER) or any(
            (p.ints("kernel"), p.ints("strides"), p.ints("pads_begin", (0, 0)),
             p.ints("pads_end", (0, 0)), p.data.get("rounding_type", "floor").lower())
            != ((3, 3), (2, 2), (0, 0), (0, 0), "ceil") for p in pools):
        raise fail("expected three 3x3/2 ceil-mode max-pools")
    for n in FIRES:
        try:
            concat = ir.by_name(f"fire{n}/concat")
        except ModelError:
            raise fail(f"no layer fire{n}/concat") from None
        branches = []
        for i in range(len(concat.inputs)):
            src = ir.producer(concat, i)
            if src.type == "ReLU":
                src = ir.producer(src, 0)
            branches.append(src.name)
        if branches != [f"fire{n}/expand1x1", f"fire{n}/expand3x3"]:
            raise fail(f"fire{n}/concat joins {branches}")


def load_squeezenet(path: str | Path | None = None, progress=None) -> LoadedSqueezeNet:
    """Read the IR (see `resolve_weights_path` for `path`; fetched once when there is none),
    check it, build the Keras model."""
    xml_path = resolve_weights_path(path, progress=progress)
    ir = read_ir(xml_path)
    convs = ir.convolutions()
    check_squeezenet(ir, convs)
    mean = mean_from_ir(ir)
    return LoadedSqueezeNet(build_squeezenet(convs), MeanSubtract(mean), xml_path)
