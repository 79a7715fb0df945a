"""The model interface: read layer, head kind, labels and errors, on real Keras graphs."""

import keras
import numpy as np
import pytest
from helpers import REPO, forward

from camview.errors import ModelError
from camview.models import HeadKind, ResizeMode, list_models, load_model
from camview.models.base import resized_input_size
from camview.models.registry import REGISTRY


@pytest.fixture(scope="module")
def mobilenet():
    return load_model("mobilenet_v2", weights="none")


def test_keras_app_fc_head_found(mobilenet):
    assert mobilenet.read_layer == "out_relu"
    assert mobilenet.head is HeadKind.FC
    assert mobilenet.fc_weights.shape == (1280, 1000)
    out = forward(mobilenet, mobilenet.prepare(np.zeros((480, 640, 3), np.uint8)))
    assert out.features.shape == (7, 7, 1280)
    assert out.logits.shape == (1000,)
    # The scores are pre-softmax: the dense layer applied to the pooled features.
    dense = mobilenet.keras_model.get_layer("predictions")
    expected = out.features.mean(axis=(0, 1)) @ mobilenet.fc_weights + dense.bias.numpy()
    np.testing.assert_allclose(out.logits, expected, rtol=1e-4, atol=1e-5)


def test_vgg16_is_gradient_only_and_reads_last_conv():
    vgg = load_model("vgg16", weights="none")
    assert vgg.head is HeadKind.GRADIENT_ONLY
    assert vgg.read_layer == "block5_conv3"  # past block5_pool, as in the Grad-CAM article


def test_named_layer_is_gradient_only(mobilenet):
    other = load_model("mobilenet_v2", weights="none", read_layer="block_16_project")
    assert other.read_layer == "block_16_project"
    assert other.head is HeadKind.GRADIENT_ONLY
    with pytest.raises(ModelError, match="no layer named 'nope'"):
        load_model("mobilenet_v2", weights="none", read_layer="nope")


def test_keras_app_offline_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ModelError) as info:
        load_model("resnet50")
    message = str(info.value)
    assert "resnet50" in message and str(tmp_path) in message and "--weights none" in message
    assert "\n" not in message


def _small_classifier(n_classes: int, softmax_in_dense: bool) -> keras.Model:
    base = keras.Sequential([keras.layers.Conv2D(8, 3, activation="relu"),
                             keras.layers.Conv2D(16, 3, activation="relu")], name="base")
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = base(x)  # a nested convolutional base, as fine-tuning scripts build it
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    activation = "softmax" if softmax_in_dense else None
    x = keras.layers.Dense(n_classes, activation=activation, name="head")(x)
    if not softmax_in_dense:
        x = keras.layers.Softmax()(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("softmax_in_dense", [True, False])
def test_user_model_with_labels(tmp_path, softmax_in_dense):
    path = tmp_path / "catsdogs.keras"
    model = _small_classifier(2, softmax_in_dense)
    model.save(path)
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    cam_model = load_model(str(path), labels=str(labels))
    assert cam_model.labels == ["cat", "dog"]
    assert cam_model.head is HeadKind.FC
    assert cam_model.read_layer == "base"
    frame = (np.random.default_rng(0).random((120, 90, 3)) * 255).astype(np.uint8)
    out = forward(cam_model, cam_model.prepare(frame))
    # Scores are logits, not probabilities: the softmax was taken off.
    probs = model.predict(cam_model.prepare(frame) * 1.0, verbose=0)[0]
    np.testing.assert_allclose(out.probabilities, probs, rtol=1e-4, atol=1e-6)
    assert not np.allclose(out.logits.sum(), 1.0)


def test_user_model_errors(tmp_path):
    path = tmp_path / "m.keras"
    _small_classifier(2, True).save(path)
    wrong = tmp_path / "three.txt"
    wrong.write_text("a\nb\nc\n")
    with pytest.raises(ModelError, match="3 labels but the model has 2 outputs"):
        load_model(str(path), labels=str(wrong))
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    with pytest.raises(ModelError, match=r"notes\.keras is not a Keras model"):
        load_model(str(text))
    h5 = tmp_path / "notes.h5"
    h5.write_text("not a model")
    with pytest.raises(ModelError, match=r"notes\.h5"):
        load_model(str(h5))
    with pytest.raises(ModelError, match="does not exist"):
        load_model(str(tmp_path / "missing.keras"))


def test_model_without_convolution_is_refused(tmp_path):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    path = tmp_path / "mlp.keras"
    model.save(path)
    with pytest.raises(ModelError, match="no convolutional feature map"):
        load_model(str(path))


def test_unknown_model_lists_the_names():
    with pytest.raises(ModelError, match="efficientnet_lite0"):
        load_model("alexnet")


def test_list_models_covers_every_name():
    infos = {i.name: i for i in list_models()}
    assert set(REGISTRY) == set(infos)
    assert infos["efficientnet_lite0"].weights.startswith("ready: installed")
    assert infos["squeezenet"].head is HeadKind.DIRECT
    assert infos["vgg16"].head is HeadKind.GRADIENT_ONLY


def test_shorter_side_resize_keeps_aspect():
    assert resized_input_size((480, 640), (224, 224), ResizeMode.SHORTER) == (224, 299)
    assert resized_input_size((1080, 1920), (227, 227), ResizeMode.SHORTER) == (227, 404)
    assert resized_input_size((640, 480), (224, 224), ResizeMode.SHORTER) == (299, 224)
    assert resized_input_size((480, 640), (224, 224), ResizeMode.SQUASH) == (224, 224)


def test_fixed_input_nets_refuse_shorter_resize():
    with pytest.raises(ModelError, match="squash"):
        load_model("vgg16", weights="none", resize="shorter")


def test_find_class(mobilenet):
    assert mobilenet.find_class("285") == 285
    assert mobilenet.find_class("Egyptian cat") == 285
    assert mobilenet.find_class("tabby") == 281
    assert mobilenet.find_class("tabby cat") == 281
    with pytest.raises(ModelError, match="no class named"):
        mobilenet.find_class("unicorn")
    with pytest.raises(ModelError, match="out of range"):
        mobilenet.find_class(1000)


def test_no_weights_are_in_the_repo():
    """Weights come from ../shared or the installed packages, never from git. The one
    exception is tests/data/onnx_exports: tiny random-weight files written by torch's
    exporters and their expected scores (scripts/make_onnx_fixtures.py), each kept small."""
    fixtures = REPO / "tests" / "data" / "onnx_exports"
    tracked = [p for p in REPO.rglob("*") if ".venv" not in p.parts and p.suffix in
               (".bin", ".pth", ".h5", ".keras", ".tflite", ".npz")
               and fixtures not in p.parents]
    assert tracked == []
    assert all(p.stat().st_size < 300_000 for p in fixtures.iterdir())
