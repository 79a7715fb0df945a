"""The window's look before Qt: no display or a plugin that cannot load is one line, exit 2."""

import os
import shutil
import subprocess
import sys

import pytest
from helpers import REPO

from camview.app import display_check as dc

# Lines of `ldd libqxcb.so` (PyQt6 6.11) on this machine, with the two libraries a stock Debian
# lacks shown as ldd shows a missing one: the case Qt misreports as libxcb-cursor0.
LDD_SAMPLE = """\
\tlinux-vdso.so.1 (0x00007ffd5b9e2000)
\tlibQt6XcbQpa.so.6 => /venv/PyQt6/Qt6/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x7f1)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f2a1c36f000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f2a1c35d000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-image.so.0 => /lib/x86_64-linux-gnu/libxcb-image.so.0 (0x00007f2a1cef7000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2a1b21e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2a1cfcf000)
"""


def _no_display_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(REPO)
    return env


def test_window_without_display_exits_2_with_one_line(tmp_path):
    """`camview` with QT_QPA_PLATFORM, DISPLAY and WAYLAND_DISPLAY unset: no abort."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from camview.cli import main; sys.exit(main([]))"],
        env=_no_display_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "DISPLAY" in lines[0]
    assert "`camview render" in lines[0]
    assert done.stdout == ""


def test_window_options_do_not_skip_the_check(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys; from camview.cli import main; sys.exit(main(['--source', 'demo']))"],
        env=_no_display_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "cannot open" in done.stderr and len(done.stderr.splitlines()) == 1


def test_check_does_not_import_qt():
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys; from camview.app.display_check import display_problem; "
         "display_problem({}); print(sorted(m for m in sys.modules if 'PyQt6' in m))"],
        env=_no_display_env(), capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_ldd_parser_on_captured_sample():
    assert dc.missing_libraries(LDD_SAMPLE) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert dc.missing_libraries("") == []


def test_ldd_parser_on_real_xcb_plugin():
    plugin = dc.qt_plugin("xcb")
    if plugin is None or shutil.which("ldd") is None:
        pytest.skip("no PyQt6 xcb plugin or no ldd here (not Linux)")
    report = dc.run_ldd(plugin)
    assert "libxcb" in report
    missing = dc.missing_libraries(report)
    for line in report.splitlines():
        if "=>" in line:
            name = line.split("=>")[0].strip()
            assert (name in missing) == ("not found" in line), line


def test_plugin_found_without_importing_pyqt6_widgets():
    plugin = dc.qt_plugin("xcb")
    if plugin is None:
        pytest.skip("PyQt6 has no xcb plugin here")
    assert plugin.name == "libqxcb.so" and plugin.is_file()
    assert dc.qt_plugin("no-such-platform") is None


@pytest.mark.parametrize(("soname", "package"), [
    ("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"), ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"), ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-shape.so.0", "libxcb-shape0"), ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"), ("libEGL.so.1", "libegl1"),
    ("libGL.so.1", "libgl1"), ("libfontconfig.so.1", "libfontconfig1"),
    ("libdbus-1.so.3", "libdbus-1-3"), ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libglib-2.0.so.0", "libglib2.0-0"), ("libgthread-2.0.so.0", "libglib2.0-0"),
])
def test_debian_package_names(soname, package):
    assert dc.debian_package(soname) == package


@pytest.mark.parametrize("value", ["offscreen", "minimal", "vnc:size=800x600", "xcb;offscreen"])
def test_headless_platforms_need_nothing(value):
    assert dc.display_problem({"QT_QPA_PLATFORM": value}, platform="linux") is None


def test_windows_and_macos_are_not_checked():
    assert dc.display_problem({}, platform="win32") is None
    assert dc.display_problem({}, platform="darwin") is None


def test_no_display_names_both_variables():
    problem = dc.display_problem({}, platform="linux")
    assert "DISPLAY" in problem and "WAYLAND_DISPLAY" in problem
    assert "camview render" in problem


def test_display_with_no_server_is_refused():
    free = next(n for n in range(150, 250) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    problem = dc.display_problem({"DISPLAY": f":{free}"}, platform="linux")
    assert f"no X server answers at DISPLAY=:{free}" in problem


def test_missing_libraries_give_the_apt_command(monkeypatch):
    monkeypatch.setattr(dc, "run_ldd", lambda path: LDD_SAMPLE)
    if dc.qt_plugin("xcb") is None:
        pytest.skip("PyQt6 has no xcb plugin here")
    problem = dc.display_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ""}, platform="linux")
    assert "missing libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in problem
    assert "camview render" in problem
    assert "\n" not in problem


@pytest.fixture
def xvfb_display():
    """A real X server on a free display number, for as long as the test runs."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # Xvfb writes it once it accepts connections
    try:
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait()


def test_real_x_display_passes(xvfb_display):
    if dc.qt_plugin("xcb") is None:
        pytest.skip("PyQt6 has no xcb plugin here")
    report = dc.run_ldd(dc.qt_plugin("xcb")) or ""
    if dc.missing_libraries(report):
        pytest.skip("this machine lacks xcb libraries: the check is right to refuse")
    assert dc.display_problem({"DISPLAY": xvfb_display}, platform="linux") is None


@pytest.mark.parametrize("display", ["tcp/somehost:0",
                                     "/private/tmp/com.apple.launchd.x/org.xquartz:0"])
def test_display_forms_not_understood_are_left_to_qt(display):
    assert dc._x_server_reachable(display)
