"""The counts every set-level view starts from: each image's result, accuracy, per-class
counts and the confusions between classes, folded as results come.

Apart from camview.sets.tally (these counts and the run's views together) so that a view can
read the counts without importing the registry that lists it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from camview.models import CamModel
from camview.sets.results import ImageResult

DEFAULT_MAX_MISTAKES = 100


class Counts:
    """Accuracy, per-class counts and confusions of a set's results, as they come. The results
    themselves are small (top-5 and a path) and kept for the JSON's "images" list; what the
    batched pass adds to them (features, maps) is dropped here (views keep it compactly)."""

    def __init__(self) -> None:
        self.results: list[ImageResult] = []
        self.count = self.top1 = self.top5 = 0
        self.per_class: dict[int, list[int]] = {}  # class -> [count, top-1 correct]
        self.confusions: Counter[tuple[int, int]] = Counter()
        self.ran_on: str | None = None  # where the pass ran ("local", "Ray, 2 workers ...")

    def add(self, r: ImageResult) -> None:
        r = replace(r, views=None) if r.views is not None else r
        self.results.append(r)
        if r.problem:
            return
        self.count += 1
        self.top1 += r.correct
        self.top5 += r.in_top5
        tally = self.per_class.setdefault(r.true, [0, 0])
        tally[0] += 1
        tally[1] += r.correct
        if not r.correct:
            self.confusions[(r.true, r.predicted)] += 1

    @property
    def mistakes(self) -> int:
        """Readable images classified wrongly (top-1)."""
        return self.count - self.top1

    @property
    def problems(self) -> list[ImageResult]:
        return [r for r in self.results if r.problem]

    def accuracy(self) -> dict[str, float]:
        n = max(self.count, 1)  # an empty run reports 0.0 with count 0
        return {"top1": round(self.top1 / n, 6), "top5": round(self.top5 / n, 6)}

    def summary(self, model: CamModel, dataset: str) -> dict:
        """The JSON document's counts: the model, the set, accuracy and per-class counts."""
        return {"model": model.name, "preprocess": model.preprocess_name, "dataset": dataset,
                "count": self.count, "accuracy": self.accuracy(),
                "per_class": [{"index": i, "label": model.short_label(i), "count": n,
                               "top1": round(ok / n, 6)}
                              for i, (n, ok) in sorted(self.per_class.items())],
                **({"ran_on": self.ran_on} if self.ran_on else {})}


def finite_or(value: float, default: float) -> float:
    """`value`, or `default` when it is not a number (a broken model's confidence)."""
    return value if math.isfinite(value) else default
