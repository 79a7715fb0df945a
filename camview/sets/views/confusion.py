"""The confusion matrix: rows the classes present in the set (true), columns the same classes
predicted, then "other" (a class not in the set). In the report a heat-coloured table (the
most confused classes of a large set); in the window its tab, whose cells filter the list.
"""

from __future__ import annotations

import numpy as np

from camview.models import CamModel
from camview.sets.counts import Counts
from camview.sets.markup import e
from camview.sets.views.base import Page, Part, Place, SetView

CONFUSION_SHOWN = 30


class ConfusionView(SetView):
    """JSON "confusion"; the report's matrix; the window's "Confusion" tab."""

    name = "confusion"
    order = 20
    tab = "Confusion"

    def json_part(self, counts: Counts, model: CamModel) -> dict:
        return {"confusion": confusion_matrix(counts, model)}

    def html_parts(self, page: Page) -> list[Part]:
        return [Part(Place.OVERVIEW, [confusion_html(page.summary["confusion"])])]


def confusion_matrix(counts: Counts, model: CamModel) -> dict:
    """The matrix and its labels (the JSON's "confusion"; the window's tab reads it too)."""
    classes = sorted(counts.per_class)
    column = {c: n for n, c in enumerate(classes)}
    matrix = [[0] * (len(classes) + 1) for _ in classes]
    for row, c in enumerate(classes):
        matrix[row][row] = counts.per_class[c][1]
    for (t, p), n in counts.confusions.items():
        matrix[column[t]][column.get(p, len(classes))] += n
    return {"labels": [model.short_label(c) for c in classes], "indices": classes,
            "other": "other", "matrix": matrix}


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
