"""Two models on one labelled set: the second model's results beside the first's, with the
classes matched by name when its labels differ, and the images where one is right and the
other wrong (`camview evaluate SET --model A --versus B`). In the report a section after the
mistakes, with both models' maps of the images where they differ; in the window the versus
list, its column and its filter."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from camview.errors import ModelError
from camview.maps import CAM, DEFAULT_METHOD, Method, fallback_method, make_method
from camview.models import CamModel
from camview.sets.classify import DEFAULT_BATCH, Classify, classify_set
from camview.sets.counts import Counts
from camview.sets.dataset import LabelledImage
from camview.sets.markup import count_of, e, image_tag, percent
from camview.sets.results import ImageResult, ResultCache
from camview.sets.views.base import Page, Part, Place, SetPass, SetView
from camview.sets.views.mistakes import explain_mistake

log = logging.getLogger(__name__)


class VersusView(SetView):
    """JSON "versus" and each image's "versus_top"; the report's section where the two models
    differ; the window's versus list (its column, the "Models differ" filter)."""

    name = "versus"
    order = 60

    def __init__(self, options) -> None:
        super().__init__(options)
        self.versus: Versus | None = None

    @classmethod
    def wanted(cls, options) -> bool:
        return options.versus is not None

    def fold(self, counts: Counts, run: SetPass) -> bool:
        self.versus = Versus(run.model, self.options.versus, run.dataset.images)
        return self.versus.run(batch_size=run.batch_size, cache=run.cache,
                               progress=run.progress("images") if run.progress else None,
                               classify=run.classify)

    def cut_short(self) -> None:
        self.versus = None  # a half-run second model would compare nothing honestly
        log.warning("the --versus model's comparison was cut short and is left out")

    def json_part(self, counts: Counts, model: CamModel) -> dict:
        return {} if self.versus is None else {"versus": self.versus.summary(counts.results)}

    def image_json(self, position: int) -> dict:
        return {} if self.versus is None else {"versus_top": self.versus.top_json(position)}

    def html_parts(self, page: Page) -> list[Part]:
        if self.versus is None:
            return []
        versus, second_method = self.versus, self.options.versus_method or page.method

        def section() -> Iterator[str]:  # its maps drawn when the page reaches it
            yield versus_section(page, versus, second_method, self.options.max_mistakes)

        # Named in the page's header, and set beside the set-level views: it is one of them,
        # not an appendix after every mistake card.
        named = (f'<dl class="summary"><dt>Compared with</dt><dd>{e(versus.second.name)} '
                 f"(maps: {e(second_method.title)})</dd></dl>")
        return [Part(Place.SUMMARY, [named]), Part(Place.OVERVIEW, section())]

    def said(self, counts: Counts, model: CamModel, dataset: str) -> str | None:
        if self.versus is None:
            return None
        v, second = self.versus.summary(counts.results), self.versus.second
        return (f"{second.name} on {dataset}: top-1 {100 * v['accuracy']['top1']:.1f} %, "
                f"agree {100 * v['agree']:.1f} %, only {model.name} right "
                f"{v['only_first_right']}, only {second.name} right {v['only_second_right']}")


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


def versus_method_for(name: str | None, second: CamModel) -> Method:
    """The second model's maps use the first's method `name`; with none asked (None: no
    --method), the second model's own default, as `camview render` would pick it: CAM, or a
    vision transformer's recommended method (CAM is not defined for it). A method that cannot
    map the second model gives way to its fallback (Grad-CAM; HiResCAM for a ViT): a model
    the user picks need not be CAM-able, and a CNN and a ViT are compared on one set."""
    if name is None and second.transformer is not None and (why := CAM.applies_to(second)):
        fallback = fallback_method(second)
        log.info("CAM is not defined for %s (%s): its maps use %s", second.name, why,
                 make_method(fallback, second).title)
        return make_method(fallback, second)
    try:
        return make_method(name or DEFAULT_METHOD, second)
    except ModelError as exc:
        fallback = fallback_method(second)
        method = make_method(fallback, second)
        log.warning("%s; the second model's maps use %s", exc, method.title)
        return method


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
            progress=None, cancel=None, classify: Classify = classify_set) -> bool:
        """Classify the set with the second model; True when Ctrl+C cut it short. Images of
        an unmatched class are not classified (their result stays None)."""
        positions = [n for n, i in enumerate(self.images) if self.matched(i.label) is not None]
        mapped = [replace(self.images[n], label=self.matched(self.images[n].label))
                  for n in positions]
        self.results = [None] * len(self.images)
        try:
            for done, r in enumerate(classify(self.second, mapped, batch_size=batch_size,
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


# ---------------------------------------------------------------------------------------------
# Its HTML


@dataclass(frozen=True)
class DifferenceCard:
    name: str
    path: str
    true: str
    first: tuple[str, float, bool]  # predicted label, probability, right
    second: tuple[str, float, bool]
    photo: np.ndarray | None
    first_map: np.ndarray | None
    second_map: np.ndarray | None


def versus_section(page: Page, versus: Versus, second_method: Method, limit: int) -> str:
    """The section, each difference's maps drawn by its own model."""
    model, second = page.model, versus.second

    def cards() -> Iterator[DifferenceCard]:
        for d in versus.differences(page.counts.results, limit):
            a = explain_mistake(model, page.method, d.first)
            b = explain_mistake(second, second_method, d.second)
            yield DifferenceCard(
                d.first.path.name, str(d.first.path), model.short_label(d.first.true),
                (model.short_label(d.first.predicted), d.first.confidence, d.first.correct),
                (second.short_label(d.second.predicted), d.second.confidence,
                 d.second.correct), a.photo, a.predicted, b.predicted)

    return versus_html(model.name, page.summary["accuracy"], page.summary["versus"], cards())


def versus_html(first_name: str, first_accuracy: dict, versus: dict,
                cards: Iterable[DifferenceCard]) -> str:
    """Section "Where the two models differ": both accuracies, agreement, and the images one
    model gets right and the other wrong, with each model's map of the class it chose."""
    def pct(p: float) -> str:
        return percent(p, " ")

    second = versus["model"]
    rows = [("Model", first_name, second),
            ("Top-1", pct(first_accuracy["top1"]), pct(versus["accuracy"]["top1"])),
            ("Top-5", pct(first_accuracy["top5"]), pct(versus["accuracy"]["top5"])),
            ("Right where the other is wrong", versus["only_first_right"],
             versus["only_second_right"])]
    out = ["<h2>Where the two models differ</h2>",
           f"<p>They agree on the top-1 class of {pct(versus['agree'])} of the "
           f"{count_of(versus['count'], 'image')} both classified.</p>",
           "<table><tbody>" + "".join(f"<tr><th>{e(a)}</th><td>{e(b)}</td><td>{e(c)}</td></tr>"
                                      for a, b, c in rows) + "</tbody></table>"]
    if versus["unmatched"]:
        out.append(f'<p class="muted">Classes of the set {e(second)} has no label for (their '
                   f'images are left out of its counts): {e(", ".join(versus["unmatched"]))}.'
                   "</p>")
    for n, c in enumerate(cards, 1):
        figures = [f"<figure>{image_tag(c.photo, f'Photo {c.name}, true class {c.true!r}')}"
                   "<figcaption>Photo</figcaption></figure>"]
        for model, (label, prob, right), picture in ((first_name, c.first, c.first_map),
                                                     (second, c.second, c.second_map)):
            mark = "true" if right else "pred"
            figures.append(f"<figure>{image_tag(picture, f'{model} map of {label!r} on {c.name}')}"
                           f'<figcaption class="{mark}">{e(model)}: <b>{e(label)}</b> '
                           f"{pct(prob)} ({'right' if right else 'wrong'})</figcaption>"
                           "</figure>")
        out.append(f'<article class="card" id="differ-{n}"><h3>{e(c.name)} — true: '
                   f'{e(c.true)}</h3><div class="views">{"".join(figures)}</div>'
                   f'<div class="path">{e(c.path)}</div></article>')
    return "\n".join(out)
