"""Inside the network: the model summary against Keras, the filters picture against the
kernels, activation maximisation read back from its PNG (camview.network)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import keras
import numpy as np
import pytest
from helpers import forward

from camview.cli import main
from camview.maps import METHODS, Cancelled
from camview.models import HeadKind, load_model
from camview.network.dream import (
    channel_objective,
    class_objective,
    class_probabilities,
    dream,
    objective_score,
)
from camview.network.filters import TILE, filter_grid, kernels, symmetric_uint8
from camview.network.summary import methods_serving, summarise


def _save(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    """A small fine-tuned-style classifier: scaling, a nested base (with batch-norm's
    non-trainable statistics and a frozen first convolution), pooling, a dense head; any size."""
    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="first")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="valid", name="dw")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu", name="last")(x)
    base = keras.Model(inp, x, name="base")
    base.get_layer("first").trainable = False
    outer_in = keras.Input((None, None, 3))
    y = keras.layers.Rescaling(1 / 255.0, name="scale")(outer_in)
    y = base(y)
    y = keras.layers.GlobalAveragePooling2D(name="gap")(y)
    y = keras.layers.Dense(3, name="fc")(y)
    model = keras.Model(outer_in, y, name="pets")
    path = _save(model, tmp_path_factory.mktemp("nested") / "nested.keras")
    labels = tmp_path_factory.mktemp("labels") / "labels.txt"
    labels.write_text("cat\ndog\nfox\n")
    return load_model(path, labels=str(labels))


# -- summary -------------------------------------------------------------------------------

def test_lite0_summary_has_the_fed_shapes_and_keras_params(lite0):
    summary = summarise(lite0, (480, 640))
    rows = {r.path: r for r in summary.rows}
    assert summary.input_shape == (224, 299, 3)
    assert summary.total_params == lite0.keras_model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in lite0.keras_model.trainable_weights)
    assert summary.trainable_params == trainable
    # Shapes against real activations of the same layers at the same input.
    batch = lite0.prepare(np.zeros((480, 640, 3), np.uint8))
    assert batch.shape == (1, 224, 299, 3)
    for path in ("stem_conv", "block3_expand_relu", lite0.read_layer):
        actual = np.asarray(lite0.features_at(path)(batch, training=False)[0]).shape[1:]
        assert rows[path].shape == actual, path
    assert rows[lite0.read_layer].read and rows["fc"].shape == (1000,)
    assert all(r.shape is not None and None not in r.shape for r in summary.rows)


def test_nested_base_is_listed_inside_with_its_params(nested):
    summary = summarise(nested, (240, 320))
    rows = {r.path: r for r in summary.rows}
    assert summary.input_shape == (224, 299, 3)  # 240x320 -> shorter side 224
    paths = [r.path for r in summary.rows]
    assert (paths.index("scale") < paths.index("base") < paths.index("base/first")
            < paths.index("base/last") < paths.index("gap") < paths.index("fc"))
    assert rows["base"].nested and rows["base/first"].depth == 1
    assert rows["base/first"].shape == (112, 150, 8)
    assert rows["base/dw"].shape == (55, 74, 8)
    assert rows["base/last"].shape == (55, 74, 16) and rows["base"].read  # read: the base
    assert rows["base/first"].trainable == 0 and rows["base/first"].params == 3 * 3 * 3 * 8 + 8
    assert rows["base/bn"].params == 32 and rows["base/bn"].trainable == 16
    assert summary.total_params == nested.keras_model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in nested.keras_model.trainable_weights)
    assert summary.trainable_params == trainable


def test_inspect_layers_json_and_the_head_line(nested, capsys, tmp_path):
    out_json = tmp_path / "summary.json"
    assert main(["inspect", nested.source, "--json", str(out_json)]) == 2  # needs --layers
    assert "--json goes with --layers" in capsys.readouterr().err
    assert main(["inspect", nested.source, "--layers", "--json", str(out_json)]) == 0
    assert "total params: 531 (trainable 291," in capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    assert sum(layer["params"] for layer in doc["layers"]) == doc["total_params"] \
        == nested.keras_model.count_params()
    assert {"name", "type", "shape", "params", "trainable"} <= set(doc["layers"][0])
    assert all(None not in layer["shape"] for layer in doc["layers"])
    capsys.readouterr()
    assert main(["inspect", nested.source]) == 0
    out = capsys.readouterr().out
    # Every method for CNNs serves an fc head, each named once from METHODS (the attention
    # maps, for vision transformers, are not offered); shapes are concrete.
    assert "head fc: " + ", ".join(m.title for m in METHODS.values()
                                   if not m.needs_attention) + ")" in out
    assert "?" not in out and "base/last" in out and "55x74x16" in out


def test_only_cam_refuses_a_gradient_only_head():
    assert methods_serving(HeadKind.FC) == [m.title for m in METHODS.values()]
    assert methods_serving(HeadKind.GRADIENT_ONLY) == [m.title for m in METHODS.values()
                                                       if m.name != "cam"]


# -- filters -------------------------------------------------------------------------------

def test_zero_weight_is_mid_grey_and_the_largest_is_black_or_white():
    tile = symmetric_uint8(np.array([[0.0, 0.5, -1.0]], np.float32))
    assert tile.tolist() == [[128, 192, 1]]
    assert symmetric_uint8(np.zeros((3, 3), np.float32)).tolist() == [[128] * 3] * 3


def test_first_convolution_tiles_are_rgb_in_the_frame_colours(tmp_path, capsys):
    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[1, 1, 0, 0] = 2.0  # filter 0: the red input channel at the centre, positive
    kernel[0, 0, 2, 1] = -1.0  # filter 1: the blue input channel at the top left, negative
    model.get_layer("conv").set_weights([kernel, np.zeros(2, np.float32)])
    path = _save(model, tmp_path / "rgb.keras")
    out, npy = tmp_path / "f.png", tmp_path / "k.npy"
    assert main(["filters", path, "-o", str(out), "--npy", str(npy), "--preprocess",
                 "unit"]) == 0
    said = capsys.readouterr().out
    assert "conv (Conv2D): 2 kernels 3x3" in said
    assert np.array_equal(np.load(npy), kernel)
    picture = cv2.imread(str(out))
    k = kernels(load_model(path, preprocess="unit"))
    assert k.colour and picture.shape == filter_grid(k).shape
    factor = -(-TILE // 3)
    cell = lambda x0, r, c: picture[4 + r * factor + factor // 2,  # noqa: E731
                                    x0 + c * factor + factor // 2]
    assert cell(4, 1, 1).tolist() == [128, 128, 255]  # BGR: red at the centre
    assert cell(4, 0, 0).tolist() == [128, 128, 128]  # zero weights are mid-grey
    x1 = 4 + max(3 * factor, 28) + 4
    assert cell(x1, 0, 0).tolist() == [1, 128, 128]  # blue, negative: dark blue channel


def test_later_and_depthwise_convolutions_are_grey_slices(lite0):
    k = kernels(lite0, "block1_expand_conv")
    assert not k.colour and k.tiles.shape == (96 * 16, 1, 1)
    assert "96 filters x 16 input channels = 1536 kernels 1x1" in k.describe(64)
    assert "showing the first 64" in k.describe(64)
    grid = filter_grid(k, 64)
    assert np.all(grid[..., 0] == grid[..., 2])  # grey
    dw = kernels(lite0, "block0_dwconv")
    assert dw.tiles.shape == (32, 3, 3) and "32 depthwise kernels 3x3" in dw.describe(32)
    first = kernels(lite0)
    assert first.path == "stem_conv" and first.colour and first.tiles.shape == (32, 3, 3, 3)


def test_filters_bad_layers_are_one_line(lite0, tmp_path, capsys):
    out = str(tmp_path / "f.png")
    assert main(["filters", "efficientnet_lite0", "--layer", "fc", "-o", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is a Dense, not a convolution" in err and "stem_conv" in err
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Activation("relu", name="act")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = _save(keras.Model(inp, keras.layers.Dense(2)(x)), tmp_path / "noconv.keras")
    assert main(["filters", path, "-o", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "has no 2-D convolution" in err


# -- dream ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["espresso"])
def test_dream_excites_the_class_in_the_png_read_back(lite0, tmp_path, name):
    # 60 steps (the default is 200) keep the test short; bench.py measures the default.
    result = dream(lite0, class_objective(lite0, name), steps=60, size=224)
    path = tmp_path / f"{name}.png"
    cv2.imwrite(str(path), result.image)
    back = cv2.imread(str(path))
    assert back.shape == (224, 224, 3) and back.std() > 10  # a picture, not flat grey
    target = lite0.find_class(name)
    probs = class_probabilities(lite0, back)
    assert probs[target] >= 0.9
    # Against a plain pass of the model on the same read-back picture.
    assert forward(lite0, lite0.prepare(back)).probabilities[target] == pytest.approx(
        probs[target], abs=1e-5)
    # The ascent raised the logit far above where low-amplitude noise starts.
    noise = np.clip(128 + np.random.default_rng(0).normal(0, 8, back.shape), 0, 255)
    assert result.score > objective_score(lite0, result.objective, noise.astype(np.uint8)) + 5


def test_dream_channel_raises_that_channel_and_checks_its_range(lite0):
    with pytest.raises(Exception, match=r"--channel 1280 is out of range: head_conv has 1280"):
        channel_objective(lite0, "head_conv", 1280)
    objective = channel_objective(lite0, "block5_expand_relu", 3)
    result = dream(lite0, objective, steps=6, size=64)
    start = np.clip(128 + np.random.default_rng(0).normal(0, 8, (64, 64, 3)), 0, 255)
    assert result.score > objective_score(lite0, objective, start.astype(np.uint8))


def test_dream_cancel_stops_within_a_step(lite0):
    cancel, seen = threading.Event(), []

    def progress(done, total):
        seen.append(done)
        if done == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        dream(lite0, class_objective(lite0, "espresso"), steps=50, size=64,
              progress=progress, cancel=cancel)
    assert seen == [1, 2]


def test_dream_cli_writes_png_and_json_read_back(lite0, tmp_path, capsys):
    out, doc_path = tmp_path / "d.png", tmp_path / "d.json"
    assert main(["dream", "efficientnet_lite0", "--target", "tabbyy", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "did you mean: tabby" in err and not out.exists()
    assert main(["dream", "efficientnet_lite0", "--target", "espresso", "--steps", "3",
                 "--size", "64", "-o", str(out), "--json", str(doc_path)]) == 0
    doc = json.loads(doc_path.read_text())
    assert doc["target"]["label"].startswith("espresso") and doc["steps"] == 3
    assert doc["time_s"] > 0
    probs = class_probabilities(lite0, cv2.imread(str(out)))
    assert doc["target"]["prob"] == pytest.approx(float(probs[doc["target"]["index"]]),
                                                  abs=1e-5)
    for argv in (["--target", "espresso", "--layer", "head_conv", "--channel", "1"],
                 ["--layer", "head_conv"], ["--target", "espresso", "--steps", "0"]):
        assert main(["dream", "efficientnet_lite0", *argv, "-o", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("camview: error:") and "\n" not in err
    assert not (tmp_path / "x.png").exists()


def test_ctrl_c_during_dream_stops_soon_and_writes_nothing(tmp_path):
    out, doc = tmp_path / "d.png", tmp_path / "d.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, "-m", "camview.cli", "dream", "efficientnet_lite0",
                             "--target", "tabby", "--steps", "100000", "-o", str(out),
                             "--json", str(doc)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # said once the model is loaded and the ascent starts
        assert line.startswith("dream: class 281 (tabby)"), proc.stderr.read()
        time.sleep(2.0)  # a few steps in (the first one traces the step)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert time.monotonic() - t0 < 10  # within a step or so, even on a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists() and not doc.exists()
