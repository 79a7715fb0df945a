"""The set-level views, in one list: `camview evaluate` runs them, the JSON and the report
write their parts, the window's set view reads their tabs. The list's order is the JSON
document's order of their keys (the report places each part by its own `Place`).

Adding a view: its module under camview/sets/views/ (its lifecycle, JSON and HTML), a line
here, its window tab if it has one, a test, its doc.
"""

from __future__ import annotations

from camview.sets.views.base import SetOptions, SetView
from camview.sets.views.confusion import ConfusionView
from camview.sets.views.embedding import EmbeddingView
from camview.sets.views.mistakes import MistakesView
from camview.sets.views.set_scores import SetScoresView
from camview.sets.views.versus import VersusView
from camview.sets.views.where import WhereView

SET_VIEWS: tuple[type[SetView], ...] = (
    MistakesView, ConfusionView, WhereView, EmbeddingView, SetScoresView, VersusView)


def make_views(options: SetOptions) -> list[SetView]:
    """The views a run with these options has, in the registry's order."""
    return [view(options) for view in SET_VIEWS if view.wanted(options)]


def view_tabs() -> dict[str, str]:
    """{view name: the window's tab title} for the views the window shows as tabs."""
    return {view.name: view.tab for view in SET_VIEWS if view.tab is not None}
