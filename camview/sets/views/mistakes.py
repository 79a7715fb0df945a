"""The mistakes: the pairs of classes most often confused, and the most confident mistakes,
each with the maps of the class the network chose and of the true class (the report's cards;
the window's list and its confused pairs).

Only the `max_mistakes` most confident mistakes are kept for cards (a min-heap: the least
confident drops out), so memory stays flat with the set's size; only the images a report shows
ever get maps, drawn as their card is written.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from camview.drawing.explain import describe, draw
from camview.drawing.overlay import OverlayStyle
from camview.errors import SourceError
from camview.maps import Method
from camview.models import CamModel
from camview.sets.batches import network_input
from camview.sets.counts import Counts, finite_or
from camview.sets.markup import e, file_link, image_tag, percent
from camview.sets.results import ImageResult
from camview.sets.views.base import Page, Part, Place, SetView
from camview.sources.images import load_image, shrink

#: Long side of the photo and maps a report shows (the maps are drawn at this size).
VIEW_SIDE = 320
CONFUSIONS_SHOWN = 20


class MistakesView(SetView):
    """The confused pairs (JSON "confusions") and the most confident mistakes' cards."""

    name = "mistakes"
    order = 10

    def __init__(self, options) -> None:
        super().__init__(options)
        self._heap: list[tuple[float, int, ImageResult]] = []

    def add(self, result: ImageResult, position: int) -> None:
        if result.problem or result.correct or self.options.max_mistakes <= 0:
            return
        if result.views is not None:  # the card needs the result, not the pass's record
            result = replace(result, views=None)
        entry = (finite_or(result.confidence, -1.0), -result.index, result)  # ties: set order
        if len(self._heap) < self.options.max_mistakes:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heappushpop(self._heap, entry)

    def ranked(self) -> list[ImageResult]:
        """The mistakes kept, most confident first (then in set order), without their pass's
        record (the results the counts keep)."""
        return [r for _, _, r in sorted(self._heap, key=lambda e: (-e[0], -e[1]))]

    def json_part(self, counts: Counts, model: CamModel) -> dict:
        def cls(i: int) -> dict:
            return {"index": i, "label": model.short_label(i)}

        return {"confusions": [{"true": cls(t), "predicted": cls(p), "count": n}
                               for (t, p), n in sorted(counts.confusions.items(),
                                                       key=lambda kv: (-kv[1], kv[0]))]}

    def html_parts(self, page: Page) -> list[Part]:
        ranked = self.ranked()
        model, method = page.model, page.method

        def cards() -> Iterator[MistakeCard]:
            for rank, r in enumerate(ranked, 1):
                views = explain_mistake(model, method, r)
                yield MistakeCard(
                    rank=rank, path=str(r.path), name=r.path.name,
                    predicted=model.short_label(r.predicted), predicted_prob=r.confidence,
                    true=model.short_label(r.true), true_prob=r.true_prob, photo=views.photo,
                    predicted_map=views.predicted, true_map=views.true, problem=views.problem,
                    top=[(model.short_label(i), p) for i, p in r.top])

        style = page.style  # what explain_mistake draws with: the legend says its colours
        return [Part(Place.PAIRS, [pairs_html(page.summary["confusions"])]),
                Part(Place.MISTAKES_HEADING,
                     [heading_html(method.title, page.counts.mistakes, len(ranked))]),
                Part(Place.MISTAKES, cards_html(cards(), method.title, style.colormap,
                                                style.threshold)),
                Part(Place.SCRIPTS, [f"<script>{SCRIPT}</script>"])]


# ---------------------------------------------------------------------------------------------
# The maps of one mistake


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
    views = [draw(photo, describe(model, method.explain(x, target), topk=0, pinned=False,
                                  frame_hw=photo.shape[:2]), style)
             for target in (result.predicted, result.true)]
    return MistakeViews(photo, *views)


# ---------------------------------------------------------------------------------------------
# Its HTML

#: Filtering and sorting the cards, in the file itself (works offline, no library).
SCRIPT = """
(function () {
  var box = document.getElementById('mistakes'), q = document.getElementById('filter'),
      by = document.getElementById('sort'), n = document.getElementById('shown');
  if (!box) return;
  var cards = Array.prototype.slice.call(box.querySelectorAll('article.card'));
  function keyOf(c, k) { return k === 'conf' ? -parseFloat(c.dataset.conf) :
      k === 'rank' ? parseInt(c.dataset.rank, 10) : (c.dataset[k] || '').toLowerCase(); }
  function update() {
    var k = by.value, text = q.value.trim().toLowerCase(), shown = 0;
    cards.sort(function (a, b) {
      var x = keyOf(a, k), y = keyOf(b, k);
      return x < y ? -1 : x > y ? 1 : a.dataset.rank - b.dataset.rank; });
    cards.forEach(function (c) {
      var hit = !text || [c.dataset.name, c.dataset.true, c.dataset.pred].join(' ')
        .toLowerCase().indexOf(text) >= 0;
      c.style.display = hit ? '' : 'none'; shown += hit ? 1 : 0; box.appendChild(c); });
    n.textContent = shown + ' of ' + cards.length + ' shown';
  }
  q.addEventListener('input', update); by.addEventListener('change', update); update();
})();
"""


@dataclass
class MistakeCard:
    """One mistake as the report shows it: the photo and the two maps, BGR uint8."""

    rank: int
    path: str
    name: str
    predicted: str
    predicted_prob: float
    true: str
    true_prob: float
    photo: np.ndarray | None
    predicted_map: np.ndarray | None
    true_map: np.ndarray | None
    problem: str | None = None
    top: list[tuple[str, float]] = field(default_factory=list)  # top-5 (label, probability)


def pairs_html(confusions: list[dict]) -> str:
    """The pairs most often confused, as a table (the rest are in the JSON)."""
    shown = confusions[:CONFUSIONS_SHOWN]
    out = ["<h2>Most confused pairs</h2>"]
    if shown:
        out.append("<table><thead><tr><th>True class</th><th>Predicted as</th>"
                   "<th>Images</th></tr></thead><tbody>")
        out += [f'<tr><td>{e(c["true"]["label"])}</td><td>{e(c["predicted"]["label"])}</td>'
                f'<td class="n">{c["count"]}</td></tr>' for c in shown]
        out.append("</tbody></table>")
        if len(confusions) > len(shown):
            out.append(f'<p class="muted">{len(confusions) - len(shown)} more '
                       "pairs in the JSON output.</p>")
    else:
        out.append("<p>None: every image was classified correctly.</p>")
    return "\n".join(out)


def heading_html(method_title: str, mistakes: int, shown: int) -> str:
    more = f" (the {shown} most confident of {mistakes})" if shown < mistakes else ""
    return (f"<h2>Mistakes, most confident first{e(more)}</h2>"
            f'<p class="muted intro">Each: the photo, where the network looked for the class it '
            f"chose ({e(method_title)}), and where it looked for the true class.</p>")


def cards_html(cards: Iterable[MistakeCard], method_title: str, colormap: str,
               threshold: float) -> Iterator[str]:
    """The colour legend, the filter and the cards, each card drawn as it is written."""
    yield legend_html(colormap, threshold) + controls_html() + '<div id="mistakes">'
    written = 0
    for card in cards:
        yield card_html(card, method_title)
        written += 1
    yield "</div>"
    if written == 0:
        yield "<p>No mistakes to show.</p>"


def card_html(card: MistakeCard, method_title: str) -> str:
    name = card.name
    pred, true = card.predicted, card.true
    if card.problem:
        body = f'<p class="muted">{e(card.problem)}</p>'
    else:
        body = (
            '<div class="views">'
            f'<figure>{image_tag(card.photo, f"Photo {name}, true class {true!r}")}'
            f'<figcaption>Photo</figcaption></figure>'
            f'<figure>{image_tag(card.predicted_map, f"{method_title} map of {pred!r} on {name}")}'
            f'<figcaption class="pred">Predicted: <b>{e(pred)}</b> '
            f'{percent(card.predicted_prob)}</figcaption></figure>'
            f'<figure>{image_tag(card.true_map, f"{method_title} map of {true!r} on {name}")}'
            f'<figcaption class="true">True: <b>{e(true)}</b> {percent(card.true_prob)}'
            '</figcaption></figure></div>')
    marked = ' class="is-true"'
    top = "".join(f'<li{marked if label == true else ""}>{e(label)} {percent(prob)}</li>'
                  for label, prob in card.top)
    top = f'<ol class="top5" title="the top-5 classes">{top}</ol>' if top else ""
    data = (f'data-rank="{card.rank}" data-name="{e(name)}" data-true="{e(true)}" '
            f'data-pred="{e(pred)}" data-conf="{card.predicted_prob:.6f}"')
    return (f'<article class="card" id="mistake-{card.rank}" {data}><h3><span class="rank">'
            f'#{card.rank}</span>{e(name)} — {e(true)} taken for {e(pred)}</h3>{body}{top}'
            f'<div class="path"><a href="{e(file_link(card.path))}">{e(card.path)}</a></div>'
            '</article>\n')


def legend_html(colormap: str, threshold: float) -> str:
    """What the map colours mean: the colormap's own table, weakest to strongest, as a CSS
    gradient (no picture: the page's pictures are the photos and maps)."""
    from camview.drawing.colour import resolve_colormap

    ramp = np.arange(256, dtype=np.uint8)[None]
    table = cv2.applyColorMap(ramp, resolve_colormap(colormap))[0]  # BGR per value
    cut = round(threshold * 255)
    stops = [f"#808080 0% {100 * cut / 255:.1f}%"]
    for v in range(cut, 256, 16):
        b, g, r = (int(c) for c in table[v])
        stops.append(f"rgb({r},{g},{b}) {100 * v / 255:.1f}%")
    b, g, r = (int(c) for c in table[255])
    stops.append(f"rgb({r},{g},{b}) 100%")
    return ('<div class="legend"><span>weakest</span>'
            f'<span class="bar" role="img" aria-label="colour scale, {e(colormap)}" '
            f'style="background: linear-gradient(to right, {", ".join(stops)})"></span>'
            f'<span>strongest</span><span class="muted">each map scaled to its own maximum; '
            f'values under {threshold:g} of it are left uncoloured (grey)</span></div>')


def controls_html() -> str:
    """The filter box and the sort order over the cards (the page's script reads them)."""
    return ('<div class="controls"><label>Filter <input id="filter" type="search" '
            'placeholder="file name, true or predicted class"></label>'
            '<label>Sort by <select id="sort"><option value="rank">confidence (most first)'
            '</option><option value="true">true class</option><option value="pred">predicted '
            'class</option><option value="name">file name</option></select></label>'
            '<span id="shown" class="muted"></span></div>')
