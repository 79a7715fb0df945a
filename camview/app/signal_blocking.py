"""Setting widgets or actions to a state without running their slots.

The session and every part show a state the program chose (a model installed, a setting
restored) through the same widgets the user changes; the slots those widgets run are for the
user's changes only, so the program's own changes are made with the signals blocked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PyQt6.QtCore import QObject


@contextlib.contextmanager
def signals_blocked(*objects: QObject) -> Iterator[None]:
    """Set widgets to a state without running their slots; restored however the block ends."""
    before = [o.blockSignals(True) for o in objects]
    try:
        yield
    finally:
        for o, was in zip(objects, before, strict=True):
            o.blockSignals(was)
