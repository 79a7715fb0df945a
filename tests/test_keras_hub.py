"""Keras Hub classifiers saved as .keras: a ViT, loaded when keras-hub is installed (its
encoder opened into a flat graph, camview.models.open_blocks), read as a vision transformer, its
maps against eager references; its CNNs (ResNet, MobileNet, DenseNet, CSPNet, VGG, Xception,
HGNetV2), read through their nested backbone, their maps against references on the
classifier's own layers; without keras-hub, one line naming the extra (camview.models.hub).

keras-hub is the `hub` extra; scripts/test installs it (scripts/install_keras_hub). The
tests that need it skip, saying so, where it is not installed; the missing-extra test runs
everywhere (keras-hub's import blocked where it is installed)."""

from __future__ import annotations

import json
import re
import sys
import warnings
import zipfile
from importlib.util import find_spec

import numpy as np
import pytest

from camview.cli import main
from camview.errors import ModelError
from camview.models.hub import hub_classes, require_keras_hub

needs_hub = pytest.mark.skipif(
    find_spec("keras_hub") is None,
    reason="keras-hub is not installed (the `hub` extra; scripts/install_keras_hub)")

SIZE, PATCH, BLOCKS = 32, 8, 2
TOKENS, GRID = (SIZE // PATCH) ** 2 + 1, (SIZE // PATCH, SIZE // PATCH)


def _hub_config_file(path) -> str:
    """A .keras archive whose config names a keras_hub class, as keras-hub saves one."""
    config = {"module": "keras_hub.src.models.vit.vit_image_classifier",
              "class_name": "ViTImageClassifier", "registered_name": "keras_hub>ViTImageClassifier",
              "config": {"backbone": {"module": "keras_hub.src.models.vit.vit_backbone",
                                      "class_name": "ViTBackbone", "config": {}}}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", json.dumps(config))
    return str(path)


def test_without_keras_hub_a_hub_file_is_one_line_naming_the_extra(tmp_path, capsys,
                                                                   monkeypatch):
    path = _hub_config_file(tmp_path / "vit.keras")
    assert hub_classes(path) == ["ViTImageClassifier", "ViTBackbone"]
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # `import keras_hub` fails, as uninstalled
    with pytest.raises(ModelError, match=r'Keras Hub model \(ViTImageClassifier\).*'
                       r'pip install "camview\[hub\]"'):
        require_keras_hub(path)
    assert main(["inspect", path]) == 2
    err = capsys.readouterr().err.strip()
    assert 'pip install "camview[hub]"' in err and "\n" not in err


def test_a_plain_keras_file_needs_no_keras_hub(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 3))
    path = tmp_path / "plain.keras"
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs))).save(path)
    assert hub_classes(path) == [] and require_keras_hub(path) is False


@pytest.fixture(scope="module")
def hub_file(tmp_path_factory) -> str:
    """A small keras_hub ViTImageClassifier, random weights, saved with its preprocessor (an
    image converter scaling 0..255 to -1..1)."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(7)
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(SIZE, SIZE, 3), patch_size=PATCH, num_layers=BLOCKS, num_heads=2,
        hidden_dim=16, mlp_dim=32)
    converter = keras_hub.layers.ViTImageConverter(image_size=(SIZE, SIZE), scale=1 / 127.5,
                                                   offset=-1.0)
    classifier = keras_hub.models.ViTImageClassifier(
        backbone=backbone, num_classes=3,
        preprocessor=keras_hub.models.ViTImageClassifierPreprocessor(image_converter=converter))
    path = tmp_path_factory.mktemp("hub") / "hub_vit.keras"
    classifier.save(path)
    return str(path)


@pytest.fixture(scope="module")
def hub_model(hub_file):
    from camview.models import load_model

    return load_model(hub_file, runtime="tensorflow")


@pytest.fixture(scope="module")
def original(hub_file):
    """The file loaded by Keras itself: keras-hub's own classes, blocks closed."""
    import keras

    return keras.models.load_model(hub_file, compile=False)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


@needs_hub
def test_it_is_read_as_a_vit_with_its_converters_preprocessing(hub_model, original, frame):
    found = hub_model.transformer
    assert (found.grid.tokens, found.grid.grid, found.grid.prefix, found.grid.patch) == (
        TOKENS, GRID, 1, (PATCH, PATCH))
    assert "patch_embedding in vit_patching_and_embedding" in found.grid.how
    assert found.blocks == ("transformer_block_1.ln_1", "transformer_block_2.ln_1")
    assert hub_model.read_layer == "transformer_block_2.ln_1"
    assert found.pooling == "class token" and found.cam_layer is None
    layers = {info.path for info in hub_model.spatial_layers()}
    assert {"transformer_block_1.ln_1", "transformer_block_1.mha", "vit_encoder.ln"} <= layers
    # camview feeds what the file's own converter makes of the frame (RGB * 1/127.5 - 1)
    assert hub_model.preprocess.name == "tf"
    batch = hub_model.prepare(frame)
    theirs = np.asarray(original.preprocessor.image_converter(frame[None, ..., ::-1]
                                                              .astype(np.float32)))
    np.testing.assert_allclose(batch, theirs, atol=1e-5)
    # the opened graph gives the file's own scores
    _, scores = hub_model.forward(batch)
    np.testing.assert_allclose(scores, np.asarray(original(batch)), atol=1e-5)


def _eager_blocks(original, batch, average: bool = False):
    """keras-hub's encoder run by hand, eagerly (its ViTEncoder and ViTEncoderBlock call()):
    (the last block's normalised input tokens, the scores, every block's attention
    probabilities (heads, N, N)), under `tape` watching the tokens."""
    import tensorflow as tf

    backbone = original.backbone
    embed = backbone.get_layer("vit_patching_and_embedding")
    encoder = backbone.get_layer("vit_encoder")
    x = encoder.dropout(embed(tf.constant(batch)))
    attention, tokens = [], None
    with tf.GradientTape() as tape:
        for i, block in enumerate(encoder.encoder_layers):
            t = block.layer_norm_1(x)
            if i == len(encoder.encoder_layers) - 1:
                tape.watch(t)
                tokens = t
            y, probabilities = block.mha(t, t, return_attention_scores=True)
            attention.append(probabilities[0].numpy().astype(np.float64))
            x = x + y
            x = x + block.mlp(block.layer_norm_2(x))
        out = encoder.layer_norm(x)
        pooled = tf.reduce_mean(out, axis=1) if average else out[:, 0]
        scores = original.get_layer("predictions")(pooled)
        score = scores[0, 2]
    grads = tape.gradient(score, tokens)
    return tokens[0].numpy(), grads[0].numpy(), scores.numpy(), attention


@needs_hub
@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_token_maps_equal_the_eager_computation(hub_model, original, frame, method):
    from camview.maps import make_method

    batch = hub_model.prepare(frame)
    tokens, grads, scores, _ = _eager_blocks(original, batch)
    np.testing.assert_allclose(scores, np.asarray(original(batch)), atol=1e-5)
    a = tokens[1:].reshape(*GRID, -1).astype(np.float64)
    g = grads[1:].reshape(*GRID, -1).astype(np.float64)
    expected = {"gradcam": np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0),
                "hirescam": (a * g).sum(-1)}[method]
    cam = make_method(method, hub_model).explain(batch, 2).cam
    assert cam.shape == GRID
    np.testing.assert_allclose(cam, expected, atol=1e-4 * np.abs(expected).max() + 1e-6)


@needs_hub
def test_rollout_equals_the_rollout_of_keras_hubs_own_attention(hub_model, original, frame):
    from camview.maps import make_method

    batch = hub_model.prepare(frame)
    *_, attention = _eager_blocks(original, batch)
    relevance = np.eye(TOKENS)
    for a in attention:
        a = a.mean(0) + np.eye(TOKENS)
        relevance = (a / a.sum(-1, keepdims=True)) @ relevance
    cam = make_method("rollout", hub_model).explain(batch).cam
    np.testing.assert_allclose(cam, relevance[0, 1:].reshape(GRID), rtol=1e-4, atol=1e-6)
    by_class = [make_method("gradient-rollout", hub_model).explain(batch, c).cam
                for c in (0, 1)]
    assert all(m.shape == GRID and np.isfinite(m).all() for m in by_class)
    assert not np.allclose(by_class[0], by_class[1])  # mapped for the class asked


@needs_hub
def test_inspect_render_and_the_sanity_copy(hub_file, hub_model, frame, tmp_path, capsys):
    import cv2

    from camview.checks.sanity import copy_model

    assert main(["inspect", hub_file]) == 0
    out = capsys.readouterr().out
    for fragment in (f"{TOKENS} tokens: 4x4 patch tokens of 8x8 px (the stride of "
                     "patch_embedding in vit_patching_and_embedding)",
                     "1 token before them (a class token), dropped",
                     "2 blocks; head reads the class token",
                     "read layer:  transformer_block_2.ln_1",
                     "Attention rollout, Gradient rollout",
                     "the file's Keras Hub image converter"):
        assert fragment in out, fragment
    photo = tmp_path / "frame.png"
    cv2.imwrite(str(photo), frame)
    assert main(["render", str(photo), "--model", hub_file, "--layer",
                 "transformer_block_1.ln_1", "--method", "hirescam", "--runtime", "tensorflow",
                 "--json", str(tmp_path / "out.json")]) == 0
    assert '"method": "hirescam"' in (tmp_path / "out.json").read_text()
    # the sanity check's copy: Keras Hub's patch embedding rebuilt from its config
    copy = copy_model(hub_model)
    batch = hub_model.prepare(frame)
    np.testing.assert_allclose(copy.forward(batch)[1], hub_model.forward(batch)[1], atol=1e-5)


@needs_hub
def test_a_gap_pooled_classifier_averages_its_tokens(tmp_path, frame):
    """pooling="gap", no class token: the head averages the tokens (a mean op, not a pooling
    layer), so rollout reads the mean row and CAM is defined at the final norm; and without a
    saved preprocessor, the adds after the patch embedding are not taken for input scaling."""
    import keras
    import keras_hub

    from camview.maps import make_method
    from camview.models import load_model

    keras.utils.set_random_seed(8)
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(SIZE, SIZE, 3), patch_size=PATCH, num_layers=BLOCKS, num_heads=2,
        hidden_dim=16, mlp_dim=32, use_class_token=False)
    path = tmp_path / "gap.keras"
    keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=3, pooling="gap").save(path)
    model = load_model(str(path), runtime="tensorflow")
    found = model.transformer
    assert found.pooling == "average" and found.grid.prefix == 0
    assert found.cam_layer == "vit_encoder.ln" and model.preprocess.name == "unit"
    batch = model.prepare(frame)
    *_, scores, attention = _eager_blocks(keras.models.load_model(path, compile=False), batch,
                                          average=True)
    np.testing.assert_allclose(model.forward(batch)[1], scores, atol=1e-5)
    n = GRID[0] * GRID[1]
    relevance = np.eye(n)
    for a in attention:
        a = a.mean(0) + np.eye(n)
        relevance = (a / a.sum(-1, keepdims=True)) @ relevance
    cam = make_method("rollout", model).explain(batch).cam
    np.testing.assert_allclose(cam, relevance.mean(0).reshape(GRID), rtol=1e-4, atol=1e-6)


# --- Keras Hub CNN classifiers -----------------------------------------------------------

CNN, CLASSES = 32, 5  # px; the demo set's five classes (camview.sets.dataset.DEMO_CLASSES)


def _cnn(kind: str):
    """keras_hub's `kind` classifier, small, random weights: (classifier, its backbone's layer
    name, whether its head is pooling then one dense layer). Only the ResNet is saved with a
    preprocessor (ImageNet's mean/std as its presets have it); the others are not."""
    import keras_hub
    from keras_hub import layers as L
    from keras_hub import models as M

    shape = (CNN, CNN, 3)
    if kind == "resnet":  # keras-hub requires 64 filters first
        backbone = M.ResNetBackbone(
            input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
            stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
            image_shape=shape)
        std, mean = np.array([0.229, 0.224, 0.225]), np.array([0.485, 0.456, 0.406])
        converter = L.ResNetImageConverter(image_size=(CNN, CNN), scale=list(1 / (255 * std)),
                                           offset=list(-mean / std))
        return M.ResNetImageClassifier(
            backbone=backbone, num_classes=CLASSES,
            preprocessor=M.ResNetImageClassifierPreprocessor(image_converter=converter)), True
    if kind == "mobilenet":  # head: pooling, a 1x1 conv with hard-swish, dense
        backbone = M.MobileNetBackbone(
            stackwise_expansion=[[16], [32]], stackwise_num_blocks=[1, 1],
            stackwise_num_filters=[[8], [16]], stackwise_kernel_size=[[3], [3]],
            stackwise_num_strides=[[2], [1]], stackwise_se_ratio=[[None], [0.25]],
            stackwise_activation=[["relu"], ["hard_swish"]], stackwise_padding=[[1], [1]],
            output_num_filters=32, depthwise_filters=8, depthwise_stride=1,
            depthwise_residual=False, last_layer_filter=32, squeeze_and_excite=0.5,
            image_shape=shape, input_num_filters=8)
        return M.MobileNetImageClassifier(backbone=backbone, num_classes=CLASSES,
                                          num_features=16), False
    if kind == "densenet":
        backbone = M.DenseNetBackbone(stackwise_num_repeats=[1, 1], growth_rate=4,
                                      image_shape=shape)
        return M.DenseNetImageClassifier(backbone=backbone, num_classes=CLASSES), True
    if kind == "cspnet":
        backbone = M.CSPNetBackbone(
            stem_filters=8, stem_kernel_size=3, stem_strides=2, stackwise_depth=[1, 1],
            stackwise_strides=[1, 2], stackwise_num_filters=[8, 16], block_type="dark_block",
            stage_type="dark", image_shape=shape)
        return M.CSPNetImageClassifier(backbone=backbone, num_classes=CLASSES), True
    if kind == "vgg":  # head: 7x7 and 1x1 convs with ReLU, pooling, dense
        backbone = M.VGGBackbone(stackwise_num_repeats=[1, 1], stackwise_num_filters=[8, 16],
                                 image_shape=shape)
        return M.VGGImageClassifier(backbone=backbone, num_classes=CLASSES, pooling="avg",
                                    pooling_hidden_dim=8), False
    if kind == "xception":  # keras-hub 0.32's pooling stacks do not fit together: none here
        backbone = keras_hub.models.XceptionBackbone(
            stackwise_conv_filters=[[8, 16], [16, 16], [32, 32]],
            stackwise_pooling=[False, False, False], image_shape=shape)
        return M.XceptionImageClassifier(backbone=backbone, num_classes=CLASSES), True
    if kind == "hgnetv2":  # the backbone gives every stage; the head convolves the last one
        backbone = M.HGNetV2Backbone(
            depths=[1, 1], embedding_size=8, hidden_sizes=[16, 32], stem_channels=[3, 8, 8],
            hidden_act="relu", use_learnable_affine_block=False,
            stackwise_stage_filters=[(8, 8, 16, 1, 1, 3), (16, 16, 32, 1, 1, 3)],
            apply_downsample=[False, True], use_lightweight_conv_block=[False, False],
            image_shape=shape)
        return M.HGNetV2ImageClassifier(backbone=backbone, preprocessor=None,
                                        num_classes=CLASSES), True
    raise ValueError(kind)


KINDS = ("resnet", "mobilenet", "densenet", "cspnet", "vgg", "xception", "hgnetv2")
#: The read layer where it is not the backbone's output: HGNetV2's head_last, a conv block
#: between the backbone and the pooling.
READ = {"hgnetv2": "head_last"}


@pytest.fixture(scope="module")
def cnns(tmp_path_factory) -> dict[str, tuple[str, object, bool]]:
    """kind -> (its .keras file, the classifier as built, whether CAM applies)."""
    import keras

    folder = tmp_path_factory.mktemp("hub_cnns")
    built = {}
    for seed, kind in enumerate(KINDS):
        keras.utils.set_random_seed(20 + seed)
        classifier, linear_head = _cnn(kind)
        path = folder / f"{kind}.keras"
        classifier.save(path)
        built[kind] = (str(path), classifier, linear_head)
    return built


@pytest.fixture(scope="module")
def cnn_models(cnns) -> dict:
    from camview.models import load_model

    return {kind: load_model(path, runtime="tensorflow") for kind, (path, _, _) in cnns.items()}


@pytest.fixture(scope="module")
def cnn_frame() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (CNN, CNN, 3), dtype=np.uint8)


@needs_hub
@pytest.mark.parametrize("kind", KINDS)
def test_a_hub_cnn_is_read_at_its_backbones_output(kind, cnns, cnn_models, cnn_frame, capsys,
                                                   caplog):
    """The read layer is the nested backbone's output; CAM offered exactly for a GAP + dense
    head; the file's own scores; the converter's scaling where it was saved, else a guess
    saying the preprocessor was not saved (an Xception backbone is not keras.applications')."""
    from camview.maps import make_method
    from camview.models import HeadKind

    path, classifier, linear_head = cnns[kind]
    model = cnn_models[kind]
    # res_net_backbone, xception_backbone...; keras-hub 0.32's VGGBackbone saves no name, so
    # each load names it afresh (vgg_backbone_1 where this process made a vgg_backbone already)
    backbone = rf"{classifier.backbone.name}(_\d+)?"
    read = READ.get(kind, backbone)
    assert re.fullmatch(read, model.read_layer)
    assert (model.head is not HeadKind.GRADIENT_ONLY) is linear_head
    batch = model.prepare(cnn_frame)
    np.testing.assert_allclose(model.forward(batch)[1], np.asarray(classifier(batch)),
                               rtol=1e-4, atol=1e-5)
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    head = "fc: CAM" if linear_head else "gradient-only"
    assert re.search(rf"read layer:  {read} \(head {head}", out)
    assert re.search(rf"\n  {backbone}/\w", out)  # the backbone's own layers, for --layer
    if kind == "resnet":
        assert "preprocess:  torch: the file's Keras Hub image converter " \
               "(ResNetImageConverter)" in out
        theirs = classifier.preprocessor.image_converter(
            cnn_frame[None, ..., ::-1].astype(np.float32))
        np.testing.assert_allclose(batch, np.asarray(theirs), atol=1e-5)
    else:
        assert "preprocess:  unit: nothing in the model says" in out
        assert "saved without its preprocessor" in caplog.text
    if not linear_head:
        with pytest.raises(ModelError, match="gradient-only"):
            make_method("cam", model)


def _head_after(classifier, features):
    """The classifier's layers after its backbone, run on `features` (eagerly)."""
    x = features
    for layer in classifier.layers[classifier.layers.index(classifier.backbone) + 1:]:
        x = layer(x)
    return x


def _features(kind: str, classifier, batch: np.ndarray) -> np.ndarray:
    """What the classifier pools, computed from its own layers: the backbone's output, or for
    HGNetV2 its head_last block on the backbone's last stage."""
    out = classifier.backbone(batch)
    if kind == "hgnetv2":
        out = classifier.get_layer("head_last")(out[classifier.backbone.stage_names[-1]])
    return np.asarray(out, np.float64)[0]


@needs_hub
@pytest.mark.parametrize("kind", ["resnet", "hgnetv2"])
def test_cam_is_the_dense_weighted_sum_of_what_is_pooled(kind, cnns, cnn_models, cnn_frame):
    from camview.maps import make_method

    _, classifier, _ = cnns[kind]
    model = cnn_models[kind]
    batch = model.prepare(cnn_frame)
    features = _features(kind, classifier, batch)
    kernel = classifier.get_layer("predictions").kernel.numpy().astype(np.float64)
    for target in (1, 3):
        expected = features @ kernel[:, target]
        got = make_method("cam", model).explain(batch, target).cam
        np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


@needs_hub
@pytest.mark.parametrize(("kind", "inner"), [("mobilenet", None),
                                             ("resnet", "stack0_block0_out")])
def test_gradcam_equals_the_gradient_tape_on_the_classifiers_layers(kind, inner, cnns,
                                                                    cnn_models, cnn_frame):
    """At the backbone's output behind MobileNet's nonlinear head, and at a layer inside
    ResNet's backbone (--layer res_net_backbone/stack0_block0_out)."""
    import keras
    import tensorflow as tf

    from camview.maps import make_method

    _, classifier, _ = cnns[kind]
    model = cnn_models[kind]
    batch = model.prepare(cnn_frame)
    backbone = classifier.backbone
    wanted = backbone.get_layer(inner).output if inner else backbone.output
    both = keras.Model(backbone.input, [wanted, backbone.output])
    target = 2
    with tf.GradientTape() as tape:
        a, out = both(tf.constant(batch))
        tape.watch(a)
        score = _head_after(classifier, out)[0, target]
    g = tape.gradient(score, a)[0].numpy().astype(np.float64)
    a = a[0].numpy().astype(np.float64)
    expected = np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0)
    layer = f"{model.read_layer}/{inner}" if inner else None
    got = make_method("gradcam", model, layer).explain(batch, target).cam
    assert got.shape == expected.shape and expected.max() > 0
    np.testing.assert_allclose(got, expected, atol=1e-4 * expected.max())


@needs_hub
def test_render_and_evaluate_as_a_user_would_on_openvino(cnns, cnn_models, cnn_frame,
                                                         tmp_path):
    """The ResNet converts to OpenVINO with TensorFlow's scores and activations; render draws
    CAM (under --runtime auto: OpenVINO where it is faster here) and Grad-CAM, and evaluate
    classifies a labelled set."""
    import cv2

    from camview.models.runtimes import OPENVINO, TENSORFLOW
    from camview.sets.dataset import DEMO_CLASSES, write_demo_set

    path, model = cnns["resnet"][0], cnn_models["resnet"]
    batch = model.prepare(cnn_frame)
    reference = model.runtime(batch)
    try:
        model.use_runtime(OPENVINO)
        assert model.runtime.name == OPENVINO
        for theirs, ours in zip(model.runtime(batch), reference, strict=True):
            np.testing.assert_allclose(theirs, ours, atol=1e-4 * np.abs(ours).max())
    finally:
        model.use_runtime(TENSORFLOW)
    photo = tmp_path / "frame.png"
    cv2.imwrite(str(photo), np.random.default_rng(1).integers(0, 256, (48, 64, 3), np.uint8))
    for method, runtime in (("cam", "auto"), ("gradcam", TENSORFLOW)):  # each auto: 3-5 s
        out = tmp_path / f"{method}.png"
        assert main(["render", str(photo), "--model", path, "-o", str(out), "--method", method,
                     "--runtime", runtime, "--json", str(tmp_path / f"{method}.json")]) == 0
        drawn = cv2.imread(str(out))  # the frame and its overlay side by side
        assert drawn.shape[0] == 48 and drawn.shape[1] >= 128
        assert json.loads((tmp_path / f"{method}.json").read_text())["preprocess"] == "torch"
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(DEMO_CLASSES.values()) + "\n")
    dataset = write_demo_set(tmp_path / "set", len(DEMO_CLASSES), long_side=64)
    assert main(["evaluate", str(dataset), "--model", path, "--labels", str(labels),
                 "--runtime", "auto", "--no-progress", "--json", str(tmp_path / "e.json")]) == 0
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["count"] == len(DEMO_CLASSES) and len(report["images"]) == len(DEMO_CLASSES)


@needs_hub
def test_a_file_whose_weights_keras_cannot_restore_is_one_line(tmp_path, capsys):
    """keras-hub 0.32's EfficientNet under Keras 3.15: Keras rebuilds the model from the file
    but leaves its last layers without their saved weights. camview refuses it in one line
    naming them; where Keras restores it, it is read like the other hub CNNs."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(30)
    backbone = keras_hub.models.EfficientNetBackbone(
        stackwise_kernel_sizes=[3, 3], stackwise_num_repeats=[1, 1],
        stackwise_input_filters=[8, 8], stackwise_output_filters=[8, 16],
        stackwise_expansion_ratios=[1, 4], stackwise_squeeze_and_excite_ratios=[0.0, 0.25],
        stackwise_strides=[1, 2], stackwise_block_types=["fused", "unfused"],
        stackwise_width_coefficients=[1.0] * 2, stackwise_depth_coefficients=[1.0] * 2,
        stackwise_force_input_filters=[0] * 2, stackwise_nores_option=[False] * 2,
        num_features=32, input_shape=(CNN, CNN, 3))
    path = tmp_path / "efficientnet.keras"
    keras_hub.models.EfficientNetImageClassifier(backbone=backbone, num_classes=3).save(path)
    try:
        with warnings.catch_warnings():  # Keras' own, on what it skipped
            warnings.simplefilter("ignore")
            keras.models.load_model(path, compile=False)
    except ValueError as exc:
        assert "could not be loaded" in str(exc)
        assert main(["inspect", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "could not restore the saved weights of 3 of its layers " \
            "(top_conv, top_bn, predictions)" in err and "keras-hub 0.32" in err, err
    else:
        assert main(["inspect", str(path)]) == 0
        assert "(head fc: CAM" in capsys.readouterr().out
