"""`evaluate --versus`: the second model is checked before any work and has its own weights,
labels and preprocessing flags, which its messages name."""

from __future__ import annotations

import json
import time

import pytest
from helpers import SQUEEZENET_DIR, class_folders

from camview.cli import main
from camview.models.squeezenet_weights import URL_ENV_VAR


def test_an_unusable_second_model_is_refused_before_any_work(tmp_path, capsys):
    root = class_folders(tmp_path / "set", ["tabby", "espresso"])
    started = time.monotonic()
    assert main(["evaluate", root, "--versus", str(tmp_path / "nosuch.keras"),
                 "--json", str(tmp_path / "x.json")]) == 2
    assert time.monotonic() - started < 5  # before TensorFlow, let alone the first model
    assert "nosuch.keras does not exist" in capsys.readouterr().err
    assert main(["evaluate", root, "--versus-weights", "w.bin"]) == 2
    assert "--versus-weights is for the --versus model" in capsys.readouterr().err


def test_the_second_models_weights_are_its_own_flag(tmp_path, capsys, monkeypatch):
    if not (SQUEEZENET_DIR / "squeezenet1.1.xml").is_file():
        pytest.skip("the shared SqueezeNet files are not here")
    monkeypatch.delenv("CAMVIEW_SQUEEZENET", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # nothing found locally
    monkeypatch.setenv(URL_ENV_VAR, "http://127.0.0.1:9/nothing-listens-here")
    root = class_folders(tmp_path / "set", ["tabby", "espresso"])
    out = tmp_path / "x.json"
    assert main(["evaluate", root, "--versus", "squeezenet", "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("camview: error: --versus squeezenet: cannot download")
    assert "--versus-weights PATH" in err and " --weights" not in err
    assert main(["evaluate", root, "--versus", "squeezenet", "--versus-weights",
                 str(SQUEEZENET_DIR), "--json", str(out), "--no-progress"]) == 0
    assert json.loads(out.read_text())["versus"]["model"] == "squeezenet"
