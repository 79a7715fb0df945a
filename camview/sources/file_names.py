"""File names as text: shown to a person, kept as a key, linked from a page.

A name from another system or an old archive need not be UTF-8: Python holds its stray bytes
as lone surrogates ('caf\\udce9.jpg'), which no UTF-8 writer takes (the terminal, SQLite, an
HTML file). Each use gets its own form here, and the path itself is kept as it is for opening.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Starts a key made of a name's bytes: NUL is in no file name, so no real name is mistaken
#: for one.
_BYTES_KEY = "\0"


def shown(path: str | Path) -> str:
    """`path` for a person: undecodable bytes as \\xNN, everything else as it is."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def storage_key(path: str | Path) -> str:
    """`path` as valid UTF-8 text that names it alone (a cache's key): the name itself when
    it is UTF-8, else its bytes in hex behind a NUL."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _BYTES_KEY + raw.hex()
