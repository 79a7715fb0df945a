"""One interface over every network camview can explain.

A `CamModel` wraps a Keras model whose output is the pre-softmax class scores. At load time it
finds the layer maps are read from (the last spatial activation before global pooling, or one
the user names) and what the head after it is:

- ``direct``: the read layer's channels ARE the classes and global average pooling gives the
  scores (SqueezeNet's ``relu_conv10``); CAM of class c is channel c;
- ``fc``: global average pooling then one dense layer (MobileNetV2, ResNet, EfficientNet...);
  CAM of class c is the read layer weighted by row c of that dense layer;
- ``gradient-only``: anything else (VGG16's stack of dense layers); only gradient methods apply.

A vision transformer's read layer is the normalised tokens entering its last block, folded
into the patch grid (camview.models.transformer); its `transformer` says what was read.

One compiled call returns both the read layer's activations and the scores, so CAM never
needs a second pass. That call is the model's forward runtime (camview.models.runtimes):
TensorFlow, or the same graph in OpenVINO (`use_runtime`).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from camview.errors import ModelError
from camview.labels import ClassNames, class_names_for, find_class
from camview.models.head import analyse_head, class_count
from camview.models.preprocess import CHANNELS
from camview.models.runtimes import (
    TENSORFLOW,
    Forward,
    Say,
    TensorFlowForward,
    check_runtime,
    choose_forward,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def keras_warnings_summarised(what: str) -> Iterator[None]:
    """Keras warns once per layer it cannot load (a hundred multi-line warnings for a wrong
    weights file); the user gets the error, or one line saying how many there were."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if caught:
        first = (str(caught[0].message).strip().splitlines() or [""])[0][:200]
        more = f" (and {len(caught) - 1} more)" if len(caught) > 1 else ""
        log.warning("%s: %s%s", what, first, more)


#: A frame squashed by more than this factor in its aspect ratio is said to be (render).
SQUASH_WARN_ASPECT = 4.0


class ResizeMode(str, enum.Enum):
    """How a frame becomes the network input.

    ``squash`` resizes to exactly the input size (the aspect ratio is lost);
    ``shorter`` resizes the shorter side to the input size and keeps the aspect ratio, no
    crop, as the reference program does for fully convolutional nets: a 16:9 webcam frame
    keeps its whole width and the map covers all of it.
    ``crop`` cuts the frame's centre at the input's shape, CROP_FRACTION of the most that
    fits, and resizes it to the input size: how timm evaluates a ViT (resize the shorter
    side to input / 0.875, then crop the input size from the centre). The map covers that
    centre only and is drawn there on the frame (`map_box`).
    """

    SQUASH = "squash"
    SHORTER = "shorter"
    CROP = "crop"


#: The share of the frame a ``crop`` keeps: timm's default crop_pct (224 of 256).
CROP_FRACTION = 0.875


def crop_box(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) in frame pixels of the centre region ``crop`` feeds: the
    input's shape, CROP_FRACTION of the largest such region in the frame."""
    fh, fw = frame_hw
    ih, iw = input_hw
    scale = min(fh / ih, fw / iw) * CROP_FRACTION
    bh, bw = max(1, round(ih * scale)), max(1, round(iw * scale))
    top, left = (fh - bh) // 2, (fw - bw) // 2
    return top, left, top + bh, left + bw


Preprocess = Callable[[np.ndarray], np.ndarray]
"""Turns a resized uint8 image in the model's colour (BGR (h, w, 3), or grey (h, w, 1) for a
one-channel model) into the network's float32 input; `Preprocessing` names one."""


def default_resize(fixed_input: bool) -> ResizeMode:
    """A net that takes any frame shape keeps the frame's aspect ratio, like the reference
    program; one with a dense top sized for its square input (keras.applications) squashes."""
    return ResizeMode.SQUASH if fixed_input else ResizeMode.SHORTER


def softmax(logits: np.ndarray) -> np.ndarray:
    # A broken model's NaN/Inf scores give NaN probabilities, reported rather than warned.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        z = logits.astype(np.float64) - np.max(logits)
        e = np.exp(z)
        return (e / e.sum()).astype(np.float32)


#: In ``shorter`` mode the long side is at most this many times the short one. A strip of
#: pixels (a 1x400 image, a 10000x50 scan) would otherwise become a network input hundreds of
#: times the usual size, minutes of work or more memory than the machine has; past this
#: ratio the frame is squashed, and the map still covers all of it.
MAX_ASPECT = 4.0


def resized_input_size(frame_hw: tuple[int, int], input_hw: tuple[int, int],
                       mode: ResizeMode) -> tuple[int, int]:
    """The (h, w) a frame of size frame_hw is resized to before it enters the network."""
    if mode in (ResizeMode.SQUASH, ResizeMode.CROP):
        return input_hw
    h, w = frame_hw
    side = min(input_hw)
    longest = round(side * MAX_ASPECT)
    if h <= w:
        return side, min(longest, max(1, round(w * side / h)))
    return min(longest, max(1, round(h * side / w))), side


class CamModel:
    """A classifier plus what is needed to draw its class activation maps.

    Args:
        name: what the user typed to get this model (shown in the window and the JSON).
        keras_model: input (1, h, w, 1 or 3) preprocessed float32 -> scores (1, classes), or
            one binary score (1, 1) shown as two classes (camview.models.head).
        labels: one name per class, in output order.
        input_size: (h, w) of the network input (the shorter side, in ``shorter`` mode).
        resize: default way frames are resized to the input.
        preprocess: resized BGR (or grey) uint8 -> network float32 input; a `Preprocessing`
            also says its name, why it was chosen and, when it is a guess, a note.
        read_layer: name of the layer maps are read from; None finds it.
        fixed_input: True when the network only takes exactly ``input_size`` (a flatten or
            a dense head sized for it), so ``shorter`` is refused.
    """

    #: Whether TensorFlow can differentiate this model (a Keras graph). A model run only by
    #: OpenVINO (an ONNX file, camview.models.onnx_model) cannot: it serves the methods that
    #: need forward passes alone (Method.forward_only).
    can_backward = True
    #: What was read of a vision transformer (camview.models.transformer), None for a CNN or
    #: a model that is not a Keras graph.
    transformer = None
    _final = None

    def __init__(
        self,
        name: str,
        keras_model,
        *,
        labels: Sequence[str],
        input_size: tuple[int, int],
        resize: ResizeMode,
        preprocess: Preprocess,
        read_layer: str | None = None,
        fixed_input: bool = False,
        source: str = "",
        labels_source: str = "",
    ) -> None:
        import tensorflow as tf

        self._init_common(name, labels, input_size, resize, preprocess, fixed_input, source,
                          labels_source)
        self.keras_model = keras_model
        self.channels = input_channels(keras_model, name)
        head = analyse_head(keras_model, read_layer, title=name)
        self.read_layer = head.read_layer
        self.default_layer = head.default_layer  # found from the graph; CAM reads only it
        self.head = head.kind
        self.binary = int(keras_model.outputs[0].shape[-1]) == 1  # shown as two classes
        self.dense = head.dense  # an fc head's weights, read live (DenseWeights), else None
        self.norm_head = head.norm_head  # a norm-fc head's layers (KerasNormHead), else None
        self.transformer = head.transformer  # a vision transformer's tokens and blocks, or None
        self._final = head.final
        self.feature_model = head.feature_model  # input -> [read activations, scores]
        self._check_outputs(int(self.feature_model.outputs[1].shape[-1]))
        h, w = (None, None) if not fixed_input else self.input_size
        self.input_spec = tf.TensorSpec([1, h, w, self.channels], tf.float32)
        self._feature_models = {self.read_layer: self.feature_model}

    @staticmethod
    def classes_of(network) -> int:
        """How many classes a loaded network shows (its format's loader returned it)."""
        return class_count(network)

    def _init_common(self, name: str, labels: Sequence[str], input_size: tuple[int, int],
                     resize: ResizeMode, preprocess: Preprocess, fixed_input: bool,
                     source: str, labels_source: str) -> None:
        """What every CamModel has, whatever runs its network."""
        self.name = name
        self.labels = list(labels)
        self.input_size = tuple(input_size)
        self.fixed_input = fixed_input
        self.resize = ResizeMode(resize)
        if fixed_input and self.resize is ResizeMode.SHORTER:
            raise ModelError(f"{name}: takes only {input_size[1]}x{input_size[0]} input "
                             "(a dense head or a vision transformer's position embeddings "
                             "sized for it); use --resize squash or crop")
        self.preprocess = preprocess
        self.preprocess_name = getattr(preprocess, "name", "custom")
        self.preprocess_why = getattr(preprocess, "why", "given by the caller")
        self.preprocess_note: str | None = getattr(preprocess, "note", None)  # a guess, said
        self.source = source
        self.labels_source = labels_source
        self.compiled: dict = {}  # compiled map functions, built once per method and layer
        self._forward: Forward | None = None  # TensorFlow until use_runtime says otherwise
        self._runtimes: dict[str, tuple[Forward, str | None]] = {}
        self.runtime_requested = TENSORFLOW
        self.runtime_note: str | None = None  # why auto fell back to TensorFlow
        self.runtime_race_ms: dict[str, float] | None = None  # auto's timing, when it timed

    def _check_outputs(self, n_out: int) -> None:
        if len(self.labels) != n_out:
            raise ModelError(f"{self.name}: the model has {n_out} outputs but "
                             f"{len(self.labels)} labels were given")

    @property
    def runtime_head(self) -> tuple:
        """(dense, norm_head) as the forward runtime computes them: read live from the Keras
        layers on TensorFlow; on another runtime, which compiled the weights in when it
        converted the model (OpenVINO), numpy copies read once, so a map of its forward
        pass runs no TensorFlow op (a read of the kernel before each OpenVINO call cost
        0.6-1 ms of a 5 ms forward pass, measured with EfficientNet-Lite0)."""
        if self.runtime.name == TENSORFLOW:
            return self.dense, self.norm_head
        return self._frozen_head

    @cached_property
    def _frozen_head(self) -> tuple:
        return tuple(None if part is None else part.frozen()
                     for part in (self.dense, self.norm_head))

    @property
    def fc_weights(self) -> np.ndarray | None:
        """An fc head's weights now, (k, classes); None for other heads."""
        return None if self.dense is None else self.dense.numpy()

    # -- forward runtime ---------------------------------------------------------------
    @cached_property
    def tensorflow_forward(self) -> TensorFlowForward:
        """The feature model as one compiled TensorFlow call of any batch size."""
        return TensorFlowForward(self)

    @property
    def runtime(self) -> Forward:
        """The forward pass the maps that need no backward use (see forward)."""
        return self._forward or self.tensorflow_forward

    def use_runtime(self, requested: str, say: Say | None = None) -> Forward:
        """Run forward passes with `requested` (auto, tensorflow, openvino; see
        camview.models.runtimes). Each choice is made once per model, so switching back is
        instant; an explicit openvino that cannot be had raises ModelError."""
        forward = self.runtime_for(requested, say)
        self._forward, self.runtime_note = self._runtimes[check_runtime(requested)]
        self.runtime_requested = check_runtime(requested)
        return forward

    def runtime_for(self, requested: str, say: Say | None = None) -> Forward:
        """The runtime use_runtime(requested) would switch to, chosen (converted, checked)
        now but not switched to: a caller can warm it up first."""
        requested = check_runtime(requested)
        if requested not in self._runtimes:
            self._runtimes[requested] = choose_forward(self, requested, say)
        return self._runtimes[requested][0]

    def runtime_ready(self, requested: str) -> bool:
        """Whether use_runtime(requested) is instant: chosen before (or plain TensorFlow)."""
        return requested in self._runtimes or requested == TENSORFLOW

    def forward(self, batch: np.ndarray, borrow: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
        """(read layer's activations (n, h, w, k), scores (n, classes)) of prepared inputs
        (n, h, w, channels), any n, in one call of the model's runtime (`borrow`: see
        camview.models.runtimes.Forward)."""
        return self.runtime(batch, borrow)

    def forward_of(self, layer: str) -> Forward:
        """The forward pass giving `layer`'s activations beside the scores: the model's
        runtime at its read layer; another layer's, for a model without TensorFlow's graph
        (an ONNX file), compiled by OpenVINO with that tensor as its output once per layer
        (shared with the layer outputs view). A Keras model maps another layer through
        features_at instead."""
        if layer == self.read_layer:
            return self.runtime
        return self.compiled_once(("layer outputs", layer), lambda: self.forward_at(layer))

    def forward_at(self, layer: str) -> Forward:
        raise ModelError(f"{self.name}: another layer's forward pass is TensorFlow's "
                         "(features_at)")

    def head_scores(self, features: np.ndarray) -> np.ndarray:
        """Pre-softmax class scores (n, classes) of read-layer activations (n, h, w, k), the
        network before the read layer skipped: what Recipro-CAM asks about its masked copies.

        A `direct` or `fc` head is computed in numpy from the weights as they are now and
        takes maps of any size (a 1x1 map is an already pooled copy: camview.maps.reciprocam
        passes such copies); any other head runs the Keras layers after the read layer, cut
        out once as one compiled call (camview.models.head_run). Another kind of model (an
        ONNX graph) gives the same contract: the scores its `forward` would give for these
        activations, in the same class order."""
        from camview.models.head_run import POOLED_HEADS, compile_head, pooled_head_scores

        if self.head in POOLED_HEADS:
            return pooled_head_scores(self.head, self.runtime_head[0], features)
        run = self.compiled_once(("head", self.read_layer),
                                 lambda: compile_head(self.feature_model, self.name,
                                                      self.read_layer))
        return run(np.ascontiguousarray(features, dtype=np.float32)).numpy()

    def compiled_once(self, key: tuple, build: Callable[[], Any]) -> Any:
        """The compiled function kept under `key`, built by `build()` the first time: tracing
        takes a second or more, so every method, layer and batched call is traced once per
        model."""
        if key not in self.compiled:
            self.compiled[key] = build()
        return self.compiled[key]

    def features_at(self, layer: str):
        """input -> [activations of `layer`, scores], for maps read at another layer."""
        if layer not in self._feature_models:
            head = analyse_head(self.keras_model, layer, title=self.name)
            self._feature_models[layer] = head.feature_model
        return self._feature_models[layer]

    def spatial_layers(self) -> list:
        """Every layer with a spatial output, in order: what --layer takes
        (camview.models.graph.LayerInfo: path, (h, w, c) with None for any size)."""
        from camview.models.graph import spatial_layers

        return spatial_layers(self.keras_model)

    @cached_property
    def attention_pass(self):
        """x -> [scores, each block's attention probabilities (n, heads, N, N)...] of a
        vision transformer, TF ops (camview.models.transformer.attention_pass); ModelError
        for a model without attention over its tokens."""
        from camview.models.transformer import attention_pass

        if self.transformer is None:
            raise ModelError(f"{self.name} has no attention layers: rollout maps vision "
                             "transformers")
        return attention_pass(self.keras_model, self.transformer, self._final, self.binary)

    # -- input -------------------------------------------------------------------------
    def network_size(self, frame_hw: tuple[int, int]) -> tuple[int, int]:
        return resized_input_size(frame_hw, self.input_size, self.resize)

    def map_box(self, frame_hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """The region of a frame of this size the map covers, (top, left, bottom, right) in
        frame pixels, in ``crop`` mode; None when it covers the whole frame."""
        return crop_box(frame_hw, self.input_size) if self.resize is ResizeMode.CROP else None

    def distortion(self, frame_hw: tuple[int, int]) -> str | None:
        """Why a frame of this size makes a distorted input, or None: squashed to the input
        size, a frame more than SQUASH_WARN_ASPECT times wider than tall (or taller than
        wide) than the input is maps a picture the network never saw."""
        if self.resize is ResizeMode.CROP:
            return None  # cut at the input's shape: nothing is squashed
        h, w = frame_hw
        nh, nw = self.network_size(frame_hw)
        stretch = (w / h) / (nw / nh)
        if max(stretch, 1 / stretch) <= SQUASH_WARN_ASPECT:
            return None
        return (f"a {w}x{h} frame is squashed to the model's {nw}x{nh} input ({stretch:.1f}x "
                "its shape): the map is of a distorted picture (--resize shorter keeps the "
                "shape where the model takes any size)")

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        """A BGR uint8 frame of any size -> the (1, h, w, channels) float32 network input: the
        frame in grayscale for a one-channel model. The overlay is still drawn on the colour
        frame.

        Any other image array (grey, 16-bit, float, with alpha) is first converted as sources
        convert it (`to_bgr8`, a no-op for BGR uint8); one that cannot be an image raises
        SourceError.
        """
        x = self.preprocess(self.resized(frame_bgr))
        return np.ascontiguousarray(x[None], dtype=np.float32)

    def resized(self, frame_bgr: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """A frame resized to `size` (h, w; default network_size) in the model's channels, still
        uint8: what preprocess takes. Batched callers (camview evaluate) pick their own size."""
        from camview.sources.images import to_bgr8

        frame_bgr = to_bgr8(frame_bgr)
        if self.resize is ResizeMode.CROP:
            top, left, bottom, right = crop_box(frame_bgr.shape[:2], self.input_size)
            frame_bgr = frame_bgr[top:bottom, left:right]
        h, w = size or self.network_size(frame_bgr.shape[:2])
        # INTER_AREA averages when shrinking (no aliasing), bilinear when enlarging.
        shrinking = h * w < frame_bgr.shape[0] * frame_bgr.shape[1]
        interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        resized = cv2.resize(frame_bgr, (w, h), interpolation=interp)
        if self.channels == 1:
            resized = cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY)[..., None]
        return resized

    # -- labels ------------------------------------------------------------------------
    @property
    def labels_named(self) -> bool:
        """Whether the class names come from somewhere (a labels file, ImageNet's), not
        camview's placeholders ("class 0", "negative")."""
        return not self.labels_source.startswith(DEFAULT_NAMES)

    def name_classes(self, labels: Sequence[str], source: str) -> None:
        """Give the classes names found elsewhere (a set's class folders), one per output."""
        if len(labels) != len(self.labels):
            raise ModelError(f"{self.name}: {len(labels)} names for {len(self.labels)} classes")
        self.labels, self.labels_source = list(labels), source
        self.__dict__.pop("class_names", None)  # the cached lookup of the old names

    def short_label(self, index: int) -> str:
        return short_label(self.labels[index])

    @cached_property
    def class_names(self) -> ClassNames:
        """The labels by every name a user may type for them (built once, on first use)."""
        return class_names_for(self.labels)

    def find_class(self, query: str | int) -> int:
        """A class index from an index, a label or any of its synonyms (case-insensitive,
        '_' for a space), or an ImageNet class's WordNet id."""
        return find_class(self.class_names, query, self.name)

    def describe(self) -> str:
        h, w = self.input_size
        grey = ", grayscale" if self.channels == 1 else ""
        # "input 224x224 (shorter)" read as the size fed, which a 4:3 frame is not (224x299).
        size = {ResizeMode.SHORTER: f"shorter side {min(h, w)}, aspect kept",
                ResizeMode.CROP: f"{w}x{h}, centre crop ({CROP_FRACTION:g} of the frame)"}.get(
            self.resize, f"{w}x{h}, squashed")
        return (f"{self.name}: {len(self.labels)} classes, input {size}{grey}, "
                f"preprocess {self.preprocess_name}, maps from "
                f"{self.read_layer!r}, head {self.head.value}, runtime "
                f"{self.runtime.describe()}")


#: How labels_source starts when camview made the names up (no --labels, not ImageNet).
DEFAULT_NAMES = "default names"


def input_channels(keras_model, title: str) -> int:
    """The channel count of the model's one image input: 1 (fed grayscale) or 3 (RGB)."""
    shape = tuple(keras_model.inputs[0].shape)
    if len(shape) != 4:
        raise ModelError(not_an_image(title, shape, keras_model.inputs[0].dtype))
    channels = shape[-1]
    if channels not in CHANNELS:
        raise ModelError(f"{title}: its input has {channels} channels; a frame gives 1 "
                         "(grayscale) or 3 (RGB)")
    return int(channels)


def not_an_image(title: str, shape: tuple, dtype: str = "float32") -> str:
    """One line for a model whose input is not an image batch; a text or audio
    transformer's input, (batch, tokens) of integer ids or (batch, time, features), is said
    to be that."""
    shown = tuple(shape)
    if len(shown) == 3 or (len(shown) == 2 and "int" in str(dtype)):
        kind = "token ids (text)" if len(shown) == 2 else "a sequence (text or audio frames)"
        return (f"{title}: its input has shape {shown}, {kind}, not an image: camview "
                "explains image classifiers, whose input is (batch, height, width, channels)")
    return (f"{title}: its input has shape {shown}, not an image batch; camview needs one "
            "image input (batch, height, width, channels)")


def short_label(label: str) -> str:
    """'tabby, tabby cat' -> 'tabby': the display name of a WordNet-style label."""
    return label.split(",")[0].strip()
