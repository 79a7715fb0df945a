"""The terminal's progress bar, shared by `camview render` (frames) and `camview evaluate`
(images): one line on stderr, redrawn at most ten times a second, only for a person watching."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    """1:02:03 or 2:03: the time left as a person reads it."""
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A one-line progress bar of `total` units (None: a count with no bar)."""

    def __init__(self, total: int | None, enabled: bool, unit: str = "frames") -> None:
        # A bar is for a person watching: in a log or a pipe it is only noise.
        self.total, self.enabled, self.unit = total, enabled and sys.stderr.isatty(), unit
        self.start = self.last = time.monotonic()

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and not force):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        per_s = "fps" if self.unit == "frames" else f"{self.unit}/s"
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(30 * frac)
            left = (self.total - done) / rate if rate > 0 and done else None
            eta = f"  {_clock(left)} left" if left is not None and done < self.total else ""
            text = (f"\r[{bar:<30}] {done}/{self.total} {self.unit}  {rate:5.1f} {per_s}"
                    f"{eta}\033[K")
        else:
            text = f"\r{done} {self.unit}  {rate:5.1f} {per_s}"
        sys.stderr.write(text)
        sys.stderr.flush()

    def finish(self, done: int) -> None:
        if self.enabled:
            self.update(done, force=True)
            sys.stderr.write("\n")
