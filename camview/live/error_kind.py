"""The kinds of fault the live pipeline reports through on_error(message, kind)."""

from __future__ import annotations

import enum


class ErrorKind(str, enum.Enum):
    """What went wrong, so a caller can react (stop a recording, fall back to a model).

    A `str` enum: it compares equal to its value and prints as it, so a caller that still
    compares with "source" or formats f"{kind}" keeps working."""

    SOURCE = "source"  # the running source failed (or is being retried)
    OPEN = "open"  # a new source failed to open; the current one keeps running
    MODEL = "model"  # a model failed to load or to run
    METHOD = "method"  # a method cannot be built for the current model
    INTERNAL = "internal"  # a bug: logged with its traceback, the thread keeps going
    NOTICE = "notice"  # not a fault but must be seen: "no camera found — showing the demo"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)
