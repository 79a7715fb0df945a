"""Live compare: one frame through several panels (methods side by side, two classes, or two
models).

A CompareSpec lists panels; each names a method (None: the pipeline's own method, so a
second-map compare follows the method menu) and a class: FOLLOW (the pipeline's target, the
pinned class or each frame's top-1), RIVAL (the most probable class other than the first
panel's: the runner-up, "why tabby and not tiger cat?") or a pinned class index. With a
second model (`versus`, a built-in model's name) a row of the same methods maps the same
frame through that model: "does SqueezeNet look where EfficientNet looks?". The
inference thread prepares the frame once per model, maps every panel and draws them with
explain.draw_compare into the Result's overlay, so the window, recordings and snapshots show
the grid without knowing it is one. Only live methods run here: slow ones (seconds a map)
are refused with one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camview.drawing.explain import Explanation, describe
from camview.errors import CamviewError
from camview.maps import METHODS, MapResult, Method, method_class
from camview.models import CamModel

FOLLOW = "follow"  # the pipeline's target: the pinned class, else each frame's top-1
RIVAL = "rival"  # the most probable class other than the first panel's (the runner-up)

#: The compare presets the window offers, each a row of live methods. The third is the head's
#: weights, its gradient and its answers to masked activations side by side.
PRESETS: tuple[tuple[str, ...], ...] = (("cam", "gradcam", "layercam"),
                                        ("gradcam", "gradcam++", "eigencam"),
                                        ("cam", "gradcam", "reciprocam"))


def preset_title(names: tuple[str, ...]) -> str:
    """'CAM | Grad-CAM | Layer-CAM': a preset named by its methods' titles."""
    return " | ".join(method_class(n).title for n in names)


def live_methods() -> list[str]:
    """The methods fit for a live compare (about one forward pass a map)."""
    return [name for name, cls in METHODS.items() if cls.live]


@dataclass(frozen=True)
class PanelSpec:
    """One panel: a method (None: the pipeline's method), a class (FOLLOW, RIVAL or index) and
    whose map it is (`versus`: the compare's second model's, mapping its own top-1 unless the
    pipeline pins a class both models know)."""

    method: str | None = None
    target: str | int = FOLLOW
    versus: bool = False


@dataclass(frozen=True)
class CompareSpec:
    """The panels of a live compare, first panel first (its map is the Result's `map`), and
    the second model's name when a row of panels is that model's, with its own loading
    options (camview.models.second_model: labels, weights, preprocess, resize; as sorted
    pairs, so a spec stays hashable and two equal specs ask for the same model)."""

    panels: tuple[PanelSpec, ...]
    versus: str | None = None
    versus_options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.panels:
            raise CamviewError("a compare needs at least one panel")
        if self.panels[0].target == RIVAL or self.panels[0].versus:
            raise CamviewError("the first panel of a compare must be the model's own map of "
                               "its class: it is the one the others are compared with")
        if (self.versus is None) == any(p.versus for p in self.panels):
            raise CamviewError("a compare has panels of a second model exactly when it names "
                               "that model")
        if self.versus_options and self.versus is None:
            raise CamviewError("a second model's options need that model")
        if any(p.versus and p.target != FOLLOW for p in self.panels):
            raise CamviewError("the second model's panels map its own class (or the class "
                               "pinned), not a runner-up")

    @classmethod
    def of(cls, methods: tuple[str, ...] | list[str] = (), second: str | int | None = None,
           versus: str | None = None, versus_options: Mapping[str, str] | None = None
           ) -> CompareSpec | None:
        """Each method (none given: the pipeline's own) for the pipeline's target; with
        `second` (RIVAL or a class index) a second row of the same methods for that class;
        with `versus` (a model's name) a row of the same methods for that model, loaded with
        `versus_options` (load_second_model's: `--compare-resize crop` is {"resize": "crop"}).
        None when that is the plain single view. Unknown or slow methods raise
        CamviewError."""
        names = tuple(dict.fromkeys(method_class(m).name for m in methods))
        check_live(names)
        row: tuple[str | None, ...] = names or (None,)
        panels = [PanelSpec(m) for m in row]
        if second is not None:
            panels += [PanelSpec(m, second) for m in row]
        if versus is not None:
            panels += [PanelSpec(m, versus=True) for m in row]
        if not names and second is None and versus is None:
            return None
        return cls(tuple(panels), versus, tuple(sorted((versus_options or {}).items())))

    @property
    def method_names(self) -> tuple[str, ...]:
        """The methods the loader builds (the pipeline's own method is built already)."""
        return tuple(dict.fromkeys(p.method for p in self.panels if p.method is not None))

    def versus_method_names(self, main: str) -> tuple[str, ...]:
        """The methods the loader builds for the second model (`main`: the pipeline's
        method's name, which the panels without a method of their own follow)."""
        return tuple(dict.fromkeys(p.method or main for p in self.panels if p.versus))

    @property
    def names_methods(self) -> bool:
        """Titles name the method: the panels' methods are chosen, not the pipeline's."""
        return bool(self.method_names)

    @property
    def names_classes(self) -> bool:
        """Titles name the class and its probability: the panels map different classes, or
        two models say what they see."""
        return self.versus is not None or any(p.target != FOLLOW for p in self.panels)

    @property
    def columns(self) -> int | None:
        """A grid row per class (or model) when several methods are compared for a second
        class or model (else the grid's own shape: two panels side by side, or one above the
        other in a tall view)."""
        firsts = sum(p.target == FOLLOW and not p.versus for p in self.panels)
        return firsts if self.names_classes and 1 < firsts < len(self.panels) else None

    def ready(self, model: CamModel, methods: Mapping[str, Method],
              versus: Mapping[str, Method] | None = None, main: str = "") -> bool:
        """Every method the panels name is built for this very model (not a previous one), and
        the second model's (`versus`, by name; `main` the pipeline's method's name) for the
        model this spec names."""
        if not all(n in methods and methods[n].model is model for n in self.method_names):
            return False
        if self.versus is None:
            return True
        versus = versus or {}
        return all(n in versus and versus[n].model.name == self.versus
                   for n in self.versus_method_names(main))


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


@dataclass(frozen=True)
class Versus:
    """The second model's side of a compare for one frame: its methods by name and the frame
    prepared for it (each model resizes and scales a frame its own way)."""

    model: CamModel
    methods: Mapping[str, Method]
    batch: np.ndarray


def explain_panels(model: CamModel, main: Method, methods: Mapping[str, Method],
                   spec: CompareSpec, batch: np.ndarray, target: int | None,
                   topk: int, versus: Versus | None = None,
                   frame_hw: tuple[int, int] | None = None) -> list[Panel]:
    """Every panel of `spec` for one prepared input (`batch`, prepared once for all; the
    second model's panels from `versus`; `frame_hw`, the frame's size, places a centre
    crop's map on it).

    Panels of one model and class whose methods can share a pass (see
    camview.maps.shared_pass) are mapped in one compiled call; the others one call each."""
    from camview.maps.shared_pass import explain_shared

    if spec.versus is not None and versus is None:
        raise CamviewError(f"the compare with {spec.versus} needs that model's methods")
    # The second model maps the class pinned when it knows the same classes, else its top-1.
    other_target = (target if versus is not None and target is not None
                    and list(versus.model.labels) == list(model.labels) else None)
    wanted: list[tuple[PanelSpec, Method]] = []
    for panel in spec.panels:
        if panel.versus:
            assert versus is not None
            method = versus.methods[panel.method or main.name]
        else:
            method = main if panel.method is None else methods[panel.method]
        wanted.append((panel, method))
    sides = [(False, model, batch, target)]
    if versus is not None:
        sides.append((True, versus.model, versus.batch, other_target))
    shared: dict[Method, MapResult] = {}
    for side, side_model, side_batch, side_target in sides:
        follow = [m for p, m in wanted if p.target == FOLLOW and p.versus == side]
        if follow:
            shared.update(explain_shared(side_model, follow, side_batch, side_target))
    first: MapResult | None = None
    out = []
    pinned = target is not None and not spec.names_classes
    for panel, method in wanted:
        if panel.target == FOLLOW and method in shared:
            result = shared[method]
        elif panel.versus:
            assert versus is not None
            result = method.explain(versus.batch, other_target)
        else:
            choice = panel.target
            cls = target if choice == FOLLOW else rival(first) if choice == RIVAL else choice
            result = method.explain(batch, None if cls is None else int(cls))
        first = first or result
        explained = describe(method.model, result, topk=topk, pinned=pinned, frame_hw=frame_hw)
        out.append(Panel(panel_title(spec, method, explained), method, explained))
    return out


def panel_title(spec: CompareSpec, method: Method, explained: Explanation) -> str:
    """'Grad-CAM', 'tabby 52%', or 'Grad-CAM: tabby 52%' when both vary; with a second model
    each title starts with its model's name ('squeezenet Grad-CAM: tabby 52%'), a file's by
    its file name (a whole path filled the title)."""
    head = [Path(method.model.name).name] if spec.versus is not None else []
    if spec.names_methods or not spec.names_classes:
        head.append(method.title)
    parts = [" ".join(head)] if head else []
    if spec.names_classes:
        result = explained.map
        prob = float(result.probabilities[result.target])
        agnostic = " (any class)" if method.class_agnostic else ""
        parts.append(f"{explained.label} {100 * prob:.0f}%{agnostic}")
    return ": ".join(parts)
