"""The HTML report of `camview evaluate --report`: one file that opens in any browser, offline.

Pictures are embedded as JPEG data URIs, so the file can be mailed or archived alone. Cards
are written one by one as their maps are drawn: a report of a hundred mistakes never holds
more than one mistake's pictures in memory. Every string from the user (file names, labels,
the dataset's name) is escaped.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from camview.drawing.output_files import atomic_file
from camview.errors import OutputError
from camview.sets.report_views import CSS as VIEWS_CSS

JPEG_QUALITY = 85
CONFUSIONS_SHOWN = 20

CSS = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #59636e; --line: #d0d7de; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       margin: 24px auto; max-width: 1140px; padding: 0 16px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 8px; }
.muted { color: var(--muted); }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.summary dt { color: var(--muted); } dl.summary dd { margin: 0; font-weight: 600; }
table { border-collapse: collapse; } th, td { padding: 3px 10px; border-bottom: 1px solid
  var(--line); text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin: 12px 0; }
.card h3 { font-size: 16px; margin: 0 0 8px; overflow-wrap: anywhere; }
.card h3 .rank { color: var(--muted); font-weight: 400; margin-right: 6px; }
.views { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px; }
figure { margin: 0; } figure img { width: 100%; height: auto; display: block;
  border-radius: 4px; background: #eee; }
figcaption { font-size: 14px; margin-top: 4px; } .pred { color: #b42318; } .true { color: #1a7f37; }
.path { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; margin-top: 6px; }
.top5 { margin: 6px 0 0; padding-left: 22px; font-size: 13px; columns: 2; }
.top5 .is-true { color: #1a7f37; font-weight: 600; }
.controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
.controls input { font: inherit; padding: 3px 6px; min-width: 260px; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 13px; margin: 6px 0; }
.legend .bar { width: 260px; height: 14px; border: 1px solid var(--line); }
@media print {
  .controls { display: none; }
  body { margin: 0; max-width: none; font-size: 11pt; }
  .card { break-inside: avoid; page-break-inside: avoid; }
  h2, p.intro { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; }
}
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


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def percent(p: float | None) -> str:
    return "n/a" if p is None or not math.isfinite(p) else f"{100 * p:.1f}\u00a0%"


def data_uri(image: np.ndarray) -> str:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OutputError("a picture of the report cannot be encoded as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def image_tag(image: np.ndarray | None, alt: str) -> str:
    """An embedded picture with its alt text (or a line saying it is not available)."""
    if image is None:
        return f'<div class="muted">{e(alt)}: not available</div>'
    h, w = image.shape[:2]
    return f'<img src="{data_uri(image)}" width="{w}" height="{h}" alt="{e(alt)}">'


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


def file_link(path: str) -> str:
    """A link to the original image that opens from the report wherever it is kept."""
    try:
        return Path(path).resolve().as_uri()
    except ValueError:  # not a path a URI can name
        return path


def summary_html(summary: dict, method_title: str, mistakes: int, shown: int,
                 problems: list[tuple[str, str]], views: Iterable[str] = ()) -> str:
    acc = summary["accuracy"]
    rows = [("Model", summary["model"])]
    if "preprocess" in summary:
        rows.append(("Preprocessing", summary["preprocess"]))
    rows += [("Dataset", summary["dataset"]), ("Images classified", summary["count"]),
             ("Top-1 accuracy", percent(acc["top1"])), ("Top-5 accuracy", percent(acc["top5"])),
             ("Mistakes", mistakes), ("Maps", method_title)]
    if problems:
        rows.append(("Unreadable images (skipped)", len(problems)))
    out = ['<dl class="summary">']
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows]
    out.append("</dl>")

    confusions = summary["confusions"][:CONFUSIONS_SHOWN]
    out.append("<h2>Most confused pairs</h2>")
    if confusions:
        out.append("<table><thead><tr><th>True class</th><th>Predicted as</th>"
                   "<th>Images</th></tr></thead><tbody>")
        out += [f'<tr><td>{e(c["true"]["label"])}</td><td>{e(c["predicted"]["label"])}</td>'
                f'<td class="n">{c["count"]}</td></tr>' for c in confusions]
        out.append("</tbody></table>")
        if len(summary["confusions"]) > len(confusions):
            out.append(f'<p class="muted">{len(summary["confusions"]) - len(confusions)} more '
                       "pairs in the JSON output.</p>")
    else:
        out.append("<p>None: every image was classified correctly.</p>")

    out.append("<h2>Per class, worst first</h2><table><thead><tr><th>Class</th><th>Images</th>"
               "<th>Top-1</th></tr></thead><tbody>")
    out += [f'<tr><td>{e(c["label"])}</td><td class="n">{c["count"]}</td>'
            f'<td class="n">{percent(c["top1"])}</td></tr>'
            for c in sorted(summary["per_class"], key=lambda c: (c["top1"], -c["count"]))]
    out.append("</tbody></table>")
    out += views  # the set as a whole (camview.sets.report_views), before the mistakes

    more = f" (the {shown} most confident of {mistakes})" if shown < mistakes else ""
    out.append(f"<h2>Mistakes, most confident first{e(more)}</h2>"
               f'<p class="muted intro">Each: the photo, where the network looked for the class it '
               f"chose ({e(method_title)}), and where it looked for the true class.</p>")
    return "\n".join(out)


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


def controls_html() -> str:
    return ('<div class="controls"><label>Filter <input id="filter" type="search" '
            'placeholder="file name, true or predicted class"></label>'
            '<label>Sort by <select id="sort"><option value="rank">confidence (most first)'
            '</option><option value="true">true class</option><option value="pred">predicted '
            'class</option><option value="name">file name</option></select></label>'
            '<span id="shown" class="muted"></span></div>')


def skipped_html(skipped: list[str]) -> str:
    """The folders and rows of the set that were left out, each with why."""
    if not skipped:
        return ""
    items = "".join(f"<li>{e(why)}</li>" for why in skipped)
    return f"<h2>Skipped from the set</h2><ul>{items}</ul>"


def problems_html(problems: list[tuple[str, str]]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{e(p)}: {e(why)}</li>" for p, why in problems)
    return f"<h2>Unreadable images (skipped)</h2><ul>{items}</ul>"


def set_scores_html(section: dict, titles: dict[str, str]) -> str:
    """evaluate --metrics: the methods ranked by how well the network's output supports their
    maps (camview.sets.evaluation.set_scores_json), each score's mean and 95 % interval."""
    from camview.sets.evaluation import SET_METRICS

    summary, ranking = section["summary"], section["ranking"]
    if not ranking:
        return ""
    best = titles.get(ranking[0], ranking[0])
    heads = {"deletion_auc": "Deletion AUC (lower is better)",
             "insertion_auc": "Insertion AUC (higher is better)",
             "average_drop": "Average Drop % (lower is better)",
             "increase_in_confidence": "Increase in Confidence % (higher is better)"}

    def cell(s: dict) -> str:
        if s["mean"] is None:
            return '<td class="n">–</td>'
        interval = "" if s["low"] is None else f" [{s['low']:.3g}, {s['high']:.3g}]"
        return f'<td class="n">{s["mean"]:.3g}{e(interval)}</td>'

    out = [f"<h2>Which map to believe: scores over the set</h2><p>For this model, on this set, "
           f"<b>{e(best)}</b>'s maps are the ones its output supports best (ranked by "
           "insertion AUC minus deletion AUC; the random map is the baseline; brackets: 95 % "
           "intervals).</p><table><thead><tr><th>#</th><th>Method</th><th>Images</th>"
           + "".join(f"<th>{e(heads[m])}</th>" for m in SET_METRICS) + "</tr></thead><tbody>"]
    from camview.checks.faithfulness import RANDOM

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


def write_report(path: str | Path, summary: dict, *, method_title: str,
                 cards: Iterable[MistakeCard], shown: int, mistakes: int,
                 problems: list[tuple[str, str]], skipped: list[str] | None = None,
                 colormap: str = "jet", threshold: float = 0.2, extra_html: str = "",
                 views: Iterable[str] = (), after: Iterable[str] = ()) -> int:
    """Write the report to `path`; `cards` (`shown` of them, of `mistakes` in all) are drawn
    as they are written. `views` (sections of the set as a whole) come before the mistakes,
    `after` (where two models differ) after them, each drawn as it is written. Goes through
    a temporary file, so an interrupted report never leaves half a page behind. Returns the
    number of cards written."""
    path = Path(path)
    written = 0
    title = f"camview: {summary['model']} on {summary['dataset']}"
    try:
        with atomic_file(path) as f:
            f.write(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                    f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f"<title>{e(title)}</title><style>{CSS}{VIEWS_CSS}</style></head><body>\n"
                    f"<h1>{e(title)}</h1>\n")
            f.write(summary_html(summary, method_title, mistakes, shown, problems, views))
            f.write(extra_html)  # evaluate --metrics: the methods ranked (set_scores_html)
            f.write(legend_html(colormap, threshold) + controls_html() + '<div id="mistakes">')
            for card in cards:
                f.write(card_html(card, method_title))
                written += 1
            f.write("</div>")
            if written == 0:
                f.write("<p>No mistakes to show.</p>")
            f.write(skipped_html(skipped or []))
            for section in after:
                f.write(section)
            f.write(problems_html(problems))
            f.write(f"<script>{SCRIPT}</script></body></html>\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return written
