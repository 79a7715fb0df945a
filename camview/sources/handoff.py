"""Handing items from one thread to the next through a bounded queue.

The headless renderer and `camview evaluate` both read and prepare frames on a thread ahead
of the model; the queue between them is bounded (memory stays small) and must never block a
thread that is being stopped.
"""

from __future__ import annotations

import queue
import threading

END = object()  # marks the end of a queue's stream


def put_unless_stopped(box: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item`, waiting for room, unless `stop` is set first (then False)."""
    while not stop.is_set():
        try:
            box.put(item, timeout=0.1)
            return True
        except queue.Full:
            pass
    return False
