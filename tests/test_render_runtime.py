"""`render` under --runtime auto converts the model to OpenVINO only for work that runs there,
and the converted graph is kept by the model's content, not its path."""

from __future__ import annotations

import shutil

import keras
import pytest

from camview.cli import main


def _saved(tmp_path, *, linear_head: bool) -> str:
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if not linear_head:  # a hidden layer after pooling: only a backward pass gives a map
        x = keras.layers.Dense(8, activation="relu")(x)
    path = tmp_path / ("linear.keras" if linear_head else "deep.keras")
    keras.Model(inputs, keras.layers.Dense(3)(x)).save(path)
    return str(path)


def _converted(tmp_path) -> list:
    folder = tmp_path / "cache" / "openvino"  # CAMVIEW_CACHE_DIR (tests/conftest.py)
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def test_a_gradient_only_model_is_not_converted_for_nothing(tmp_path, caplog):
    model = _saved(tmp_path, linear_head=False)
    out = str(tmp_path / "x.json")
    assert main(["render", "demo", "--frames", "1", "--model", model, "--method", "gradcam",
                 "--json", out, "--no-progress", "--runtime", "auto"]) == 0
    assert _converted(tmp_path) == []
    assert "OpenVINO is not used: every map asked for needs TensorFlow's backward pass" \
        in caplog.text
    # Score-CAM's masked forward passes run on it: converted then.
    assert main(["render", "demo", "--frames", "1", "--model", model, "--method", "scorecam",
                 "--max-channels", "4", "--json", out, "--no-progress", "--runtime", "auto"]) == 0
    assert len(_converted(tmp_path)) == 1


@pytest.mark.parametrize("copies", [2])
def test_the_same_model_at_two_paths_converts_once(tmp_path, copies):
    first = _saved(tmp_path, linear_head=True)
    paths = [first] + [shutil.copy(first, tmp_path / f"copy{i}.keras") for i in range(1, copies)]
    for path in paths:
        assert main(["render", "demo", "--frames", "1", "--model", str(path), "--method", "cam",
                     "--json", str(tmp_path / "x.json"), "--no-progress", "--runtime", "auto"]) == 0
    assert len(_converted(tmp_path)) == 1
