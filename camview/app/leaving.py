"""The window's process leaving cleanly while a model is still being prepared.

Closing the window (or Ctrl+C, or SIGTERM) while the loader thread was inside TensorFlow or
OpenVINO (converting the model for this CPU takes tens of seconds and cannot be interrupted)
used to abort the process: the window's close leaves that daemon thread running, Python
finalises around it, and the libraries' native teardown, meeting their own threads still
running, calls std::terminate ("terminate called without an active exception", SIGABRT, a
core dump instead of exit 0). Reproduced 4 times in 5 closing 4-10 s after start, the
conversion running from 4.6 to 10.5 s (EfficientNet-Lite0, two cores).

`leave` stops the conversions (camview.models.whole_folder: each stops at its next step and
its staging folder is removed, so the cache holds a whole conversion or none), gives the
threads a moment to end, and when one is still inside a library ends the process with
os._exit after flushing what was said: no finalisation runs, so nothing aborts, and nothing
is left for it to do (the settings are saved, the outputs are written whole or not at all).

One more process could be left: ``import openvino`` and ``openvino.convert_model`` reported
to OpenVINO's telemetry (unless the user opted out), sending from a child forked off this
many-threaded process with multiprocessing; camview.models.no_telemetry now stops that, but
a library may still fork. Such a child can deadlock at once (seen here: getaddrinfo waiting
on a locale lock another thread held at the fork); it inherited the window's Python SIGTERM
handler, which cannot run while it is stuck, so terminating it did nothing and
multiprocessing's exit hook waited for it forever. `default_signals_in_forks` gives forked
children the default handlers back, and `leave` terminates the daemonic children as that
exit hook would before os._exit.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

from camview.errors import EXIT_OK
from camview.models.whole_folder import stop_conversions

log = logging.getLogger(__name__)

#: How long the window's threads get to end after it closed (a conversion's step in progress
#: usually ends within it); the window is gone by then.
GRACE_S = 3.0

_forks_handled = False  # default_signals_in_forks has registered its hook


def running_threads() -> list[threading.Thread]:
    """camview's threads still running, the main thread aside (all are named camview-…)."""
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive()
            and t.name.startswith("camview")]


def default_signals_in_forks() -> None:
    """A child forked off this process (multiprocessing's default on Linux) gets the default
    SIGINT and SIGTERM, not the window's handlers (camview.app.main), which need a window and
    a running Python: it dies when terminated, also when stuck in C."""
    global _forks_handled
    if hasattr(os, "register_at_fork") and not _forks_handled:
        os.register_at_fork(after_in_child=_default_signals)
        _forks_handled = True


def _default_signals() -> None:
    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


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
    for child in multiprocessing.active_children():  # what multiprocessing's exit hook does
        if child.daemon:
            child.terminate()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a reader gone
            stream.flush()
    os._exit(status)
