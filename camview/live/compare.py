"""Live compare: one frame through several panels (methods side by side, or two classes).

A CompareSpec lists panels; each names a method (None: the pipeline's own method, so a
second-map compare follows the method menu) and a class: FOLLOW (the pipeline's target, the
pinned class or each frame's top-1), RIVAL (the most probable class other than the first
panel's: the runner-up, "why tabby and not tiger cat?") or a pinned class index. The
inference thread prepares the frame once, maps every panel and draws them with
explain.draw_compare into the Result's overlay, so the window, recordings and snapshots show
the grid without knowing it is one. Only live methods run here: slow ones (seconds a map)
are refused with one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from camview.errors import CamviewError
from camview.explain import Explanation, describe
from camview.maps import METHODS, MapResult, Method, method_class
from camview.models import CamModel

FOLLOW = "follow"  # the pipeline's target: the pinned class, else each frame's top-1
RIVAL = "rival"  # the most probable class other than the first panel's (the runner-up)

#: The compare presets the window offers, each a row of live methods.
PRESETS: tuple[tuple[str, ...], ...] = (("cam", "gradcam", "layercam"),
                                        ("gradcam", "gradcam++", "eigencam"))


def preset_title(names: tuple[str, ...]) -> str:
    """'CAM | Grad-CAM | Layer-CAM': a preset named by its methods' titles."""
    return " | ".join(method_class(n).title for n in names)


def live_methods() -> list[str]:
    """The methods fit for a live compare (about one forward pass a map)."""
    return [name for name, cls in METHODS.items() if cls.live]


@dataclass(frozen=True)
class PanelSpec:
    """One panel: a method (None: the pipeline's method) and a class (FOLLOW, RIVAL or index)."""

    method: str | None = None
    target: str | int = FOLLOW


@dataclass(frozen=True)
class CompareSpec:
    """The panels of a live compare, first panel first (its map is the Result's `map`)."""

    panels: tuple[PanelSpec, ...]

    def __post_init__(self) -> None:
        if not self.panels:
            raise CamviewError("a compare needs at least one panel")
        if self.panels[0].target == RIVAL:
            raise CamviewError("the first panel of a compare cannot be the runner-up: "
                               "it is the class the others are compared with")

    @classmethod
    def of(cls, methods: tuple[str, ...] | list[str] = (),
           second: str | int | None = None) -> CompareSpec | None:
        """Each method (none given: the pipeline's own) for the pipeline's target, and, with
        `second` (RIVAL or a class index), a second row of the same methods for that class.
        None when that is the plain single view. Unknown or slow methods raise CamviewError."""
        names = tuple(dict.fromkeys(method_class(m).name for m in methods))
        check_live(names)
        row: tuple[str | None, ...] = names or (None,)
        panels = [PanelSpec(m) for m in row]
        if second is not None:
            panels += [PanelSpec(m, second) for m in row]
        if not names and second is None:
            return None
        return cls(tuple(panels))

    @property
    def method_names(self) -> tuple[str, ...]:
        """The methods the loader builds (the pipeline's own method is built already)."""
        return tuple(dict.fromkeys(p.method for p in self.panels if p.method is not None))

    @property
    def names_methods(self) -> bool:
        """Titles name the method: the panels' methods are chosen, not the pipeline's."""
        return bool(self.method_names)

    @property
    def names_classes(self) -> bool:
        """Titles name the class and its probability: the panels map different classes."""
        return any(p.target != FOLLOW for p in self.panels)

    @property
    def columns(self) -> int | None:
        """A grid row per class when several methods are compared for a second class (else the
        grid's own shape: two panels side by side)."""
        firsts = sum(p.target == FOLLOW for p in self.panels)
        return firsts if self.names_classes and 1 < firsts < len(self.panels) else None

    def ready(self, model: CamModel, methods: Mapping[str, Method]) -> bool:
        """Every method the panels name is built for this very model (not a previous one)."""
        return all(n in methods and methods[n].model is model for n in self.method_names)


def check_live(names: tuple[str, ...] | list[str]) -> None:
    """Refuse slow (on-demand) methods in a live compare, naming the live ones."""
    slow = [method_class(n).title for n in names if not method_class(n).live]
    if slow:
        raise CamviewError(f"{', '.join(slow)} {'takes' if len(slow) == 1 else 'take'} "
                           "seconds a map: a live compare takes only live methods ("
                           f"{', '.join(METHODS[n].title for n in live_methods())}); freeze "
                           "the frame for the slow ones")


def rival(result: MapResult) -> int:
    """The most probable class other than the one `result` maps."""
    probs = result.probabilities.copy()
    if probs.size < 2:
        return result.target
    probs[result.target] = -np.inf
    return int(np.argmax(probs))


@dataclass(frozen=True)
class Panel:
    """One explained panel: its title, method and explanation."""

    title: str
    method: Method
    explained: Explanation


def explain_panels(model: CamModel, main: Method, methods: Mapping[str, Method],
                   spec: CompareSpec, batch: np.ndarray, target: int | None,
                   topk: int) -> list[Panel]:
    """Every panel of `spec` for one prepared input (`batch`, prepared once for all).

    Panels of one class whose methods can share a pass (see camview.maps.shared_pass) are mapped
    in one compiled call; the others one call each."""
    from camview.maps.shared_pass import explain_shared

    first: MapResult | None = None
    wanted: list[tuple[Method, int | None]] = []
    for panel in spec.panels:
        method = main if panel.method is None else methods[panel.method]
        wanted.append((method, panel.target))
    follow = [m for m, t in wanted if t == FOLLOW]
    shared = explain_shared(model, follow, batch, target)
    results: list[MapResult] = []
    for method, choice in wanted:
        if choice == FOLLOW and method in shared:
            result = shared[method]
        else:
            cls = target if choice == FOLLOW else rival(first) if choice == RIVAL else choice
            result = method.explain(batch, None if cls is None else int(cls))
        first = first or result
        results.append(result)
    pinned = target is not None and not spec.names_classes
    out = []
    for (method, _), result in zip(wanted, results, strict=True):
        explained = describe(model, result, topk=topk, pinned=pinned)
        out.append(Panel(panel_title(spec, method, explained), method, explained))
    return out


def panel_title(spec: CompareSpec, method: Method, explained: Explanation) -> str:
    """'Grad-CAM', 'tabby 52%', or 'Grad-CAM: tabby 52%' when both vary."""
    parts = [method.title] if spec.names_methods or not spec.names_classes else []
    if spec.names_classes:
        result = explained.map
        prob = float(result.probabilities[result.target])
        agnostic = " (any class)" if method.class_agnostic else ""
        parts.append(f"{explained.label} {100 * prob:.0f}%{agnostic}")
    return ": ".join(parts)
