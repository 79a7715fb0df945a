"""The report's views of the set as a whole, as HTML (no script): the embedding scatter as
inline SVG, the confusion matrix as a heat-coloured table, where each class looks (its mean
map over its mean image, flagged classes first) and where two models differ.

Pure functions of the JSON summary's parts and a few pictures; camview.sets.report writes them
into the page, camview.commands.evaluate gathers what they need.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from camview.drawing.colour import compose_blend

#: A palette readable on white (Tableau 10); classes beyond it are grey.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#17becf")
OTHER_COLOUR = "#9aa0a6"
SCATTER_SIDE = 640
CONFUSION_SHOWN = 30
WHERE_SIDE = 160  # the mean image and its mean map, drawn at this size

CSS = """
.scatter { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.scatter svg { border: 1px solid var(--line); border-radius: 6px; background: #fff;
  max-width: 100%; height: auto; }
.legend { list-style: none; padding: 0; margin: 0; font-size: 14px; }
.legend li { margin: 2px 0; } .swatch { display: inline-block; width: 11px; height: 11px;
  border-radius: 50%; margin-right: 6px; vertical-align: -1px; }
.swatch.miss { border-radius: 0; background: none; border: 2px solid #111; width: 8px;
  height: 8px; transform: rotate(45deg); }
table.confusion td, table.confusion th { padding: 2px 6px; font-size: 13px; text-align: right;
  font-variant-numeric: tabular-nums; border: 1px solid #fff; }
table.confusion th { text-align: left; } table.confusion thead th { writing-mode: vertical-rl;
  transform: rotate(180deg); text-align: left; vertical-align: bottom; max-height: 160px; }
table.confusion thead th:first-child { writing-mode: horizontal-tb; transform: none;
  font-weight: 400; color: var(--muted); }
.where { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: 12px; } .where figure { border: 1px solid var(--line); border-radius: 6px; padding: 6px; }
.where figure.flagged { border: 2px solid #b42318; } .flag { color: #b42318; font-weight: 600; }
"""


def e(text: object) -> str:
    import html

    return html.escape(str(text), quote=True)


def _pct(p: float) -> str:
    return "n/a" if p is None or not math.isfinite(p) else f"{100 * p:.1f} %"


@dataclass(frozen=True)
class Point:
    """One image in the scatter."""

    x: float
    y: float
    name: str
    true: int
    true_label: str
    predicted_label: str
    confidence: float
    mistake: bool
    card: int | None  # the rank of its card in the report, when it has one


def class_colours(counts: dict[int, int]) -> dict[int, str]:
    """A colour for each of the most frequent classes (ties: the lower index); grey after."""
    ranked = sorted(counts, key=lambda c: (-counts[c], c))
    return {c: PALETTE[n] if n < len(PALETTE) else OTHER_COLOUR for n, c in enumerate(ranked)}


def scatter_html(points: Sequence[Point], embedding: dict,
                 labels: dict[int, str]) -> str:
    """The embedding as an inline SVG scatter, coloured by true class, mistakes as dark-edged
    diamonds linking to their cards, a <title> (tooltip) on every point."""
    counts: dict[int, int] = {}
    for p in points:
        counts[p.true] = counts.get(p.true, 0) + 1
    colours = class_colours(counts)
    side, pad = SCATTER_SIDE, 12
    span = side - 2 * pad
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" '
           f'viewBox="0 0 {side} {side}" role="img" aria-label="embedding of {len(points)} '
           f'images, coloured by true class">']
    # Correct images first, mistakes on top of them.
    for p in sorted(points, key=lambda p: p.mistake):
        cx, cy = pad + p.x * span, pad + p.y * span
        tip = (f"{p.name}: {p.true_label} \u2192 {p.predicted_label}, "
               f"{_pct(p.confidence)}")
        colour = colours[p.true]
        if p.mistake:
            r = 5.5
            shape = (f'<path d="M{cx:.1f} {cy - r:.1f}L{cx + r:.1f} {cy:.1f}L{cx:.1f} '
                     f'{cy + r:.1f}L{cx - r:.1f} {cy:.1f}Z" fill="{colour}" stroke="#111" '
                     f'stroke-width="1.6"><title>{e(tip)}</title></path>')
            if p.card is not None:
                shape = f'<a href="#mistake-{p.card}">{shape}</a>'
        else:
            shape = (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}" '
                     f'fill-opacity="0.8"><title>{e(tip)}</title></circle>')
        out.append(shape)
    out.append("</svg>")
    legend = ['<ul class="legend">']
    shown = [c for c in sorted(colours, key=lambda c: (-counts[c], c))
             if colours[c] != OTHER_COLOUR]
    legend += [f'<li><span class="swatch" style="background:{colours[c]}"></span>'
               f"{e(labels.get(c, c))} ({counts[c]})</li>" for c in shown]
    rest = len(colours) - len(shown)
    if rest:
        legend.append(f'<li><span class="swatch" style="background:{OTHER_COLOUR}"></span>'
                      f"{rest} other classes</li>")
    legend.append('<li><span class="swatch miss"></span>a mistake (click: its card)</li></ul>')
    how = ("t-SNE" if embedding["method"] == "tsne" else "PCA (too few images for t-SNE)")
    return ("<h2>The set as the network sees it</h2>"
            f'<p class="muted intro">Each image is a point: the {embedding["dims"]} channels of '
            f'{e(embedding["layer"])}, globally pooled, reduced to two dimensions with {how}. '
            "Images the network sees alike sit together; a mistake among another class's "
            "points was seen as that class.</p>"
            f'<div class="scatter">{"".join(out)}{"".join(legend)}</div>')


def _heat(fraction: float, diagonal: bool) -> str:
    """A background for a cell: green on the diagonal, red off it, stronger with more."""
    if fraction <= 0:
        return "#f6f8fa"
    a = 0.15 + 0.85 * min(1.0, fraction)
    rgb = (26, 127, 55) if diagonal else (180, 35, 24)
    ink = "#fff" if a > 0.55 else "#1b1f24"
    return f"background:rgba({rgb[0]},{rgb[1]},{rgb[2]},{a:.2f});color:{ink}"


def confusion_html(confusion: dict) -> str:
    """The confusion matrix as a table, cells coloured by their share of the row; with more
    than CONFUSION_SHOWN classes, the most confused ones (by mistakes in their row and
    column)."""
    labels, matrix = confusion["labels"], np.asarray(confusion["matrix"], np.int64)
    head = "<h2>Confusion matrix</h2>"
    if len(labels) < 2:
        return (head + "<p>Only one class in the set: there is no confusion between classes "
                "to show (its mistakes are other classes, in the pairs above).</p>")
    n = len(labels)
    off = matrix[:, :n] - np.diag(np.diag(matrix[:, :n]))
    errors = off.sum(axis=1) + off.sum(axis=0) + matrix[:, n]
    keep = sorted(np.argsort(-errors, kind="stable")[:CONFUSION_SHOWN])
    note = ""
    if n > CONFUSION_SHOWN:
        note = (f'<p class="muted">The {CONFUSION_SHOWN} most confused of {n} classes; the '
                "whole matrix is in the JSON output (\"confusion\").</p>")
    rows = ['<table class="confusion"><thead><tr><th>true \u2193 / predicted \u2192</th>']
    rows += [f"<th>{e(labels[c])}</th>" for c in keep] + ["<th>other</th></tr></thead><tbody>"]
    for r in keep:
        total = max(1, int(matrix[r].sum()))
        cells = [f'<td style="{_heat(matrix[r, c] / total, r == c)}">{matrix[r, c]}</td>'
                 for c in keep]
        # Mistakes into classes not shown here count as "other" too.
        other = int(matrix[r].sum() - sum(matrix[r, c] for c in keep))
        cells.append(f'<td style="{_heat(other / total, False)}">{other}</td>')
        rows.append(f"<tr><th>{e(labels[r])}</th>{''.join(cells)}</tr>")
    rows.append("</tbody></table>")
    return (head + '<p class="muted intro">Rows: the true class; columns: the class predicted '
            '("other": a class not in the set, or not shown). Colour: the share of the row.'
            "</p>" + note + "".join(rows))


def where_picture(mean_image: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A class's mean map blended over its mean image, WHERE_SIDE square, BGR uint8."""
    big = cv2.resize(mean_image, (WHERE_SIDE, WHERE_SIDE), interpolation=cv2.INTER_LINEAR)
    return compose_blend(big, grid, alpha=0.5)


@dataclass(frozen=True)
class WhereCard:
    label: str
    images: int
    where: dict
    flag: str | None
    picture: np.ndarray | None


def where_html(cards: Iterable[WhereCard], image_tag) -> str:
    """A figure per class, flagged classes first; `image_tag(picture, alt)` embeds a picture."""
    cards = sorted(cards, key=lambda c: (c.flag is None, c.label.lower()))
    flagged = sum(c.flag is not None for c in cards)
    out = ["<h2>Where each class looks</h2>",
           '<p class="muted intro">Per class, the mean of its images\' maps of their true class '
           "(each normalised to its maximum, in frame coordinates), over the mean of its "
           "images. A class whose maps peak in the same place near an edge is flagged: the "
           "network may have learnt something the images share instead of the object. "
           f"{flagged} flagged.</p>", '<div class="where">']
    for c in cards:
        w = c.where
        facts = (f"peak at y {w['peak'][0]:.2f}, x {w['peak'][1]:.2f}; "
                 f"{_pct(w['consistency'])} of peaks near it; {_pct(w['border'])} of the map "
                 "in the outer 15 %")
        alt = f"mean map of {c.label!r} over its {c.images} images"
        flag = f'<p class="flag">{e(c.flag)}</p>' if c.flag else ""
        out.append(f'<figure class="{"flagged" if c.flag else ""}">'
                   f"{image_tag(c.picture, alt)}<figcaption><b>{e(c.label)}</b> "
                   f"({c.images} images)<br>{e(facts)}{flag}</figcaption></figure>")
    out.append("</div>")
    return "".join(out)


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


def versus_html(first_name: str, first_accuracy: dict, versus: dict,
                cards: Iterable[DifferenceCard], image_tag) -> str:
    """Section "Where the two models differ": both accuracies, agreement, and the images one
    model gets right and the other wrong, with each model's map of the class it chose."""
    second = versus["model"]
    rows = [("Model", first_name, second),
            ("Top-1", _pct(first_accuracy["top1"]), _pct(versus["accuracy"]["top1"])),
            ("Top-5", _pct(first_accuracy["top5"]), _pct(versus["accuracy"]["top5"])),
            ("Right where the other is wrong", versus["only_first_right"],
             versus["only_second_right"])]
    out = ["<h2>Where the two models differ</h2>",
           f"<p>They agree on the top-1 class of {_pct(versus['agree'])} of the "
           f"{versus['count']} images both classified.</p>",
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
                           f"{_pct(prob)} ({'right' if right else 'wrong'})</figcaption>"
                           "</figure>")
        out.append(f'<article class="card" id="differ-{n}"><h3>{e(c.name)} — true: '
                   f'{e(c.true)}</h3><div class="views">{"".join(figures)}</div>'
                   f'<div class="path">{e(c.path)}</div></article>')
    return "\n".join(out)
