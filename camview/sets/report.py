"""The HTML report of `camview evaluate --report`: one file that opens in any browser, offline.

The page is its own few parts (the run in a few lines, the per-class table, what was skipped,
what could not be read) and each set-level view's parts (camview.sets.views), each at its
place. Pictures are embedded as JPEG data URIs, so the file can be mailed or archived alone.
Parts are written piece by piece as their pictures are drawn: a report of a hundred mistakes
never holds more than one mistake's pictures in memory. Every string from the user (file
names, labels, the dataset's name) is escaped (camview.sets.markup).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from camview.drawing.output_files import atomic_file
from camview.errors import OutputError
from camview.sets.markup import CSS, e, percent
from camview.sets.views.base import Page, Part, Place, SetView
from camview.sets.views.mistakes import (
    SCRIPT,
    MistakeCard,
    cards_html,
    heading_html,
    pairs_html,
)

__all__ = ["MistakeCard", "write_page", "write_report", "write_set_report"]


def write_set_report(path: str | Path, page: Page, views: Sequence[SetView]) -> None:
    """The report of a run: the page's own parts and every view's."""
    problems = [(str(r.path), r.problem) for r in page.counts.problems]
    mistakes = page.counts.mistakes
    parts = page_parts(page.summary, page.method.title, mistakes, problems, page.dataset.warnings)
    for view in views:
        parts += view.html_parts(page)
    write_page(path, f"camview: {page.summary['model']} on {page.summary['dataset']}", parts,
               CSS + "".join(view.css for view in views))


def page_parts(summary: dict, method_title: str, mistakes: int,
               problems: list[tuple[str, str]], skipped: list[str]) -> list[Part]:
    """The page's own parts: the run in a few lines, per class, skipped, unreadable."""
    return [Part(Place.SUMMARY, [summary_html(summary, method_title, mistakes, problems)]),
            Part(Place.PER_CLASS, [per_class_html(summary["per_class"])]),
            Part(Place.SKIPPED, [skipped_html(skipped)]),
            Part(Place.PROBLEMS, [problems_html(problems)])]


def write_page(path: str | Path, title: str, parts: Iterable[Part], css: str = CSS) -> None:
    """Write the parts in their places (parts of one place in the order given); the summary's
    parts on lines of their own. Goes through a temporary file, so an interrupted report never
    leaves half a page behind."""
    parts = sorted(parts, key=lambda part: part.place)
    summary = [p for p in parts if p.place <= Place.MISTAKES_HEADING]
    try:
        with atomic_file(path) as f:
            f.write(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                    f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f"<title>{e(title)}</title><style>{css}</style></head><body>\n"
                    f"<h1>{e(title)}</h1>\n")
            f.write("\n".join("".join(p.pieces) for p in summary))
            for part in parts[len(summary):]:
                for piece in part.pieces:
                    f.write(piece)
            f.write("</body></html>\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def summary_html(summary: dict, method_title: str, mistakes: int,
                 problems: list[tuple[str, str]]) -> str:
    acc = summary["accuracy"]
    rows = [("Model", summary["model"])]
    if "preprocess" in summary:
        rows.append(("Preprocessing", summary["preprocess"]))
    if "ran_on" in summary:
        rows.append(("Ran on", summary["ran_on"]))
    rows += [("Dataset", summary["dataset"]), ("Images classified", summary["count"]),
             ("Top-1 accuracy", percent(acc["top1"])), ("Top-5 accuracy", percent(acc["top5"])),
             ("Mistakes", mistakes), ("Maps", method_title)]
    if problems:
        rows.append(("Unreadable images (skipped)", len(problems)))
    out = ['<dl class="summary">']
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows]
    out.append("</dl>")
    return "\n".join(out)


def per_class_html(per_class: list[dict]) -> str:
    out = ["<h2>Per class, worst first</h2><table><thead><tr><th>Class</th><th>Images</th>"
           "<th>Top-1</th></tr></thead><tbody>"]
    out += [f'<tr><td>{e(c["label"])}</td><td class="n">{c["count"]}</td>'
            f'<td class="n">{percent(c["top1"])}</td></tr>'
            for c in sorted(per_class, key=lambda c: (c["top1"], -c["count"]))]
    out.append("</tbody></table>")
    return "\n".join(out)


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


def write_report(path: str | Path, summary: dict, *, method_title: str,
                 cards: Iterable[MistakeCard], shown: int, mistakes: int,
                 problems: list[tuple[str, str]], skipped: list[str] | None = None,
                 colormap: str = "jet", threshold: float = 0.2, extra_html: str = "",
                 views: Iterable[str] = (), after: Iterable[str] = ()) -> None:
    """A report from its pieces made elsewhere (cards, sections of the set as a whole before
    the mistakes, `extra_html` after their heading, `after` after them), with no run behind
    it: the page's layout on its own."""
    parts = page_parts(summary, method_title, mistakes, problems, skipped or [])
    parts += [Part(Place.PAIRS, [pairs_html(summary["confusions"])]),
              *(Part(Place.OVERVIEW, [section]) for section in views),
              Part(Place.MISTAKES_HEADING, [heading_html(method_title, mistakes, shown)]),
              Part(Place.SCORES, [extra_html]),
              Part(Place.MISTAKES, cards_html(cards, method_title, colormap, threshold)),
              Part(Place.COMPARISONS, after),
              Part(Place.SCRIPTS, [f"<script>{SCRIPT}</script>"])]
    write_page(path, f"camview: {summary['model']} on {summary['dataset']}", parts)
