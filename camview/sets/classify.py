"""Classifying a labelled set in batches, Qt-free: the pass that `camview evaluate` and the
window's labelled-set view share.

:func:`classify_set` yields one :class:`ImageResult` per image, in set order, as batches
finish; it stops when its `cancel` event is set or the generator is closed. Decoding runs on
a reader thread ahead of the model (camview.sources.handoff.ReadAhead), which sees several
images per compiled call; on OpenVINO a batch computes on the runtime's streams while this
thread explains the one before (Forward.start); a result cache (camview.sets.results) serves
the images seen before.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from camview.errors import CamviewError, SourceError
from camview.models import CamModel
from camview.sets.batches import (
    batch_capacity,
    call_size,
    resized_for_network,
    start_batch,
    true_class_maps,
)
from camview.sets.dataset import LabelledImage
from camview.sets.per_image import SetViews, thumbnail, where_grid
from camview.sets.results import ImageResult, ResultCache, result_key, result_of
from camview.sources.handoff import END, ReadAhead
from camview.sources.images import load_image

log = logging.getLogger(__name__)

DEFAULT_BATCH = 16
#: A pass over a set: classify_set's signature (camview.sets.on_ray.RayRun.classify has it too).
Classify = Callable[..., Iterator[ImageResult]]
#: Inputs waiting for their batch, in batches: more fill more batches when shapes are mixed.
WAITING_BATCHES = 4


@dataclass
class _Prepared:
    index: int
    item: LabelledImage
    x: np.ndarray
    stamp: tuple | None


def _read(model: CamModel, images: Sequence[LabelledImage], cache: ResultCache | None,
          model_key: str, views: bool) -> Iterator[object]:
    """Each image looked up in the cache, else decoded and prepared: what the reader thread
    hands the model thread, in set order (a cached or unreadable image as its result)."""
    for index, item in enumerate(images):
        if cache is not None:
            cached = cache.get(model_key, item, index, views=views)
            if cached is not None:
                yield cached
                continue
        try:
            image, warnings = load_image(item.path)
        except SourceError as exc:  # the entry names the file; the reason is enough
            reason = str(exc).removeprefix(f"image {item.path}: ")
            yield ImageResult(index, item.path, item.label, (), math.nan, reason)
            continue
        for message in warnings:
            log.warning("%s", message)
        stamp = cache.stamp(item.path) if cache is not None else None
        # Kept uint8 (a quarter of the float input) while it waits for its batch.
        yield _Prepared(index, item, resized_for_network(model, image), stamp)


class _InFlight(NamedTuple):
    """A batch whose pass was started: its inputs, their arrays and true classes (padded to
    the call size), and the call giving its outputs (start_batch)."""

    batch: list[_Prepared]
    x: np.ndarray
    targets: np.ndarray
    outputs: Callable[[], tuple]


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
    start = start_batch(model, views)
    key = result_key(model, batch_size)
    reader = ReadAhead(_read(model, images, cache, key, views), depth=batch_size,
                       name="camview-evaluate-read")
    buckets = _Buckets(batch_size, lambda shape: batch_capacity(model, shape, batch_size))
    done: dict[int, ImageResult] = {}
    next_index = 0
    # The batch whose pass runs (on OpenVINO's streams) while this thread explains the one
    # before and gathers the next.
    running: _InFlight | None = None

    def classify(batch: list[_Prepared]) -> None:
        """Start `batch`'s pass, then finish the one started before it."""
        nonlocal running
        # Padded to the call size where a batch is one call (call_size says why).
        n = len(batch)
        size = max(n, call_size(model, batch[0].x.shape, batch_size))
        first = model.preprocess(batch[0].x)  # its shape: a model may take any size
        x = np.empty((size, *first.shape), np.float32)
        x[0] = first
        for i, p in enumerate(batch[1:], 1):
            x[i] = model.preprocess(p.x)
        x[n:] = x[n - 1]  # padding: the last input again
        targets = np.array([p.item.label for p in batch] + [batch[-1].item.label] * (size - n),
                           np.int32)
        previous, running = running, _InFlight(batch, x, targets, start(x, targets))
        if previous is not None:
            finish(*previous)

    def finish(batch: list[_Prepared], x: np.ndarray, targets: np.ndarray,
               outputs: Callable[[], tuple]) -> None:
        n = len(batch)
        if views:
            logits, pooled, maps = (a[:n] for a in outputs())
            extras = [SetViews(f.astype(np.float16), None if g is None else g.astype(np.float16),
                               thumbnail(p.x))
                      for p, f, g in zip(batch, pooled, map(where_grid, true_class_maps(
                          model, x[:n], targets[:n], maps)), strict=True)]
        else:
            logits, extras = outputs()[0][:n], [None] * n
        results = [(result_of(p.item, p.index, row, v), p.stamp)
                   for p, row, v in zip(batch, logits, extras, strict=True)]
        if cache is not None:
            cache.put(key, [(r, s) for r, s in results if s is not None])
        done.update((r.index, r) for r, _ in results)

    def finish_running() -> None:
        nonlocal running
        if running is not None:
            previous, running = running, None
            finish(*previous)

    reader.start()
    try:
        while True:
            if cancel is not None and cancel.is_set():
                return
            try:
                item = reader.box.get(timeout=0.1)
            except queue.Empty:
                item = None
            if item is END:
                break
            if isinstance(item, BaseException):
                raise item
            if item is None:  # reading is slower than the network: show what it has done
                finish_running()
            elif isinstance(item, ImageResult):
                done[item.index] = item
                # Cached results queue up behind an image waiting for its batch: run it.
                if len(done) > WAITING_BATCHES * batch_size:
                    if buckets.waiting:
                        classify(buckets.pop_oldest())
                    finish_running()
            else:
                for batch in buckets.add(item):
                    classify(batch)
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
        for batch in [*buckets.flush(), None]:
            if cancel is not None and cancel.is_set():
                return
            if batch is None:
                finish_running()
            else:
                classify(batch)
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
    finally:
        reader.close()
        if running is not None:  # stopped: its pass may still read its inputs
            with contextlib.suppress(Exception):
                running.outputs()
