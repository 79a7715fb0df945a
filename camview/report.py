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
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camview.errors import OutputError
from camview.report_views import CSS as VIEWS_CSS

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
@media print {
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
    return (f'<article class="card" id="mistake-{card.rank}"><h3><span class="rank">'
            f'#{card.rank}</span>{e(name)} — {e(true)} taken for {e(pred)}</h3>{body}'
            f'<div class="path">{e(card.path)}</div></article>\n')


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
    out += views  # the set as a whole (camview.report_views), before the mistakes

    more = f" (the {shown} most confident of {mistakes})" if shown < mistakes else ""
    out.append(f"<h2>Mistakes, most confident first{e(more)}</h2>"
               f'<p class="muted intro">Each: the photo, where the network looked for the class it '
               f"chose ({e(method_title)}), and where it looked for the true class.</p>")
    return "\n".join(out)


def problems_html(problems: list[tuple[str, str]]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{e(p)}: {e(why)}</li>" for p, why in problems)
    return f"<h2>Unreadable images (skipped)</h2><ul>{items}</ul>"


def write_report(path: str | Path, summary: dict, *, method_title: str,
                 cards: Iterable[MistakeCard], shown: int, mistakes: int,
                 problems: list[tuple[str, str]], views: Iterable[str] = (),
                 after: Iterable[str] = ()) -> int:
    """Write the report to `path`; `cards` (`shown` of them, of `mistakes` in all) are drawn
    as they are written. `views` (sections of the set as a whole) come before the mistakes,
    `after` (where two models differ) after them, each drawn as it is written. Goes through
    a temporary file, so an interrupted report never leaves half a page behind. Returns the
    number of cards written."""
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    written = 0
    title = f"camview: {summary['model']} on {summary['dataset']}"
    try:
        with open(partial, "w", encoding="utf-8") as f:
            f.write(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                    f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f"<title>{e(title)}</title><style>{CSS}{VIEWS_CSS}</style></head><body>\n"
                    f"<h1>{e(title)}</h1>\n")
            f.write(summary_html(summary, method_title, mistakes, shown, problems, views))
            for card in cards:
                f.write(card_html(card, method_title))
                written += 1
            if written == 0:
                f.write("<p>No mistakes to show.</p>")
            for section in after:
                f.write(section)
            f.write(problems_html(problems))
            f.write("</body></html>\n")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written
