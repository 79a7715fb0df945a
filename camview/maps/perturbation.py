"""On-demand maps that ask the network about many altered copies of the input: Score-CAM,
occlusion and RISE. Too slow for every live frame on a CPU (a second or more each), so they
are for the frozen frame and for render, with progress and cancel.

Both go through :class:`BatchedForward`: one compiled call over a batch of any size (the
live calls are compiled for batch 1), fed in chunks that are built only when needed, so
memory stays at one chunk whatever the number of copies.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

import cv2
import numpy as np

from camview.maps.base import Cancelled, MapResult, Method, Progress
from camview.maps.options import MethodOption
from camview.maps.read_pass import pick_class
from camview.models.base import CamModel, softmax
from camview.models.runtimes import TENSORFLOW

#: Copies per batched call: large enough to amortise a call, small enough for memory and for
#: progress and cancel to answer within a fraction of a second.
CHUNK = 16


class BatchedForward:
    """Target-class probabilities of many inputs, in compiled batched calls of CHUNK.

    Built once per model (cached on it) as a tf.function over model.feature_model with a
    batch dimension of None; with another runtime (OpenVINO) the model's own forward pass,
    which takes any batch too.
    """

    def __init__(self, model: CamModel) -> None:
        self.model = model
        self._run = (model.compiled_once(("batched forward",), lambda: self._compile(model))
                     if model.can_backward else None)

    def _probabilities(self, batch: np.ndarray, target: int | None) -> np.ndarray:
        """Class `target`'s probability for each input (None: every class's, one row per
        input), through the model's runtime."""
        if self.model.runtime.name == TENSORFLOW:
            probs = self._run(batch).numpy()
        else:
            _, scores = self.model.forward(batch, borrow=True)  # new arrays below
            probs = np.stack([softmax(row) for row in scores]).astype(np.float32)
        return probs if target is None else probs[:, target]

    @staticmethod
    def _compile(model: CamModel):
        import tensorflow as tf

        feature_model = model.feature_model
        spec = tf.TensorSpec([None, *model.input_spec.shape[1:]], tf.float32)

        # Every class's probability: a (batch, classes) copy is nothing beside the pass, and
        # one input's masked probabilities then serve any class (RISE).
        @tf.function(input_signature=[spec], reduce_retracing=True)
        def run(x):
            _, logits = feature_model(x, training=False)
            return tf.nn.softmax(logits, axis=-1)

        return run

    def probabilities(self, make: Callable[[int, int], np.ndarray], count: int,
                      target: int | None, progress: Progress | None = None,
                      cancel: threading.Event | None = None) -> np.ndarray:
        """(count,) probabilities of class `target` for inputs make(start, stop) (a batch of
        stop - start prepared inputs), CHUNK at a time; target None: (count, classes), every
        class's. Raises Cancelled when `cancel` is set between two calls; calls
        progress(done, count) after each."""
        out: np.ndarray | None = None
        for start in range(0, count, CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"stopped after {start} of {count} forward passes")
            stop = min(start + CHUNK, count)
            batch = np.ascontiguousarray(make(start, stop), dtype=np.float32)
            probs = self._probabilities(batch, target)
            if out is None:
                out = np.empty((count, *probs.shape[1:]), np.float32)
            out[start:stop] = probs
            if progress is not None:
                progress(stop, count)
        return np.empty(0, np.float32) if out is None else out


class PerturbationMethod(Method):
    """A method that perturbs the input many times; `_perturb` says how and what it gives.

    The compiled batch-1 call here is one forward pass giving the read layer's activations
    and the scores of the unaltered input; the perturbed copies go through BatchedForward.
    """

    live = False

    def __init__(self, model: CamModel, layer: str | None = None, **options: object) -> None:
        super().__init__(model, layer, **options)
        self.forward = BatchedForward(model)

    def _map(self, feature_model, x, target):
        features, logits = feature_model(x, training=False)
        return features[0], logits[0], pick_class(logits[0], target)

    def runs_on_forward_runtime(self) -> bool:
        # The perturbed copies go through the model's runtime (BatchedForward); a model
        # without TensorFlow's graph reads another layer's activations by forward_of.
        return True

    @classmethod
    def forward_only_at_any_layer(cls) -> bool:
        return True

    @classmethod
    def forward_only(cls, head) -> bool:
        return True

    def explain(self, batch: np.ndarray, target: int | None = None, *,
                progress: Progress | None = None,
                cancel: threading.Event | None = None) -> MapResult:
        if self.model.runtime.name != TENSORFLOW and (self.layer == self.model.read_layer
                                                      or not self.model.can_backward):
            features, scores = self.model.forward_of(self.layer)(batch)
            features, logits = features[0], scores[0]
            c = int(np.argmax(logits)) if target is None else int(target)
        else:
            tensors, scores, pick = self._run(batch, np.int32(-1 if target is None else target))
            features, logits, c = tensors.numpy(), scores.numpy(), int(pick)
        cam = self._perturb(batch, features, logits, c, progress, cancel)
        return MapResult(cam.astype(np.float32), logits, c)

    def _perturb(self, batch: np.ndarray, features: np.ndarray, logits: np.ndarray,
                 target: int, progress: Progress | None,
                 cancel: threading.Event | None) -> np.ndarray:
        """The raw map from the input, its activations and scores, via self.forward."""
        raise NotImplementedError


def mid_grey(model: CamModel) -> np.ndarray:
    """A mid-grey pixel (128, 128, 128) as the network sees it, in its channels: what a
    perturbation puts where it removes something (occlusion, the deletion score)."""
    return flat_colour(model, 128)


def flat_colour(model: CamModel, value: int) -> np.ndarray:
    """The grey pixel (value, value, value) as the network sees it, in its channels (0: the
    black baseline of Integrated Gradients)."""
    pixel = model.resized(np.full((1, 1, 3), value, np.uint8), (1, 1))
    return np.asarray(model.preprocess(pixel), np.float32).reshape(-1)


class ScoreCAM(PerturbationMethod):
    """Score-CAM (Wang et al. 2020): each channel, as a mask on the input, is weighed by the
    class's softmax probability for the masked input.

    Each kept channel is upsampled (bilinear) to the input size, min-max normalised to
    [0, 1] and multiplied into the prepared input (so masked-out pixels become the
    preprocessing's zero, the mean colour). ``max_channels`` keeps the N channels with the
    highest spatial variance of their activations ("Faster Score-CAM"); 0 keeps all (exact,
    1280 forward passes for EfficientNet-Lite0). Raw map: ReLU(sum_k p_c(x * M_k) *
    A_k) over the kept channels, at the read layer's resolution.
    """

    name = "scorecam"
    title = "Score-CAM"
    summary = "each channel masks the frame; weighted by the class's score: no gradients, slow"
    paper = "Wang et al. 2020"
    # The default, 64: 1.3 s for a 640x480 frame with EfficientNet-Lite0 on 2 loaded cores
    # (96: 1.8-2.8 s).
    options = (MethodOption(
        "max_channels", int, 64, low=0, high=8192, label="Channels",
        help="the N channels of highest activation variance mask the frame (0: all "
             "channels, exact and much slower)"),)
    max_channels: int

    def channels(self, features: np.ndarray) -> np.ndarray:
        """Indices of the channels used: the max_channels of highest variance, or all."""
        k = features.shape[2]
        if not self.max_channels or self.max_channels >= k:
            return np.arange(k)
        variance = features.reshape(-1, k).var(axis=0)
        return np.sort(np.argsort(-variance, kind="stable")[:self.max_channels])

    def _perturb(self, batch, features, logits, target, progress, cancel):
        keep = self.channels(features)
        maps = np.ascontiguousarray(features[:, :, keep], dtype=np.float32)
        h, w = batch.shape[1:3]

        def masked(start: int, stop: int) -> np.ndarray:
            # cv2.resize takes at most 512 channels and gives 2-D back for one.
            up = cv2.resize(maps[:, :, start:stop], (w, h), interpolation=cv2.INTER_LINEAR)
            up = up.reshape(h, w, stop - start)
            lo, hi = up.min(axis=(0, 1)), up.max(axis=(0, 1))
            masks = (up - lo) / np.where(hi > lo, hi - lo, 1.0)
            return batch[0][None] * masks.transpose(2, 0, 1)[:, :, :, None]

        weights = self.forward.probabilities(masked, len(keep), target, progress, cancel)
        return np.maximum(maps @ weights, 0.0)


def patch_origins(size: int, patch: int, stride: int) -> list[int]:
    """Start offsets of a patch sliding over `size` pixels, the last one flush with the end,
    so every pixel is covered."""
    last = max(size - patch, 0)
    origins = list(range(0, last + 1, stride))
    if origins[-1] != last:
        origins.append(last)
    return origins


class Occlusion(PerturbationMethod):
    """Occlusion sensitivity (Zeiler & Fergus 2014): how much the class's probability drops
    while a grey square hides each part of the input.

    A ``patch`` x ``patch`` square (network-input pixels) of the preprocessed colour of
    mid-grey (128, 128, 128) slides with ``stride``, the last row and column flush with the
    edges. Raw map: at each input pixel, the mean over the patches covering it of p_c(x) -
    p_c(occluded x), at the network input's resolution; positive where hiding the pixel
    costs the class probability, negative where it helps.
    """

    name = "occlusion"
    title = "Occlusion"
    summary = "drop in the class's probability as a grey square hides each region; slow"
    paper = "Zeiler & Fergus 2014"
    options = (
        MethodOption("patch", int, 48, low=1, high=1024,
                     help="side of the grey square, in network-input pixels"),
        MethodOption("stride", int, 24, low=1, high=1024,
                     help="step of the grey square, in network-input pixels"))
    patch: int
    stride: int

    def __init__(self, model: CamModel, layer: str | None = None, **options: object) -> None:
        super().__init__(model, layer, **options)
        self.grey = mid_grey(model)

    def boxes(self, hw: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        """(y0, y1, x0, x1) of every patch position on an input of size hw."""
        h, w = hw
        ph, pw = min(self.patch, h), min(self.patch, w)
        return [(y, y + ph, x, x + pw) for y in patch_origins(h, ph, self.stride)
                for x in patch_origins(w, pw, self.stride)]

    def _perturb(self, batch, features, logits, target, progress, cancel):
        boxes = self.boxes(batch.shape[1:3])

        def occluded(start: int, stop: int) -> np.ndarray:
            out = np.repeat(batch, stop - start, axis=0)
            for row, (y0, y1, x0, x1) in zip(out, boxes[start:stop], strict=True):
                row[y0:y1, x0:x1] = self.grey
            return out

        probs = self.forward.probabilities(occluded, len(boxes), target, progress, cancel)
        drops = softmax(logits)[target] - probs
        total = np.zeros(batch.shape[1:3], np.float64)
        count = np.zeros(batch.shape[1:3], np.float64)
        for (y0, y1, x0, x1), drop in zip(boxes, drops, strict=True):
            total[y0:y1, x0:x1] += drop
            count[y0:y1, x0:x1] += 1
        return total / count


class RISE(PerturbationMethod):
    """RISE (Petsiuk et al. 2018): the input seen through many random masks, each mask
    weighed by the class's softmax probability for the input it lets through.

    Each mask is a GRID x GRID grid of cells kept with probability KEEP, upsampled
    bilinearly to (GRID + 1) cells of ceil(size / GRID) pixels and cropped at a random shift
    of less than one cell (the paper's recipe: smooth masks, no grid seams). Masks multiply
    the prepared input, so hidden pixels become the preprocessing's zero, as in Score-CAM.
    Each mask comes from its own seeded generator (SEED, its index), so a still frame gives
    a still map and the map does not depend on how the masks are batched. Gradient-free.
    Raw map: sum_i p_c(x * M_i) * M_i / (masks * KEEP), at the network input's resolution.
    """

    name = "rise"
    title = "RISE"
    summary = "the class's probability through random smooth masks; no gradients, slow"
    paper = "Petsiuk et al. 2018"
    options = (MethodOption("masks", int, 1000, low=1, high=100000,
                            help="random masks the frame is seen through (batched)"),)
    masks: int
    GRID = 7
    KEEP = 0.5
    SEED = 18

    def __init__(self, model: CamModel, layer: str | None = None, **options: object) -> None:
        self._last: tuple[bytes, np.ndarray] | None = None  # (input's digest, probabilities)
        super().__init__(model, layer, **options)

    def mask_batch(self, hw: tuple[int, int], start: int, stop: int) -> np.ndarray:
        """Masks start..stop-1 (float32, (stop - start, h, w), values in [0, 1])."""
        h, w = hw
        cell_h, cell_w = -(-h // self.GRID), -(-w // self.GRID)
        big = ((self.GRID + 1) * cell_w, (self.GRID + 1) * cell_h)
        out = np.empty((stop - start, h, w), np.float32)
        for row, i in enumerate(range(start, stop)):
            rng = np.random.default_rng([self.SEED, i])
            grid = (rng.random((self.GRID, self.GRID)) < self.KEEP).astype(np.float32)
            up = cv2.resize(grid, big, interpolation=cv2.INTER_LINEAR)
            dy, dx = int(rng.integers(cell_h)), int(rng.integers(cell_w))
            out[row] = up[dy:dy + h, dx:dx + w]
        return out

    def _perturb(self, batch, features, logits, target, progress, cancel):
        hw = batch.shape[1:3]

        def masked(start: int, stop: int) -> np.ndarray:
            return batch[0][None] * self.mask_batch(hw, start, stop)[:, :, :, None]

        # The masked inputs' probabilities of every class, kept for the last input: another
        # class of the same frame (a pinned class, the second map, the pointing game's
        # second object) needs no forward pass. The input's own scores are in the key, so a
        # model whose weights changed since (a sanity check's randomisation) is asked again.
        digest = hashlib.blake2b(np.ascontiguousarray(batch).tobytes(), digest_size=16)
        digest.update(np.ascontiguousarray(logits, dtype=np.float32).tobytes())
        key = self.model.runtime.name.encode() + digest.digest()
        if self._last is None or self._last[0] != key:
            self._last = None
            self._last = (key, self.forward.probabilities(masked, self.masks, None, progress,
                                                          cancel))
        probs = self._last[1][:, target]
        total = np.zeros(hw, np.float64)
        for start in range(0, self.masks, CHUNK):
            stop = min(start + CHUNK, self.masks)
            total += np.tensordot(probs[start:stop], self.mask_batch(hw, start, stop), axes=1)
        return total / (self.masks * self.KEEP)
