"""The window's process leaving cleanly while a model is still being prepared.

Closing the window (or Ctrl+C, or SIGTERM) while the loader thread was inside TensorFlow or
OpenVINO (converting the model for this CPU takes tens of seconds and cannot be interrupted)
used to abort the process: the window's close leaves that daemon thread running, Python
finalises around it, and the libraries' native teardown, meeting their own threads still
running, calls std::terminate ("terminate called without an active exception", SIGABRT, a
core dump instead of exit 0). Reproduced every time when closing 1-6 s into a conversion.

`leave` stops the conversions (camview.models.whole_folder: each stops at its next step and
its staging folder is removed, so the cache holds a whole conversion or none), gives the
threads a moment to end, and when one is still inside a library ends the process with
os._exit after flushing what was said: no finalisation runs, so nothing aborts, and nothing
is left for it to do (the settings are saved, the outputs are written whole or not at all).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

from camview.errors import EXIT_OK
from camview.models.whole_folder import stop_conversions

log = logging.getLogger(__name__)

#: How long the window's threads get to end after it closed (a conversion's step in progress
#: usually ends within it); the window is gone by then.
GRACE_S = 3.0


def running_threads() -> list[threading.Thread]:
    """camview's threads still running, the main thread aside (all are named camview-…)."""
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive()
            and t.name.startswith("camview")]


def leave(status: int = EXIT_OK, grace_s: float = GRACE_S) -> int:
    """`status` to return once camview's threads have ended; if one is still busy after
    `grace_s` (inside a library: a conversion, a model load), the process ends here with
    `status` without finalising (see the module's docstring)."""
    stop_conversions()
    deadline = time.monotonic() + grace_s
    for thread in running_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    busy = running_threads()
    if not busy:
        return status
    log.debug("leaving without finalising: %s still running", ", ".join(t.name for t in busy))
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a reader gone
            stream.flush()
    os._exit(status)
