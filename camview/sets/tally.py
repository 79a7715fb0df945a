"""A run's fold: the counts (camview.sets.counts) and the run's set-level views
(camview.sets.view_registry), fed one result at a time, then folded over the whole set; the
JSON document's summary from both. `camview evaluate` and the window's set view keep one each.
"""

from __future__ import annotations

import numpy as np

from camview.models import CamModel
from camview.sets.classify import Classify, classify_set
from camview.sets.counts import DEFAULT_MAX_MISTAKES, Counts
from camview.sets.dataset import LabelledSet
from camview.sets.results import ImageResult, ResultCache
from camview.sets.view_registry import make_views
from camview.sets.views.base import SetOptions, SetPass, SetView
from camview.sets.views.confusion import confusion_matrix
from camview.sets.views.embedding import Embedding, EmbeddingView, FeatureStore
from camview.sets.views.mistakes import MistakesView
from camview.sets.views.where import WhereTally, WhereView


class Tally(Counts):
    """The counts and the run's views. `Tally(max_mistakes)` has the views a run with the
    set views has (the mistakes, confusion, where each class looks, the embedding); a run's
    own options give its own."""

    def __init__(self, max_mistakes: int = DEFAULT_MAX_MISTAKES,
                 options: SetOptions | None = None) -> None:
        super().__init__()
        self.options = options or SetOptions(max_mistakes=max_mistakes)
        self.views: list[SetView] = make_views(self.options)

    @property
    def max_mistakes(self) -> int:
        return self.options.max_mistakes

    def view(self, name: str) -> SetView | None:
        """The run's view called `name`, or None when this run does not have it."""
        return next((v for v in self.views if v.name == name), None)

    def add(self, r: ImageResult) -> None:
        for view in self.views:  # each keeps what it needs, the pass's record included
            view.add(r, len(self.results))
        super().add(r)

    def fold(self, run: SetPass, interrupted: bool = False) -> bool:
        """Each view's work over the whole set, in the registry's order, until Ctrl+C; then,
        when anything was cut short, each view hears of it. True when the run was cut short."""
        for view in self.views:
            if interrupted:
                break
            interrupted = view.fold(self, run)
        if interrupted:
            for view in self.views:
                view.cut_short()
        return interrupted

    def summary(self, model: CamModel, dataset: str) -> dict:
        """The JSON document without its "images" list: the counts, then each view's part in
        the registry's order."""
        doc = super().summary(model, dataset)
        for view in self.views:
            doc.update(view.json_part(self, model))
        return doc

    def image_json(self, position: int) -> dict:
        """What the views add to the JSON entry of the result at `position`."""
        out: dict = {}
        for view in self.views:
            out.update(view.image_json(position))
        return out

    def said(self, model: CamModel, dataset: str) -> list[str]:
        """The views' lines under the command's summary line."""
        return [line for v in self.views if (line := v.said(self, model, dataset))]

    # -- the views the window and the tests read directly
    def ranked_mistakes(self) -> list[ImageResult]:
        """The mistakes kept for cards, most confident first (then in set order)."""
        view = self.view(MistakesView.name)
        return view.ranked() if isinstance(view, MistakesView) else []

    def confusion(self, model: CamModel) -> dict:
        """The confusion matrix (the JSON's "confusion")."""
        return confusion_matrix(self, model)

    @property
    def where(self) -> WhereTally:
        view = self.view(WhereView.name)
        return view.where if isinstance(view, WhereView) else WhereTally()

    @property
    def _embedding_view(self) -> EmbeddingView | None:
        view = self.view(EmbeddingView.name)
        return view if isinstance(view, EmbeddingView) else None

    @property
    def features(self) -> FeatureStore:
        view = self._embedding_view
        return view.features if view is not None else FeatureStore()

    @property
    def has_views(self) -> bool:
        return self.features.count > 0

    @property
    def embedding(self) -> Embedding | None:
        view = self._embedding_view
        return view.embedding if view is not None else None

    def finish_views(self) -> None:
        """Reduce the features to the 2-D embedding (t-SNE: seconds for a large set)."""
        if self._embedding_view is not None:
            self._embedding_view.finish()

    def embedding_points(self) -> np.ndarray:
        """(len(results), 2) float32: each result's point, NaN where it has none."""
        view = self._embedding_view
        if view is None:
            return np.full((len(self.results), 2), np.nan, np.float32)
        return view.points(len(self.results))


def evaluate_set(model: CamModel, dataset: LabelledSet, tally: Tally, *, batch_size: int,
                 cache: ResultCache | None, progress=None, views: bool = False,
                 classify: Classify = classify_set) -> bool:
    """Classify the whole set into `tally` (with `views`, the pass's per-image record too);
    True when Ctrl+C cut it short. `classify` is the pass: the local one, or the same pass
    spread over a Ray cluster (camview.sets.on_ray.RayRun.classify)."""
    try:
        for result in classify(model, dataset.images, batch_size=batch_size, cache=cache,
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
