"""How a frame is turned into what a network was trained on: the one list of modes, and `auto`.

A saved Keras model carries no record of the preprocessing it was trained with, and feeding
the wrong one fails silently (the net sees a near-constant or saturated image and still
answers). So the choice is explicit: ``--preprocess MODE`` says it, and ``auto`` reads what
the model itself says, and says so when it has to guess:

- a ``Rescaling``/``Normalization`` layer, or scaling ops (``x / 127.5 - 1`` as
  ``keras.applications.*.preprocess_input`` leaves in a functional graph), before the first
  convolution, looked for through nested bases: the model scales its own input -> ``raw``;
  unless the first such layer's own numbers say it expects 0..1: a ``Normalization`` adapted
  on 0..1 data (mean below 2) or a ``Rescaling`` whose scale maps 0..1 to a unit range
  (``x * 2 - 1``) -> ``unit``, because 0..255 fed there saturates every activation;
- a nested keras.applications base without its own scaling (MobileNetV2, ResNet50...): that
  family's ``preprocess_input`` (a guess: the usual way such a model is trained);
- otherwise RGB 0..1 (``unit``), also a guess.

Keras' own ``preprocess_input`` functions do the work of every named mode (``caffe``, ``tf``,
``torch`` are the modes of ``keras.applications.imagenet_utils``), so the numbers are exactly
the ones the families were trained with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from camview.errors import ModelError
from camview.models.graph import children

log = logging.getLogger(__name__)

AUTO = "auto"

#: Modes that are a rule rather than a family, and what each feeds the network.
FIXED_MODES: dict[str, str] = {
    "raw": "RGB 0..255",
    "unit": "RGB 0..1",
    "tf": "RGB -1..1",
    "caffe": "BGR 0..255 minus the ImageNet mean",
    "torch": "RGB 0..1, then ImageNet mean/std",
}

#: keras.applications modules whose own ``preprocess_input`` can be named (written out so
#: `camview --help` needs no TensorFlow; a test checks each one exists in Keras).
FAMILIES: tuple[str, ...] = (
    "convnext", "densenet", "efficientnet", "efficientnet_v2", "inception_resnet_v2",
    "inception_v3", "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet", "resnet50",
    "resnet_v2", "vgg16", "vgg19", "xception",
)

#: Every value --preprocess takes, in the order help shows them.
MODES: tuple[str, ...] = (AUTO, *FIXED_MODES, *FAMILIES)

#: Channel counts a frame can give, and how: 1 is the frame in grayscale, 3 RGB.
CHANNELS = {1: "grayscale", 3: "RGB"}

#: The name keras.applications gives a base model -> its family (the most specific first).
#: Bases that scale their own input (EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3,
#: RegNet) are recognised by their Rescaling/Normalization layers, whatever their name.
_BASE_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"mobilenetv2", "mobilenet_v2"), (r"mobilenetv3", "mobilenet_v3"),
    (r"mobilenet", "mobilenet"), (r"efficientnetv2", "efficientnet_v2"),
    (r"efficientnet", "efficientnet"), (r"convnext", "convnext"),
    (r"inception_resnet_v2", "inception_resnet_v2"), (r"inception_v3", "inception_v3"),
    (r"xception", "xception"), (r"nasnet", "nasnet"), (r"densenet", "densenet"),
    (r"resnet\d+v2", "resnet_v2"), (r"resnet\d+", "resnet"), (r"vgg16", "vgg16"),
    (r"vgg19", "vgg19"),
)


def help_text() -> str:
    """The --preprocess help, from the one list above."""
    fixed = "; ".join(f"{name}: {what}" for name, what in FIXED_MODES.items())
    return (f"how frames are fed to your own model: auto (default: read from the model, "
            f"see `camview inspect`); {fixed}; or a keras.applications family, its own "
            f"preprocess_input: {', '.join(FAMILIES)}")


Transform = Callable[[np.ndarray], np.ndarray]
"""Resized uint8 image in the model's colour (BGR (h, w, 3) or grey (h, w, 1)) -> float32."""


@dataclass(frozen=True)
class Preprocessing:
    """The chosen preprocessing: its name (shown in JSON, inspect, the window), why it was
    chosen, a note when `auto` had to guess (None when it could tell), and the transform."""

    name: str
    why: str
    transform: Transform
    note: str | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.transform(image)


def rgb(image: np.ndarray) -> np.ndarray:
    """float32 RGB (or grey) copy of a BGR (or grey) uint8 image.

    OpenCV swaps a uint8 image's channels: numpy's float copy of the reversed view took
    0.8 ms for a 224x299 image, against 0.05 ms for this (the same values), once per
    image in evaluate and per frame live."""
    if image.ndim == 3 and image.shape[-1] == 3:
        if image.dtype == np.uint8:
            return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2RGB).astype(
                np.float32)
        image = image[..., ::-1]
    return np.array(image, dtype=np.float32)


def _scaled(scale: float, offset: float) -> Transform:
    def transform(image: np.ndarray) -> np.ndarray:
        return rgb(image) * np.float32(scale) + np.float32(offset)

    return transform


def _keras_mode(mode: str) -> Transform:
    """caffe / torch: keras.applications.imagenet_utils' own arithmetic, on RGB 0..255."""
    def transform(image: np.ndarray) -> np.ndarray:
        from keras.applications import imagenet_utils

        return imagenet_utils.preprocess_input(rgb(image), mode=mode)

    return transform


def _family(name: str) -> Transform:
    import importlib

    preprocess_input = importlib.import_module(f"keras.applications.{name}").preprocess_input

    def transform(image: np.ndarray) -> np.ndarray:
        # keras.applications' preprocess_input expects RGB in 0..255 and converts itself.
        return np.asarray(preprocess_input(rgb(image)), dtype=np.float32)

    return transform


#: How --mean/--std travel as a preprocessing mode (one string, like every other mode, from
#: the command line to each model loaded): "mean R,G,B std R,G,B".
MEAN_STD = "mean {} std {}"


def mean_std_mode(mean: str | None, std: str | None, base: str | None = None) -> str:
    """--mean/--std (and the --preprocess they go with) as one mode string; a missing one is
    ImageNet's. Only with --preprocess torch or auto, whose numbers they replace."""
    if base not in (None, AUTO, "torch"):
        raise ModelError(f"--mean/--std replace the torch mode's numbers; --preprocess {base} "
                         "has its own")
    m = parse_triple(mean, "--mean") or IMAGENET_MEAN
    s = parse_triple(std, "--std") or IMAGENET_STD
    return MEAN_STD.format(",".join(f"{v:g}" for v in m), ",".join(f"{v:g}" for v in s))


def named(mode: str, channels: int = 3, why: str = "--preprocess") -> Preprocessing:
    """The preprocessing called `mode` (not auto) for a model taking `channels` channels, or
    the numbers of a mean_std_mode string."""
    if mode.startswith("mean "):
        _, mean, _, std = mode.split()
        return mean_std(parse_triple(mean, "--mean"), parse_triple(std, "--std"), channels,
                        why="--mean/--std")
    mode = mode.lower().replace("-", "_")
    grey_ok = ("raw", "unit", "tf")
    if mode not in MODES or mode == AUTO:
        raise ModelError(f"unknown preprocessing {mode!r}: use one of {', '.join(MODES)}")
    if channels == 1 and mode not in grey_ok:
        raise ModelError(f"--preprocess {mode} is for RGB models; a grayscale model takes "
                         f"{', '.join(grey_ok)}")
    if mode == "raw":
        transform = _scaled(1.0, 0.0)
    elif mode == "unit":
        transform = _scaled(1 / 255.0, 0.0)
    elif mode == "tf":
        transform = _scaled(1 / 127.5, -1.0)
    elif mode in FIXED_MODES:
        transform = _keras_mode(mode)
    else:
        transform = _family(mode)
    return Preprocessing(mode, why, transform)


#: torchvision's and timm's ImageNet numbers on the 0..1 RGB scale (the `torch` mode's).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def parse_triple(text: str | None, flag: str) -> tuple[float, ...] | None:
    """'0.5,0.5,0.5' (or one number, or '[0.5, 0.5, 0.5]') -> numbers; None for None."""
    if text is None:
        return None
    parts = [t for t in str(text).strip().strip("[]()").replace(" ", ",").split(",") if t]
    try:
        values = tuple(float(t) for t in parts)
    except ValueError:
        raise ModelError(f"{flag} {text!r}: give R,G,B numbers on the 0..1 scale, e.g. "
                         "0.485,0.456,0.406") from None
    if len(values) not in (1, 3):
        raise ModelError(f"{flag} {text!r}: give one number or three (R,G,B)")
    return values


def mean_std(mean: tuple[float, ...], std: tuple[float, ...], channels: int = 3,
             why: str = "--mean/--std", note: str | None = None) -> Preprocessing:
    """(RGB / 255 - mean) / std, the numbers on the 0..1 scale as torchvision writes them
    (one number serves every channel; a grayscale model takes one)."""
    m = np.asarray(mean, np.float32)
    s = np.asarray(std, np.float32)
    if channels == 1 and (m.size > 1 or s.size > 1):
        m, s = m[:1], s[:1]
    if np.any(s == 0):
        raise ModelError("--std: a standard deviation of 0 divides by zero")

    def transform(image: np.ndarray) -> np.ndarray:
        return (rgb(image) / np.float32(255.0) - m) / s

    shown = "mean " + ",".join(f"{v:g}" for v in m) + " std " + ",".join(f"{v:g}" for v in s)
    name = "torch" if (m.size, s.size) == (3, 3) and np.allclose(m, IMAGENET_MEAN) and \
        np.allclose(s, IMAGENET_STD) else f"RGB 0..1, {shown}"
    return Preprocessing(name, why, transform, note)


# -- auto: what the model says about its own input -------------------------------------------

def _is_model(op) -> bool:
    import keras

    return isinstance(op, keras.Model)


def _front(model, path: str = "") -> Iterator[tuple[str, object]]:
    """(path, operation) in order, through nested models, up to the first convolution."""
    import keras

    for op in children(model):
        if isinstance(op, keras.layers.InputLayer):
            continue
        name = f"{path}{op.name}"
        if _is_model(op):
            yield name, op
            for item in _front(op, f"{name}/"):
                yield item
                if _is_conv(item[1]):
                    return
            continue
        yield name, op
        if _is_conv(op):
            return


def _is_conv(op) -> bool:
    """A convolution, or a layer (not a model: those are walked into) holding one, as Keras
    Hub's ViTPatchingAndEmbedding holds its patch embedding: the input is features after it."""
    import keras

    kinds = (keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D
             | keras.layers.DepthwiseConv2D | keras.layers.SeparableConv2D)
    if isinstance(op, kinds):
        return True
    return (isinstance(op, keras.layers.Layer) and not isinstance(op, keras.Model)
            and any(isinstance(inner, kinds) for inner in op._flatten_layers(include_self=False)))


#: Keras ops that, at the front of a graph, can only be input scaling.
_SCALING_OPS = {"TrueDivide", "Divide", "Subtract", "Multiply", "Add", "Cast"}


def base_family(model) -> str | None:
    """The keras.applications family a (nested) model was built by, from its name. Only a
    plain Keras functional model can be one: keras.applications builds nothing else, while
    another library's model class (Keras Hub's ``XceptionBackbone``, named
    ``xception_backbone``, has no preprocess_input of keras.applications') only shares the
    name."""
    import re

    if type(model).__module__.split(".")[0] != "keras":
        return None
    name = model.name.lower().replace("-", "_")
    return next((fam for pattern, fam in _BASE_FAMILIES if re.match(pattern, name)), None)


#: A Normalization mean (largest magnitude over channels) below this was adapted on 0..1
#: data: images in 0..255 have channel means of 50..200.
UNIT_MEAN_LIMIT = 2.0


def _numbers(value) -> np.ndarray | None:
    """A layer's statistic (tensor, variable, list or number) as a float array, or None."""
    if value is None:
        return None
    try:
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value,
                          dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None


def _fmt(values: np.ndarray) -> str:
    shown = ", ".join(f"{v:.3g}" for v in values[:3])
    return shown + (", …" if values.size > 3 else "")


def expected_range(op) -> tuple[str, str] | None:
    """What a Rescaling or Normalization layer's own numbers say it is fed: ("raw" | "unit",
    what was read), or None when they say nothing (a Rescaling(1.0), unknown statistics)."""
    import keras

    if isinstance(op, keras.layers.Normalization):
        mean = _numbers(getattr(op, "mean", None))
        var = _numbers(getattr(op, "variance", None))
        if mean is None or mean.size == 0:
            return None
        read = f"mean {_fmt(mean)}" + (f", variance {_fmt(var)}" if var is not None else "")
        if float(np.max(np.abs(mean))) < UNIT_MEAN_LIMIT:
            return "unit", f"adapted on 0..1 data ({read})"
        return "raw", f"adapted on 0..255 data ({read})"
    if isinstance(op, keras.layers.Rescaling):
        scale, offset = _numbers(op.scale), _numbers(op.offset)
        if scale is None or scale.size == 0:
            return None
        s = float(np.max(np.abs(scale)))
        o = 0.0 if offset is None or offset.size == 0 else float(np.max(np.abs(offset)))
        read = f"scale {_fmt(scale)}, offset {_fmt(offset if offset is not None else np.zeros(1))}"
        if s * 255.0 <= 10.0:
            return "raw", f"{read}: 0..255 in, a small range out"
        if 0.5 <= s <= 10.0 and not (s == 1.0 and o == 0.0):
            return "unit", f"{read}: 0..1 in (0..255 would come out {255 * s:.0f} wide)"
    return None


def decide(model, channels: int = 3, title: str = "the model") -> Preprocessing:
    """`auto`: the preprocessing `model` says it takes, or a guess with a note saying so."""
    import keras

    front, base, verdict, scaled = [], None, None, False
    for name, op in _front(model):
        if _is_conv(op):
            break
        if _is_model(op):
            base = base or (name, base_family(op))
            continue
        if isinstance(op, keras.layers.Rescaling | keras.layers.Normalization):
            said = expected_range(op)
            if said is not None and not scaled:  # the first scaling sees the frame itself
                verdict = (said[0], f"{type(op).__name__} layer {name!r} {said[1]}")
            scaled = True
            front.append(f"{type(op).__name__} layer {name!r}"
                         + (f" ({said[1]})" if said is not None else ""))
        elif type(op).__name__ in _SCALING_OPS:
            scaled = scaled or type(op).__name__ != "Cast"
            front.append(f"{type(op).__name__.lower()} op {name!r}")
    if verdict is not None and verdict[0] == "unit":
        return named("unit", channels, why=f"the model's first scaling layer expects RGB 0..1: "
                     f"{verdict[1]}")
    if front:
        where = f" (keras.applications {base[1]} base {base[0]!r})" if base and base[1] else ""
        return named("raw", channels, why=f"the model scales its own input{where}: "
                     f"{', '.join(front[:3])} before the first convolution")
    if base and base[1] and channels == 3:
        note = (f"{title}: no preprocessing inside the model; its base {base[0]!r} is "
                f"keras.applications {base[1]}, so camview feeds {base[1]}.preprocess_input "
                "(--preprocess to change)")
        return _with_note(named(base[1], channels, why=f"base {base[0]!r} is keras.applications "
                                f"{base[1]}, which expects its own preprocess_input"), note)
    note = (f"{title}: cannot tell how the model was trained to be fed; camview feeds "
            f"{CHANNELS.get(channels, 'RGB')} 0..1 (--preprocess raw, tf, caffe, torch or a "
            "keras.applications family to change)")
    return _with_note(named("unit", channels, why="nothing in the model says how its input "
                            "is scaled: camview's default"), note)


def _with_note(chosen: Preprocessing, note: str) -> Preprocessing:
    return Preprocessing(chosen.name, chosen.why, chosen.transform, note)


def choose(mode: str | None, model, channels: int, title: str) -> Preprocessing:
    """--preprocess MODE for a user model: `auto` (or None) reads the model, logging a guess
    once; anything else is taken as said."""
    if mode is None or mode.lower() == AUTO:
        chosen = decide(model, channels, title)
        if chosen.note:
            log.info("%s", chosen.note)
        return chosen
    return named(mode, channels)
