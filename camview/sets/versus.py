"""Two models on one labelled set: the second model's results beside the first's, with the
classes matched by name when its labels differ, and the images where one is right and the
other wrong (`camview evaluate SET --model A --versus B`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from camview.errors import ModelError
from camview.maps import Method, make_method
from camview.models import CamModel
from camview.sets.dataset import LabelledImage
from camview.sets.evaluation import DEFAULT_BATCH, classify_set
from camview.sets.results import ImageResult, ResultCache

log = logging.getLogger(__name__)


def match_class(first: CamModel, second: CamModel, index: int) -> int | None:
    """The second model's class for the first's class `index`: the same index when both
    have the same labels, else found by any of the label's names; None when none matches."""
    if first.labels == second.labels:
        return index
    for name in [first.labels[index], *first.labels[index].split(",")]:
        found = second.class_names.find(name.strip())
        if found is not None:
            return found
    return None


def versus_method_for(name: str, second: CamModel) -> Method:
    """The second model's maps use the first's method `name`; Grad-CAM when CAM cannot read
    its head (a model the user picks need not be CAM-able)."""
    try:
        return make_method(name, second)
    except ModelError as exc:
        log.warning("%s; the second model's maps use Grad-CAM", exc)
        return make_method("gradcam", second)


@dataclass(frozen=True)
class Difference:
    """An image one model gets right and the other wrong."""

    position: int  # in the set
    first: ImageResult
    second: ImageResult


class Versus:
    """The second model's results over the first's set, aligned image by image."""

    def __init__(self, first: CamModel, second: CamModel,
                 images: Sequence[LabelledImage]) -> None:
        self.first, self.second = first, second
        self.images = images
        self._matched: dict[int, int | None] = {}
        self._methods: dict[str, Method] = {}
        self.results: list[ImageResult | None] = []

    def matched(self, index: int) -> int | None:
        if index not in self._matched:
            self._matched[index] = match_class(self.first, self.second, index)
        return self._matched[index]

    def result_for(self, first: ImageResult) -> ImageResult | None:
        """The second model's result for an image of the first's run (by set position);
        None before the run reaches it or for a class the second model has no name for."""
        n = first.index
        r = self.results[n] if 0 <= n < len(self.results) else None
        return r if r is not None and r.path == first.path else None

    def method_for(self, name: str) -> Method:
        """The second model's method for the first's method `name`, built once (a window
        walking the set asks for it at every image)."""
        if name not in self._methods:
            self._methods[name] = versus_method_for(name, self.second)
        return self._methods[name]

    @property
    def unmatched(self) -> list[str]:
        """The first model's classes in the set that the second model has no name for."""
        classes = sorted({i.label for i in self.images})
        return [self.first.short_label(c) for c in classes if self.matched(c) is None]

    def run(self, *, batch_size: int = DEFAULT_BATCH, cache: ResultCache | None = None,
            progress=None, cancel=None) -> bool:
        """Classify the set with the second model; True when Ctrl+C cut it short. Images of
        an unmatched class are not classified (their result stays None)."""
        positions = [n for n, i in enumerate(self.images) if self.matched(i.label) is not None]
        mapped = [replace(self.images[n], label=self.matched(self.images[n].label))
                  for n in positions]
        self.results = [None] * len(self.images)
        try:
            for done, r in enumerate(classify_set(self.second, mapped, batch_size=batch_size,
                                                  cache=cache, cancel=cancel), 1):
                position = positions[r.index]
                self.results[position] = replace(r, index=position)
                if progress is not None:
                    progress.update(done)
        except KeyboardInterrupt:
            return True
        finally:
            if progress is not None:
                progress.finish(len(positions))
        return False

    def compare(self, firsts: Sequence[ImageResult]) -> dict:
        """Counts over the images both models classified."""
        both = [(a, b) for a, b in zip(firsts, self.results, strict=False)
                if b is not None and not a.problem and not b.problem]
        agree = sum(self.matched(a.predicted) == b.predicted for a, b in both)
        return {"both": len(both), "agree": agree,
                "only_first_right": sum(a.correct and not b.correct for a, b in both),
                "only_second_right": sum(b.correct and not a.correct for a, b in both),
                "top1": sum(b.correct for _, b in both), "top5": sum(b.in_top5 for _, b in both)}

    def summary(self, firsts: Sequence[ImageResult]) -> dict:
        """The JSON's "versus"."""
        c = self.compare(firsts)
        n = max(c["both"], 1)
        return {"model": self.second.name, "preprocess": self.second.preprocess_name,
                "count": c["both"],
                "accuracy": {"top1": round(c["top1"] / n, 6), "top5": round(c["top5"] / n, 6)},
                "agree": round(c["agree"] / n, 6), "only_first_right": c["only_first_right"],
                "only_second_right": c["only_second_right"], "unmatched": self.unmatched}

    def top_json(self, position: int) -> list[dict]:
        """The second model's top-5 for one image ([] when it was not classified)."""
        r = self.results[position] if position < len(self.results) else None
        if r is None:
            return []
        return [{"index": i, "label": self.second.short_label(i),
                 "prob": round(p, 6) if math.isfinite(p) else None} for i, p in r.top]

    def differences(self, firsts: Sequence[ImageResult], limit: int) -> list[Difference]:
        """Up to `limit` images where exactly one model is right, the more confident wrong
        answer first."""
        found = [Difference(n, a, b) for n, (a, b) in enumerate(zip(firsts, self.results,
                                                                    strict=False))
                 if b is not None and not a.problem and not b.problem and a.correct != b.correct]

        def wrong_confidence(d: Difference) -> float:
            wrong = d.second if d.first.correct else d.first
            return wrong.confidence if math.isfinite(wrong.confidence) else -1.0

        found.sort(key=lambda d: (-wrong_confidence(d), d.position))
        return found[:limit]
