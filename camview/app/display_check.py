"""Can Qt open a window here? Asked before PyQt6 is imported, because Qt cannot be asked.

On Linux, Qt aborts the whole process (SIGABRT, exit 134) when its platform plugin finds no
display or cannot be loaded, and its own message names the wrong library (libxcb-cursor0 even
when that one is installed). So the window looks first, without Qt: is a display set and
reachable, and does ``ldd`` find every shared library of the plugin Qt will load? A fault is a
:class:`NoDisplayError` with one line naming what is missing, the Debian/Ubuntu apt command
and the headless alternative. This module must not import PyQt6.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from camview.errors import CamviewError

#: Qt platforms that need no display server: Qt starts with them anywhere.
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "eglfs",
                                "linuxfb", "vkkhrdisplay"})

#: Debian/Ubuntu package of a shared library whose package name does not follow Debian's
#: rule (name + soname version, see :func:`debian_package`).
_DEBIAN_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
}

HEADLESS_ADVICE = "`camview render SOURCE -o out.mp4` works without a display"

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


class NoDisplayError(CamviewError):
    """Qt cannot open a window here: no display, or its platform plugin cannot load."""


def missing_libraries(ldd_output: str) -> list[str]:
    """The shared libraries ``ldd`` reports as 'not found', in its order, each once."""
    found = [m.group(1) for line in ldd_output.splitlines() if (m := _NOT_FOUND.match(line))]
    return list(dict.fromkeys(found))


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships a library, by Debian policy 8.1's naming rule.

    'libxcb-icccm.so.4' -> 'libxcb-icccm4'; a name ending in a digit takes a hyphen:
    'libdbus-1.so.3' -> 'libdbus-1-3'. The few that break the rule are listed. A rule rather
    than a table of every library, because Qt's plugins link a few dozen of them.
    """
    if soname in _DEBIAN_EXCEPTIONS:
        return _DEBIAN_EXCEPTIONS[soname]
    match = re.fullmatch(r"(.+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if match is None:
        return soname.lower()
    name, version = match.group(1).lower(), match.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def qt_plugin(platform: str) -> Path | None:
    """PyQt6's platform plugin file (e.g. libqxcb.so), found without importing PyQt6."""
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec("PyQt6")
        if spec is not None and spec.submodule_search_locations:
            for root in spec.submodule_search_locations:
                path = Path(root) / "Qt6" / "plugins" / "platforms" / f"libq{platform}.so"
                if path.is_file():
                    return path
    return None


def run_ldd(path: Path) -> str | None:
    """``ldd``'s report on a shared library, or None where there is no ldd."""
    exe = shutil.which("ldd")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=20,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout


def requested_platforms(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt will try, in order: QT_QPA_PLATFORM ('wayland;xcb',
    'vnc:size=800x600') or, unset, Qt 6's own choice (Wayland first in a Wayland session)."""
    value = env.get("QT_QPA_PLATFORM", "").strip()
    if value:
        return [p.split(":", 1)[0].strip().lower() for p in value.split(";") if p.strip()]
    return ["wayland", "xcb"] if env.get("WAYLAND_DISPLAY") else ["xcb"]


def _connects(family: int, address: str | tuple[str, int]) -> bool:
    with socket.socket(family) as sock:
        sock.settimeout(2)
        try:
            sock.connect(address)
        except OSError:
            return False
        return True


def _x_server_reachable(display: str) -> bool:
    """Is there an X server at DISPLAY? Qt aborts if not. Tried where libxcb tries: the local
    socket for ':0' / 'unix:0' (a file, or Linux's abstract one), else TCP port 6000 + N. A
    form not understood here ('/path/launchd:0' on XQuartz, 'tcp/host:0') is left to Qt."""
    match = re.fullmatch(r"(?P<host>[^:/]*):(?P<number>\d+)(?:\.\d+)?", display.strip())
    if match is None:
        return True
    host, number = match.group("host"), int(match.group("number"))
    if host in ("", "unix"):
        return any(_connects(socket.AF_UNIX, address) for address in
                   (f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"))
    try:
        with socket.create_connection((host, 6000 + number), timeout=2):
            return True
    except OSError:
        return False


def _wayland_reachable(env: Mapping[str, str]) -> bool:
    name = env.get("WAYLAND_DISPLAY", "")
    if not name:
        return False
    if os.path.isabs(name):
        return os.path.exists(name)
    runtime = env.get("XDG_RUNTIME_DIR")
    return runtime is None or os.path.exists(os.path.join(runtime, name))


def _plugin_fault(platform: str) -> str | None:
    """What keeps Qt's `platform` plugin from loading, as read by ldd, or None."""
    plugin = qt_plugin(platform)
    if plugin is None:
        return None  # no such plugin file here: let Qt say what it says
    report = run_ldd(plugin)
    missing = missing_libraries(report) if report else []
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(lib) for lib in missing))
    return (f"Qt's {platform} plugin cannot load, missing {', '.join(missing)} "
            f"(Debian/Ubuntu: sudo apt-get install {packages})")


def _platform_fault(platform: str, env: Mapping[str, str]) -> str | None:
    """Why Qt cannot start `platform` here, or None if nothing is known against it."""
    if platform == "xcb":
        display = env.get("DISPLAY", "")
        if not display:
            return "no X display (DISPLAY is not set)"
        if not _x_server_reachable(display):
            return f"no X server answers at DISPLAY={display}"
    elif platform == "wayland" and not _wayland_reachable(env):
        name = env.get("WAYLAND_DISPLAY")
        return (f"no Wayland compositor at WAYLAND_DISPLAY={name}" if name
                else "no Wayland display (WAYLAND_DISPLAY is not set)")
    return _plugin_fault(platform)


def display_problem(env: Mapping[str, str] | None = None,
                    platform: str | None = None) -> str | None:
    """One line saying why Qt cannot open a window here, or None when it can (or when we
    cannot tell: Windows and macOS bring their own platform plugin and need no check)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    wanted = requested_platforms(env)
    if any(p in HEADLESS_PLATFORMS for p in wanted):
        return None
    faults = []
    for name in wanted:
        fault = _platform_fault(name, env)
        if fault is None:
            return None  # Qt falls through its list to this plugin, which works
        faults.append(fault)
    if not env.get("QT_QPA_PLATFORM") and not env.get("DISPLAY") and not env.get(
            "WAYLAND_DISPLAY"):
        faults = ["no display (neither DISPLAY nor WAYLAND_DISPLAY is set: start camview in "
                  "a desktop session)"]
    if "xcb" in wanted and not any(f.startswith("Qt's xcb") for f in faults):
        # Once there is a display the libraries matter too: say both now, not one per run.
        plugin = _plugin_fault("xcb")
        if plugin:
            faults.append(plugin)
    return f"the window cannot open: {'; '.join(faults)}; {HEADLESS_ADVICE}"


def require_display(env: Mapping[str, str] | None = None) -> None:
    """Raise NoDisplayError (one line, exit 2) where Qt would abort instead of opening."""
    problem = display_problem(env)
    if problem is not None:
        raise NoDisplayError(problem)
