"""The inference thread: newest frame -> map -> smoothed -> composed overlay -> result."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from camview.drawing.explain import Explanation, describe, draw, draw_compare, scaled_map
from camview.drawing.overlay import OverlayStyle
from camview.drawing.scale import MapScale
from camview.errors import CamviewError, for_window
from camview.live.compare import CompareSpec, Versus, explain_panels
from camview.live.error_kind import ErrorKind
from camview.live.mailbox import Delivery, Mailbox
from camview.maps import MapResult, Method, normalise
from camview.models import CamModel
from camview.sources import Frame

log = logging.getLogger(__name__)

SETTLED_CHANGE = 0.01  # a smoothed map that moves less than this per update has settled


@dataclass(frozen=True)
class Result:
    """One explained frame: everything needed to draw it, tagged with the config it came from."""

    frame: Frame
    explained: Explanation  # the map, its scores and the words drawn with it
    overlay: np.ndarray  # the composed overlay panel (BGR), drawn on `frame`
    model_name: str
    method_name: str  # CAM, Grad-CAM or Grad-CAM++
    target: int | None  # the pinned class, None for each frame's top-1
    generation: int
    captured_at: float  # time.monotonic() when the frame was captured
    finished_at: float
    fresh: bool = True  # False when a flat-out pipeline explained a frame again
    #: A compare: each panel's (title, class index, probability); `overlay` is their grid.
    panels: tuple[tuple[str, int, float], ...] = ()
    compare: CompareSpec | None = None  # the compare it was drawn for (None: the single view)

    @property
    def latency_s(self) -> float:
        """Capture -> result."""
        return self.finished_at - self.captured_at

    # What the window lists, read from the explanation rather than kept twice.
    @property
    def map(self) -> MapResult:
        """The raw map and scores (map.problem says when it cannot be drawn)."""
        return self.explained.map

    @property
    def top(self) -> list[tuple[str, float]]:
        """Top-k (short label, probability)."""
        return [(label, p) for _, label, p in self.explained.top]

    @property
    def top_classes(self) -> list[tuple[int, float]]:
        """Top-k (class index, probability)."""
        return [(i, p) for i, _, p in self.explained.top]

    @property
    def map_label(self) -> str:
        """The class the map shows (the pinned target or the top-1)."""
        return self.explained.label

    @property
    def message(self) -> str | None:
        """Why no map is drawn (flat, NaN), shown in the view."""
        return self.explained.banner if self.explained.problem else None


@dataclass(frozen=True)
class Config:
    """What the inference thread uses for one frame, read atomically."""

    model: CamModel | None
    method: Method | None
    target: int | None
    style: OverlayStyle
    smoothing: float
    generation: int
    compare: CompareSpec | None = None  # several panels in one overlay (camview.live.compare)
    compare_methods: Mapping[str, Method] = field(default_factory=dict)  # built by the loader
    #: The width / height of the view a compare's grid is shown in (None: the default shape).
    grid_aspect: float | None = None
    versus_methods: Mapping[str, Method] = field(default_factory=dict)  # the second model's


class InferenceHost(Protocol):
    """All the inference thread may call on whoever runs it (the Pipeline)."""

    def config(self) -> Config: ...
    def result_ready(self, result: Result, cfg: Config) -> None: ...
    def error(self, message: str, kind: ErrorKind) -> None: ...


class Smoother:
    """Exponential moving average of the small map, normalised unless it already is on an
    absolute scale (camview.drawing.scale); restarts on any switch.

    `settled`: the last update moved the map by less than SETTLED_CHANGE (of its 0..1 range),
    so explaining an unchanged frame again would show nothing new."""

    def __init__(self) -> None:
        self._state: np.ndarray | None = None
        self._generation = -1
        self.settled = False

    def reset(self) -> None:
        self._state = None
        self.settled = False

    def update(self, cam: np.ndarray, amount: float, generation: int,
               absolute: bool = False) -> np.ndarray:
        """amount 0 = no smoothing; 0.9 = the past weighs 90 %. `absolute`: `cam` is already
        in [0, 1] on a scale kept across frames, so it is averaged as it is."""
        norm = np.asarray(cam, np.float32) if absolute else normalise(cam)
        if norm is None:  # undrawable: callers check map_problem first
            norm = np.zeros(np.shape(cam), np.float32)
        if (amount <= 0 or self._state is None or self._generation != generation
                or self._state.shape != norm.shape):
            self._state = norm
            self.settled = False
        else:
            new = amount * self._state + (1.0 - amount) * norm
            self.settled = float(np.max(np.abs(new - self._state))) < SETTLED_CHANGE
            self._state = new
        self._generation = generation
        return self._state


class Inference:
    """The inference thread: takes the newest delivery from `mailbox`, explains it with the
    host's current config and hands the result back.

    A held frame (a still image, a frozen view) is re-delivered a few times a second; it is
    explained again only when that can change the picture: the config changed, or temporal
    smoothing has not settled yet. Otherwise the map shown is up to date (`up_to_date`) and
    the thread idles instead of spending a core on the same answer.

    `flat_out` (benchmarks): explain the newest frame again when no new one has come.
    `panel_only`: compose only the overlay panel (the window shows the raw frame itself)."""

    def __init__(self, host: InferenceHost, mailbox: Mailbox, *, flat_out: bool = False,
                 panel_only: bool = False) -> None:
        self.host = host
        self.mailbox = mailbox
        self.flat_out = flat_out
        self.panel_only = panel_only
        self.smoother = Smoother()
        self.panel_smoothers: list[Smoother] = []  # a compare's, one per panel
        self._scales: dict[tuple, MapScale] = {}
        self._stop = threading.Event()
        self._last_error: str | None = None
        self._explained: tuple | None = None  # (frame, generation, look) last done
        self.up_to_date = False  # the held frame's map is current: nothing to explain again
        self.thread = threading.Thread(target=self._run, name="camview-inference", daemon=True)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self.mailbox.get(timeout=0.2, keep=self.flat_out)
            if item is None or self._stop.is_set():
                continue
            cfg = self.host.config()
            if cfg.model is None or cfg.method is None:
                continue
            if cfg.compare is not None and not cfg.compare.ready(
                    cfg.model, cfg.compare_methods, cfg.versus_methods, cfg.method.name):
                continue  # a new model is installed and its compare methods are on their way
            if self._unchanged(item, cfg):
                self.up_to_date = True
                continue
            self.up_to_date = False
            try:
                result = self.explain(item, cfg)
            except CamviewError as exc:
                self._report(for_window(exc), ErrorKind.MODEL)
                continue
            except Exception as exc:  # a bug: log it, show it, keep going
                if self._last_error is None:
                    log.exception("inference failed")
                self._report(f"internal error in inference: {type(exc).__name__}: {exc}",
                             ErrorKind.INTERNAL)
                continue
            self._last_error = None
            self._explained = (item.frame, cfg.generation, self._look(cfg))
            self.host.result_ready(result, cfg)

    def _unchanged(self, item: Delivery, cfg: Config) -> bool:
        """A re-delivered frame whose map, explained again, would look the same."""
        if self.flat_out or item.fresh or self._explained is None:
            return False
        frame, generation, look = self._explained
        smoothers = self.panel_smoothers if cfg.compare is not None else [self.smoother]
        return (item.frame is frame and generation == cfg.generation and look == self._look(cfg)
                and (cfg.smoothing <= 0 or all(s.settled for s in smoothers)))

    @staticmethod
    def _look(cfg: Config) -> tuple:
        """What changes the picture of a map already made: the style, smoothing and, for a
        compare, the shape of the view its grid is shown in."""
        return cfg.style, cfg.smoothing, cfg.grid_aspect if cfg.compare is not None else None

    def _report(self, message: str, kind: ErrorKind) -> None:
        if message != self._last_error:  # once per distinct fault, not once per frame
            self._last_error = message
            self.host.error(message, kind)

    def _scales_for(self, style: OverlayStyle, methods: list[Method]) -> list[MapScale]:
        """The map scales kept across frames, one per method in use (a compare's panels of
        one method share it); a new model, method, layer or scale mode starts afresh, since
        their raw maps are in other units."""
        keys = [(style.scale, id(m.model), m.name, m.layer) for m in methods]
        self._scales = {k: self._scales.get(k) or MapScale(style.scale) for k in keys}
        return [self._scales[k] for k in keys]

    def _smoothed(self, smoother: Smoother, explained, cfg: Config,
                  scale: MapScale) -> np.ndarray | None:
        """The map to draw when temporal smoothing is on, else None (the map itself): the
        scaled maps averaged, so the scale sees each raw map once."""
        if explained.problem or cfg.smoothing <= 0:
            smoother.reset()
            return None
        return smoother.update(scaled_map(explained, scale), cfg.smoothing, cfg.generation,
                               absolute=scale.absolute)

    def explain(self, item: Delivery, cfg: Config) -> Result:
        model, method, style = cfg.model, cfg.method, cfg.style
        assert model is not None and method is not None
        image = item.frame.image
        if self.panel_only and style.layout != "overlay":
            style = dataclasses.replace(style, layout="overlay")
        panels: tuple[tuple[str, int, float], ...] = ()
        if cfg.compare is not None:
            overlay, explained, panels = self._compare(image, cfg, style)
        else:
            mapped = method.explain(model.prepare(image), cfg.target)
            explained = describe(model, mapped, topk=style.topk, pinned=cfg.target is not None,
                                 frame_hw=image.shape[:2])
            scale = self._scales_for(style, [method])[0]
            overlay = draw(image, explained, style,
                           self._smoothed(self.smoother, explained, cfg, scale), scale)
        done = time.monotonic()
        return Result(frame=item.frame, explained=explained, overlay=overlay,
                      model_name=model.name, method_name=method.title, target=cfg.target,
                      generation=cfg.generation, captured_at=item.captured_at,
                      finished_at=done, fresh=item.fresh, panels=panels, compare=cfg.compare)

    def _compare(self, image: np.ndarray, cfg: Config, style: OverlayStyle):
        """The grid of a compare: (overlay, the first panel's explanation, panel summaries).
        Each panel is smoothed on its own; panels of one method share its MapScale, so the
        `fixed` scale shows a weaker class darker, as it does over time."""
        model, spec = cfg.model, cfg.compare
        assert model is not None and cfg.method is not None and spec is not None
        versus = None
        if spec.versus is not None:
            other = next(iter(cfg.versus_methods.values())).model
            versus = Versus(other, cfg.versus_methods, other.prepare(image))
        shown = explain_panels(model, cfg.method, cfg.compare_methods, spec,
                               model.prepare(image), cfg.target, style.topk, versus,
                               frame_hw=image.shape[:2])
        while len(self.panel_smoothers) < len(shown):
            self.panel_smoothers.append(Smoother())
        del self.panel_smoothers[len(shown):]
        scales = self._scales_for(style, [p.method for p in shown])
        cams = [self._smoothed(s, p.explained, cfg, scale)
                for s, p, scale in zip(self.panel_smoothers, shown, scales, strict=True)]
        overlay = draw_compare(image, [(p.title, p.explained) for p in shown], style, scales,
                               cams, spec.columns, cfg.grid_aspect)
        summary = tuple((p.title, p.explained.map.target,
                         float(p.explained.map.probabilities[p.explained.map.target]))
                        for p in shown)
        return overlay, shown[0].explained, summary
