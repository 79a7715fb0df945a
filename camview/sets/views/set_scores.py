"""Scores over a set (issue 18, `camview evaluate --metrics`): every listed method's map of
each image's top-1 class scored the way the network's own output judges it (deletion and
insertion AUC, Average Drop, Increase in Confidence, against a random map), then each method's
means with 95 % intervals and a ranking: which method's maps this model's output supports.
In the report a ranked table; not in the window.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camview.checks.faithfulness import RANDOM, confidence_changes, random_map, score_maps
from camview.errors import SourceError
from camview.maps import Method
from camview.maps.shared_pass import explain_shared
from camview.models import CamModel
from camview.sets.counts import Counts
from camview.sets.dataset import LabelledImage
from camview.sets.markup import e
from camview.sets.views.base import Page, Part, Place, SetPass, SetView
from camview.sources.images import load_image


class SetScoresView(SetView):
    """JSON "metrics"; the report's ranked table; a line naming the best method."""

    name = "set_scores"
    order = 50

    def __init__(self, options) -> None:
        super().__init__(options)
        self.section: dict | None = None  # the JSON part, once scored

    @classmethod
    def wanted(cls, options) -> bool:
        return bool(options.metrics)

    def fold(self, counts: Counts, run: SetPass) -> bool:
        progress = run.progress("images scored") if run.progress else None
        scored: list[ImageScores] = []
        interrupted = False
        try:
            score = run.score or score_set  # here, or on a Ray cluster's workers
            for item in score(run.model, run.dataset.images, self.options.metrics):
                scored.append(item)
                if progress is not None:
                    progress.update(len(scored))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if progress is not None:
                progress.finish(len(scored))
        self.section = set_scores_json(run.model, scored)
        return interrupted

    def titles(self) -> dict[str, str]:
        return {m.name: m.title for m in self.options.metrics}

    def json_part(self, counts: Counts, model: CamModel) -> dict:
        return {} if self.section is None else {"metrics": self.section}

    def html_parts(self, page: Page) -> list[Part]:
        if self.section is None:
            return []
        return [Part(Place.SCORES, [set_scores_html(self.section, self.titles())])]

    def said(self, counts: Counts, model: CamModel, dataset: str) -> str | None:
        if self.section is None or not self.section["ranking"]:
            return None
        return verdict(self.section, self.titles()) + f" (of {', '.join(self.section['ranking'])})"


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
    def margin(name: str) -> float:
        ins, dele = summary[name]["insertion_auc"]["mean"], summary[name]["deletion_auc"]["mean"]
        return -math.inf if ins is None or dele is None else ins - dele

    return sorted((n for n in summary if n != RANDOM), key=margin, reverse=True)


def leaders(scored: Sequence[ImageScores], ranking: list[str]) -> list[str]:
    """The methods that share the first place: the first of the ranking and every other whose
    margin (insertion minus deletion AUC) it does not clear on these images, i.e. the 95 %
    interval of the per-image difference of the two margins (the same images: a paired
    comparison) reaches 0. One name only when the first is better than each of the others."""
    if not ranking:
        return []

    def margins(name: str) -> dict[int, float]:
        return {i: s.scores[name]["insertion_auc"] - s.scores[name]["deletion_auc"]
                for i, s in enumerate(scored) if name in s.scores}

    first = margins(ranking[0])
    tied = [ranking[0]]
    for name in ranking[1:]:
        other = margins(name)
        differences = [first[i] - other[i] for i in first if i in other]
        interval = mean_interval(differences)
        if interval["low"] is None or interval["low"] <= 0:
            tied.append(name)
    return tied


def set_scores_json(model: CamModel, scored: Sequence[ImageScores]) -> dict:
    """The JSON section: per image its scores, per method the means and intervals, the
    ranking and the leaders (one unless the first place is shared)."""
    summary = summarise_scores(scored)
    ranking = rank_methods(summary)
    return {"metrics": list(SET_METRICS), "ranking": ranking,
            "leaders": leaders(scored, ranking), "summary": summary,
            "images": [{"path": str(s.path), **({"problem": s.problem} if s.problem else {
                "target": {"index": s.target, "label": model.short_label(s.target)},
                "scores": {n: {k: round(v, 6) for k, v in m.items()}
                           for n, m in s.scores.items()}})} for s in scored]}


def verdict(section: dict, titles: dict[str, str]) -> str:
    """The sentence that names the best method, or the ones tied for first place."""
    names = [titles.get(n, n) for n in section["leaders"]]
    if len(names) == 1:
        return (f"For this model, on this set, {names[0]}'s maps are the ones its output "
                "supports best")
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return (f"For this model, on this set, {listed} are tied for the maps its output supports "
            "best: the 95 % interval of their difference from the first reaches 0")


def set_scores_html(section: dict, titles: dict[str, str]) -> str:
    """evaluate --metrics: the methods ranked by how well the network's output supports their
    maps (set_scores_json), each score's mean and 95 % interval."""
    summary, ranking = section["summary"], section["ranking"]
    if not ranking:
        return ""
    heads = {"deletion_auc": "Deletion AUC (lower is better)",
             "insertion_auc": "Insertion AUC (higher is better)",
             "average_drop": "Average Drop % (lower is better)",
             "increase_in_confidence": "Increase in Confidence % (higher is better)"}

    def cell(s: dict) -> str:
        if s["mean"] is None:
            return '<td class="n">–</td>'
        interval = "" if s["low"] is None else f" [{s['low']:.3g}, {s['high']:.3g}]"
        return f'<td class="n">{s["mean"]:.3g}{e(interval)}</td>'

    out = [f"<h2>Which map to believe: scores over the set</h2><p>{e(verdict(section, titles))}"
           " (ranked by insertion AUC minus deletion AUC; the random map is the baseline; "
           "brackets: 95 % intervals).</p><table><thead><tr><th>#</th><th>Method</th>"
           "<th>Images</th>"
           + "".join(f"<th>{e(heads[m])}</th>" for m in SET_METRICS) + "</tr></thead><tbody>"]
    for rank, name in enumerate([*ranking, RANDOM], 1):
        if name not in summary:
            continue
        row = summary[name]
        label = "random map (baseline)" if name == RANDOM else titles.get(name, name)
        number = "" if name == RANDOM else str(rank)
        out.append(f"<tr><td>{number}</td><td>{e(label)}</td>"
                   f'<td class="n">{row["deletion_auc"]["count"]}</td>'
                   + "".join(cell(row[m]) for m in SET_METRICS) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)
