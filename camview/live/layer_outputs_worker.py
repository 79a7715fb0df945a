"""A light worker that shows a layer's activation channels of the newest frame, live.

Beside the inference thread, not in it: the panel is optional and its cost (one compiled call
per update, a full forward pass to the chosen layer) must not slow the maps when it is hidden.
So it runs only while enabled, at most a few times a second, and skips a frame it has
already shown with the same layer and channel count (a frozen frame costs nothing). Qt-free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from camview.errors import CamviewError, for_window
from camview.models import CamModel
from camview.network.layer_outputs import CHANNEL_COUNTS, layer_activations, tile_channels
from camview.sources import Frame

log = logging.getLogger(__name__)

INTERVAL_S = 0.25  # at most 4 updates a second


@dataclass(frozen=True)
class LayerView:
    """One update: the tiled image and the words under it."""

    image: np.ndarray  # BGR uint8 grid of channels
    layer: str
    shown: int  # channels drawn
    channels: int  # channels the layer has
    size: tuple[int, int]  # (h, w) of one channel

    @property
    def caption(self) -> str:
        h, w = self.size
        return (f"{self.layer}: channels 1–{self.shown} of {self.channels}, {w}x{h} each, "
                "each scaled to its own range")


class LayerOutputs:
    """Tiles `layer`'s first `count` channels of frame() under model() every INTERVAL_S while
    enabled; on_view(LayerView) or on_error(message) are called on its thread."""

    def __init__(self, frame: Callable[[], Frame | None], model: Callable[[], CamModel | None],
                 on_view: Callable[[LayerView], None],
                 on_error: Callable[[str], None] | None = None,
                 interval: float = INTERVAL_S) -> None:
        self.frame, self.model = frame, model
        self.on_view = on_view
        self.on_error = on_error or (lambda _message: None)
        self.interval = interval
        self._lock = threading.Lock()
        self._layer: str | None = None  # None: the model's read layer
        self._count = CHANNEL_COUNTS[0]
        self._enabled = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._shown: tuple | None = None
        self.updates = 0
        self.thread = threading.Thread(target=self._run, name="camview-layer-outputs",
                                       daemon=True)
        self.thread.start()

    def show(self, layer: str | None, count: int) -> None:
        """Show `layer` (None: the model's read layer), its first `count` channels."""
        with self._lock:
            self._layer, self._count = layer, int(count)
        self._wake.set()

    def enable(self, on: bool) -> None:
        """Work only while the panel is visible."""
        self._enabled = bool(on)
        self._wake.set()

    def stop(self, timeout: float = 1.0) -> bool:
        self._stop.set()
        self._wake.set()
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _run(self) -> None:
        last_error = None
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set() or not self._enabled:
                continue
            started = time.monotonic()
            try:
                view = self._update()
            except CamviewError as exc:
                view, message = None, for_window(exc)
            except Exception as exc:  # a bug: logged once, reported, the thread keeps going
                message = f"layer outputs failed: {type(exc).__name__}: {exc}"
                if message != last_error:
                    log.exception("layer outputs failed")
                view = None
            else:
                message = None
            if message is not None and message != last_error:
                self.on_error(message)
            last_error = message
            if view is not None:
                self.updates += 1
                self.on_view(view)
            # Throttle: a wake-up (a new layer) is answered at once, frames at most each interval.
            rest = self.interval - (time.monotonic() - started)
            if rest > 0 and not self._wake.is_set():
                self._stop.wait(rest)

    def _update(self) -> LayerView | None:
        frame, model = self.frame(), self.model()
        with self._lock:
            layer, count = self._layer, self._count
        if frame is None or model is None:
            return None
        layer = layer or model.read_layer
        key = (frame, model, layer, count)  # the objects themselves: an id can be reused
        if self._shown is not None and all(a is b or (isinstance(a, str | int) and a == b)
                                           for a, b in zip(key, self._shown, strict=True)):
            return None
        activations = layer_activations(model, layer, model.prepare(frame.image))
        self._shown = key
        h, w, c = activations.shape
        return LayerView(tile_channels(activations, count), layer, min(count, c), c, (h, w))
