"""Handing items from one thread to the next through a bounded queue.

The headless renderer and `camview evaluate` both read and prepare frames on a thread ahead
of the model; the queue between them is bounded (memory stays small) and must never block a
thread that is being stopped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable

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


class ReadAhead(threading.Thread):
    """A thread that takes `items` one by one into a bounded queue (`box`) ahead of the thread
    that uses them, then END; an exception is handed over in the queue, for the user to
    raise. `close()` stops it, even while it waits for room. The headless renderer's frames
    and `camview evaluate`'s images are read this one way."""

    def __init__(self, items: Iterable[object], depth: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.items = items
        self.box: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for item in self.items:
                if not put_unless_stopped(self.box, item, self.stop):
                    return
            put_unless_stopped(self.box, END, self.stop)
        except BaseException as exc:  # handed to the using thread, which raises it
            put_unless_stopped(self.box, exc, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.join()
