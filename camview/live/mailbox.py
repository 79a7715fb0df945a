"""The one-slot mailbox between the capture and inference threads: newest frame wins."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from camview.sources import Frame


@dataclass(frozen=True)
class Delivery:
    """A frame put in the mailbox: when it was captured (monotonic) and whether it is new."""

    frame: Frame
    captured_at: float
    fresh: bool = True


class Mailbox:
    """One slot, newest wins: the reader always gets the latest frame, older ones are dropped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Delivery | None = None
        self._closed = False
        self.dropped = 0  # fresh frames overwritten before anyone took them

    def put(self, item: Delivery) -> None:
        with self._cond:
            if self._item is not None and self._item.fresh:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def get(self, timeout: float | None = None, keep: bool = False) -> Delivery | None:
        """The newest item, or None on timeout or when closed. With `keep` the item stays in
        the slot (no longer fresh), so the next get returns it again at once."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item = self._item
            self._item = dataclasses.replace(item, fresh=False) if keep and item else None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
