"""A cache folder written whole or not at all (the OpenVINO conversion's), and conversions
stopped when the process ends.

Why: closing the window while the model was converted for OpenVINO aborted the process
(SIGABRT, "terminate called without an active exception", exit -6): the conversion (Keras
SavedModel export, then ``openvino.convert_model``, then compiling) runs on the window's
loader thread and cannot be interrupted, so the window closed around it and Python went on
to finalise while that thread was still inside TensorFlow or OpenVINO; the libraries' native
teardown met their own threads still running and called std::terminate. The conversion's
staging folder (the probe's outputs, nothing else yet) was left in the cache folder.

So a process that ends calls `stop_conversions`: each conversion stops at the next step it
checks (`check_going`, between the export, the conversion and the compile), its staging
folder is removed at once, and nothing is moved into place after that; the window then
leaves without finalising if a thread is still inside a library (camview.app.leaving).

A process killed outright (SIGKILL, a power cut) can still leave a staging folder behind. It
is never read as a converted model (only the folder named by the fingerprint is), and its name
carries the process id: the next conversion in that cache removes those whose process is gone
(or, where that cannot be asked, that are over ABANDONED_AFTER_S old).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from camview.errors import CamviewError

#: Between a folder's name and the writing process's id in its staging folder's name.
STAGING = ".partial-"
#: A staging folder older than this is abandoned whoever wrote it (a conversion writes for
#: tens of seconds).
ABANDONED_AFTER_S = 3600.0

_stopping = threading.Event()
_lock = threading.Lock()  # a staging folder is moved into place, or removed, never both
_staging: set[Path] = set()


class ConversionStopped(CamviewError):
    """The process is ending: a conversion stopped between two of its steps."""


def stop_conversions() -> None:
    """Stop every conversion of this process at its next step and remove its staging folder
    now; from here on nothing is converted or moved into place (the process is ending)."""
    with _lock:
        _stopping.set()
        for staging in _staging:
            shutil.rmtree(staging, ignore_errors=True)


def stopping() -> bool:
    return _stopping.is_set()


def check_going() -> None:
    """ConversionStopped once stop_conversions was called: a conversion's steps check here."""
    if _stopping.is_set():
        raise ConversionStopped("the model's conversion stopped: camview is closing")


def write_whole(folder: Path, write: Callable[[Path], None],
                complete: Callable[[Path], bool]) -> None:
    """`write(staging)` into a new folder beside `folder`, then moved to `folder` in one rename:
    an interrupted write leaves no `folder` that `complete` could take for a finished one.
    A `folder` already there and not `complete` (an older, partial one) is replaced; one that
    another process completed meanwhile is kept (it is as good)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(folder.parent)
    with _lock:
        check_going()
        staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}{STAGING}{os.getpid()}-",
                                        dir=folder.parent))
        _staging.add(staging)
    try:
        write(staging)
        with _lock:
            check_going()  # stop_conversions has removed it, or is about to
            if folder.exists() and not complete(folder):
                shutil.rmtree(folder, ignore_errors=True)
            try:
                staging.rename(folder)
            except OSError:  # another process converted it meanwhile: theirs is as good
                if not complete(folder):
                    raise
    finally:
        with _lock:
            _staging.discard(staging)
        shutil.rmtree(staging, ignore_errors=True)


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the staging folders in `parent` whose process is gone (or that are over
    ABANDONED_AFTER_S old); the ones removed."""
    removed = []
    for path in parent.glob(f"*{STAGING}*"):
        with _lock:
            if path in _staging:  # this process writes it now
                continue
        pid = path.name.split(STAGING, 1)[1].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)) and not _old(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        return True  # only the age says
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: running
        return True
    return True


def _old(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > ABANDONED_AFTER_S
    except OSError:
        return False
