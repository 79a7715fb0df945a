"""scripts/_venv.sh: a set-up says what it does, pip is quiet off a terminal, a second run is
silent. The Python it runs is a stand-in that logs its arguments: no virtualenv is made here."""

import os
import pty
import shutil
import subprocess

import pytest
from helpers import REPO

if shutil.which("bash") is None:
    pytest.skip("bash is not installed", allow_module_level=True)

FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$CALLS"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
"""


@pytest.fixture
def fake_python(tmp_path):
    exe = tmp_path / "python3"
    exe.write_text(FAKE_PYTHON)
    exe.chmod(0o755)
    return exe


def source_venv(venv, fake_python, extras="", stderr=subprocess.PIPE):
    env = {**os.environ, "CAMVIEW_VENV": str(venv), "PYTHON": str(fake_python),
           "CALLS": str(venv.parent / "calls.txt")}
    env.pop("CI", None)
    return subprocess.run(["bash", "-c", f'source scripts/_venv.sh "{extras}"'], cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=60)


def calls(venv) -> list[str]:
    path = venv.parent / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_first_run_says_it_sets_up_and_keeps_pip_quiet_off_a_terminal(tmp_path, fake_python):
    venv = tmp_path / "venv"
    done = source_venv(venv, fake_python)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"camview: setting up {venv} (first run only, downloads "
                                  "TensorFlow")
    log = calls(venv)
    assert log[0] == f"-m venv {venv}"
    assert all("--quiet" in line for line in log[1:]) and len(log) == 3
    assert log[-1].endswith(f"-e {REPO}")


def test_second_run_prints_nothing_and_installs_nothing(tmp_path, fake_python):
    venv = tmp_path / "venv"
    source_venv(venv, fake_python)
    before = calls(venv)
    done = source_venv(venv, fake_python)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert calls(venv) == before


def test_new_extras_say_so(tmp_path, fake_python):
    venv = tmp_path / "venv"
    source_venv(venv, fake_python)
    done = source_venv(venv, fake_python, "[test]")
    assert done.stderr == f"camview: installing camview[test] into {venv} (first run only)…\n"
    assert calls(venv)[-1].endswith(f"-e {REPO}[test]")


def test_a_terminal_sees_pips_progress(tmp_path, fake_python):
    venv = tmp_path / "venv"
    leader, follower = pty.openpty()
    try:
        done = source_venv(venv, fake_python, stderr=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 0
    pip_calls = calls(venv)[1:]
    assert pip_calls and all("--quiet" not in c and "--progress-bar=on" in c for c in pip_calls)
