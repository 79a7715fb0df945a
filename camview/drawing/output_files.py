"""Outputs that never cost the user a file: checked before any work, written whole or not at all.

Two promises, one module:

* **Never over an input.** An output naming the input file, one of the images in an input
  folder or set, or the model, weights or labels being read is refused before any work
  (:func:`check_writable`).
* **Never half a file under the real name.** Every output (JSON, .npy, the report, images and
  videos) is written under a hidden partial name beside the target and renamed over it only
  once complete (:class:`PartialFile`). A kill midway leaves the old file as it was.

The partial file is locked (``flock``) for as long as its writer lives; the kernel drops the
lock when the process dies, however it dies. So a partial file that can be locked is a dead
run's leftover, and is removed by the next writer of that name; one that cannot is a live
writer's, and a second writer of the same output is refused rather than left to clobber it.
Where there is no ``flock`` (Windows) nothing is locked and nothing is swept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from camview.errors import OutputError
from camview.sources.images import IMAGE_SUFFIXES

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


# ---------------------------------------------------------------------------------------------
# Partial files: written under a locked hidden name, renamed over the target at the end


#: What tempfile.mkstemp puts between a PartialFile's prefix and suffix.
_RANDOM = r"[a-z0-9_]{8}"


def _partial_pattern(target: Path | None, suffix: str = "") -> re.Pattern:
    """The names PartialFile gives `target`'s partial files; with no target, any target's
    whose suffix is `suffix` (a folder of frames)."""
    if target is None:
        return re.compile(r"^\..+\." + _RANDOM + re.escape(f".part{suffix}") + "$")
    return re.compile("^" + re.escape(f".{target.name}.") + _RANDOM
                      + re.escape(f".part{target.suffix}") + "$")


def _lock(fd: int) -> bool:
    """Take the partial file's lock without waiting; False if another writer holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def sweep_partials(folder: Path, target: Path | None = None, suffix: str = "") -> list[Path]:
    """Remove the partial files dead runs left in `folder`: of `target`, or with no target
    of any file ending in `suffix` (only names PartialFile makes: a user's own hidden file
    is never touched); the partial files live writers hold, which are left alone."""
    if fcntl is None:
        return []
    try:
        names = [p for p in folder.iterdir() if p.name.startswith(".") and ".part" in p.name]
    except OSError:
        return []
    pattern = _partial_pattern(target, suffix)
    busy = []
    for path in names:
        if not pattern.search(path.name):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if _lock(fd):
                with contextlib.suppress(OSError):
                    path.unlink()
            else:
                busy.append(path)
        finally:
            os.close(fd)
    return busy


def refuse_busy(target: Path) -> None:
    """OutputError if another camview is writing `target` now; a dead run's partial files of
    it are removed on the way."""
    target = Path(os.path.realpath(target))
    if sweep_partials(target.parent, target):
        raise OutputError(f"cannot write {target}: another camview is writing it now; wait for "
                          "it to finish or choose another name")


class PartialFile:
    """A file being written for `target`: a hidden, locked name beside it (``path``), renamed
    over the target by :meth:`commit` or removed by :meth:`discard`.

    The partial name keeps the target's suffix, so encoders that choose a format by suffix
    (ffmpeg, OpenCV) write the right one. `sweep`: look for dead runs' partial files and live
    writers of the same name first (one listing of the folder; a folder of thousands of frames
    is swept once instead, by its writer).
    """

    def __init__(self, target: str | Path, *, sweep: bool = True) -> None:
        self.target = Path(os.path.realpath(target))  # a symlink's file is replaced, not the link
        if sweep:
            refuse_busy(self.target)
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.",
                                    suffix=f".part{self.target.suffix}", dir=self.target.parent)
        self.path = Path(name)
        self._fd: int | None = fd
        _lock(fd)  # a new name: nobody else can hold it

    def commit(self) -> None:
        """Give the finished file its name (keeping the usual mode: mkstemp makes it private)."""
        with contextlib.suppress(OSError):
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.path, 0o666 & ~umask)
        try:
            os.replace(self.path, self.target)
        finally:
            self._release()

    def discard(self) -> None:
        """Remove the partial file; the target stays as it was."""
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._release()

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # the lock goes with it, only after the rename

    def __enter__(self) -> PartialFile:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self._fd is None:
            return
        if exc_type is None:
            self.commit()
        else:
            self.discard()


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", *, sweep: bool = True) -> Iterator:
    """A file opened to write `path` that only takes its name once complete (a PartialFile).
    A device or pipe (/dev/stdout) is written directly. OSError as open() raises it."""
    encoding = {} if "b" in mode else {"encoding": "utf-8"}
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        # A device or a pipe (/dev/full, /dev/stdout): no file to put in its place.
        with open(target, mode, **encoding) as f:
            yield f
        return
    with PartialFile(target, sweep=sweep) as partial, open(partial.path, mode, **encoding) as f:
        yield f


# ---------------------------------------------------------------------------------------------
# Checking an output before any work


#: Kernel file systems that show the system's state as files: no file can be made in them,
#: and they refuse with misleading codes (procfs answers "No such file or directory").
VIRTUAL_FILESYSTEMS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore", "bpf",
    "configfs", "efivarfs", "fusectl", "binfmt_misc", "devpts", "nsfs"})


def _unescape_mount(field: str) -> str:
    """/proc/self/mounts writes a space in a mount point as \\040 (octal)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def filesystem_type(path: Path) -> str | None:
    """The type of the file system holding `path` ('ext4', 'proc'), or None where unknown.

    Read from /proc/self/mounts (Linux) because Python has no call for it: os.statvfs has no
    type field. The longest mount point over the path's nearest existing folder wins.
    """
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    real = os.path.realpath(existing)
    best, best_len = None, -1
    for line in lines.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = _unescape_mount(fields[1])
        inside = real == mount or real.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= best_len:  # >=: a later mount over the same point wins
            best, best_len = fields[2], len(mount)
    return best


def _cause(folder: Path, exc: OSError) -> str:
    """Why nothing can be written in `folder`, in words: errno's text alone can mislead."""
    fs = filesystem_type(folder)
    if fs in VIRTUAL_FILESYSTEMS:
        return (f"{folder} is in the kernel's virtual {fs} file system, where no file can be "
                "made: choose a folder on a disk")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in folder {folder}"
    if exc.errno == errno.EROFS:
        return f"folder {folder} is on a read-only file system"
    if exc.errno == errno.ENOSPC:
        return f"the disk holding {folder} is full"
    return f"folder {folder} is not writable ({_reason(exc)})"


def _same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists() and a.samefile(b):
            return True
    return a.resolve() == b.resolve()


def input_overwritten(path: Path, inputs: Iterable[str | Path]) -> str | None:
    """Why writing `path` would destroy an input, or None.

    An input is a file read (the source, a model, its weights or labels) or a folder read
    (a folder source, a labelled set): any image file already anywhere inside such a folder
    is one of its inputs, so an output may be written into the folder only under a new name
    or over a file that is not an image.
    """
    for given in inputs:
        source = Path(given)
        if _same_file(path, source):
            return f"output {path} is the input file: choose another name"
        if source.is_dir() and path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            with contextlib.suppress(ValueError, OSError):
                path.resolve().relative_to(source.resolve())
                return (f"output {path} is one of the images in input folder {source}: "
                        "choose a name that is not an input")
    return None


def _probe_file(path: Path) -> None:
    """Open the file for writing (and remove it again if it is new): the only test that is
    right for every cause, root included, for whom permission bits do not stop writes."""
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        if existed and exc.errno in (errno.EACCES, errno.EPERM):
            cause = f"no permission to write {path}"
        else:
            cause = _cause(path.parent, exc)
        raise OutputError(f"cannot write {path}: {cause}") from None
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()


def _probe_folder(folder: Path, what: str) -> None:
    """Make the folder and a file in it: `what` says which output needs it in messages."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{what}: folder {folder} cannot be created, a file of that name "
                          "exists") from None
    except OSError as exc:
        parent = next((p for p in folder.parents if p.is_dir()), folder.parent)
        raise OutputError(f"{what}: folder {folder} cannot be created: {_cause(parent, exc)}"
                          ) from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"{what}: {_cause(folder, exc)}") from None


def _blocking_file(path: Path) -> Path | None:
    """The first existing ancestor of `path` that is a file, which no folder can be made in."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_writable(path: str | Path, *, inputs: Iterable[str | Path] = (),
                   folder: bool | None = None) -> Path:
    """Refuse an output that cannot be written, would overwrite an input or is being written by
    another camview now, before any work.

    `inputs`: every file and folder the command reads (see :func:`input_overwritten`).
    `folder`: True for a folder output, False for a file, None to go by the name (no suffix
    and not an existing file: a folder). The folder an output is written in must exist; an
    output folder itself is made.
    """
    path = Path(path)
    overwritten = input_overwritten(path, inputs)
    if overwritten:
        raise OutputError(overwritten)
    if folder is None:
        folder = path.is_dir() or (path.suffix == "" and not path.exists())
    blocker = _blocking_file(path)
    if blocker is not None:
        raise OutputError(f"cannot write {path}: {blocker} is a file, not a folder")
    where = path.parent if str(path.parent) else Path(".")
    if not where.is_dir():
        # As ffmpeg does: a typo in a path must not make folders anywhere (/nonexist/x.png
        # made /nonexist). An output folder itself is made, in a folder that exists.
        raise OutputError(f"cannot write {path}: folder {where} does not exist (create it "
                          "first)")
    if folder:
        if path.exists() and not path.is_dir():
            raise OutputError(f"output folder {path} is a file: give a folder, or a file name "
                              f"ending in an image or video suffix")
        _probe_folder(path, f"cannot write {path}")
        return path
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    _probe_folder(where, f"cannot write {path}")
    _probe_file(path)
    if not path.exists() or path.is_file():  # a device or a pipe is written directly
        refuse_busy(path)
    return path
