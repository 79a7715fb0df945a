"""File-dialog filters from the core's suffix lists, so a suffix is typed once, in the core."""

from __future__ import annotations


def patterns(*suffixes: str) -> str:
    """File-dialog patterns for suffixes: ('.mp4', '.avi') -> '*.mp4 *.avi'."""
    return " ".join(f"*{s}" for s in suffixes)
