"""The model-format registry (camview/models/formats.py): each format declared once, and every
place that names model files (the command line's help, the window's file dialog, README,
`camview models`) naming exactly the declared suffixes; each format read or refused as its
entry says, with real files."""

from __future__ import annotations

import argparse
import re

import keras
import numpy as np
import pytest
from helpers import REPO

from camview.cli import build_parser, main
from camview.errors import ModelError
from camview.models import check_model_name, load_model
from camview.models.formats import (
    FORMATS,
    LOADABLE,
    MODEL_SUFFIXES,
    check_model_file,
    dialog_filter,
    format_of,
)

REFUSED_SUFFIXES = tuple(s for f in FORMATS if f.refused for s in f.suffixes)
#: A suffix on its own (".h5") or ending an example path ("path/to/model.keras").
_SUFFIX = re.compile(r"(?:(?<!\w)|(?<=model))\.[a-z0-9]+\b")


def _suffixes(text: str) -> list[str]:
    """The file suffixes a text names, in order ('.keras/.h5 file' -> ['.keras', '.h5'])."""
    return _SUFFIX.findall(text)


def _model_arguments() -> list[tuple[str, argparse.Action]]:
    """Every argument of every command that takes a model, with the command's name."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, command in commands.choices.items():
        for action in command._actions:
            if action.dest in ("model", "versus"):
                found.append((name, action))
    return found


def test_every_suffix_is_declared_once():
    every = [s for f in FORMATS for s in f.suffixes]
    assert len(every) == len(set(every)), every
    assert all(s == s.lower() and s.startswith(".") for s in every)
    assert all((f.load is None) == bool(f.advice) for f in FORMATS)


def test_the_help_of_every_model_argument_names_exactly_the_model_suffixes():
    arguments = _model_arguments()
    # --model of the window, render and evaluate; MODEL of inspect, filters, dream; --versus
    assert {(name, a.dest) for name, a in arguments} == {
        ("window", "model"), ("render", "model"), ("evaluate", "model"), ("evaluate", "versus"),
        ("inspect", "model"), ("filters", "model"), ("dream", "model")}
    for name, action in arguments:
        assert _suffixes(action.help) == list(MODEL_SUFFIXES), (name, action.help)


def test_the_file_dialog_names_exactly_the_model_suffixes():
    assert dialog_filter() == ("All models (*.keras *.h5 *.hdf5 *.onnx);;"
                               "Keras models (*.keras *.h5 *.hdf5);;ONNX models (*.onnx)")
    every = dialog_filter().split(";;")[0]
    patterns = re.findall(r"\*(\.\w+)", every)
    assert patterns == list(MODEL_SUFFIXES)


def test_the_window_opens_model_files_through_the_registry(still_window, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    asked = []

    def cancelled(parent, title, folder, filters):  # the modal dialog: asked, then closed
        asked.append((title, filters))
        return "", ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", cancelled)
    still_window.controls.open_model_file()
    assert asked == [("Open a Keras or ONNX classifier", dialog_filter())]


def test_the_docs_name_exactly_the_registered_suffixes():
    readme = (REPO / "docs" / "own-model.md").read_text(encoding="utf-8")
    bullet = re.search(r"- \*\*Model files\*\* camview reads: (.*?)\n\n", readme, re.S)
    assert bullet, "README: the 'Model files' bullet of 'Your own model' is missing"
    read, refused = bullet.group(1).split("Refused as `--model`", 1)
    assert _suffixes(read) == list(MODEL_SUFFIXES)
    assert _suffixes(refused.split("Each format")[0]) == list(REFUSED_SUFFIXES)
    row = next(line for line in readme.splitlines() if line.startswith("| `path/to/model"))
    assert _suffixes(row.split("|")[1]) == list(MODEL_SUFFIXES)
    own = readme.split("## Your own model", 1)[1].split(" explains ", 1)[0]
    assert _suffixes(own) == list(MODEL_SUFFIXES)


def test_camview_models_names_exactly_the_model_suffixes(capsys):
    assert main(["models"]) == 0
    also = capsys.readouterr().out.split("Also:", 1)[1]
    assert _suffixes(also.split("(")[0]) == list(MODEL_SUFFIXES)


@pytest.mark.parametrize("suffix", REFUSED_SUFFIXES)
def test_a_refused_format_says_what_reads_it(suffix, tmp_path, capsys):
    entry = format_of(f"net{suffix}")
    assert entry.refused
    with pytest.raises(ModelError) as info:  # existing or not, the advice comes first
        check_model_name(f"./missing{suffix}")
    assert str(info.value) == f"./missing{suffix}: {entry.advice}"
    assert "--weights FILE" in entry.advice
    path = tmp_path / f"net{suffix.upper()}"  # any case
    path.write_bytes(b"\0" * 16)
    status = main(["render", "demo", "-o", str(tmp_path / "x.png"), "--model", str(path)])
    err = capsys.readouterr().err
    assert status == 2 and err == f"camview: error: {path}: {entry.advice}\n"


@pytest.mark.parametrize(("suffix", "says"), [
    (".keras", "is not a Keras model (.keras files are zip archives"),
    (".h5", "is not an HDF5 Keras model"),
    (".hdf5", "is not an HDF5 Keras model"),
    (".H5", "is not an HDF5 Keras model"),
    (".onnx", "is not an ONNX model"),
])
def test_a_mislabelled_file_fails_its_container_check(suffix, says, tmp_path):
    path = tmp_path / f"notes{suffix}"
    path.write_text("not a model")
    with pytest.raises(ModelError, match=re.escape(f"model file {path} {says}")):
        check_model_name(str(path))
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="is empty"):
        check_model_name(str(path))


def _classifier() -> keras.Model:
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


@pytest.mark.parametrize("suffix", MODEL_SUFFIXES)
def test_each_loadable_suffix_loads_a_real_model(suffix, tmp_path):
    net = _classifier()
    path = tmp_path / f"net{suffix}"
    if suffix == ".onnx":  # the same network as a PyTorch export lays it out
        from onnx_writer import keras_to_onnx

        keras_to_onnx(net, path, dynamic=False, size=(16, 16))
    else:
        net.save(path)
    entry = check_model_file(path)
    assert entry is format_of(path) and entry in LOADABLE
    model = load_model(str(path), preprocess="unit")
    assert model.input_size == (16, 16) and len(model.labels) == 3
    frame = np.random.default_rng(0).random((4, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(model.forward(frame)[1], net(frame), rtol=1e-5, atol=1e-5)


def test_an_undeclared_suffix_is_left_to_keras(tmp_path):
    path = tmp_path / "net.tflite"
    path.write_bytes(b"TFL3" + b"\0" * 60)
    assert check_model_file(path) is LOADABLE[0]
    with pytest.raises(ModelError, match="cannot be loaded by Keras"):
        load_model(str(path))
    with pytest.raises(ModelError, match=r"unknown model 'net\.tflite'"):
        check_model_name("net.tflite")  # neither declared nor there
