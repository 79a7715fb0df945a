"""One image's classification in a labelled set, and the on-disk cache of such results.

Apart from the classifying (camview.sets.classify) so the cache's keying (what a result
depends on) reads on its own; the window's set view reopens a set instantly through it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camview.maps import TOP_N, MapResult
from camview.models import CamModel
from camview.models.cache_folder import cache_dir
from camview.sets.dataset import LabelledImage
from camview.sets.per_image import GRID, THUMB, SetViews
from camview.sources.file_names import storage_key

log = logging.getLogger(__name__)

#: Bump when what is cached, or how inputs are prepared, changes. 2: every image is fed at
#: exactly render's size (no 32-px rounding), and features, map and thumbnail are kept.
_CACHE_VERSION = 2


@dataclass(frozen=True, slots=True)
class ImageResult:
    """One image of the set classified (or the reason it could not be)."""

    index: int  # position in the set
    path: Path
    true: int
    top: tuple[tuple[int, float], ...]  # TOP_N (class, probability), highest first
    true_prob: float  # probability of the true class (NaN when unreadable)
    problem: str | None = None  # why the image could not be classified
    views: SetViews | None = field(default=None, compare=False, repr=False)

    @property
    def predicted(self) -> int:
        return self.top[0][0] if self.top else -1

    @property
    def confidence(self) -> float:
        return self.top[0][1] if self.top else math.nan

    @property
    def correct(self) -> bool:
        return self.problem is None and self.predicted == self.true

    @property
    def in_top5(self) -> bool:
        return self.problem is None and any(i == self.true for i, _ in self.top[:5])


def _prob(p: float) -> float | None:
    # JSON has no NaN: a probability that is not a number (a broken model) is null.
    return round(p, 6) if math.isfinite(p) else None


def result_json(model: CamModel, r: ImageResult) -> dict:
    entry = {"path": str(r.path), "true": {"index": r.true, "label": model.short_label(r.true)},
             "top": [{"index": i, "label": model.short_label(i), "prob": _prob(p)}
                     for i, p in r.top],
             "correct": r.correct}
    if r.problem:
        entry["problem"] = r.problem
    return entry


_NO_MAP = np.zeros((1, 1), np.float32)


def result_of(item: LabelledImage, index: int, logits: np.ndarray,
              views: SetViews | None = None) -> ImageResult:
    # MapResult is where the project ranks classes; a classification has no map to give it.
    scored = MapResult(_NO_MAP, logits, -1)
    return ImageResult(index, item.path, item.label, tuple(scored.top(TOP_N)),
                       float(scored.probabilities[item.label]), views=views)


# ---------------------------------------------------------------------------------------------
# The cache


def model_fingerprint(model: CamModel) -> str:
    """What a cached result depends on besides the image: the network and its weights (a
    file's mtime too, a retrained model keeps its name), the resize and the preprocessing."""
    weights = model.source
    with contextlib.suppress(OSError, ValueError):  # not a file: "random weights"
        weights += f"@{os.stat(model.source).st_mtime_ns}"
    preprocess = model.preprocess_name
    # The read layer: the pooled features and the maps kept with a result are read there.
    return (f"v{_CACHE_VERSION}|{model.name}|{weights}|{len(model.labels)}|"
            f"{model.resize.value}|{preprocess}|{model.read_layer}")


def result_key(model: CamModel, batch_size: int) -> str:
    """The cache key of a pass's results: the model's fingerprint and the batch size, which
    sets the size of every network call (camview.sets.batches.call_size) and so the last
    bits of each result (~1e-7): a resumed run then folds exactly what a whole run folds."""
    return f"{model_fingerprint(model)}|batch {batch_size}"


_TABLE = f"results_v{_CACHE_VERSION}"


def _views_row(views: SetViews | None) -> tuple:
    if views is None:
        return None, None, None
    where = None if views.where is None else views.where.astype(np.float16).tobytes()
    return (views.features.astype(np.float16).tobytes(), where,
            np.ascontiguousarray(views.thumb).tobytes())


def _views_from_row(row: tuple) -> SetViews:
    features, where, thumb = row
    grid = None if where is None else np.frombuffer(where, np.float16).reshape(GRID, GRID)
    return SetViews(np.frombuffer(features, np.float16), grid,
                    np.frombuffer(thumb, np.uint8).reshape(THUMB, THUMB, 3))


class ResultCache:
    """Classification results on disk (sqlite, one file), keyed by the model's fingerprint,
    the file's absolute path, its mtime and size, and the true class (whose probability is
    kept too). Safe to share between the reader thread and the model thread. `hits` and
    `misses` count the lookups, so a caller can say how much of a run the cache served."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=5.0)
        # A table per cache version: an older camview's file is left as it was.
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (model TEXT, path TEXT, "
                         "mtime INTEGER, size INTEGER, true INTEGER, top TEXT, true_prob REAL, "
                         "features BLOB, where_map BLOB, thumb BLOB, "
                         "PRIMARY KEY (model, path, mtime, size, true))")
        self._db.commit()
        self.hits = self.misses = 0

    @classmethod
    def default(cls) -> ResultCache | None:
        """The user's cache, or None (one warning) where it cannot be opened."""
        path = cache_dir() / "evaluate.sqlite"
        try:
            return cls(path)
        except (OSError, sqlite3.Error) as exc:
            log.warning("result cache %s cannot be used (%s); evaluating without it", path, exc)
            return None

    @staticmethod
    def stamp(path: Path) -> tuple[str, int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return storage_key(Path(path).resolve()), st.st_mtime_ns, st.st_size

    def get(self, model_key: str, item: LabelledImage, index: int, *,
            views: bool = False, counted: bool = True) -> ImageResult | None:
        """The cached result, or None; with `views`, only one kept with its SetViews.
        `counted=False`: a look ahead that `hits` and `misses` leave out."""
        stamp = self.stamp(item.path)
        if stamp is None:
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT top, true_prob, features, where_map, thumb FROM {_TABLE} WHERE "
                "model=? AND path=? AND mtime=? AND size=? AND true=?",
                (model_key, *stamp, item.label)).fetchone()
            if row is not None and views and row[2] is None:
                row = None  # classified without the set views: classify it again
            if not counted:
                pass
            elif row is None:
                self.misses += 1
            else:
                self.hits += 1
        if row is None:
            return None
        top = tuple((int(i), float(p) if p is not None else math.nan)
                    for i, p in json.loads(row[0]))
        return ImageResult(index, item.path, item.label, top,
                           row[1] if row[1] is not None else math.nan,
                           views=_views_from_row(row[2:]) if views else None)

    def put(self, model_key: str, results: Sequence[tuple[ImageResult, tuple]]) -> None:
        rows = [(model_key, *stamp, r.true, json.dumps([[i, _prob(p)] for i, p in r.top]),
                 r.true_prob if math.isfinite(r.true_prob) else None, *_views_row(r.views))
                for r, stamp in results]
        try:
            with self._lock:
                self._db.executemany(f"INSERT OR REPLACE INTO {_TABLE} VALUES "
                                     "(?,?,?,?,?,?,?,?,?,?)", rows)
                self._db.commit()
        except sqlite3.Error as exc:  # a full disk or a locked file: the run goes on
            log.debug("result cache not updated: %s", exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()
