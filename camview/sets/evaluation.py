"""Classifying a labelled set, Qt-free: the core that `camview evaluate` and the window's
labelled-set view share.

- :func:`classify_set` yields one :class:`ImageResult` per image, in dataset order, as batches
  finish; it stops when its `cancel` event is set or the generator is closed. Decoding runs on
  a reader thread ahead of the model, which sees several images per compiled call.
- :class:`ResultCache` keeps results on disk per (model, preprocessing, file, mtime), so a set
  seen before is not classified again.
- :class:`Tally` folds results into accuracy, per-class counts, confusions and the mistakes
  worth showing (a bounded heap: memory stays flat with the set's size); its summary is the
  JSON's and the report's data.
- :func:`explain_mistake` draws the maps of the predicted and the true class of one image;
  only the images a report shows ever get maps.
"""

from __future__ import annotations

import heapq
import logging
import math
import queue
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from camview.drawing.explain import describe, draw
from camview.drawing.overlay import OverlayStyle
from camview.errors import CamviewError, SourceError
from camview.maps import Method
from camview.models import CamModel, HeadKind
from camview.models.runtimes import TENSORFLOW
from camview.sets.dataset import LabelledImage, LabelledSet
from camview.sets.embedding import Embedding, FeatureStore, embed
from camview.sets.results import (
    ImageResult,
    ResultCache,
    SetViews,
    model_fingerprint,
    result_of,
)
from camview.sets.where import WhereTally, class_views, thumbnail, where_grid
from camview.sources.handoff import END, put_unless_stopped
from camview.sources.images import load_image, shrink

log = logging.getLogger(__name__)

DEFAULT_BATCH = 16
DEFAULT_MAX_MISTAKES = 100
#: Inputs waiting for their batch, in batches: more fill more batches when shapes are mixed.
WAITING_BATCHES = 4
#: Long side of the photo and maps a report shows (the maps are drawn at this size).
VIEW_SIDE = 320


# ---------------------------------------------------------------------------------------------
# Inputs and the batched call


def resized_for_network(model: CamModel, image_bgr: np.ndarray) -> np.ndarray:
    """One BGR uint8 image resized exactly as `camview render` resizes it (CamModel.resized
    at the model's network size), still uint8. Batches take only inputs of one size, so
    evaluate's scores are render's (no rounding to share a batch)."""
    return model.resized(image_bgr)


def network_input(model: CamModel, image_bgr: np.ndarray) -> np.ndarray:
    """One BGR uint8 image -> the (h, w, channels) float32 input evaluate classifies and
    explains: render's input (CamModel.prepare) without its batch axis.

    Per-image checks (tests, the window re-explaining one image) use this too, so their
    results are the batch's results.
    """
    resized = resized_for_network(model, image_bgr)
    return np.ascontiguousarray(model.preprocess(resized), dtype=np.float32)


def batch_capacity(model: CamModel, shape: tuple[int, ...], batch_size: int) -> int:
    """How many inputs of `shape` make one batch: `batch_size` inputs of the model's square
    size, or as many of a larger input as fit in the same pixels (at least one). A network's
    working memory grows with the pixels in a batch (EfficientNet's widest layer is about
    100 MB for 16 inputs of 224x224), so a set of long panoramas must not multiply it."""
    side = min(model.input_size)
    return max(1, batch_size * side * side // (shape[0] * shape[1]))


def padded_size(n: int, batch_size: int) -> int:
    """The batch a partial batch of n is padded to: the next power of two, at most
    batch_size. The compiled call takes any size, but TensorFlow and oneDNN keep buffers
    and kernels per input shape, so every distinct batch size of every bucket costs
    resident memory; with powers of two a set of any size sees a handful of sizes, for at
    most a doubling of a partial batch's work. OpenVINO's dynamic batch keeps them too
    (measured: every size 1..16 at five shapes, +164 MB over the powers of two alone)."""
    return min(batch_size, 1 << max(0, n - 1).bit_length())


def batch_logits(model: CamModel) -> Callable[[np.ndarray], np.ndarray]:
    """The model's scores for a batch of same-shape inputs, one compiled call (built once per
    model and kept with its other compiled functions), or one call of the model's faster
    runtime (OpenVINO), which takes any batch."""
    if model.runtime.name != TENSORFLOW:
        return lambda x: model.forward(x, borrow=True)[1].copy()  # not the activations

    def build():
        import tensorflow as tf

        # The scores the maps use (before a final softmax; a binary output as two classes),
        # as the other runtimes give them.
        feature_model = model.feature_model
        # The model's own input spec (fixed size, channels) with any batch size.
        spec = tf.TensorSpec([None, *model.input_spec.shape[1:]], tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def run(x):
            return feature_model(x, training=False)[1]

        return lambda x: run(x).numpy()

    return model.compiled_once(("evaluate", "batch-logits"), build)


def batch_views(model: CamModel) -> Callable[[np.ndarray, np.ndarray], tuple]:
    """The batch's scores, its read-layer activations globally pooled, and for a CAM head
    the map of each image's true class, from one forward pass: CAM is the read activations
    weighted by the head (SqueezeNet: the class's own channel), so the set views cost no
    second pass. A gradient-only head gets no map here (see :func:`true_class_maps`). One
    compiled call, or the model's other runtime (OpenVINO) and the same sums in numpy."""
    if model.runtime.name != TENSORFLOW:
        return lambda x, targets: views_of(model, *model.forward(x), targets)

    def build():
        import tensorflow as tf

        feature_model, head = model.feature_model, model.head
        spec = tf.TensorSpec([None, *model.input_spec.shape[1:]], tf.float32)
        fc = None if model.fc_weights is None else tf.constant(model.fc_weights, tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec([None], tf.int32)],
                     reduce_retracing=True)
        def run(x, targets):
            features, logits = feature_model(x, training=False)
            pooled = tf.reduce_mean(features, axis=[1, 2])
            if head is HeadKind.DIRECT:
                maps = tf.gather(features, targets, axis=3, batch_dims=1)
            elif fc is not None:
                weights = tf.transpose(tf.gather(fc, targets, axis=1))  # (n, k)
                maps = tf.einsum("nhwk,nk->nhw", features, weights)
            else:
                maps = tf.zeros([tf.shape(x)[0], 1, 1])
            return logits, pooled, maps

        return lambda x, targets: tuple(t.numpy() for t in run(x, targets))

    return model.compiled_once(("evaluate", "batch-views"), build)


def views_of(model: CamModel, features: np.ndarray, logits: np.ndarray,
             targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """batch_views' sums on a forward pass's numpy outputs (another runtime's)."""
    pooled = features.mean(axis=(1, 2))
    if model.head is HeadKind.DIRECT:
        maps = np.take_along_axis(features, targets[:, None, None, None], axis=3)[..., 0]
    elif model.fc_weights is not None:
        maps = np.einsum("nhwk,kn->nhw", features, model.fc_weights[:, targets])
    else:
        maps = np.zeros((len(features), 1, 1), np.float32)
    return logits, pooled, maps


def true_class_maps(model: CamModel, inputs: np.ndarray, targets: Sequence[int],
                    cam_maps: np.ndarray) -> list[np.ndarray]:
    """Each image's map of its true class: the batch's CAM for a CAM head, else one Grad-CAM
    (one forward and one backward) per image."""
    if model.head is not HeadKind.GRADIENT_ONLY:
        return list(cam_maps)
    from camview.maps import make_method

    method = model.compiled_once(("evaluate", "where-gradcam"),
                                 lambda: make_method("gradcam", model))
    return [method.explain(x[None], int(t)).cam for x, t in zip(inputs, targets, strict=True)]


# ---------------------------------------------------------------------------------------------
# Classifying a set


@dataclass
class _Prepared:
    index: int
    item: LabelledImage
    x: np.ndarray
    stamp: tuple | None


class _Reader(threading.Thread):
    """Looks each image up in the cache, else decodes and prepares it, ahead of the model."""

    def __init__(self, model: CamModel, images: Sequence[LabelledImage],
                 cache: ResultCache | None, model_key: str, depth: int, views: bool) -> None:
        super().__init__(name="camview-evaluate-read", daemon=True)
        self.model, self.images, self.cache, self.model_key = model, images, cache, model_key
        self.views = views
        self.box: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()

    def _put(self, item: object) -> bool:
        return put_unless_stopped(self.box, item, self.stop)

    def _one(self, index: int, item: LabelledImage) -> object:
        if self.cache is not None:
            cached = self.cache.get(self.model_key, item, index, views=self.views)
            if cached is not None:
                return cached
        try:
            image, warnings = load_image(item.path)
        except SourceError as exc:  # the entry names the file; the reason is enough
            reason = str(exc).removeprefix(f"image {item.path}: ")
            return ImageResult(index, item.path, item.label, (), math.nan, reason)
        for message in warnings:
            log.warning("%s", message)
        stamp = self.cache.stamp(item.path) if self.cache is not None else None
        # Kept uint8 (a quarter of the float input) while it waits for its batch.
        return _Prepared(index, item, resized_for_network(self.model, image), stamp)

    def run(self) -> None:
        try:
            for index, item in enumerate(self.images):
                if not self._put(self._one(index, item)):
                    return
            self._put(END)
        except BaseException as exc:  # handed to the model thread, which raises it
            self._put(exc)

    def close(self) -> None:
        self.stop.set()
        self.join()


class _Buckets:
    """Prepared inputs waiting for a batch, grouped by shape.

    A bucket runs when it holds `size` inputs; when more than `WAITING_BATCHES * size` wait in
    all, the bucket holding the oldest runs even if partial, so a rare shape never holds
    results (or memory) back for long, while a set of mixed shapes still fills most batches.
    """

    def __init__(self, size: int, capacity) -> None:
        self.size = size
        self.capacity = capacity  # shape -> the inputs of that shape that make a batch
        self.waiting: dict[tuple, list[_Prepared]] = {}

    def add(self, p: _Prepared) -> list[list[_Prepared]]:
        bucket = self.waiting.setdefault(p.x.shape, [])
        bucket.append(p)
        ready = []
        if len(bucket) >= self.capacity(p.x.shape):
            ready.append(self.waiting.pop(p.x.shape))
        while sum(map(len, self.waiting.values())) > WAITING_BATCHES * self.size:
            ready.append(self.pop_oldest())
        return ready

    def pop_oldest(self) -> list[_Prepared]:
        return self.waiting.pop(min(self.waiting, key=lambda s: self.waiting[s][0].index))

    def flush(self) -> list[list[_Prepared]]:
        ready = sorted(self.waiting.values(), key=lambda b: b[0].index)
        self.waiting = {}
        return ready


def classify_set(model: CamModel, images: Sequence[LabelledImage], *,
                 batch_size: int = DEFAULT_BATCH, cache: ResultCache | None = None,
                 cancel: threading.Event | None = None,
                 views: bool = False) -> Iterator[ImageResult]:
    """Classify every image, yielding its result in set order as soon as it is known.

    Unreadable images give a result with `problem` set and do not stop the run. Setting
    `cancel` (or closing the generator, or Ctrl+C) stops the reader thread and ends after
    the batch being computed; nothing is left running. With `views`, each result also
    carries its SetViews (pooled features, the true class's map, a thumbnail), from the
    same forward pass.
    """
    if batch_size < 1:
        raise CamviewError(f"--batch must be at least 1, not {batch_size}")
    run = batch_views(model) if views else batch_logits(model)
    key = model_fingerprint(model)
    reader = _Reader(model, images, cache, key, depth=batch_size, views=views)
    buckets = _Buckets(batch_size, lambda shape: batch_capacity(model, shape, batch_size))
    done: dict[int, ImageResult] = {}
    next_index = 0

    sizes_run: dict[tuple, set[int]] = {}  # shape -> batch sizes already run at it

    def classify(batch: list[_Prepared]) -> None:
        inputs = [model.preprocess(p.x) for p in batch]
        shape, n = batch[0].x.shape, len(batch)
        # A size already run at this shape costs no new buffers (the set's last, partial
        # batches then reuse the full size); otherwise the next power of two.
        run_before = sizes_run.setdefault(shape, set())
        size = min((s for s in run_before if s >= n),
                   default=padded_size(n, batch_capacity(model, shape, batch_size)))
        run_before.add(size)
        inputs += inputs[-1:] * (size - n)
        x = np.stack(inputs).astype(np.float32, copy=False)
        if views:
            targets = np.array([p.item.label for p in batch] + [batch[-1].item.label] * (size - n),
                               np.int32)
            logits, pooled, maps = (a[:n] for a in run(x, targets))
            extras = [SetViews(f.astype(np.float16), None if g is None else g.astype(np.float16),
                               thumbnail(p.x))
                      for p, f, g in zip(batch, pooled, map(where_grid, true_class_maps(
                          model, x[:n], targets[:n], maps)), strict=True)]
        else:
            logits, extras = run(x)[:n], [None] * n
        results = [(result_of(p.item, p.index, row, v), p.stamp)
                   for p, row, v in zip(batch, logits, extras, strict=True)]
        if cache is not None:
            cache.put(key, [(r, s) for r, s in results if s is not None])
        done.update((r.index, r) for r, _ in results)

    reader.start()
    try:
        while True:
            if cancel is not None and cancel.is_set():
                return
            try:
                item = reader.box.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is END:
                break
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, ImageResult):
                done[item.index] = item
                # Cached results queue up behind an image waiting for its batch: run it.
                if len(done) > WAITING_BATCHES * batch_size and buckets.waiting:
                    classify(buckets.pop_oldest())
            else:
                for batch in buckets.add(item):
                    classify(batch)
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
        for batch in buckets.flush():
            if cancel is not None and cancel.is_set():
                return
            classify(batch)
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
    finally:
        reader.close()


# ---------------------------------------------------------------------------------------------
# Folding results


class Tally:
    """Accuracy, per-class counts, confusions and the most confident mistakes, as results come.

    Only the `max_mistakes` most confident mistakes are kept for maps (a min-heap: the least
    confident drops out); the results themselves are small (top-5 and a path) and kept for
    the JSON's "images" list.
    """

    def __init__(self, max_mistakes: int = DEFAULT_MAX_MISTAKES) -> None:
        self.max_mistakes = max_mistakes
        self.results: list[ImageResult] = []
        self.count = self.top1 = self.top5 = 0
        self.per_class: dict[int, list[int]] = {}  # class -> [count, top-1 correct]
        self.confusions: Counter[tuple[int, int]] = Counter()
        self._heap: list[tuple[float, int, ImageResult]] = []
        # The set views, when results carry them: features by row, and each row's result.
        self.features = FeatureStore()
        self._feature_result = array("i")  # row -> position in self.results
        self.where = WhereTally()
        self.embedding: Embedding | None = None  # made by finish_views(), once the set is done

    def add(self, r: ImageResult) -> None:
        if r.views is not None:  # kept compactly here; the result itself stays small
            self.features.append(r.views.features)
            self._feature_result.append(len(self.results))
            self.where.add(r.true, r.views.where, r.views.thumb)
            r = replace(r, views=None)
        self.results.append(r)
        if r.problem:
            return
        self.count += 1
        self.top1 += r.correct
        self.top5 += r.in_top5
        tally = self.per_class.setdefault(r.true, [0, 0])
        tally[0] += 1
        tally[1] += r.correct
        if r.correct:
            return
        self.confusions[(r.true, r.predicted)] += 1
        if self.max_mistakes <= 0:
            return
        confidence = r.confidence if math.isfinite(r.confidence) else -1.0
        entry = (confidence, -r.index, r)  # ties: the earlier image ranks first
        if len(self._heap) < self.max_mistakes:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heappushpop(self._heap, entry)

    @property
    def mistakes(self) -> int:
        """Readable images classified wrongly (top-1)."""
        return self.count - self.top1

    @property
    def problems(self) -> list[ImageResult]:
        return [r for r in self.results if r.problem]

    def ranked_mistakes(self) -> list[ImageResult]:
        """The mistakes kept, most confident first (then in set order)."""
        return [r for _, _, r in sorted(self._heap, key=lambda e: (-e[0], -e[1]))]

    def accuracy(self) -> dict[str, float]:
        n = max(self.count, 1)  # an empty run reports 0.0 with count 0
        return {"top1": round(self.top1 / n, 6), "top5": round(self.top5 / n, 6)}

    @property
    def has_views(self) -> bool:
        return self.features.count > 0

    def finish_views(self) -> None:
        """Reduce the features to the 2-D embedding (t-SNE: seconds for a large set)."""
        if self.has_views and self.embedding is None:
            self.embedding = embed(self.features.array())

    def embedding_points(self) -> np.ndarray:
        """(len(results), 2) float32: each result's point, NaN where it has none."""
        points = np.full((len(self.results), 2), np.nan, np.float32)
        if self.embedding is not None:
            points[np.asarray(self._feature_result, np.int64)] = self.embedding.points
        return points

    def confusion(self, model: CamModel) -> dict:
        """Rows: the classes present in the set (true); columns: the same classes predicted,
        then "other" (a class not in the set)."""
        classes = sorted(self.per_class)
        column = {c: n for n, c in enumerate(classes)}
        matrix = [[0] * (len(classes) + 1) for _ in classes]
        for row, c in enumerate(classes):
            matrix[row][row] = self.per_class[c][1]
        for (t, p), n in self.confusions.items():
            matrix[column[t]][column.get(p, len(classes))] += n
        return {"labels": [model.short_label(c) for c in classes], "indices": classes,
                "other": "other", "matrix": matrix}

    def summary(self, model: CamModel, dataset: str) -> dict:
        """The JSON document without its "images" list."""
        def cls(i: int) -> dict:
            return {"index": i, "label": model.short_label(i)}

        doc = {"model": model.name, "preprocess": model.preprocess_name}
        doc.update({
            "dataset": dataset, "count": self.count, "accuracy": self.accuracy(),
            "per_class": [{**cls(i), "count": n, "top1": round(ok / n, 6)}
                          for i, (n, ok) in sorted(self.per_class.items())],
            "confusions": [{"true": cls(t), "predicted": cls(p), "count": n}
                           for (t, p), n in sorted(self.confusions.items(),
                                                   key=lambda kv: (-kv[1], kv[0]))],
            "confusion": self.confusion(model),
        })
        if self.has_views:
            doc["classes"] = class_views(self.where, sorted(self.per_class), model.short_label)
            if self.embedding is not None:
                doc["embedding"] = {"method": self.embedding.method, "layer": model.read_layer,
                                    "dims": self.embedding.dims}
        return doc


# ---------------------------------------------------------------------------------------------
# Maps of the images a report shows


@dataclass
class MistakeViews:
    """One image with the maps of its predicted and its true class, drawn over it."""

    photo: np.ndarray | None  # BGR uint8, long side at most VIEW_SIDE
    predicted: np.ndarray | None
    true: np.ndarray | None
    problem: str | None = None  # why there are no pictures (the file went away)


def explain_mistake(model: CamModel, method: Method, result: ImageResult, *,
                    side: int = VIEW_SIDE, style: OverlayStyle | None = None) -> MistakeViews:
    """The maps of the predicted and the true class of one image, from the same input the
    set was classified with, drawn over the photo shrunk to `side`."""
    style = style or OverlayStyle(layout="overlay", topk=0)
    try:
        image, _ = load_image(result.path)
    except SourceError as exc:
        return MistakeViews(None, None, None, str(exc))
    x = network_input(model, image)[None]
    photo = shrink(image, side)
    # Through the one drawing path: a map that cannot be drawn shows its fault, not colours.
    views = [draw(photo, describe(model, method.explain(x, target), topk=0, pinned=False), style)
             for target in (result.predicted, result.true)]
    return MistakeViews(photo, *views)



def evaluate_set(model: CamModel, dataset: LabelledSet, tally: Tally, *, batch_size: int,
                 cache: ResultCache | None, progress=None, views: bool = False) -> bool:
    """Classify the whole set into `tally` (with `views`, the set views too); True when
    Ctrl+C cut it short."""
    try:
        for result in classify_set(model, dataset.images, batch_size=batch_size, cache=cache,
                                   views=views):
            tally.add(result)
            if progress is not None:
                progress.update(len(tally.results))
    except KeyboardInterrupt:
        return True
    finally:
        if progress is not None:
            progress.finish(len(tally.results))
    return False


# ---------------------------------------------------------------------------------------------
# Scores over a set (issue 18): which method's maps the network's own output supports


#: The per-image scores of each map, and whether higher is better (for the ranking).
SET_METRICS = {"deletion_auc": False, "insertion_auc": True, "average_drop": False,
               "increase_in_confidence": True}


@dataclass
class ImageScores:
    """One image's scores: {method name or "random": {metric: value}} for its top-1 class."""

    path: Path
    target: int
    scores: dict[str, dict[str, float]]
    problem: str | None = None


def score_image(model: CamModel, methods: list[Method], image_bgr: np.ndarray
                ) -> tuple[int, dict[str, dict[str, float]]]:
    """Each method's map of the image's top-1 class scored (deletion, insertion, Average
    Drop, Increase in Confidence), with the random map's the same way."""
    from camview.checks.faithfulness import RANDOM, confidence_changes, random_map, score_maps
    from camview.maps.shared_pass import explain_shared

    batch = model.prepare(image_bgr)
    shared = explain_shared(model, methods, batch, None)
    results = [shared.get(m) or m.explain(batch, None) for m in methods]
    target = results[0].target
    maps = {m.name: r.cam for m, r in zip(methods, results, strict=True)}
    curves = score_maps(model, batch, maps, target)
    changes = confidence_changes(model, batch,
                                 {**maps, RANDOM: random_map(maps, batch.shape[1:3])}, target)
    return target, {name: {"deletion_auc": curves[name].deletion_auc,
                           "insertion_auc": curves[name].insertion_auc,
                           "average_drop": changes[name].drop,
                           "increase_in_confidence": changes[name].increase}
                    for name in curves}


def score_set(model: CamModel, images: Sequence[LabelledImage], methods: list[Method], *,
              cancel: threading.Event | None = None) -> Iterator[ImageScores]:
    """score_image over the set, in order (an unreadable image: its problem, no scores);
    stops when `cancel` is set. Each image's copies go through the network in batches."""
    for item in images:
        if cancel is not None and cancel.is_set():
            return
        try:
            image, _warnings = load_image(item.path)
        except SourceError as exc:
            yield ImageScores(item.path, -1, {}, problem=str(exc))
            continue
        target, scores = score_image(model, methods, image)
        yield ImageScores(item.path, target, scores)


def mean_interval(values: Sequence[float]) -> dict[str, float | int | None]:
    """Mean and its 95 % confidence interval (Student's t; none for one value), and count."""
    from scipy.stats import t

    n = len(values)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "count": 0}
    mean = float(np.mean(values))
    if n == 1:
        return {"mean": mean, "low": None, "high": None, "count": 1}
    half = float(t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))
    return {"mean": round(mean, 6), "low": round(mean - half, 6), "high": round(mean + half, 6),
            "count": n}


def summarise_scores(scored: Sequence[ImageScores]) -> dict[str, dict[str, dict]]:
    """{method: {metric: mean_interval}} over the images scored, "random" included."""
    names = list(dict.fromkeys(n for s in scored for n in s.scores))
    return {name: {metric: mean_interval([s.scores[name][metric] for s in scored
                                          if name in s.scores])
                   for metric in SET_METRICS} for name in names}


def rank_methods(summary: dict[str, dict[str, dict]]) -> list[str]:
    """Methods (the random map left out) best first, by insertion AUC minus deletion AUC: how
    much faster the class comes back than it goes, the two curves' summary in one number."""
    from camview.checks.faithfulness import RANDOM

    def margin(name: str) -> float:
        ins, dele = summary[name]["insertion_auc"]["mean"], summary[name]["deletion_auc"]["mean"]
        return -math.inf if ins is None or dele is None else ins - dele

    return sorted((n for n in summary if n != RANDOM), key=margin, reverse=True)


def set_scores_json(model: CamModel, scored: Sequence[ImageScores]) -> dict:
    """The JSON section: per image its scores, per method the means and intervals, the
    ranking."""
    summary = summarise_scores(scored)
    return {"metrics": list(SET_METRICS), "ranking": rank_methods(summary), "summary": summary,
            "images": [{"path": str(s.path), **({"problem": s.problem} if s.problem else {
                "target": {"index": s.target, "label": model.short_label(s.target)},
                "scores": {n: {k: round(v, 6) for k, v in m.items()}
                           for n, m in s.scores.items()}})} for s in scored]}
