"""`evaluate --versus`: the second model is checked before any work and has its own weights,
labels and preprocessing flags, which its messages name."""

from __future__ import annotations

import json
import time

import pytest
from helpers import SQUEEZENET_DIR, class_folders, saved, small_classifier

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
    assert main(["evaluate", root, "--versus-resize", "crop"]) == 2
    assert "--versus-resize is for the --versus model" in capsys.readouterr().err


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


def agreement(capsys) -> str:
    """The --versus line of evaluate's output: "... agree N %, ..."."""
    lines = capsys.readouterr().out.strip().splitlines()
    return lines[-1].split("agree ")[1].split(",")[0]


def test_a_model_without_label_names_agrees_with_itself(tmp_path, capsys):
    """Both models are named from the set's folders (not only the first): "class 0.."
    beside "cats" would match nothing and a model would agree 0 % with itself."""
    model = saved(small_classifier(3), tmp_path / "unnamed.keras")
    root = class_folders(tmp_path / "set", ["cats", "dogs", "owls"])
    out = tmp_path / "x.json"
    assert main(["evaluate", root, "--model", model, "--versus", model, "--json", str(out),
                 "--no-progress", "--no-cache"]) == 0
    assert agreement(capsys) == "100.0 %"
    versus = json.loads(out.read_text())["versus"]
    assert versus["count"] == 3 and versus["unmatched"] == []
    # --versus-labels names the second model instead (here: names no folder matches).
    labels = tmp_path / "labels.txt"
    labels.write_text("x\ny\nz\n")
    assert main(["evaluate", root, "--model", model, "--versus", model, "--versus-labels",
                 str(labels), "--no-progress", "--no-cache"]) == 0
    assert agreement(capsys) == "0.0 %"


def test_an_onnx_model_without_label_names_agrees_with_itself(tmp_path, capsys):
    pytest.importorskip("onnx")
    from helpers import tiny_relu_cnn
    from onnx_writer import keras_to_onnx

    model = str(keras_to_onnx(tiny_relu_cnn().keras_model, tmp_path / "unnamed.onnx"))
    root = class_folders(tmp_path / "set", ["cats", "dogs", "owls"])
    assert main(["evaluate", root, "--model", model, "--versus", model, "--no-progress",
                 "--no-cache"]) == 0
    assert agreement(capsys) == "100.0 %"
