"""Ctrl+C, SIGTERM and a closed terminal (SIGHUP) all end a long job the same way.

Python turns only SIGINT into KeyboardInterrupt; SIGTERM and SIGHUP kill the process at once,
so a render stopped by `kill`, a job scheduler or a closed terminal lost its --json and
--map. Inside :func:`stop_on_signals` those two raise :class:`Stopped` (a KeyboardInterrupt)
in the main thread, and render and evaluate finish their outputs for the work done as they
do for Ctrl+C.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: The signals that mean "stop now, keep what is done" besides SIGINT (where they exist).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """The job was asked to stop by a signal; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Stopped while the block runs (main thread only: signal
    handlers cannot be set from another thread, where this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_stopped) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
