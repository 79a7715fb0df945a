"""Vision transformers as ONNX files (camview.models.onnx_vit): the tests' Keras ViTs written
as ONNX as torchvision and timm lay them out (tests/onnx_writer.py vit_to_onnx), loaded by
camview and run by OpenVINO. Their tokens, blocks and read tensor are found from the graph;
their scores, read tensor and attention rollout equal the Keras twin's; the forward-pass
methods map them; the rest are refused in one line naming what they get."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from onnx_writer import vit_to_onnx
from vit_models import MARK, SIZE, marked_images, on_the_mark, tiny_vit

from camview.cli import main
from camview.errors import ModelError
from camview.maps import make_method
from camview.maps.base import served_methods
from camview.models import CamModel, ResizeMode, load_model
from camview.models.head import HeadKind
from camview.models.preprocess import named

#: What an ONNX ViT gets: the methods of forward passes alone.
SERVED = ["eigencam", "scorecam", "occlusion", "rise", "reciprocam", "rollout"]


def twins(keras_model, path) -> tuple[CamModel, CamModel]:
    """The Keras ViT and its ONNX file as CamModels fed alike (--preprocess tf)."""
    keras_twin = CamModel("keras", keras_model, labels=["a", "b"], input_size=(SIZE, SIZE),
                          resize=ResizeMode.SQUASH, preprocess=named("tf"), fixed_input=True)
    onnx_model = load_model(str(vit_to_onnx(keras_model, path)), labels=None,
                            preprocess="tf")
    return keras_twin, onnx_model


@pytest.fixture(scope="module")
def class_token(tmp_path_factory):
    return twins(tiny_vit(class_token=True, softmax=False, seed=3),
                 tmp_path_factory.mktemp("vit") / "class_token.onnx")


@pytest.fixture(scope="module")
def averaging(tmp_path_factory):
    return twins(tiny_vit(class_token=False, position=False, softmax=False, seed=4),
                 tmp_path_factory.mktemp("vit") / "average.onnx")


@pytest.fixture(scope="module")
def pictures() -> np.ndarray:
    return marked_images(3, SIZE, MARK, seed=5)[0]


def test_the_tokens_blocks_and_read_tensor_are_found_from_the_graph(class_token, averaging):
    keras_twin, model = class_token
    found = model.transformer
    assert (found.grid.tokens, found.grid.grid, found.grid.prefix, found.grid.patch) == (
        37, (6, 6), 1, (8, 8))
    assert found.blocks == ("block1_norm1", "block2_norm1")
    assert found.attention == ("block1_attention_probs", "block2_attention_probs")
    assert found.pooling == "class token" and found.cam_layer is None
    assert model.read_layer == "block2_norm1:grid" and model.head is HeadKind.GRADIENT_ONLY
    assert [(i.path, i.shape) for i in model.spatial_layers()] == [
        ("block1_norm1:grid", (6, 6, 32)), ("block2_norm1:grid", (6, 6, 32))]
    assert found.describe() == keras_twin.transformer.describe()
    assert averaging[1].transformer.pooling == "average"
    assert averaging[1].transformer.grid.prefix == 0


def test_scores_and_the_read_tensor_equal_the_keras_twins(class_token, averaging, pictures):
    for keras_twin, model in (class_token, averaging):
        batch = np.concatenate([model.prepare(p) for p in pictures])
        features, logits = model.forward(batch)
        np.testing.assert_allclose(logits, keras_twin.keras_model.predict(batch, verbose=0),
                                   atol=1e-4)
        probe = keras.Model(keras_twin.keras_model.inputs,
                            keras_twin.keras_model.get_layer("block2_norm1").output)
        tokens = probe.predict(batch, verbose=0)
        folded = keras_twin.transformer.grid.fold(tokens)
        assert features.shape == (3, 6, 6, 32)
        np.testing.assert_allclose(features, folded, atol=1e-4)


def test_rollout_equals_the_keras_twins(class_token, averaging, pictures):
    for keras_twin, model in (class_token, averaging):
        for picture in pictures:
            batch = model.prepare(picture)
            ours = make_method("rollout", model).explain(batch)
            theirs = make_method("rollout", keras_twin).explain(batch)
            assert ours.cam.shape == (6, 6)
            np.testing.assert_allclose(ours.cam, theirs.cam, atol=1e-4)
            np.testing.assert_allclose(ours.logits, theirs.logits, atol=1e-4)
            assert ours.target == theirs.target


def test_a_decomposed_layer_norm_is_read_as_one(class_token, pictures, tmp_path):
    """torch below opset 17 writes each LayerNorm as ReduceMean, Sub, Pow, ReduceMean, Add,
    Sqrt, Div, Mul, Add: the blocks are still found, and rollout, ViT-Recipro-CAM and the
    read tensor equal the file's with LayerNormalization nodes."""
    keras_twin, whole = class_token
    model = load_model(str(vit_to_onnx(keras_twin.keras_model, tmp_path / "decomposed.onnx",
                                       layer_norm="decomposed")), labels=None, preprocess="tf")
    assert model.transformer.blocks == whole.transformer.blocks
    assert model.read_layer == whole.read_layer
    batch = model.prepare(pictures[2])
    np.testing.assert_allclose(model.forward(batch)[0], whole.forward(batch)[0], atol=1e-4)
    for name in ("rollout", "reciprocam"):
        ours, theirs = (make_method(name, m).explain(batch, 1) for m in (model, whole))
        np.testing.assert_allclose(ours.cam, theirs.cam, atol=1e-4)
        np.testing.assert_allclose(ours.logits, theirs.logits, atol=1e-4)


def test_the_forward_pass_methods_map_it_and_the_rest_are_refused_in_one_line(
        class_token, pictures):
    keras_twin, model = class_token
    batch = model.prepare(pictures[1])
    assert served_methods(model) == SERVED
    eigen = make_method("eigencam", model).explain(batch)
    np.testing.assert_allclose(np.abs(eigen.cam),
                               np.abs(make_method("eigencam", keras_twin).explain(batch).cam),
                               rtol=1e-3, atol=1e-4)
    for name, options in (("rise", {"masks": 64}), ("occlusion", {"patch": 8, "stride": 8})):
        result = make_method(name, model, **options).explain(batch, 1)
        assert result.cam.shape[:2] and result.problem is None
    for name in ("gradcam", "hirescam", "gradient-rollout", "cam"):
        with pytest.raises(ModelError) as refused:
            make_method(name, model)
        line = str(refused.value)
        assert "\n" not in line and line.endswith(", ".join(SERVED)), line


def test_a_trained_vit_as_onnx_finds_the_mark_by_rollout_and_its_read_tensor(tmp_path):
    """The trained marked-images ViT as ONNX: rollout and Eigen-CAM of the folded read
    tensor peak on the mark in every marked picture (as the Keras model's do)."""
    from vit_models import trained_marked_vit

    trained = trained_marked_vit()
    model = load_model(str(vit_to_onnx(trained.keras_model, tmp_path / "marked.onnx")),
                       labels=None, preprocess="tf")
    model.preprocess = trained.preprocess  # the 0..1 scaling it was trained with
    shown, _, where = marked_images(16, SIZE, MARK, seed=11)
    marked = [(p, yx) for p, yx in zip(shown, where, strict=True) if yx[0] >= 0]
    for name in ("rollout", "eigencam"):
        mapper = make_method(name, model)
        hits = sum(on_the_mark(mapper.explain(model.prepare(p), 1).cam, yx) for p, yx in marked)
        assert hits >= 0.75 * len(marked), name


def test_inspect_says_it_is_a_vision_transformer(class_token, capsys):
    _keras, model = class_token
    assert main(["inspect", str(model.source or model.name)]) == 0
    out = capsys.readouterr().out
    assert "vision transformer: 37 tokens: 6x6 patch tokens of 8x8 px" in out
    assert "block1_norm1:grid  6x6x32" in out and "block2_norm1:grid  6x6x32" in out


def test_layer_reads_another_blocks_tokens(class_token, pictures):
    keras_twin, model = class_token
    first = load_model(str(model.source or model.name), labels=None, preprocess="tf",
                       read_layer="block1_norm1:grid")
    assert first.read_layer == "block1_norm1:grid"
    batch = first.prepare(pictures[0])
    probe = keras.Model(keras_twin.keras_model.inputs,
                        keras_twin.keras_model.get_layer("block1_norm1").output)
    np.testing.assert_allclose(first.forward(batch)[0],
                               keras_twin.transformer.grid.fold(probe.predict(batch, verbose=0)),
                               atol=1e-4)
    with pytest.raises(ModelError, match="no block input 'patch_embed'"):
        load_model(str(model.source or model.name), labels=None, preprocess="tf",
                   read_layer="patch_embed")


def _keras_last_block_and_head(km, tokens: np.ndarray) -> np.ndarray:
    """The Keras twin's last block, final norm and head applied to tokens (n, t, dim)."""
    x = keras.ops.convert_to_tensor(tokens)
    h = km.get_layer("block2_norm1")(x)
    x = x + km.get_layer("block2_attention")(h, h)
    h = km.get_layer("block2_mlp2")(km.get_layer("block2_mlp1")(km.get_layer("block2_norm2")(x)))
    x = km.get_layer("final_norm")(x + h)
    pooled = x[:, 0] if "average" not in {layer.name for layer in km.layers} else \
        keras.ops.mean(x, axis=1)
    return np.asarray(km.get_layer("predictions")(pooled))


def test_vit_reciprocam_equals_masking_the_keras_twins_tokens(class_token, averaging,
                                                               pictures):
    """ViT-Recipro-CAM: each grid cell's 3x3 Gaussian mask on the patch tokens entering the
    last block (front tokens kept), the last block and head run on them: the class's
    softmax probability there, as the Keras twin gives it from its own layers."""
    weights = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    for keras_twin, model in (class_token, averaging):
        km, grid = keras_twin.keras_model, keras_twin.transformer.grid
        batch = model.prepare(pictures[1])
        probe = keras.Model(km.inputs, km.get_layer("block1_add2").output)
        tokens = probe.predict(batch, verbose=0)[0]
        gh, gw = grid.grid
        masked = []
        for i in range(gh):
            for j in range(gw):
                mask = np.zeros((gh + 2, gw + 2))
                mask[i:i + 3, j:j + 3] = weights
                cells = mask[1:-1, 1:-1].reshape(-1, 1)
                masked.append(np.concatenate([tokens[:grid.prefix],
                                              tokens[grid.prefix:] * cells]))
        scores = _keras_last_block_and_head(km, np.array(masked, np.float32))
        e = np.exp(scores - scores.max(1, keepdims=True))
        expected = (e / e.sum(1, keepdims=True))[:, 1].reshape(gh, gw)
        result = make_method("reciprocam", model).explain(batch, 1)
        assert result.cam.shape == (gh, gw) and result.target == 1
        np.testing.assert_allclose(result.cam, expected, atol=1e-4)


def test_the_windows_compare_presets_serve_an_onnx_vit(class_token):
    """Each preset's methods an ONNX ViT cannot serve stand in for by ones it can, each
    once (camview.live.loader.compare_methods), so no preset leaves the window empty."""
    from camview.live import PRESETS, CompareSpec
    from camview.live.loader import compare_methods

    _keras, model = class_token
    for preset in PRESETS:
        used = [m.name for m in compare_methods(CompareSpec.of(preset), model).values()]
        assert len(set(used)) == len(used) and set(used) <= set(SERVED), (preset, used)
