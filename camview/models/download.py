"""Weights fetched once, verified, cached: each file streamed with timeouts, capped at its
known size and checked against its pinned SHA-256.

Why not ``keras.utils.get_file`` (which camview used first): it has no timeout, so a mirror
that accepts and never replies hangs camview with no word; no size cap, so one that sends
endless bytes fills the disk; and its progress bar goes to stdout, which a script reads. The
standard library's urllib does the fetch here with all three under control.

Files are fetched into a staging folder beside their destination and moved into place only
when every one of them has its pinned size and hash, so a failed, cut, slow or corrupt
download leaves nothing behind that could be mistaken for weights.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
import urllib.request
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


#: Seconds to wait for a connection or for the next bytes before giving up.
READ_TIMEOUT_S = 30.0
#: The slowest transfer still waited for, in bytes a second (beside a minute's grace): a
#: mirror trickling a byte a second never ends the download otherwise.
SLOWEST_BYTES_PER_S = 20_000
CHUNK = 1 << 16


def _fetch(url: str, f: RemoteFile, target: Path) -> None:
    """Stream `url` into `target`: OSError/ValueError on a failed or slow fetch, a file larger
    than `f.size` (stopped at the cap) or one whose SHA-256 is not `f.sha256`."""
    digest, got = hashlib.sha256(), 0
    deadline = time.monotonic() + 60 + f.size / SLOWEST_BYTES_PER_S
    request = urllib.request.Request(url, headers={"User-Agent": "camview"})
    with urllib.request.urlopen(request, timeout=READ_TIMEOUT_S) as response, \
            open(target, "wb") as out:
        while chunk := response.read(CHUNK):
            got += len(chunk)
            if got > f.size:
                raise OSError(f"it sends more than the {f.size} bytes {f.name} has; stopped")
            if time.monotonic() > deadline:
                raise OSError(f"too slow: {got} of {f.size} bytes in "
                              f"{60 + f.size / SLOWEST_BYTES_PER_S:.0f} s")
            digest.update(chunk)
            out.write(chunk)
    if got != f.size:
        raise OSError(f"it sent {got} of the {f.size} bytes of {f.name}")
    if digest.hexdigest() != f.sha256:
        raise ValueError("hash")


def fetch_verified(files: tuple[RemoteFile, ...], base_url: str, dest: Path, *, advice: str,
                   progress: Progress | None = None) -> None:
    """Download every file from `base_url`/name into `dest`, each checked against its size
    and SHA-256; all or nothing. ModelError (one line, ending in `advice`) when any fetch or
    check fails."""
    say = progress or (lambda _text: None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-download-", dir=dest.parent))
    try:
        for f in files:
            url = f"{base_url.rstrip('/')}/{f.name}"
            say(f"downloading {f.name} ({f.size / 1e6:.1f} MB) from {url}")
            try:
                _fetch(url, f, staging / f.name)
            except ValueError:
                raise ModelError(f"{url} is not the pinned {f.name} (its SHA-256 differs from "
                                 f"{f.sha256[:12]}…): nothing was kept; {advice}") from None
            except OSError as exc:  # urllib.error.URLError is one
                reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
                if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
                    reason = f"no answer in {READ_TIMEOUT_S:.0f} s"
                reason = (str(reason).strip().splitlines() or [type(exc).__name__])[0]
                raise ModelError(f"cannot download {url} ({reason[:160]}): nothing was kept; "
                                 f"{advice}") from None
        dest.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.move(str(staging / f.name), dest / f.name)
        say(f"verified and cached {', '.join(f.name for f in files)} in {dest}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
