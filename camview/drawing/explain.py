"""One explained frame and the one way to draw it.

The live pipeline, the recorder and snapshots (which take the pipeline's picture) and
`camview render` all come through here, so what a picture says cannot drift between them: the
top-k labels with the mapped class highlighted, a "map of: X (pinned)" banner when the map is
of a chosen class (it need not be among the labels drawn), and a banner naming the fault when
the map cannot be drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from camview.drawing.layout import compose_grid
from camview.drawing.overlay import OverlayStyle, render_view
from camview.drawing.scale import MapScale
from camview.maps import MapResult
from camview.models import CamModel


@dataclass(frozen=True)
class Explanation:
    """A map and its scores, with the words a picture of it carries."""

    map: MapResult
    top: list[tuple[int, str, float]]  # (class index, short label, probability), best first
    label: str  # short label of the class the map shows
    pinned: bool  # the map is of a chosen class, not each frame's top-1
    #: The frame region the map covers (top, left, bottom, right), for a model fed a centre
    #: crop (CamModel.map_box); None: the whole frame.
    box: tuple[int, int, int, int] | None = None

    @property
    def problem(self) -> str | None:
        """Why the map cannot be drawn (NaN, flat...), or None."""
        return self.map.problem

    @property
    def banner(self) -> str | None:
        """The line drawn under the picture: the fault, else which class a pinned map shows."""
        if self.problem:
            return f"{self.label}: {self.problem}"
        return f"map of: {self.label} (pinned)" if self.pinned else None

    @property
    def highlight(self) -> int | None:
        """The label row of the mapped class, if it is drawn."""
        rows = [i for i, _, _ in self.top]
        return rows.index(self.map.target) if self.map.target in rows else None


def describe(model: CamModel, result: MapResult, *, topk: int, pinned: bool,
             frame_hw: tuple[int, int] | None = None) -> Explanation:
    """The words for a map the method already computed (cheap: no network call);
    `frame_hw`, the size of the frame it will be drawn on, places the map of a centre crop
    there (CamModel.map_box)."""
    top = [(i, model.short_label(i), p) for i, p in result.top(topk)]
    box = model.map_box(frame_hw) if frame_hw is not None else None
    return Explanation(result, top, model.short_label(result.target), pinned, box)


def scaled_map(explanation: Explanation, scale: MapScale | None) -> np.ndarray:
    """The map to draw, through `scale` (one per method, kept across frames): what its
    brightest colour means (style.scale). Temporal smoothing averages these, so a running
    maximum sees the method's own maps, not already normalised ones."""
    result = explanation.map
    if scale is None:
        return result.drawn
    return scale.apply(result.drawn, float(result.probabilities[result.target]))


def draw(image: np.ndarray, explanation: Explanation, style: OverlayStyle,
         cam: np.ndarray | None = None, scale: MapScale | None = None) -> np.ndarray:
    """The picture of one explained frame in `style` (its layout included).

    `cam` replaces the explanation's own map when the caller smooths maps over time (a
    smoothed :func:`scaled_map`, so the scale is not applied again); an undrawable map shows
    the frame with a banner saying why instead of coloured garbage.
    """
    shown = None
    if not explanation.problem:
        shown = scaled_map(explanation, scale) if cam is None else cam
    absolute = scale is not None and scale.absolute
    labels = [(label, p) for _, label, p in explanation.top]
    return render_view(image, shown, labels, style, message=explanation.banner,
                       highlight=explanation.highlight, absolute=absolute,
                       box=explanation.box)


def draw_compare(image: np.ndarray, panels: list[tuple[str, Explanation]], style: OverlayStyle,
                 scales: list[MapScale | None] | None = None,
                 cams: list[np.ndarray | None] | None = None,
                 columns: int | None = None, aspect: float | None = None) -> np.ndarray:
    """The same frame through several methods (or classes): titled overlay panels in a grid,
    the frame itself first when the layout is side-by-side. `cams` (smoothed maps) and
    `scales` are per panel, as draw takes them; `columns` fixes the grid's width, else
    `aspect` (the width / height of the view it is shown in) shapes it (compose_grid)."""
    panel_style = replace(style, layout="overlay")
    scales = scales or [None] * len(panels)
    cams = cams or [None] * len(panels)
    cells = [("Frame", image)] if style.layout == "side-by-side" else []
    cells += [(title, draw(image, explained, panel_style, cam, scale))
              for (title, explained), scale, cam in zip(panels, scales, cams, strict=True)]
    return compose_grid(cells, label_scale=style.label_scale, columns=columns, aspect=aspect)
