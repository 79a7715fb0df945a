"""Your own model: the shapes people save, fed the way they were trained and read right.

Every model is built here, small (32x32 inputs, random weights), saved and loaded back the way
a user's file is; each map is checked against an independent GradientTape computation written
in this file, and each preprocessing against its formula.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import REPO, forward, saved, skimage_bgr

from camview.cli import main
from camview.errors import ModelError
from camview.maps import make_method
from camview.models import HeadKind, load_model
from camview.models.graph import spatial_layers
from camview.models.preprocess import FAMILIES, decide, named

SIZE = 32
RNG = np.random.default_rng(0)
FRAME = (RNG.random((48, 40, 3)) * 255).astype(np.uint8)


def _save(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


def _mobilenet(**name) -> keras.Model:
    return keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), include_top=False,
                                          weights=None, alpha=0.35, **name)


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """The TF transfer-learning tutorial's shape: augmentation, mobilenet_v2.preprocess_input
    applied inside the model as ops, a nested MobileNetV2, GAP, Dropout, Dense(1) logit."""
    base = _mobilenet(name="base")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.applications.mobilenet_v2.preprocess_input(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(1, name="logit")(x)
    path = _save(keras.Model(inputs, outputs), tmp_path_factory.mktemp("tut") / "pets.keras")
    return load_model(path), keras.models.load_model(path)


def _rgb(model, frame=FRAME) -> np.ndarray:
    """The frame resized as camview resizes it, as RGB 0..255 float32 (1, h, w, 3)."""
    h, w = model.network_size(frame.shape[:2])
    interp = cv2.INTER_AREA if h * w < frame.shape[0] * frame.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(frame, (w, h), interpolation=interp)[None, ..., ::-1].astype(np.float32)


def _gradcam(run, x) -> tuple[np.ndarray, np.ndarray]:
    """Textbook Grad-CAM, written out with a tape: run(x) -> (A, score).
    Returns (map, A) with map = ReLU(sum_k mean(dscore/dA_k) A_k)."""
    with tf.GradientTape() as tape:
        a, score = run(tf.constant(x))
    g = tape.gradient(score, a)[0].numpy()
    a = a[0].numpy()
    return np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0), a


def _tutorial_run(keras_model, inner: str | None = None, sign: float = 1.0):
    """The tutorial model's forward by hand: the preprocessing formula, the base (split at
    `inner`), pooling and the dense logit; the score is sign * logit."""
    base = keras_model.get_layer("base")
    dense = keras_model.get_layer("logit")
    split = keras.Model(base.inputs, [base.get_layer(inner).output if inner else base.output,
                                      base.output])

    def run(x):
        a, out = split(x / 127.5 - 1.0, training=False)
        z = dense(tf.reduce_mean(out, axis=(1, 2)))[0, 0]
        return a, sign * z

    return run


# -- preprocessing ---------------------------------------------------------------------------

def test_tutorial_model_is_fed_raw_because_it_scales_itself(tutorial):
    model, _ = tutorial
    assert model.preprocess_name == "raw"
    assert "true_divide" in model.preprocess_why and model.preprocess_note is None
    np.testing.assert_array_equal(model.prepare(FRAME), _rgb(model))


def test_named_modes_are_their_formulas():
    bgr = (RNG.random((4, 5, 3)) * 255).astype(np.uint8)
    rgb = bgr[..., ::-1].astype(np.float32)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = {"raw": rgb, "unit": rgb / 255, "tf": rgb / 127.5 - 1,
                "caffe": bgr.astype(np.float32) - [103.939, 116.779, 123.68],
                "torch": (rgb / 255 - mean) / std, "mobilenet_v2": rgb / 127.5 - 1,
                "resnet50": bgr.astype(np.float32) - [103.939, 116.779, 123.68]}
    for mode, want in expected.items():
        np.testing.assert_allclose(named(mode)(bgr), want, rtol=1e-5, atol=1e-4, err_msg=mode)
    for family in FAMILIES:
        assert hasattr(getattr(keras.applications, family), "preprocess_input"), family
    with pytest.raises(ModelError, match="grayscale"):
        named("caffe", channels=1)


def test_bases_with_their_own_rescaling_take_0_255():
    base = keras.applications.EfficientNetB0(input_shape=(SIZE, SIZE, 3), include_top=False,
                                             weights=None)
    inputs = keras.Input((SIZE, SIZE, 3))
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    chosen = decide(keras.Model(inputs, out))
    assert chosen.name == "raw" and chosen.note is None
    assert "efficientnet" in chosen.why and "Rescaling" in chosen.why


def test_a_bare_keras_base_gets_its_family_and_says_it_guessed(tmp_path, caplog):
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), _mobilenet(),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    path = _save(model, tmp_path / "seq.keras")
    with caplog.at_level(logging.INFO, logger="camview"):
        cam_model = load_model(path)
    assert cam_model.preprocess_name == "mobilenet_v2"
    assert "--preprocess" in cam_model.preprocess_note
    # A note (a guess camview made), not a warning: nothing went wrong.
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", cam_model.preprocess_note)]
    np.testing.assert_allclose(cam_model.prepare(FRAME), _rgb(cam_model) / 127.5 - 1, atol=1e-5)
    # The name the window shows for the nested base is a layer --layer takes (it crashed).
    base = model.layers[0].name  # keras.applications' own name, mobilenetv2_0.35_32
    assert cam_model.read_layer == base
    same = load_model(path, read_layer=base)
    assert same.head is HeadKind.FC
    batch = cam_model.prepare(FRAME)
    np.testing.assert_allclose(make_method("cam", same).explain(batch).cam,
                               make_method("cam", cam_model).explain(batch).cam, rtol=1e-5)


# -- binary ----------------------------------------------------------------------------------

def test_binary_logit_is_two_classes_and_each_map_is_the_textbook_one(tutorial):
    model, keras_model = tutorial
    assert model.binary and model.labels == ["negative", "positive"]
    assert model.head is HeadKind.FC and model.fc_weights.shape[1] == 2
    batch = model.prepare(FRAME)
    x = _rgb(model)
    z = float(keras_model(x, training=False)[0, 0])
    gradcam = make_method("gradcam", model)
    found = 0
    for target, sign in ((1, 1.0), (0, -1.0)):
        result = gradcam.explain(batch, target)
        p = 1 / (1 + np.exp(-z))
        np.testing.assert_allclose(result.probabilities, [1 - p, p], rtol=1e-4, atol=1e-6)
        expected, a = _gradcam(_tutorial_run(keras_model, sign=sign), x)
        # The two class scores are -z/2 and +z/2 (softmax = sigmoid): maps of half the logit.
        np.testing.assert_allclose(2 * result.cam, expected, rtol=1e-3, atol=1e-5)
        found += int(expected.max() > 0)
        # CAM: the dense kernel w as [-w/2, +w/2].
        w = keras_model.get_layer("logit").kernel.numpy()[:, 0]
        cam = make_method("cam", model).explain(batch, target).cam
        np.testing.assert_allclose(2 * cam, sign * (a @ w), rtol=1e-3, atol=1e-4)
    assert found >= 1  # at least one class has a map that is not all zero


def test_sigmoid_output_is_read_before_the_sigmoid(tmp_path):
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(x))
    original = keras.Model(inputs, out)
    path = _save(original, tmp_path / "sig.keras")
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    model = load_model(path, labels=str(labels))
    assert model.labels == ["cat", "dog"] and model.head is HeadKind.FC
    out = forward(model, model.prepare(FRAME))
    p = float(original(_rgb(model), training=False)[0, 0])
    np.testing.assert_allclose(out.probabilities, [1 - p, p], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out.logits[1] - out.logits[0], np.log(p / (1 - p)), rtol=1e-3)


# -- grayscale -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="c2")(x)
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return _save(keras.Model(inputs, out), tmp_path_factory.mktemp("mnist") / "mnist.keras")


def test_grayscale_model_gets_the_frame_in_grayscale(mnist):
    model = load_model(mnist)
    assert model.channels == 1 and model.preprocess_name == "unit" and model.preprocess_note
    said = load_model(mnist, preprocess="tf")
    assert said.preprocess_name == "tf" and said.preprocess_note is None
    np.testing.assert_allclose(said.prepare(FRAME), model.prepare(FRAME) * 2 - 1, atol=1e-5)
    batch = model.prepare(FRAME)
    grey = cv2.cvtColor(cv2.resize(FRAME, (28, 28), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2GRAY)
    np.testing.assert_allclose(batch[0, ..., 0], grey / 255.0, atol=1e-6)
    keras_model = model.keras_model
    c2 = keras.Model(keras_model.input, [keras_model.get_layer("c2").output,
                                         keras_model.layers[-1].output])
    dense = keras_model.layers[-1]

    def run(x):
        a, _ = c2(x)
        return a, tf.matmul(tf.reduce_mean(a, axis=(1, 2)), dense.kernel)[0, 3] + dense.bias[3]

    expected, _ = _gradcam(run, batch)
    np.testing.assert_allclose(make_method("gradcam", model).explain(batch, 3).cam, expected,
                               rtol=1e-3, atol=1e-6)


def test_grayscale_model_renders_on_the_colour_frame(mnist, tmp_path):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.resize(FRAME, (80, 96)))
    out = tmp_path / "out.png"
    assert main(["render", str(photo), "-o", str(out), "--model", mnist, "--json",
                 str(tmp_path / "r.json"), "--layout", "overlay", "--style", "blend"]) == 0
    view = cv2.imread(str(out))
    assert np.abs(view[..., 0].astype(int) - view[..., 2]).max() > 10  # colour, not grey
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["preprocess"] == "unit" and doc["model"] == mnist


def test_grayscale_model_takes_perturbation_maps_and_scores(mnist):
    """Occlusion and the deletion/insertion scores grey out pixels in the model's own
    channels."""
    from camview.checks.faithfulness import score_map
    from camview.maps import make_method

    model = load_model(mnist)
    batch = model.prepare(FRAME)
    result = make_method("occlusion", model, patch=8, stride=8).explain(batch, None)
    assert result.cam.shape == batch.shape[1:3] and np.isfinite(result.cam).all()
    score = score_map(model, batch, result.cam, result.target, steps=4)
    assert 0.0 <= score.deletion_auc <= 1.0 and 0.0 <= score.insertion_auc <= 1.0


def test_grayscale_model_evaluates_a_labelled_set(mnist, tmp_path):
    """Batched evaluation feeds a one-channel model its frames in grayscale, as render does."""
    for i, name in enumerate(("class 0", "class 1")):
        (tmp_path / "set" / name.replace(" ", "_")).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "set" / name.replace(" ", "_") / f"{i}.png"),
                    cv2.resize(FRAME, (40 + 8 * i, 48)))
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tmp_path / "set"), "--model", mnist, "--json", str(out),
                 "--no-progress", "--no-cache"]) == 0
    doc = json.loads(out.read_text())
    assert doc["count"] == 2 and all("problem" not in image for image in doc["images"])
    model = load_model(mnist)
    for image in doc["images"]:
        x = model.prepare(cv2.imread(image["path"]))
        probs = forward(model, x).probabilities
        assert image["top"][0]["index"] == int(np.argmax(probs))


# -- --layer ---------------------------------------------------------------------------------

def test_layer_inside_a_nested_base_matches_the_textbook_map(tutorial):
    model, keras_model = tutorial
    paths = [info.path for info in spatial_layers(keras_model)]
    assert "base/block_3_expand_relu" in paths and "logit" not in paths
    inner = load_model(model.source, read_layer="block_3_expand_relu")
    assert inner.read_layer == "base/block_3_expand_relu"
    assert inner.head is HeadKind.GRADIENT_ONLY
    batch = inner.prepare(FRAME)
    for method in ("gradcam", "gradcam++"):
        make_method(method, inner).explain(batch, 1)  # runs
    expected, _ = _gradcam(_tutorial_run(keras_model, "block_3_expand_relu"), _rgb(inner))
    got = make_method("gradcam", inner).explain(batch, 1).cam
    np.testing.assert_allclose(2 * got, expected, rtol=1e-3, atol=1e-5)
    with pytest.raises(ModelError, match="chosen layer 'base/block_3_expand_relu'"):
        make_method("cam", inner)


def test_a_wrong_layer_name_exits_2_with_the_nearest(tutorial, capsys, tmp_path):
    model, _ = tutorial
    code = main(["render", "demo", "--frames", "1", "--model", model.source, "--layer",
                 "block_3_expand_rel", "--method", "gradcam", "--json",
                 str(tmp_path / "out.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "nearest: base/block_3_expand_relu" in err


# -- inspect and messages --------------------------------------------------------------------

def test_inspect_says_what_camview_understood(tutorial, capsys):
    model, _ = tutorial
    assert main(["inspect", model.source]) == 0
    out = capsys.readouterr().out
    for fragment in ("32x32, 3 channel(s)", "raw: the model scales its own input",
                     "read layer:  base (head fc", "2 (one binary output",
                     "base/block_3_expand_relu", "8x8x"):
        assert fragment in out, fragment
    assert main(["inspect", "squeezenet"]) == 0  # built without weights: nothing downloaded
    assert "relu_conv10 (head direct" in capsys.readouterr().out


def _two_inputs():
    a, b = keras.Input((SIZE, SIZE, 3)), keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3)(keras.layers.Concatenate()([a, b]))
    return keras.Model([a, b], keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))


def _two_outputs():
    a = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(a))
    return keras.Model(a, [keras.layers.Dense(2)(x), keras.layers.Dense(3)(x)])


def _vector_input():
    a = keras.Input((20,))
    return keras.Model(a, keras.layers.Dense(2)(a))


def _two_channels():
    a = keras.Input((SIZE, SIZE, 2))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(a))
    return keras.Model(a, keras.layers.Dense(2)(x))


@pytest.mark.parametrize("build, fragment", [
    (_two_inputs, "it has 2 inputs; camview needs one image input"),
    (_two_outputs, "has 2 outputs; camview needs one output"),
    (_vector_input, "not an image batch"),
    (_two_channels, "2 channels; a frame gives 1 (grayscale) or 3 (RGB)"),
])
def test_unusable_models_are_one_line_exit_2(tmp_path, capsys, build, fragment):
    path = _save(build(), tmp_path / "m.keras")
    assert main(["inspect", path]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err and "Traceback" not in err


CUSTOM = """
import keras

@keras.saving.register_keras_serializable(package="mine")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x
"""


def test_custom_layer_is_named_and_import_makes_it_loadable(tmp_path, capsys):
    module = tmp_path / "mine.py"
    module.write_text(CUSTOM)
    namespace: dict = {}
    exec(compile(CUSTOM, str(module), "exec"), namespace)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3)(namespace["Doubler"]()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    path = _save(model, tmp_path / "custom.keras")
    keras.saving.get_custom_objects().pop("mine>Doubler")  # a fresh process knows nothing
    assert main(["inspect", path]) == 2
    err = capsys.readouterr().err
    assert "custom class 'Doubler'" in err and "--import FILE.py" in err
    assert main(["inspect", path, "--import", str(module)]) == 0
    assert "read layer:  conv2d" in capsys.readouterr().out


def test_truncated_model_file_is_one_line(tutorial, tmp_path, capsys):
    model, _ = tutorial
    with open(model.source, "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    assert main(["inspect", str(cut)]) == 2
    err = capsys.readouterr().err.strip()
    assert "cut.keras" in err and "\n" not in err


# -- the docs' worked example runs as written -----------------------------------------------

def _readme_block(marker: str) -> str:
    text = (REPO / "docs" / "own-model.md").read_text(
        encoding="utf-8")
    after = text.split(f"<!-- example: {marker} -->", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def test_readme_fine_tuning_example_runs(tmp_path, monkeypatch, capsys):
    code = _readme_block("fine_tune.py")
    line = 'IMG, WEIGHTS = 160, "imagenet"'
    assert line in code
    code = code.replace(line, "IMG, WEIGHTS = 32, None")  # tiny, and no ImageNet download
    monkeypatch.chdir(tmp_path)
    for i, folder in enumerate(("cats", "dogs")):
        (tmp_path / "pets" / folder).mkdir(parents=True)
        for k in range(4):
            image = np.full((40, 40, 3), 60 + 120 * i, np.uint8) + RNG.integers(0, 40, (40, 40, 3),
                                                                                 dtype=np.uint8)
            cv2.imwrite(str(tmp_path / "pets" / folder / f"{k}.jpg"), image)
    cv2.imwrite(str(tmp_path / "photo.jpg"), cv2.resize(FRAME, (64, 48)))
    exec(compile(code, "README fine_tune.py", "exec"), {})
    ran = 0
    for line in _readme_block("commands").splitlines():
        command = line.split("#", 1)[0].strip()
        if command.startswith("printf"):
            subprocess.run(command, shell=True, check=True, cwd=tmp_path)
        elif command.startswith(("camview inspect", "camview render")):
            assert main(shlex.split(command)[1:]) == 0, command
            ran += 1
    assert ran == 3
    out = capsys.readouterr().out
    assert "raw: the model scales its own input" in out and "names: pets.txt" in out
    doc = json.loads((tmp_path / "photo.json").read_text())
    assert doc["preprocess"] == "raw"
    assert doc["frames"][0]["top"][0]["label"] in ("cat", "dog")
    assert (tmp_path / "photo_cam.png").is_file() and (tmp_path / "photo_inner.png").is_file()


# -- heads after a global pooling that keeps its dims (MobileNetV3's) --------------------------

def test_a_head_of_1x1_convolutions_after_pooling_reads_the_map_before_the_pooling(tmp_path):
    """keras.applications.MobileNetV3Small: GAP(keepdims) -> 1x1 convs -> flatten. camview
    read the 1x1 logits as its map, so every map was flat; the read layer is the last one
    with a spatial extent, and Grad-CAM there is the textbook one."""
    keras_model = keras.applications.MobileNetV3Small(input_shape=(64, 64, 3), weights=None,
                                                      classes=5, include_preprocessing=False)
    model = load_model(_save(keras_model, tmp_path / "v3.keras"))
    read = keras_model.get_layer(model.read_layer.split("/")[-1])
    assert tuple(read.output.shape[1:3]) == (2, 2)
    assert model.head is HeadKind.GRADIENT_ONLY  # hard-swish between the two 1x1 convs
    batch = model.prepare(FRAME)
    result = make_method("gradcam", model).explain(batch, 2)
    split = keras.Model(keras_model.inputs, [read.output, keras_model.get_layer("logits").output])
    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        a, logits = split(x, training=False)
        score = logits[0, 0, 0, 2]
    g = tape.gradient(score, a)[0].numpy()
    expected = np.maximum((a[0].numpy() * g.mean(axis=(0, 1))).sum(-1), 0)
    np.testing.assert_allclose(result.cam, expected, rtol=1e-3, atol=1e-5)


def test_pooling_that_keeps_its_dims_then_a_linear_1x1_convolution_is_a_dense_head(tmp_path):
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = keras.layers.Conv2D(4, 1, name="classes")(x)
    outputs = keras.layers.Softmax()(keras.layers.Flatten()(x))
    keras_model = keras.Model(inputs, outputs)
    model = load_model(_save(keras_model, tmp_path / "conv_head.keras"))
    assert model.read_layer == "features" and model.head is HeadKind.FC
    kernel = keras_model.get_layer("classes").kernel.numpy()[0, 0]
    np.testing.assert_array_equal(model.fc_weights, kernel)
    batch = model.prepare(FRAME)
    a = forward(model, batch).features
    cam = make_method("cam", model).explain(batch, 1).cam
    np.testing.assert_allclose(cam, a @ kernel[:, 1], rtol=1e-4, atol=1e-5)


def _scaling_model(first: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((None, None, 3))
    x = first(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def test_normalization_adapted_on_unit_data_is_fed_0_1(tmp_path, capsys):
    rng = np.random.default_rng(0)
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(rng.random((16, 8, 8, 3), dtype=np.float32))  # the 0..1 photos it was fit on
    path = saved(_scaling_model(norm), tmp_path / "unit.keras")
    model = load_model(path)
    assert model.preprocess_name == "unit"
    assert "adapted on 0..1 data" in model.preprocess_why
    photo = skimage_bgr("chelsea")
    x = model.preprocess(photo)
    np.testing.assert_allclose(x, photo[..., ::-1].astype(np.float32) / 255.0, rtol=1e-6)
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "preprocess:" in out and "unit" in out and "mean 0.5" in out


def test_normalization_adapted_on_0_255_data_is_fed_raw(tmp_path):
    norm = keras.layers.Normalization(mean=[120.0, 110.0, 100.0], variance=[3000.0] * 3)
    model = load_model(saved(_scaling_model(norm), tmp_path / "raw.keras"))
    assert model.preprocess_name == "raw" and "0..255" in model.preprocess_why


@pytest.mark.parametrize("scale, offset, mode", [
    (2.0, -1.0, "unit"),  # 0..1 -> -1..1
    (1 / 255.0, 0.0, "raw"),  # 0..255 -> 0..1
    (1 / 127.5, -1.0, "raw"),  # 0..255 -> -1..1
])
def test_rescaling_scale_says_the_range_it_takes(tmp_path, scale, offset, mode):
    layer = keras.layers.Rescaling(scale, offset)
    model = load_model(saved(_scaling_model(layer), tmp_path / f"{mode}.keras"))
    assert model.preprocess_name == mode, model.preprocess_why


def test_preprocessing_layers_are_no_layer_candidates_and_dense_is_named(tmp_path, capsys):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.RandomFlip(name="random_flip")(inputs)
    x = keras.layers.Rescaling(1 / 255.0, name="rescaling")(x)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, name="dense")(x)
    path = saved(keras.Model(inputs, outputs), tmp_path / "aug.keras")
    assert main(["inspect", path]) == 0
    listed = capsys.readouterr().out.split("layers for --layer", 1)[1]
    assert "conv" in listed and "random_flip" not in listed and "rescaling" not in listed
    for layer, fragment in (("dense", "exists but cannot be read for maps: its output is 3 "
                                      "(Dense)"),
                            ("random_flip", "RandomFlip layer, which outputs the input")):
        assert main(["render", "demo", "--frames", "1", "--json", str(tmp_path / "x.json"),
                     "--model", path, "--method", "gradcam", "--layer", layer]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert fragment in line, line


def test_a_lambda_layer_is_named_with_the_way_to_trust_it(tmp_path, capsys):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t / 255.0, name="scale")(inputs)
    x = keras.layers.Conv2D(4, 3)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = saved(keras.Model(inputs, keras.layers.Dense(3)(x)), tmp_path / "lambda.keras")
    assert main(["inspect", path]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "holds a Lambda layer" in line and "damaged" not in line
    assert "--import" in line and "enable_unsafe_deserialization" in line
    trust = tmp_path / "trust.py"
    trust.write_text("import keras\nkeras.config.enable_unsafe_deserialization()\n")
    from keras.src.backend.common import global_state  # Keras has no public "disable"

    before = global_state.get_global_attribute("safe_mode_saving")
    try:
        assert main(["inspect", path, "--import", str(trust)]) == 0
    finally:
        global_state.set_global_attribute("safe_mode_saving", before)


SUBCLASSED = '''
import keras


@keras.saving.register_keras_serializable(package="camview_test_own_models")
class PetNet(keras.Model):
    def __init__(self, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.conv = keras.layers.Conv2D(6, 3, activation="relu", name="features")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(classes)

    def call(self, x):
        return self.head(self.pool(self.conv(x / 255.0)))

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}
'''


def test_a_subclassed_model_is_traced_at_its_built_shape(tmp_path, capsys, caplog):
    import runpy

    from helpers import forward

    from camview.maps import make_method

    module = tmp_path / "petnet.py"
    module.write_text(SUBCLASSED)
    net = runpy.run_path(str(module))["PetNet"](3)
    photo = cv2.resize(skimage_bgr("chelsea"), (40, 32))
    net(np.zeros((1, 32, 40, 3), np.float32))  # built by being called: no Input anywhere
    path = saved(net, tmp_path / "petnet.keras")
    assert main(["inspect", path, "--import", str(module)]) == 0
    captured = capsys.readouterr()
    assert "40x32, 3 channel(s)" in captured.out and "features" in captured.out
    assert "subclassed model: traced through its call()" in caplog.text
    model = load_model(path)
    batch = model.prepare(photo)
    np.testing.assert_allclose(model.keras_model(batch), net(batch), rtol=1e-5, atol=1e-6)
    got = make_method("cam", model).explain(batch, 1).cam
    ref = forward(model, batch).features @ np.asarray(net.head.kernel)[:, 1]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:You are saving a model that has not yet been built")
def test_a_subclassed_model_never_built_is_told_in_words(tmp_path, capsys):
    import runpy

    module = tmp_path / "petnet.py"
    module.write_text(SUBCLASSED)
    net = runpy.run_path(str(module))["PetNet"](3)
    path = saved(net, tmp_path / "unbuilt.keras")
    assert main(["inspect", path, "--import", str(module)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "subclassed model (PetNet)" in line and "call it once" in line
