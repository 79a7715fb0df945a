"""Where camview keeps what it can rebuild: the platform cache folder.

Below the models (the optimised forward pass caches there) and the results cache alike, so
both read the one rule.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "CAMVIEW_CACHE_DIR"


def cache_dir() -> Path:
    """$CAMVIEW_CACHE_DIR, else $XDG_CACHE_HOME/camview, else ~/.cache/camview."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "camview"
