"""ONNX models (#29): the tests' own Keras networks written as ONNX with the same weights, in
both layouts (tests/onnx_writer.py), loaded by camview and run by OpenVINO; their scores,
activations and every forward-only method's map checked against the Keras model's, the
methods that need a backward pass refused, and the model read through every command (bad
files: tests/test_onnx_files.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import cat_and_coffee, skimage_bgr, tiny_hidden_dense_cnn, tiny_relu_cnn
from onnx_writer import keras_to_onnx
from PyQt6.QtCore import Qt

from camview.cli import main
from camview.errors import ModelError
from camview.maps import METHODS, make_method
from camview.models import CamModel, ResizeMode, load_model
from camview.models.head import HeadKind
from camview.models.preprocess import named

LAYOUTS = ("NCHW", "NHWC")
#: What a model without a backward pass serves, and what it refuses, under a linear head.
SERVED = ("cam", "gradcam", "gradcam++", "layercam", "hirescam", "xgradcam", "eigencam",
          "scorecam", "occlusion", "rise", "reciprocam")
#: The attention maps are refused too, as maps of vision transformers (tests/test_vit.py).
REFUSED = tuple(name for name in METHODS if name not in SERVED
                and not METHODS[name].needs_attention)
#: Options that keep the slow methods quick on the tiny network.
QUICK = {"scorecam": {"max_channels": 0}, "occlusion": {"patch": 6, "stride": 3},
         "rise": {"masks": 64}}
TABBY, EGYPTIAN_CAT, ESPRESSO = 281, 285, 967


def keras_twin(keras_model, labels=("a", "b", "c")) -> CamModel:
    """The Keras network as a CamModel fed as the ONNX files are (--preprocess tf)."""
    return CamModel("keras", keras_model, labels=list(labels), input_size=(20, 24),
                    resize=ResizeMode.SQUASH, preprocess=named("tf"))


def load_onnx_file(path, **kwargs) -> CamModel:
    kwargs.setdefault("preprocess", "tf")
    return load_model(str(path), labels=kwargs.pop("labels", None), **kwargs)


def frame() -> np.ndarray:
    return cv2.resize(skimage_bgr("chelsea"), (24, 20), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def linear(folder):
    """The tiny ReLU CNN (pooling + dense) in Keras and as ONNX in both layouts."""
    keras_model = tiny_relu_cnn().keras_model
    files = {layout: keras_to_onnx(keras_model, folder / f"tiny_{layout}.onnx", layout=layout)
             for layout in LAYOUTS}
    return keras_twin(keras_model), {k: load_onnx_file(p) for k, p in files.items()}, files


def test_scores_and_activations_match_the_keras_model(linear):
    keras, models, _ = linear
    x = keras.prepare(frame())
    batch = np.concatenate([x, x[:, ::-1], x * 0.5])
    want_features, want_scores = keras.forward(batch)
    for layout, model in models.items():
        assert model.layout == layout and model.channels == 3
        assert model.read_layer == "act" and model.head is HeadKind.FC
        assert model.runtime.name == "openvino"
        features, scores = model.forward(batch)
        np.testing.assert_allclose(scores, want_scores, atol=1e-4)
        np.testing.assert_allclose(features, want_features, atol=1e-4)
        np.testing.assert_allclose(model.fc_weights, keras.fc_weights, atol=1e-7)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("method", SERVED)
def test_every_forward_only_map_equals_the_keras_models(linear, method, layout):
    keras, models, _ = linear
    model = models[layout]
    x = keras.prepare(frame())
    for target in (None, 2):
        want = make_method(method, keras, **QUICK.get(method, {})).explain(x, target)
        got = make_method(method, model, **QUICK.get(method, {})).explain(x, target)
        assert got.target == want.target
        np.testing.assert_allclose(got.logits, want.logits, atol=1e-4)
        scale = float(np.abs(want.cam).max()) or 1.0
        np.testing.assert_allclose(got.cam, want.cam, atol=1e-4 * scale)


@pytest.mark.parametrize("method", REFUSED)
def test_methods_that_need_a_backward_pass_are_refused_in_one_line(linear, method):
    model = linear[1]["NCHW"]
    with pytest.raises(ModelError) as info:
        make_method(method, model)
    text = str(info.value)
    assert "\n" not in text and "backward pass" in text
    assert text.endswith("use " + ", ".join(SERVED))
    assert not METHODS[method].serves_model(model)
    assert not any(METHODS[name].serves_model(model) for name in ("rollout", "gradient-rollout"))


def test_a_non_linear_head_serves_the_methods_without_gradients(folder):
    keras_model = tiny_hidden_dense_cnn().keras_model
    model = load_onnx_file(keras_to_onnx(keras_model, folder / "hidden.onnx"))
    keras = keras_twin(keras_model)
    assert model.head is HeadKind.GRADIENT_ONLY and model.read_layer == keras.read_layer
    served = [n for n, m in METHODS.items() if m.serves_model(model)]
    assert served == ["eigencam", "scorecam", "occlusion", "rise", "reciprocam"]
    with pytest.raises(ModelError, match=r"Grad-CAM needs a backward pass.*use eigencam"):
        make_method("gradcam", model)
    with pytest.raises(ModelError, match=r"\(gradient-only\): use eigencam, scorecam, "
                                         r"occlusion, rise, reciprocam$"):
        make_method("cam", model)
    x = keras.prepare(frame())
    for method, options in (("scorecam", {"max_channels": 0}), ("reciprocam", {})):
        want = make_method(method, keras, **options).explain(x)
        got = make_method(method, model, **options).explain(x)  # the head on OpenVINO
        np.testing.assert_allclose(got.cam, want.cam, atol=1e-4 * np.abs(want.cam).max())


def test_a_squeezenet_like_head_is_direct(folder):
    """Channels that are the classes, then global pooling alone: a direct head, CAM the
    class's channel, the gradient methods by the closed form, as in Keras."""
    import keras as k

    k.utils.set_random_seed(7)
    inputs = k.Input((None, None, 3))
    x = k.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    x = k.layers.Conv2D(3, 1, activation="relu", name="classes")(x)
    net = k.Model(inputs, k.layers.GlobalAveragePooling2D(name="pool")(x))
    keras = keras_twin(net)
    model = load_onnx_file(keras_to_onnx(net, folder / "direct.onnx"))
    assert model.head is keras.head is HeadKind.DIRECT and model.read_layer == "classes"
    x = keras.prepare(frame())
    for method in ("cam", "gradcam", "layercam", "reciprocam"):
        for target in range(3):
            want = make_method(method, keras).explain(x, target).cam
            got = make_method(method, model).explain(x, target).cam
            np.testing.assert_allclose(got, want, atol=1e-4 * (np.abs(want).max() or 1))


def _convnext_style(seed: int = 3):
    """Pooling, then LayerNormalization, then the dense layer: ConvNeXt's head."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c2")(x)
    x = keras.layers.ReLU(name="act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    outputs = keras.layers.Dense(3, name="fc")(x)
    model = keras.Model(inputs, outputs)
    norm = model.get_layer("norm")  # not the identity it starts as
    rng = np.random.default_rng(seed)
    norm.set_weights([1 + 0.5 * rng.standard_normal(8), 0.3 * rng.standard_normal(8)])
    return model


@pytest.mark.parametrize("layer_norm", ["op", "decomposed"])
@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam", "hirescam",
                                    "xgradcam"])
def test_a_layer_norm_head_has_its_gradient_in_closed_form(folder, method, layer_norm):
    """ConvNeXt's pool -> LayerNorm -> Linear: the closed-form gradient's maps equal the
    maps from TensorFlow's own gradient of the same network; the LayerNorm one op, or the
    nine elementary ops torch.onnx.export writes below opset 17."""
    keras_model = _convnext_style()
    keras = keras_twin(keras_model)
    model = load_onnx_file(keras_to_onnx(
        keras_model, folder / f"convnext_{layer_norm}.onnx", layer_norm=layer_norm,
        opset=16 if layer_norm == "decomposed" else 17))
    assert model.head is HeadKind.NORM_FC and model.read_layer == "act"
    np.testing.assert_allclose(model.norm_head.gamma,
                               keras_model.get_layer("norm").get_weights()[0], atol=1e-7)
    assert not METHODS["cam"].serves_model(model)
    x = keras.prepare(frame())
    for target in range(3):
        want = make_method(method, keras).explain(x, target)
        got = make_method(method, model).explain(x, target)
        scale = float(np.abs(want.cam).max()) or 1.0
        np.testing.assert_allclose(got.cam, want.cam, atol=1e-4 * scale, rtol=0)


def test_elementary_ops_that_are_not_a_layer_norm_stay_gradient_only(folder):
    """The pattern with one number changed (a cube for the square) is another function:
    its head is not norm-fc (the walk back stops at its Div, so the layer is named)."""
    import onnx
    from onnx import numpy_helper

    path = keras_to_onnx(_convnext_style(), folder / "not_norm.onnx", layer_norm="decomposed",
                         opset=16)
    proto = onnx.load(str(path))
    for tensor in proto.graph.initializer:
        if tensor.name == "norm.two":
            tensor.CopyFrom(numpy_helper.from_array(np.float32(3), "norm.two"))
    onnx.save(proto, str(path))
    assert load_onnx_file(path, read_layer="act").head is HeadKind.GRADIENT_ONLY


def test_a_keras_layer_norm_head_gets_the_same_closed_form():
    """keras.applications ConvNeXt's head (pooling, LayerNormalization, Dense) is norm-fc
    in Keras too: its closed-form gradient, read from the live layers, gives the maps
    TensorFlow's own gradient gives, when the Keras model runs on OpenVINO."""
    from camview.maps.closed_form import uses_closed_form
    from camview.models.runtimes import OPENVINO, TENSORFLOW

    keras = keras_twin(_convnext_style(seed=5))
    assert keras.head is HeadKind.NORM_FC and keras.read_layer == "act"
    x = keras.prepare(frame())
    for method in ("gradcam", "gradcam++", "hirescam"):
        for target in range(3):
            keras.use_runtime(TENSORFLOW)
            want = make_method(method, keras).explain(x, target)
            keras.use_runtime(OPENVINO)
            fast = make_method(method, keras)
            assert uses_closed_form(fast)
            got = fast.explain(x, target)
            assert got.target == target
            scale = float(np.abs(want.cam).max()) or 1.0
            np.testing.assert_allclose(got.cam, want.cam, atol=1e-4 * scale, rtol=0)
    keras.use_runtime(TENSORFLOW)


def _binary(head: str, seed: int = 11):
    """A binary classifier with one output score: "fc" (pooling, Dense(1) with a sigmoid),
    "direct" (a one-channel map pooled into the logit) or "norm-fc" (pooling, LayerNorm,
    Dense(1))."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    if head == "direct":
        x = keras.layers.Conv2D(1, 1, name="logit_map")(x)
        return keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="pool")(x))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if head == "norm-fc":
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
        return keras.Model(inputs, keras.layers.Dense(1, name="fc")(x))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="fc")(x))


@pytest.mark.parametrize("head,kind,methods", [
    ("fc", HeadKind.FC, SERVED),
    ("direct", HeadKind.FC, SERVED),
    ("norm-fc", HeadKind.NORM_FC, ("gradcam", "gradcam++", "layercam", "hirescam", "xgradcam",
                                   "eigencam", "reciprocam"))])
def test_one_binary_score_is_shown_as_two_classes_as_in_keras(folder, head, kind, methods):
    """One logit z (a binary classifier's, before its sigmoid) is the two classes
    [-z/2, +z/2], as camview shows a Keras model's: the scores, the head's weights and
    every map equal the Keras twin's (whose norm-fc binary head uses TensorFlow's own
    gradient, so the closed form is checked against it)."""
    net = _binary(head)
    keras = keras_twin(net, labels=("negative", "positive"))
    model = load_onnx_file(keras_to_onnx(net, folder / f"binary_{head}.onnx"))
    assert model.binary and keras.binary
    assert model.labels == ["negative", "positive"] and model.head is kind
    x = keras.prepare(frame())
    batch = np.concatenate([x, x * 0.5])
    _, scores = model.forward(batch)
    assert scores.shape == (2, 2)
    np.testing.assert_allclose(scores, keras.forward(batch)[1], atol=1e-4)
    np.testing.assert_allclose(scores[:, 0], -scores[:, 1])
    if kind is HeadKind.FC:
        np.testing.assert_allclose(model.fc_weights, keras.fc_weights, atol=1e-7)
    np.testing.assert_allclose(model.head_scores(model.forward(batch)[0]), scores, atol=1e-4)
    for method in methods:
        for target in (None, 0, 1):
            want = make_method(method, keras, **QUICK.get(method, {})).explain(x, target)
            got = make_method(method, model, **QUICK.get(method, {})).explain(x, target)
            assert got.target == want.target
            scale = float(np.abs(want.cam).max()) or 1.0
            np.testing.assert_allclose(got.cam, want.cam, atol=1e-4 * scale, rtol=0,
                                       err_msg=f"{method} {target}")


@pytest.mark.parametrize("pooling,read", [("reducemean", "act"), ("nhwc", "act_nhwc")])
def test_reduce_mean_pooling_is_read_as_global_pooling(folder, linear, pooling, read):
    """ReduceMean over h, w of NCHW, or of an NHWC tensor (as tf2onnx exports Keras'
    pooling): the read tensor's channels are found on either axis."""
    keras = linear[0]
    path = keras_to_onnx(keras.keras_model, folder / f"{pooling}.onnx", pooling=pooling)
    model = load_onnx_file(path)
    assert model.head is HeadKind.FC and model.read_layer == read
    x = keras.prepare(frame())
    for method in ("cam", "gradcam++"):
        np.testing.assert_allclose(make_method(method, model).explain(x).cam,
                                   make_method(method, keras).explain(x).cam, atol=1e-4)


def test_a_dynamic_size_keeps_the_aspect_and_a_fixed_one_squashes(linear, folder):
    dynamic = linear[1]["NCHW"]
    assert not dynamic.fixed_input and dynamic.resize is ResizeMode.SHORTER
    assert dynamic.prepare(np.zeros((300, 600, 3), np.uint8)).shape == (1, 224, 448, 3)
    path = keras_to_onnx(linear[0].keras_model, folder / "fixed.onnx", dynamic=False)
    fixed = load_onnx_file(path)
    assert fixed.fixed_input and fixed.input_size == (20, 24)
    assert fixed.resize is ResizeMode.SQUASH
    assert fixed.prepare(np.zeros((300, 600, 3), np.uint8)).shape == (1, 20, 24, 3)
    with pytest.raises(ModelError, match=r"takes only 24x20 input .*; use --resize squash"):
        load_onnx_file(path, resize="shorter")


def test_a_batch_fixed_to_one_is_made_dynamic(linear, folder):
    keras = linear[0]
    path = keras_to_onnx(keras.keras_model, folder / "batch1.onnx", batch=1)
    model = load_onnx_file(path)
    x = keras.prepare(frame())
    batch = np.concatenate([x, x * 0.5])
    np.testing.assert_allclose(model.forward(batch)[1], keras.forward(batch)[1], atol=1e-4)


def test_preprocessing_is_read_from_the_metadata(linear, folder, caplog):
    keras = linear[0]
    path = keras_to_onnx(keras.keras_model, folder / "meta.onnx",
                         metadata={"mean": "0.5,0.4,0.3", "std": "[0.2, 0.25, 0.3]"})
    model = load_model(str(path))
    assert model.preprocess_why == "the file's metadata 'mean'/'std'"
    assert model.preprocess_note is None
    pixel = np.array([[[255, 0, 51]]], np.uint8)  # BGR: R = 51, G = 0, B = 255
    np.testing.assert_allclose(model.preprocess(pixel)[0, 0],
                               [(0.2 - 0.5) / 0.2, -0.4 / 0.25, (1 - 0.3) / 0.3], atol=1e-6)
    caplog.set_level("INFO")
    plain = load_model(str(linear[2]["NCHW"]))
    assert plain.preprocess_name == "torch"
    assert "torchvision's and timm's convention" in plain.preprocess_note
    assert "torchvision's and timm's convention" in caplog.text


def test_the_read_layer_can_be_named(linear):
    path = linear[2]["NCHW"]
    model = load_onnx_file(path, read_layer="c1")
    assert model.read_layer == "c1" and model.head is HeadKind.GRADIENT_ONLY
    x = linear[0].prepare(frame())
    features, _ = model.forward(x)
    assert features.shape == (1, 9, 11, 6)
    with pytest.raises(ModelError, match="CAM reads only the layer before global pooling"):
        make_method("cam", model)
    with pytest.raises(ModelError, match="no spatial tensor 'nowhere'"):
        load_onnx_file(path, read_layer="nowhere")


def test_another_layer_is_mapped_without_reloading(linear):
    """The window's layer picker on a loaded ONNX model: the methods that need no gradient
    map another tensor (OpenVINO compiles the graph with it as its output), equal to the
    Keras twin's maps there; the gradient methods are refused there in one line."""
    keras, models, _ = linear
    x = keras.prepare(frame())
    for model in models.values():
        for method in ("eigencam", "scorecam", "occlusion"):
            options = QUICK.get(method, {})
            want = make_method(method, keras, "c1", **options).explain(x, 2)
            got = make_method(method, model, "c1", **options).explain(x, 2)
            assert got.cam.shape == want.cam.shape
            np.testing.assert_allclose(got.cam, want.cam,
                                       atol=1e-4 * (np.abs(want.cam).max() or 1), rtol=0)
        features, _ = model.forward_of("c1")(x)
        assert features.shape == (1, 9, 11, 6)
        with pytest.raises(ModelError, match=r"^Grad-CAM at layer 'c1' needs a backward pass.*"
                                             r"use eigencam, scorecam, occlusion, rise$"):
            make_method("gradcam", model, "c1")
        assert model.read_layer == "act"  # the model itself is unchanged


def test_runtime_tensorflow_is_said_not_obeyed(linear, caplog):
    model = load_onnx_file(linear[2]["NCHW"], runtime="tensorflow")
    assert model.runtime.name == "openvino"
    assert "ONNX models run on OpenVINO, not TensorFlow" in model.runtime_note
    caplog.set_level("INFO")
    assert main(["inspect", str(linear[2]["NCHW"]), "--runtime", "tensorflow"]) == 0
    assert caplog.text.count("ONNX models run on OpenVINO, not TensorFlow") == 1
    caplog.clear()
    assert main(["inspect", str(linear[2]["NCHW"])]) == 0  # $CAMVIEW_RUNTIME is not said
    assert "run on OpenVINO" not in caplog.text


def test_imagenet_names_for_1000_and_1001_outputs(folder):
    import keras

    for classes in (1000, 1001):
        inputs = keras.Input((None, None, 3))
        x = keras.layers.Conv2D(4, 3, name="c")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        net = keras.Model(inputs, keras.layers.Dense(classes)(x))
        model = load_onnx_file(keras_to_onnx(net, folder / f"in{classes}.onnx"))
        assert model.labels[-1].startswith("toilet tissue")
        assert model.labels[0] == ("background" if classes == 1001 else "tench, Tinca tinca")


def test_efficientnet_lite0_as_onnx_finds_the_cat(lite0, folder):
    """The real pretrained network written as ONNX: the same scores, and the cat's map on
    the cat, the coffee's on the coffee (the pointing game)."""
    path = keras_to_onnx(lite0.keras_model, folder / "lite0.onnx",
                         metadata={"mean": "127,127,127", "std": "128,128,128"})
    model = load_model(str(path))
    assert model.head is HeadKind.FC and model.read_layer == "head_activation"
    assert len(model.labels) == 1000
    picture = cat_and_coffee()
    x = model.prepare(picture)
    np.testing.assert_allclose(x, lite0.prepare(picture), atol=1e-5)
    np.testing.assert_allclose(model.forward(x)[1], lite0.forward(x)[1], atol=1e-3)
    for method in ("cam", "gradcam"):
        explainer = make_method(method, model)
        for target, (x0, x1) in ((TABBY, (0, 300)), (EGYPTIAN_CAT, (0, 300)),
                                 (ESPRESSO, (300, 600))):
            big = cv2.resize(explainer.explain(x, target).cam, picture.shape[1::-1])
            peak = int(np.unravel_index(np.argmax(big), big.shape)[1])
            assert x0 <= peak < x1, (method, target, peak)


def test_render_and_a_refused_method_on_the_command_line(linear, tmp_path, capsys):
    path = str(linear[2]["NHWC"])
    photo = tmp_path / "cat.png"
    cv2.imwrite(str(photo), skimage_bgr("chelsea"))
    out = tmp_path / "map.png"
    assert main(["render", str(photo), "--model", path, "--preprocess", "tf", "--method",
                 "gradcam++", "-o", str(out)]) == 0
    assert out.is_file()
    capsys.readouterr()
    assert main(["render", str(photo), "--model", path, "--method", "saliency",
                 "-o", str(tmp_path / "no.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("camview: error: Saliency needs a backward pass")
    assert err.count("\n") == 1


# -- the set, --versus and the sanity check ------------------------------------------------

def test_evaluate_an_onnx_model_versus_its_keras_twin(linear, tmp_path, capsys):
    """The same network in both frameworks on one set: they agree on every image."""
    from helpers import class_folders

    twin = tmp_path / "tiny.keras"
    linear[0].keras_model.save(twin)
    folder = class_folders(tmp_path / "set", ["a", "b", "c"])
    names = tmp_path / "labels.txt"
    names.write_text("a\nb\nc\n")
    assert main(["evaluate", folder, "--model", str(linear[2]["NHWC"]), "--preprocess", "tf",
                 "--labels", str(names), "--versus", str(twin), "--versus-preprocess", "tf",
                 "--versus-labels", str(names), "--no-progress",
                 "--report", str(tmp_path / "report.html")]) == 0
    out = capsys.readouterr().out
    assert "agree 100.0 %" in out, out
    assert (tmp_path / "report.html").is_file()


def test_the_sanity_check_randomises_a_copy_of_the_graph(linear):
    from camview.checks.sanity import sanity_check

    model = linear[1]["NCHW"]
    x = linear[0].prepare(frame())
    before = model.forward(x)[1].copy()
    result = sanity_check(model, x, ["cam", "gradcam", "scorecam"], target=1,
                          options={"max_channels": 0})
    assert result.step_names[0] == "head" and result.steps[0] == ["fc"]
    assert result.steps[-1] == ["fc", "c2", "c1_conv"]  # the nodes' names
    np.testing.assert_array_equal(model.forward(x)[1], before)  # the user's model untouched
    for name, maps in result.maps.items():
        assert len(maps) == len(result.steps) + 1
        assert not np.allclose(maps[-1], maps[0]), name


# -- the window ------------------------------------------------------------------------------

def test_the_window_opens_an_onnx_file_and_lists_only_what_it_serves(qtbot, lite0, linear,
                                                                     tmp_path):
    from helpers import DEMO
    from window_host import started_window

    from camview.app.saved_settings import Options

    win = started_window(qtbot, Options(source=str(DEMO / "chelsea.jpg"), model=lite0,
                                        output_dir=str(tmp_path), save_settings=False),
                         ready=lambda w: w.session.model is lite0, timeout=60000)
    try:
        path = str(linear[2]["NCHW"])
        win.session.set_model(path)  # as the file dialog does
        qtbot.waitUntil(lambda: win.session.result is not None
                        and win.session.result.model_name == path, timeout=60000)
        combo = win.panel.method
        enabled = {combo.itemData(r): combo.model().item(r).isEnabled()
                   for r in range(combo.count())}
        assert [m for m, on in enabled.items() if on] == list(SERVED)
        row = combo.findData("saliency")
        assert "needs a backward pass" in combo.itemData(row, Qt.ItemDataRole.ToolTipRole)
        assert win.panel.model.currentData() == path  # among the models, as a recent one
        win.panel.choose(combo, "gradcam++")
        qtbot.waitUntil(lambda: win.session.result.method_name == "Grad-CAM++", timeout=30000)
        versus = win.compare.box.versus
        assert versus.findData(path) > 0  # the file opened can be a compare's second model
        win.compare.set_second_model("efficientnet_lite0")  # the ONNX net beside the built-in
        qtbot.keyClick(win, Qt.Key.Key_G)  # the CAM | Grad-CAM | Layer-CAM grid
        qtbot.waitUntil(lambda: len(win.session.result.panels) == 6, timeout=60000)
        titles = [t.split(":")[0] for t, _, _ in win.session.result.panels]
        assert titles[3:] == ["efficientnet_lite0 CAM", "efficientnet_lite0 Grad-CAM",
                              "efficientnet_lite0 Layer-CAM"]
    finally:
        win.close()


def test_the_windows_layer_picker_reads_another_tensor_of_an_onnx_model(qtbot, folder,
                                                                       tmp_path):
    """Picking another layer in the window maps it (compiled on the loader thread), as for
    a Keras model; a method that needs a gradient there is refused in the status line and
    the layer stays."""
    from helpers import DEMO
    from window_host import started_window

    from camview.app.saved_settings import Options

    model = load_onnx_file(keras_to_onnx(tiny_relu_cnn().keras_model, folder / "win.onnx"))
    win = started_window(qtbot, Options(source=str(DEMO / "chelsea.jpg"), model=model,
                                        method="eigencam", output_dir=str(tmp_path),
                                        save_settings=False), timeout=60000)
    try:
        combo = win.network.layer
        assert combo.currentData() == "act"
        win.panel.choose(combo, "c1")
        qtbot.waitUntil(lambda: win.session.pipeline.layer == "c1", timeout=60000)
        qtbot.waitUntil(lambda: win.session.result.frame is not None and np.allclose(
            win.session.result.map.cam, make_method("eigencam", model, "c1").explain(
                model.prepare(win.session.result.frame.image)).cam, atol=1e-5), timeout=60000)
        # Grad-CAM there needs a gradient: picked, it maps the read layer (as CAM does for
        # a Keras model); then picking c1 again is refused and the layer stays.
        win.panel.choose(win.panel.method, "gradcam")
        qtbot.waitUntil(lambda: win.session.result.method_name == "Grad-CAM"
                        and combo.currentData() == "act", timeout=60000)
        win.panel.choose(combo, "c1")
        qtbot.waitUntil(lambda: "Grad-CAM at layer 'c1' needs a backward pass"
                        in win.status_text(), timeout=60000)
        qtbot.waitUntil(lambda: combo.currentData() == "act", timeout=60000)
    finally:
        win.close()


def test_inspect_layers_filters_and_layer_outputs(linear, tmp_path, capsys):
    from camview.network.filters import kernels
    from camview.network.layer_outputs import layer_activations

    keras, models, files = linear
    model = models["NHWC"]
    assert main(["inspect", str(files["NHWC"]), "--layers"]) == 0
    out = capsys.readouterr().out
    assert "R  act" in out and "Relu" in out and "total params: 635" in out
    assert [info.path for info in model.spatial_layers()][-3:] == ["c1", "c2", "act"]
    got, want = kernels(model), kernels(keras)
    assert got.kind == want.kind == "Conv2D" and got.colour and want.colour
    np.testing.assert_allclose(got.kernel, want.kernel, atol=1e-7)
    x = keras.prepare(frame())
    np.testing.assert_allclose(layer_activations(model, "c1", x),
                               layer_activations(keras, "c1", x), atol=1e-4)
    assert main(["dream", str(files["NHWC"]), "--target", "1", "-o",
                 str(tmp_path / "d.png")]) == 2
    assert "dream climbs a gradient" in capsys.readouterr().err


def test_the_head_runs_on_its_own_from_the_read_layer(linear, folder):
    """head_scores (Recipro-CAM's need): the head alone on (n, h, w, k) activations gives
    the scores the whole network gives."""
    keras = linear[0]
    x = keras.prepare(frame())
    batch = np.concatenate([x, x * 0.5])
    for model in (*linear[1].values(),
                  load_onnx_file(keras_to_onnx(_convnext_style(), folder / "cnx_head.onnx"))):
        features, scores = model.forward(batch)
        np.testing.assert_allclose(model.head_scores(features), scores, atol=1e-4)
        masked = features.copy()
        masked[:, :2] = 0
        assert not np.allclose(model.head_scores(masked), scores)


def test_mean_and_std_flags(linear, tmp_path, caplog):
    path = str(linear[2]["NCHW"])
    caplog.set_level("INFO")
    assert main(["inspect", path, "--mean", "0.5,0.4,0.3", "--std", "0.25"]) == 0
    assert "preprocess RGB 0..1, mean 0.5,0.4,0.3 std 0.25\n" in caplog.text
    model = load_model(path, preprocess="mean 0.5,0.4,0.3 std 0.25")
    pixel = np.array([[[0, 0, 255]]], np.uint8)  # BGR: pure red
    np.testing.assert_allclose(model.preprocess(pixel)[0, 0], [2.0, -1.6, -1.2], atol=1e-6)
    assert main(["inspect", path, "--mean", "0.5", "--preprocess", "tf"]) == 2
    assert main(["inspect", path, "--std", "0.2,x"]) == 2
