"""The HTML helpers every part of the report uses, written once: escaping, percentages, the
embedded JPEG pictures, links to the original files, and the page's stylesheet.

Every string from the user (file names, labels, the dataset's name) goes through :func:`e`.
"""

from __future__ import annotations

import base64
import html
import math
import os
import urllib.parse
from pathlib import Path

import cv2
import numpy as np

from camview.errors import OutputError
from camview.sources.file_names import shown

JPEG_QUALITY = 85

#: The page's look; a view needing more says so in its own `css`.
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
.top5 { margin: 6px 0 0; padding: 0; font-size: 13px; list-style-position: inside;
  display: flex; flex-wrap: wrap; gap: 2px 20px; }
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

.scatter { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.scatter svg { border: 1px solid var(--line); border-radius: 6px; background: #fff;
  max-width: 100%; height: auto; }
.legend { list-style: none; padding: 0; margin: 0; font-size: 14px; }
.legend li { margin: 2px 0; } .swatch { margin-right: 6px; vertical-align: -2px; }
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
    """`text` escaped for HTML, quotes included (it may sit in an attribute); a file name's
    undecodable bytes shown as \\xNN (camview.sources.file_names)."""
    return html.escape(shown(str(text)), quote=True)


def count_of(n: int, noun: str) -> str:
    """'1 image', '3 images': a count with its noun in the number it needs."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def percent(p: float | None, space: str = "\u00a0") -> str:
    """A probability as a percentage with one decimal ("n/a" when it is not a number); the
    summary tables keep the number and its sign together (a no-break space)."""
    return "n/a" if p is None or not math.isfinite(p) else f"{100 * p:.1f}{space}%"


def data_uri(image: np.ndarray) -> str:
    """A BGR uint8 picture as a JPEG data URI: the report is one file, readable offline."""
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


def file_link(path: str) -> str:
    """A link to the original image that opens from the report wherever it is kept."""
    try:  # percent-encodes the name's bytes, whatever they are: the link opens the real file
        return "file://" + urllib.parse.quote(os.fsencode(Path(path).resolve()))
    except ValueError:  # not a path a URI can name
        return path
