"""The one lifecycle of a set-level view (FiftyOne's brain is the model: config -> compute
per sample -> fold -> results):

1. made for a run from its options (:meth:`SetView.wanted` says whether the run has it);
2. :meth:`SetView.add`: each image's result as the batched pass yields it, the pass's
   per-image record (camview.sets.per_image) included, kept compactly;
3. :meth:`SetView.fold`: once the pass is done, the work over the whole set (a second model's
   run, scores per method); :meth:`SetView.cut_short` when Ctrl+C ended the run;
4. its results: :meth:`SetView.json_part` (its keys of the JSON document),
   :meth:`SetView.image_json` (its keys of one image's entry), :meth:`SetView.html_parts`
   (its sections of the report, each at its :class:`Place`) and :meth:`SetView.said` (its
   line under the command's summary).

The window reads `tab` (the set view's tab that shows a view). A module under
camview/sets/views/ defining a SetView is a registered view (camview.sets.view_registry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

from camview.drawing.overlay import OverlayStyle
from camview.maps import Method
from camview.models import CamModel
from camview.sets.classify import Classify, classify_set
from camview.sets.counts import DEFAULT_MAX_MISTAKES, Counts
from camview.sets.dataset import LabelledSet
from camview.sets.results import ImageResult, ResultCache


class Place(IntEnum):
    """Where a part goes in the report, top to bottom. Parts before MISTAKES_HEADING's end
    are the page's summary, one after another on new lines; later parts follow each other."""

    SUMMARY = 0  # the run in a few lines (the page's own)
    PAIRS = 1  # the pairs most often confused
    PER_CLASS = 2  # the page's own
    AT_A_GLANCE = 3  # the set as one picture
    OVERVIEW = 4  # the set as a whole: tables and maps
    MISTAKES_HEADING = 5
    SCORES = 6
    MISTAKES = 7
    SKIPPED = 8  # the page's own
    COMPARISONS = 9
    PROBLEMS = 10  # the page's own
    SCRIPTS = 11  # what makes the page interactive (offline: no library)


@dataclass(frozen=True)
class Part:
    """One section of the report: its place and its HTML, written a piece at a time (a card's
    pictures are drawn only when its turn comes)."""

    place: Place
    pieces: Iterable[str]


@dataclass
class SetOptions:
    """What a run is asked for: the command's flags, the window's choices."""

    max_mistakes: int = DEFAULT_MAX_MISTAKES  # mistakes kept for the report's cards
    views: bool = True  # the batched pass's per-image record (--no-views: off)
    versus: CamModel | None = None  # a second model over the same set
    versus_method: Method | None = None  # its maps in the report
    metrics: list[Method] = field(default_factory=list)  # methods scored over the set


@dataclass
class SetPass:
    """What a view's fold may use: the set, the model, the batched pass's settings, and a
    progress bar for work of its own (`progress(unit)`, or None)."""

    model: CamModel
    dataset: LabelledSet
    batch_size: int
    cache: ResultCache | None = None
    progress: Callable[[str], object] | None = None
    classify: Classify = classify_set  # the pass: local, or over a Ray cluster
    #: --metrics scoring with score_set's signature (camview.sets.views.set_scores): None
    #: here, or camview.sets.on_ray.RayRun.score over a Ray cluster.
    score: Callable[..., Iterator] | None = None


@dataclass
class Page:
    """What a view's report sections may use: the run, the report's map method and style,
    the JSON document's summary, and the run's other views (`views`, by name)."""

    model: CamModel
    method: Method
    dataset: LabelledSet
    counts: Counts
    summary: dict
    views: dict[str, SetView]
    style: OverlayStyle = field(default_factory=OverlayStyle)


class SetView:
    """A set-level view: one module, one lifecycle (see the module's docstring)."""

    #: Its name: what tests, the window and `Tally.view` call it.
    name: ClassVar[str]
    #: Its rank among the views: the order they run in and their keys' order in the JSON.
    order: ClassVar[int]
    #: The window's set-view tab that shows it (None: shown elsewhere or not in the window).
    tab: ClassVar[str | None] = None
    #: Rules it adds to the report's stylesheet (camview.sets.markup.CSS).
    css: ClassVar[str] = ""

    def __init__(self, options: SetOptions) -> None:
        self.options = options

    @classmethod
    def wanted(cls, options: SetOptions) -> bool:
        """Whether a run with these options has this view."""
        return True

    def add(self, result: ImageResult, position: int) -> None:
        """One image's result (the `position`-th of the run), with the pass's record."""

    def fold(self, counts: Counts, run: SetPass) -> bool:
        """The work over the whole set once the pass is done; True when Ctrl+C cut it short."""
        return False

    def cut_short(self) -> None:
        """The run was cut short: a view that would compare nothing honestly leaves itself
        out."""

    def json_part(self, counts: Counts, model: CamModel) -> dict:
        """Its keys of the JSON document (none: {})."""
        return {}

    def image_json(self, position: int) -> dict:
        """Its keys of one image's JSON entry."""
        return {}

    def html_parts(self, page: Page) -> list[Part]:
        """Its sections of the report."""
        return []

    def said(self, counts: Counts, model: CamModel, dataset: str) -> str | None:
        """Its line under the command's summary line, if any."""
        return None
