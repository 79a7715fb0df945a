"""Calling back from a worker thread: the pipeline's and the on-demand runner's callbacks run
on their threads, and a faulty one (a bug in a caller) must be logged, not end the thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def call_safely(callback: Callable, *args: object) -> None:
    """callback(*args); an exception is logged with its traceback and goes no further."""
    try:
        callback(*args)
    except Exception:  # a faulty callback must not kill the worker thread
        log.exception("callback %s failed", getattr(callback, "__qualname__", callback))
