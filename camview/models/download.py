"""Weights fetched once, verified, cached: `keras.utils.get_file` fetches and checks SHA-256.

Files are fetched into a staging folder beside their destination and moved into place only
when every one of them has its pinned hash, so a failed, cut or corrupt download leaves
nothing behind that could be mistaken for weights (get_file itself keeps a file whose hash
did not match).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from camview.errors import ModelError

Progress = Callable[[str], None]
"""Told one line per step ("downloading squeezenet1.1.bin (2.5 MB) from ..."), for a status bar."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    sha256: str
    size: int  # bytes, to say how much will be fetched


def megabytes(files: tuple[RemoteFile, ...]) -> float:
    return sum(f.size for f in files) / 1e6


def fetch_verified(files: tuple[RemoteFile, ...], base_url: str, dest: Path, *, advice: str,
                   progress: Progress | None = None) -> None:
    """Download every file from `base_url`/name into `dest`, each checked against its SHA-256;
    all or nothing. ModelError (one line, ending in `advice`) when any fetch or check fails."""
    import keras

    say = progress or (lambda _text: None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-download-", dir=dest.parent))
    fetched: list[tuple[Path, str]] = []
    try:
        for f in files:
            url = f"{base_url.rstrip('/')}/{f.name}"
            say(f"downloading {f.name} ({f.size / 1e6:.1f} MB) from {url}")
            try:
                path = keras.utils.get_file(fname=f.name, origin=url, file_hash=f.sha256,
                                            hash_algorithm="sha256", cache_dir=str(staging),
                                            cache_subdir="")
            except ValueError:  # get_file's "Incomplete or corrupted file detected"
                raise ModelError(f"{url} is not the pinned {f.name} (its SHA-256 differs from "
                                 f"{f.sha256[:12]}…): nothing was kept; {advice}") from None
            except Exception as exc:  # get_file raises a bare Exception for a failed fetch
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ModelError(f"cannot download {url} ({reason[:160]}): {advice}") from None
            fetched.append((Path(path), f.name))
        dest.mkdir(parents=True, exist_ok=True)
        for path, name in fetched:
            shutil.move(str(path), dest / name)
        say(f"verified and cached {', '.join(f.name for f in files)} in {dest}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for path, _ in fetched:  # get_file falls back to /tmp/.keras for a read-only folder
            if path.exists():
                os.remove(path)
