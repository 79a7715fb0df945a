"""Classifying a labelled set and folding it, by the names callers have long used: the work is
in camview.sets.batches (the network's input, the batched call), camview.sets.classify (the
batched pass), camview.sets.tally (the fold) and camview.sets.views (the set-level views).
Scripts and the entry point import from here; nothing is defined here.
"""

from __future__ import annotations

from camview.sets.batches import (
    batch_capacity,
    batch_logits,
    batch_views,
    network_input,
    padded_size,
    resized_for_network,
    true_class_maps,
    views_of,
)
from camview.sets.classify import DEFAULT_BATCH, WAITING_BATCHES, classify_set
from camview.sets.counts import DEFAULT_MAX_MISTAKES
from camview.sets.tally import Tally, evaluate_set
from camview.sets.views.mistakes import VIEW_SIDE, MistakeViews, explain_mistake
from camview.sets.views.set_scores import (
    SET_METRICS,
    ImageScores,
    mean_interval,
    rank_methods,
    score_image,
    score_set,
    set_scores_json,
    summarise_scores,
)

__all__ = [
    "DEFAULT_BATCH", "DEFAULT_MAX_MISTAKES", "SET_METRICS", "VIEW_SIDE", "WAITING_BATCHES",
    "ImageScores", "MistakeViews", "Tally", "batch_capacity", "batch_logits", "batch_views",
    "classify_set", "evaluate_set", "explain_mistake", "mean_interval", "network_input",
    "padded_size", "rank_methods", "resized_for_network", "score_image", "score_set",
    "set_scores_json", "summarise_scores", "true_class_maps", "views_of",
]
