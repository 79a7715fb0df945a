"""Integrated Gradients (Sundararajan et al. 2017): the input gradient integrated along the
straight path from a baseline input to the input.

Attributions are taken with respect to the network input AFTER preprocessing (the prepared
batch camview feeds), so completeness holds for the logit the network computes from exactly
that input: sum of the attributions = S_c(input) - S_c(baseline). The baseline is built in
the same space: `black` is the preprocessed colour of black pixels, `blur` the prepared
input blurred (a Gaussian of BLUR_SIGMA input pixels; every preprocessing here is affine per
channel, so that is the blurred picture, preprocessed).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from camview.maps.base import Cancelled, MapResult, Method, Progress
from camview.maps.options import MethodOption
from camview.maps.perturbation import CHUNK, flat_colour

BASELINES = ("black", "blur")
#: The blur baseline's Gaussian sigma, in network-input pixels: wide enough that no object
#: is left recognisable at 224 px, so the path starts from "no object".
BLUR_SIGMA = 16.0
#: Share of the steps spread evenly along the path; the rest follow the score's changes.
MIX = 0.25
#: The promise: the attributions sum to the score difference within this share of it. A run
#: that misses it is done again with twice the steps, at most MAX_DOUBLINGS times (the steps
#: used are reported beside the map).
COMPLETENESS_TOLERANCE = 0.05
MAX_DOUBLINGS = 3


class IntegratedGradients(Method):
    """Integrated Gradients (Sundararajan et al. 2017) from a black or blurred baseline.

    ``steps`` points of the path baseline -> input go through the network in batched
    backward calls of CHUNK, with progress and cancel; where they are is chosen from
    2 * steps + 1 cheaper forward passes along the path (see partition). Raw map: the
    signed attribution (x - x0) * the width-weighted sum of gradients, summed over the colour
    channels, at the network input's resolution; its sum is S_c(x) - S_c(x0) up to the sum's
    error (reported as "completeness" beside the map: render's JSON). Where that error is
    over COMPLETENESS_TOLERANCE of the difference, the steps are doubled (at most
    MAX_DOUBLINGS times) and the steps used are reported too.
    """

    name = "integrated-gradients"
    title = "Integrated Gradients"
    summary = "input gradient integrated from a black or blurred baseline; sums to the score"
    paper = "Sundararajan et al. 2017"
    live = False
    clip_percentile = 99.0
    options = (
        MethodOption("steps", int, 32, low=1, high=4096,
                     help="gradient steps along the path from the baseline (batched; more "
                          "steps, closer to completeness)"),
        MethodOption("baseline", str, "black", choices=BASELINES,
                     help="the input the path starts from: black, or the frame blurred "
                          "(attributions then sum to the score's rise over it)"))
    steps: int
    baseline: str

    def _map(self, feature_model, x, target):  # pragma: no cover - _compile builds its own
        raise NotImplementedError

    def _cache_key(self) -> tuple:
        return (type(self).__name__,)  # one pair of calls per model: no layer, any steps

    def _compile(self):
        """(path gradients, scores): compiled once per model for batches of any size."""
        import tensorflow as tf

        feature_model = self.model.feature_model
        one = self.model.input_spec
        many = tf.TensorSpec([None, *one.shape[1:]], tf.float32)

        vector = tf.TensorSpec([None], tf.float32)

        @tf.function(input_signature=[one, one, vector, vector, tf.TensorSpec([], tf.int32)],
                     reduce_retracing=True)
        def path_gradients(x, x0, alphas, widths, target):
            points = x0 + alphas[:, None, None, None] * (x - x0)
            with tf.GradientTape() as tape:
                tape.watch(points)
                _, logits = feature_model(points, training=False)
                # Rows are independent: the gradient of this sum is sum_i width_i * row i's
                # own gradient.
                score = tf.reduce_sum(widths * logits[:, target])
            return tf.reduce_sum(tape.gradient(score, points), axis=0)

        @tf.function(input_signature=[many], reduce_retracing=True)
        def scores(batch):
            return feature_model(batch, training=False)[1]

        return path_gradients, scores

    def baseline_of(self, batch: np.ndarray) -> np.ndarray:
        """The baseline input (1, h, w, channels), in the prepared input's space."""
        if self.baseline == "blur":
            x = batch[0]
            return cv2.GaussianBlur(x, (0, 0), BLUR_SIGMA).reshape(batch.shape)
        return np.broadcast_to(flat_colour(self.model, 0), batch.shape).astype(np.float32)

    def partition(self, path_scores: np.ndarray, steps: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(alphas, widths) of `steps` (default the option's) gradient evaluations, from the
        class score at equally spaced points of the path (alpha 0..1).

        The score of this network can jump over a few per cent of the path (ReLU6 units
        switching near a black baseline: 0.1 -> 4.6 between alpha 1/64 and 2/64 for the cat
        photo), where equal steps miss most of the integral. So the steps are spread by a
        mix of the path's length (MIX) and of how much the score moves (1 - MIX), the
        cumulative |change| read from the forward passes, and each step's gradient is taken
        at its interval's midpoint and weighted by the interval's width (a Riemann sum on
        that partition, which converges to the integral like any other)."""
        alpha = np.linspace(0.0, 1.0, len(path_scores))
        moved = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(path_scores)))])
        share = alpha if moved[-1] <= 0 or not np.isfinite(moved[-1]) else (
            MIX * alpha + (1.0 - MIX) * moved / moved[-1])
        edges = np.interp(np.linspace(0.0, 1.0, (steps or self.steps) + 1), share, alpha)
        return ((edges[1:] + edges[:-1]) / 2).astype(np.float32), np.diff(edges).astype(
            np.float32)

    def explain(self, batch: np.ndarray, target: int | None = None, *,
                progress: Progress | None = None,
                cancel: threading.Event | None = None) -> MapResult:
        _, scores = self._run
        x = np.ascontiguousarray(batch, np.float32)
        x0 = np.ascontiguousarray(self.baseline_of(x), np.float32)
        points = 2 * self.steps + 1  # forward passes along the path (about a third the cost)
        total_work = points + self.steps

        def check(done: int) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"stopped after {done} of {total_work} passes")

        along = np.linspace(0.0, 1.0, points, dtype=np.float32)
        logits = []
        for start in range(0, points, CHUNK):
            check(start)
            a = along[start:start + CHUNK, None, None, None]
            chunk = x0 + a * (x - x0)
            chunk[a[:, 0, 0, 0] == 0.0] = x0[0]  # the two ends exactly
            chunk[a[:, 0, 0, 0] == 1.0] = x[0]
            logits.append(scores(chunk).numpy())
            if progress is not None:
                progress(min(start + CHUNK, points), total_work)
        logits = np.concatenate(logits)
        c = int(np.argmax(logits[-1])) if target is None else int(target)
        difference = float(logits[-1, c] - logits[0, c])
        steps, done = self.steps, points
        while True:
            attribution = self._attribute(x, x0, c, logits[:, c], steps, check, progress,
                                          done, done + steps)
            done += steps
            gap = abs(float(attribution.sum()) - difference) / max(abs(difference), 1e-12)
            if (gap <= COMPLETENESS_TOLERANCE or steps >= self.steps << MAX_DOUBLINGS
                    or abs(difference) < 1e-6):  # no difference to be complete to
                break
            steps *= 2  # the same path, a finer partition: each interval split in two
        cam = attribution.sum(axis=-1).astype(np.float32)
        completeness = {"attribution_sum": round(float(attribution.sum()), 6),
                        "score_difference": round(difference, 6), "steps": steps}
        return MapResult(cam, logits[-1], c, self.clip_percentile,
                         details={"completeness": completeness})

    def _attribute(self, x: np.ndarray, x0: np.ndarray, c: int, path_scores: np.ndarray,
                   steps: int, check, progress: Progress | None, done: int,
                   total_work: int) -> np.ndarray:
        """(x - x0) times the width-weighted gradients at `steps` points of the path."""
        path_gradients, _ = self._run
        alphas, widths = self.partition(path_scores.astype(np.float64), steps)
        total = np.zeros(x.shape[1:], np.float64)
        for start in range(0, steps, CHUNK):
            check(done + start)
            stop = min(start + CHUNK, steps)
            total += path_gradients(x, x0, alphas[start:stop], widths[start:stop],
                                    np.int32(c)).numpy()
            if progress is not None:
                progress(done + stop, total_work)
        return (x[0] - x0[0]) * total


def completeness_gap(details: dict | None) -> float | None:
    """|attribution sum - score difference| / |score difference| of an Integrated Gradients
    result's details (None for other methods or a zero difference)."""
    done = (details or {}).get("completeness")
    if not done or not done["score_difference"]:
        return None
    return abs(done["attribution_sum"] - done["score_difference"]) / abs(
        done["score_difference"])
