"""The set-level views, in one list: `camview evaluate` runs them, the JSON and the report
write their parts, the window's set view reads their tabs.

Every module under camview/sets/views/ that defines a SetView is registered: adding a view is
its module (its lifecycle, JSON and HTML), its window tab if it has one, a test, its doc. The
list is in the views' `order`, which is also the JSON document's order of their keys (the
report places each part by its own `Place`).
"""

from __future__ import annotations

import importlib
import pkgutil

import camview.sets.views as views_package
from camview.sets.views.base import SetOptions, SetView


def _registered() -> tuple[type[SetView], ...]:
    """Every SetView of the views package, in order (each module imported once)."""
    for module in pkgutil.iter_modules(views_package.__path__):
        importlib.import_module(f"{views_package.__name__}.{module.name}")
    found = SetView.__subclasses__()
    names = [view.name for view in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two set views share a name: {sorted(names)}")
    return tuple(sorted(found, key=lambda view: view.order))


SET_VIEWS: tuple[type[SetView], ...] = _registered()


def make_views(options: SetOptions) -> list[SetView]:
    """The views a run with these options has, in the registry's order."""
    return [view(options) for view in SET_VIEWS if view.wanted(options)]


def view_tabs() -> dict[str, str]:
    """{view name: the window's tab title} for the views the window shows as tabs."""
    return {view.name: view.tab for view in SET_VIEWS if view.tab is not None}
