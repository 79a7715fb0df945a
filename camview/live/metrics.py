"""How fast the live pipeline runs: rates, latency percentiles and the snapshot of both."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np


class RateMeter:
    """Events per second over the last few seconds (thread-safe)."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.count = 0

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            self.count += 1
            self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            if len(self._times) < 2:
                return 0.0
            span = now - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


class Percentiles:
    """The last N values of a duration, for p50/p95 (thread-safe)."""

    def __init__(self, size: int = 300) -> None:
        self._values: collections.deque[float] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, value: float) -> None:
        with self._lock:
            self._values.append(value)

    def get(self, q: float) -> float | None:
        with self._lock:
            values = list(self._values)
        return float(np.percentile(values, q)) if values else None

    def ms(self, q: float) -> float | None:
        """The q-th percentile in milliseconds (the values are seconds), None before data."""
        value = self.get(q)
        return None if value is None else value * 1000.0


@dataclass(frozen=True)
class Stats:
    """A snapshot of the pipeline's speed. Latencies in milliseconds, None before data."""

    capture_fps: float
    inference_fps: float
    display_fps: float
    dropped: int
    frames: int
    results: int
    latency_p50_ms: float | None  # capture -> result
    latency_p95_ms: float | None
    display_latency_p50_ms: float | None  # capture -> shown (as reported by note_displayed)
    display_latency_p95_ms: float | None
    map_up_to_date: bool = False  # a held frame's map is current: inference idles until a change
