"""Activation maximisation: a picture grown by gradient ascent to excite one class or channel.

The image is optimised in pixel space (0..255, the model's colour order) and fed through the
model's own preprocessing, so what is written is exactly what the network was asked about.
Left alone, gradient ascent gives adversarial noise; the regularisers that make the result
look like something are the usual ones: a random jitter and a small random scaling every step
(the picture must excite the class wherever it sits), a Gaussian blur every few steps, and a
pyramid of octaves, as MATLAB's ``deepDreamImage`` does (coarse structure first at a small
size, then detail at each larger one). The score is the class logit, not its softmax: the
softmax is raised as easily by pushing the other classes down as by painting this one.

One compiled step (forward, gradient, update) is traced once per model and objective.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from camview.errors import ModelError
from camview.maps.base import Cancelled, Progress
from camview.models.base import CamModel, softmax
from camview.network.pixels import pixel_affine

DEFAULT_STEPS = 200
DEFAULT_SIZE = 224
OCTAVES = 3  # pyramid levels, the smallest OCTAVE_SCALE ** -(OCTAVES - 1) of the final size
OCTAVE_SCALE = 1.4
STEP_PIXELS = 8.0  # mean absolute change of a pixel per step at the start of an octave (0..255)
JITTER = 0.05  # the image is shifted by up to this fraction of its side before each step
SCALING = 0.08  # the image is scaled by 1 ± this, at most, before each step
BLUR_EVERY = 4  # steps between Gaussian blurs
BLUR_SIGMA = 0.5  # pixels
NOISE = 8.0  # standard deviation of the starting noise around mid-grey


@dataclass(frozen=True)
class Objective:
    """What is maximised: a class logit, or the mean of one channel of a layer."""

    target: int | None = None  # class index
    layer: str | None = None
    channel: int | None = None

    def describe(self, model: CamModel) -> str:
        if self.layer is not None:
            return f"channel {self.channel} of {self.layer}"
        return f"class {self.target} ({model.short_label(self.target)})"


@dataclass(frozen=True)
class DreamResult:
    image: np.ndarray  # BGR (or grey) uint8, the picture as it is written
    objective: Objective
    steps: int
    seconds: float
    score: float  # the objective on the final 8-bit picture (logit or mean activation)


def class_objective(model: CamModel, target: str | int) -> Objective:
    """The objective for a class given as --target gives it (index, label or synonym)."""
    return Objective(target=model.find_class(target))


def channel_objective(model: CamModel, layer: str, channel: int) -> Objective:
    """One channel of `layer` (a path `camview inspect` lists); ModelError when out of range."""
    path = model.features_at(layer).outputs[0]
    count = int(path.shape[-1])
    if not 0 <= int(channel) < count:
        raise ModelError(f"--channel {channel} is out of range: {layer} has {count} channels "
                         f"(0..{count - 1})")
    return Objective(layer=layer, channel=int(channel))


def _compile_step(model: CamModel, objective: Objective):
    """The traced step: (image, size fed (h, w), class or channel, step size) -> (new image,
    score)."""
    import tensorflow as tf

    a, b = (tf.constant(v) for v in pixel_affine(model))
    feature_model = (model.features_at(objective.layer) if objective.layer is not None
                     else model.feature_model)
    by_channel = objective.layer is not None
    c = model.channels

    @tf.function(input_signature=[tf.TensorSpec([None, None, c], tf.float32),
                                  tf.TensorSpec([2], tf.int32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.float32)])
    def step(image, fed, index, size):
        with tf.GradientTape() as tape:
            tape.watch(image)
            # Scaled by 1 ± SCALING and shifted by up to JITTER of the side, at the size fed.
            scale = tf.random.uniform([], 1.0 - SCALING, 1.0 + SCALING)
            scaled = tf.cast(tf.round(tf.cast(fed, tf.float32) * scale), tf.int32)
            x = tf.image.resize(image[None], scaled)
            shift = tf.maximum(1, tf.cast(tf.cast(tf.reduce_min(fed), tf.float32) * JITTER,
                                          tf.int32))
            x = tf.roll(x, tf.random.uniform([2], -shift, shift + 1, tf.int32), [1, 2])
            x = tf.image.resize_with_crop_or_pad(x, fed[0], fed[1])
            x = tf.tensordot(x, a, 1) + b
            features, scores = feature_model(x, training=False)
            score = (tf.reduce_mean(features[0, :, :, index]) if by_channel
                     else scores[0, index])
        grad = tape.gradient(score, image)
        grad = grad / (tf.reduce_mean(tf.abs(grad)) + 1e-8)
        return tf.clip_by_value(image + size * grad, 0.0, 255.0), score

    return step


def octave_sizes(size: int, octaves: int = OCTAVES) -> list[int]:
    """The pyramid's sides, smallest first, ending at `size`."""
    return [max(16, round(size / OCTAVE_SCALE ** k)) for k in range(octaves - 1, -1, -1)]


def check_settings(steps: int, size: int) -> None:
    """--steps and --size, refused in one line before any model is loaded."""
    if int(steps) != steps or steps < 1:
        raise ModelError(f"--steps must be a whole number >= 1, not {steps}")
    if int(size) != size or not 32 <= size <= 1024:
        raise ModelError(f"--size must be a whole number of pixels in 32..1024, not {size}")


def dream(model: CamModel, objective: Objective, *, steps: int = DEFAULT_STEPS,
          size: int = DEFAULT_SIZE, seed: int = 0, progress: Progress | None = None,
          cancel: threading.Event | None = None) -> DreamResult:
    """Grow a `size` x `size` picture that maximises `objective` in `steps` steps in all.

    `progress(done, steps)` is called after each step; `cancel` set stops within one step
    (Cancelled), leaving nothing half-done behind.
    """
    check_settings(steps, size)
    key = ("dream step", objective.layer)
    step = model.compiled_once(key, lambda: _compile_step(model, objective))
    import tensorflow as tf

    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    index = np.int32(objective.channel if objective.layer is not None else objective.target)
    sides = octave_sizes(int(size))
    per_octave = [steps // len(sides) + (1 if k < steps % len(sides) else 0)
                  for k in range(len(sides))]
    start = time.perf_counter()
    image = np.clip(128.0 + rng.normal(0.0, NOISE, (sides[0], sides[0], model.channels)),
                    0, 255).astype(np.float32)
    done = 0
    final = np.array(model.network_size((int(size), int(size))), np.int32)
    for side, count in zip(sides, per_octave, strict=True):
        # What camview feeds for the final picture, and each octave at its share of that
        # (a fixed-size net is always fed its size).
        fed = final if model.fixed_input else np.maximum(
            16, np.rint(final * side / int(size))).astype(np.int32)
        image = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC)
        image = image.reshape(side, side, model.channels)
        tensor = tf.constant(image)
        for k in range(count):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            # The step shrinks over each octave: large strokes first, then refinement.
            tensor, _ = step(tensor, fed, index,
                             np.float32(STEP_PIXELS * (1.0 - 0.75 * k / count)))
            if k % BLUR_EVERY == BLUR_EVERY - 1:
                blurred = cv2.GaussianBlur(tensor.numpy(), (0, 0), BLUR_SIGMA)
                tensor = tf.constant(blurred.reshape(side, side, model.channels))
            done += 1
            if progress is not None:
                progress(done, steps)
        image = tensor.numpy()
    picture = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    seconds = time.perf_counter() - start
    return DreamResult(picture, objective, int(steps), seconds,
                       objective_score(model, objective, picture))


def objective_score(model: CamModel, objective: Objective, picture: np.ndarray) -> float:
    """The objective's value for an 8-bit picture, fed as any frame is (model.prepare)."""
    batch = model.prepare(_as_bgr(picture))
    if objective.layer is None:
        return float(np.asarray(model.feature_model(batch, training=False)[1])[0,
                                                                               objective.target])
    features = np.asarray(model.features_at(objective.layer)(batch, training=False)[0])
    return float(features[0, :, :, objective.channel].mean())


def class_probabilities(model: CamModel, picture: np.ndarray) -> np.ndarray:
    """The softmax of the model's scores for an 8-bit picture read back from disk."""
    batch = model.prepare(_as_bgr(picture))
    return softmax(np.asarray(model.feature_model(batch, training=False)[1])[0])


def _as_bgr(picture: np.ndarray) -> np.ndarray:
    """A grey (h, w, 1) picture of a one-channel model as BGR, the way frames arrive."""
    if picture.ndim == 3 and picture.shape[2] == 1:
        return cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
    return picture
