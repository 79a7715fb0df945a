"""Where the window's recordings and snapshots go when no path is given.

Not the current folder (in a git checkout they showed up as untracked files), but the user's
own folders: ``~/Videos/camview`` and ``~/Pictures/camview`` (``~/Movies`` on macOS), or the
XDG user dirs where a desktop moved them (``XDG_VIDEOS_DIR``, ``XDG_PICTURES_DIR``, from the
environment or ``~/.config/user-dirs.dirs``). ``CAMVIEW_OUTPUT_DIR`` or an explicit folder
(the window's ``--output-dir``) puts both straight into one folder instead. Qt-free, so the
window and scripts share one rule; Qt's QStandardPaths would give the parent folder only and
falls back to the current folder when it does not exist yet.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from camview.errors import OutputError
from camview.writers import check_writable

OUTPUT_DIR_ENV = "CAMVIEW_OUTPUT_DIR"
APP_FOLDER = "camview"

#: kind -> (XDG user-dir key, its usual folder under the home folder)
_KINDS = {
    "recording": ("VIDEOS", "Movies" if sys.platform == "darwin" else "Videos"),
    "snapshot": ("PICTURES", "Pictures"),
}

_USER_DIR_LINE = re.compile(r'^\s*XDG_([A-Z]+)_DIR\s*=\s*"(.*)"\s*$')


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def _expand_home(value: str, home: Path) -> Path | None:
    """'$HOME/Videos' or an absolute path, as user-dirs.dirs allows; None for anything else."""
    if value == "$HOME" or value.startswith("$HOME/"):
        return home / value.removeprefix("$HOME").lstrip("/")
    path = Path(value)
    return path if path.is_absolute() else None


def user_dir(key: str, default: str, env: Mapping[str, str] | None = None) -> Path:
    """An XDG user folder ('VIDEOS'): $XDG_VIDEOS_DIR, else the user-dirs.dirs entry, else
    ~/`default`. The file is the one xdg-user-dirs writes, in shell syntax with $HOME."""
    env = os.environ if env is None else env
    home = _home(env)
    value = env.get(f"XDG_{key}_DIR")
    if value:
        path = _expand_home(value, home)
        if path is not None:
            return path
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "user-dirs.dirs"
    try:
        lines = config.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        match = _USER_DIR_LINE.match(line)
        if match and match.group(1) == key:
            path = _expand_home(match.group(2), home)
            if path is not None:
                return path
    return home / default


def output_folder(kind: str, override: str | Path | None = None,
                  env: Mapping[str, str] | None = None) -> Path:
    """The folder for a 'recording' or a 'snapshot' (not created): `override`, else
    $CAMVIEW_OUTPUT_DIR, else the user's Videos or Pictures folder + '/camview'."""
    env = os.environ if env is None else env
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
    chosen = override or env.get(OUTPUT_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser()
    key, default = _KINDS[kind]
    return user_dir(key, default, env) / APP_FOLDER


def new_output_file(kind: str, suffix: str, override: str | Path | None = None,
                    env: Mapping[str, str] | None = None, now: float | None = None) -> Path:
    """A new file name for a recording ('.mp4') or a snapshot ('.png'), its folder created.

    Named camview-YYYYmmdd-HHMMSS, with -2, -3... when that second already has one (two
    snapshots in a second must not overwrite each other). OutputError, one line, when the
    folder cannot be made.
    """
    folder = output_folder(kind, override, env)
    try:
        check_writable(folder, folder=True)  # makes it, and says why if it cannot
    except OutputError as exc:
        raise OutputError(f"{exc}; set {OUTPUT_DIR_ENV} or --output-dir to another folder"
                          ) from None
    stem = f"camview-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path
