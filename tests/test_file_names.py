"""File names that are not UTF-8 (other systems, old archives) through evaluate: its cache,
its JSON and its report show them and keep the real path (camview.sources.file_names)."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
from helpers import DEMO

from camview.cli import main
from camview.sources.file_names import shown, storage_key

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="byte file names: Linux")


def test_shown_and_keyed_names():
    odd = os.fsdecode(b"caf\xe9.jpg")
    assert shown(odd) == "caf\\xe9.jpg" and shown("café.jpg") == "café.jpg"
    assert storage_key("café.jpg") == "café.jpg"
    assert storage_key(odd).encode("utf-8")  # valid UTF-8 text
    assert storage_key(odd) != storage_key(os.fsdecode(b"caf\xe8.jpg"))


@pytest.mark.parametrize("cache", [True, False])
def test_evaluate_carries_a_name_that_is_not_utf8(tmp_path, capsys, cache):
    root = tmp_path / "set"
    (root / "espresso").mkdir(parents=True)
    (root / "tabby").mkdir()
    # Under the wrong class: a mistake, so the report shows its card and links its file.
    odd = os.fsdecode(os.fsencode(root / "tabby") + b"/caf\xe9.jpg")
    shutil.copy(DEMO / "coffee.jpg", odd)
    shutil.copy(DEMO / "chelsea.jpg", root / "tabby" / "chelsea.jpg")
    shutil.copy(DEMO / "coffee.jpg", root / "espresso" / "coffee.jpg")
    out, report = tmp_path / "out.json", tmp_path / "out.html"
    args = ["evaluate", str(root), "--json", str(out), "--report", str(report), "--no-progress"]
    assert main([*args, *([] if cache else ["--no-cache"])]) == 0
    if cache:  # again, from the cache
        assert main(args) == 0
    paths = [image["path"] for image in json.loads(out.read_text())["images"]]
    assert odd in paths  # the real name, escaped by JSON and read back as it was
    page = report.read_text(encoding="utf-8")
    assert "caf\\xe9.jpg" in page and "caf%E9.jpg" in page  # shown, and linked to the file
    assert "Traceback" not in capsys.readouterr().err

