"""camview as users install it: the wheel and the sdist carry every module and resource (an
editable install hides a package left out of the build), and the version has one source."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import REPO


def _tracked(prefix: str) -> list[str]:
    done = subprocess.run(["git", "ls-files", prefix], cwd=REPO, capture_output=True, text=True,
                          check=True)
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """A wheel and an sdist built as a packager builds them, from a copy of the tracked files
    (the build writes build/ and *.egg-info beside its sources)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in _tracked("."):
        source = REPO / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_bytes(source.read_bytes())
    dist = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--sdist",
                           "--outdir", str(dist), str(tree)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"wheel": next(dist.glob("*.whl")), "sdist": next(dist.glob("*.tar.gz"))}


def test_the_wheel_carries_every_module_and_resource(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
    wanted = [n for n in _tracked("camview") if n.endswith(".py") or "/resources/" in n]
    missing = [n for n in wanted if n not in names]
    assert not missing, f"left out of the wheel: {missing}"
    assert any(n.endswith(".jpg") for n in names)  # the demo photos


def test_the_sdist_carries_every_module_and_resource(built):
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    missing = [n for n in _tracked("camview") if n not in names]
    assert not missing, f"left out of the sdist: {missing}"


def test_the_version_has_one_source():
    declared = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(),
                         re.M).group(1)
    for command in ([sys.executable, "-m", "camview", "--version"],
                    [str(Path(sys.executable).with_name("camview")), "--version"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == f"camview {declared}", done
    newest = next(line for line in (REPO / "CHANGELOG.md").read_text().splitlines()
                  if line.startswith("## "))
    assert newest.split()[1] == declared, newest  # newest first: this version's entry
