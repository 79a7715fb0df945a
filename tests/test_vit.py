"""Vision transformers: the token grid found from the graph, the maps on tokens against eager
and numpy references, rollout and gradient rollout, a trained ViT's map on its mark, and the
one-line refusals (camview.models.transformer, camview.maps.rollout)."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from camview.cli import main
from camview.errors import ModelError
from camview.maps import make_method
from camview.models import CamModel, ResizeMode
from camview.models.graph import spatial_layers
from camview.models.tokens import token_grid
from tests.helpers import saved
from tests.vit_models import (
    MARK,
    SIZE,
    mark_hits,
    marked_images,
    tiny_vit,
    trained_marked_vit,
    unit_rgb,
)


def cam_model(keras_model, size: int = 48) -> CamModel:
    return CamModel("vit", keras_model, labels=["a", "b"], input_size=(size, size),
                    resize=ResizeMode.SQUASH, preprocess=unit_rgb, fixed_input=True)


@pytest.fixture(scope="module")
def class_token_vit() -> CamModel:
    return cam_model(tiny_vit(class_token=True, softmax=False, seed=3))


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    pictures, _, _ = marked_images(2, SIZE, MARK, seed=5)
    return pictures[1]


def test_the_token_grid_blocks_and_read_layer_are_found(class_token_vit):
    found = class_token_vit.transformer
    assert (found.grid.tokens, found.grid.grid, found.grid.prefix, found.grid.patch) == (
        37, (6, 6), 1, (8, 8))
    assert found.blocks == ("block1_norm1", "block2_norm1")
    assert class_token_vit.read_layer == "block2_norm1"  # the last block's normalised input
    assert found.pooling == "class token" and found.cam_layer is None
    layers = {info.path: info.shape for info in spatial_layers(class_token_vit.keras_model)}
    assert layers["block1_norm1"] == (6, 6, 32) and layers["block1_mlp1"] == (6, 6, 64)
    with pytest.raises(ModelError, match="no convolution before pooling"):
        make_method("cam", class_token_vit)
    with pytest.raises(ModelError, match="ViT-Recipro-CAM"):
        make_method("reciprocam", class_token_vit)


def test_the_grid_arithmetic_without_keras():
    grid = token_grid(197, (224, 224), (16, 16), "vit", "the stride of conv_proj")
    assert (grid.grid, grid.prefix) == ((14, 14), 1)
    assert token_grid(198, (224, 224), None, "deit").prefix == 2  # class + distillation
    tokens = np.arange(2 * 198 * 3, dtype=np.float32).reshape(2, 198, 3)
    folded = token_grid(198, (224, 224), (16, 16), "deit").fold(tokens)
    assert folded.shape == (2, 14, 14, 3)
    np.testing.assert_array_equal(folded[1, 0, 1], tokens[1, 3])
    with pytest.raises(ModelError, match=r"do not fold into a grid.*14x14 = 196 patch tokens"):
        token_grid(150, (224, 224), (16, 16), "odd", "the stride of conv_proj")


@pytest.mark.parametrize("method", ["gradcam", "hirescam", "layercam", "eigencam"])
def test_token_maps_equal_the_folded_eager_computation(class_token_vit, picture, method):
    model, layer = class_token_vit, "block1_norm1"
    km = model.keras_model
    probe = keras.Model(km.inputs[0], [km.get_layer(layer).output, km.outputs[0]])
    batch = model.prepare(picture)
    with tf.GradientTape() as tape:
        tokens, logits = probe(tf.constant(batch))
        score = logits[0, 1]
    g = tape.gradient(score, tokens)[0].numpy()[1:].reshape(6, 6, -1).astype(np.float64)
    a = tokens[0].numpy()[1:].reshape(6, 6, -1).astype(np.float64)
    expected = {"gradcam": np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0),
                "hirescam": (a * g).sum(-1),
                "layercam": np.maximum((a * np.maximum(g, 0)).sum(-1), 0)}.get(method)
    cam = make_method(method, model, layer).explain(batch, 1).cam
    assert cam.shape == (6, 6)
    if expected is None:  # Eigen-CAM: the first principal component of the folded tokens
        flat = a.reshape(36, -1)
        centred = flat - flat.mean(0)
        v = np.linalg.svd(centred)[2][0]
        expected = (centred @ v).reshape(6, 6)
        expected *= np.sign((expected.ravel() * flat.sum(1)).sum())
    np.testing.assert_allclose(cam, expected, atol=1e-4 * np.abs(expected).max() + 1e-6)


def _numpy_attention(model, picture) -> list[np.ndarray]:
    """Each block's attention probabilities (heads, N, N) from its weights in numpy: softmax
    of the scaled dot product of the query and key projections of the normalised tokens."""
    km = model.keras_model
    out = []
    for b in (1, 2):
        probe = keras.Model(km.inputs[0], km.get_layer(f"block{b}_norm1").output)
        x = probe(model.prepare(picture)).numpy()[0].astype(np.float64)
        mha = km.get_layer(f"block{b}_attention")
        q = np.einsum("nd,dhk->hnk", x, mha._query_dense.kernel.numpy()) \
            + mha._query_dense.bias.numpy()[:, None]
        k = np.einsum("nd,dhk->hnk", x, mha._key_dense.kernel.numpy()) \
            + mha._key_dense.bias.numpy()[:, None]
        logits = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
        e = np.exp(logits - logits.max(-1, keepdims=True))
        out.append(e / e.sum(-1, keepdims=True))
    return out


def test_rollout_equals_the_numpy_rollout(class_token_vit, picture):
    attention = _numpy_attention(class_token_vit, picture)
    relevance = np.eye(37)
    for a in attention:
        a = a.mean(0) + np.eye(37)
        relevance = (a / a.sum(-1, keepdims=True)) @ relevance
    cam = make_method("rollout", class_token_vit).explain(class_token_vit.prepare(picture)).cam
    np.testing.assert_allclose(cam, relevance[0, 1:].reshape(6, 6), rtol=1e-4, atol=1e-6)


def test_gradient_rollout_equals_its_formula_on_eager_gradients(class_token_vit, picture):
    model = class_token_vit
    batch = tf.constant(model.prepare(picture))
    with tf.GradientTape() as tape:
        scores, *attention = model.attention_pass(batch)
        score = scores[0, 0]
    grads = tape.gradient(score, attention)
    for ours, theirs in zip(attention, _numpy_attention(model, picture), strict=True):
        np.testing.assert_allclose(ours[0].numpy(), theirs, atol=1e-5)  # the probabilities
    relevance = np.eye(37)
    for a, g in zip(attention, grads, strict=True):
        weighted = np.maximum(a[0].numpy() * g[0].numpy(), 0).mean(0)
        relevance = relevance + weighted @ relevance
    cam = make_method("gradient-rollout", model).explain(batch.numpy(), 0).cam
    np.testing.assert_allclose(cam, relevance[0, 1:].reshape(6, 6), rtol=1e-4, atol=1e-6)


def test_rollout_of_an_averaging_vit_reads_the_mean_row():
    model = cam_model(tiny_vit(class_token=False, position=False, seed=4))
    assert model.transformer.pooling == "average" and model.transformer.grid.prefix == 0
    batch = model.prepare(np.full((48, 48, 3), 90, np.uint8))
    _, *attention = model.attention_pass(tf.constant(batch))
    relevance = np.eye(36)
    for a in attention:
        a = a[0].numpy().mean(0) + np.eye(36)
        relevance = (a / a.sum(-1, keepdims=True)) @ relevance
    cam = make_method("rollout", model).explain(batch).cam
    np.testing.assert_allclose(cam, relevance.mean(0).reshape(6, 6), rtol=1e-4)
    # CAM is defined per token where the head averages the tokens into one dense layer
    at_pooling = cam_model(model.keras_model)
    assert model.transformer.cam_layer == "final_norm"
    per_token = CamModel("vit", model.keras_model, labels=["a", "b"], input_size=(48, 48),
                         resize=ResizeMode.SQUASH, preprocess=unit_rgb, fixed_input=True,
                         read_layer="final_norm")
    assert per_token.head.value == "fc" and at_pooling.head.value == "gradient-only"
    cam = make_method("cam", per_token).explain(batch, 1).cam
    hires = make_method("hirescam", per_token).explain(batch, 1).cam
    np.testing.assert_allclose(cam / 36, hires, rtol=1e-4, atol=1e-6)  # HiResCAM = CAM / n
    assert make_method("reciprocam", per_token).explain(batch, 1).cam.shape == (6, 6)


@pytest.fixture(scope="module")
def marked_vit():
    """A ViT trained for some 15 s to find a small mark anywhere, and 20 marked pictures it
    was not trained on."""
    model = trained_marked_vit()
    pictures, labels, where = marked_images(40, SIZE, MARK, seed=7)
    return model, pictures[labels == 1], where[labels == 1]


def test_the_recommended_method_finds_the_mark_on_a_trained_vit(marked_vit):
    model, pictures, where = marked_vit
    found = mark_hits(model, "hirescam", None, pictures, where)  # at the default read layer
    assert found >= 0.8 * len(pictures), f"{found}/{len(pictures)}"
    assert mark_hits(model, "rollout", None, pictures, where) >= 0.8 * len(pictures)


def test_bad_transformers_are_one_line(tmp_path, capsys):
    L = keras.layers
    inputs = keras.Input((48, 48, 3))
    x = L.Reshape((36, 16))(L.Conv2D(16, 8, strides=8, name="patch_embed")(inputs))
    x = L.Permute((2, 1))(L.Dense(30)(L.Permute((2, 1))(x)))  # mixes 36 tokens into 30
    x = L.MultiHeadAttention(2, 8)(x, x)
    odd = keras.Model(inputs, L.Dense(2)(L.GlobalAveragePooling1D()(x)))
    assert main(["inspect", saved(odd, tmp_path / "odd.keras")]) == 2
    err = capsys.readouterr().err.strip()
    assert "30 tokens do not fold into a grid" in err and "\n" not in err

    words = keras.Input((16,), dtype="int32")
    x = L.Embedding(100, 16)(words)
    x = L.MultiHeadAttention(2, 8)(x, x)
    text = keras.Model(words, L.Dense(2)(L.GlobalAveragePooling1D()(x)))
    assert main(["inspect", saved(text, tmp_path / "text.keras")]) == 2
    err = capsys.readouterr().err.strip()
    assert "token ids (text), not an image" in err and "\n" not in err


def test_inspect_says_what_was_read_and_render_needs_no_method(tmp_path, capsys):
    path = saved(tiny_vit(class_token=False, position=False), tmp_path / "vit.keras")
    photo = tmp_path / "marked.png"
    cv2.imwrite(str(photo), marked_images(2, SIZE, MARK, seed=5)[0][1])
    assert main(["render", str(photo), "--model", path, "--resize", "crop", "--json",
                 str(tmp_path / "out.json")]) == 0  # CAM, the default, is not defined for it
    assert '"method": "hirescam"' in (tmp_path / "out.json").read_text()
    capsys.readouterr()
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    for fragment in ("6x6 patch tokens of 8x8 px (the stride of patch_embed)",
                     "2 blocks; head averages the tokens", "read layer:  block2_norm1",
                     "Attention rollout, Gradient rollout",
                     "block1_norm1      36x32 tokens, read as 6x6x32 (block 1's input)",
                     "defined per token only at 'final_norm'"):
        assert fragment in out, fragment


def test_a_swin_style_model_is_read_at_its_last_stage_tokens():
    L = keras.layers
    inputs = keras.Input((48, 48, 3))
    x = L.Reshape((36, 16))(L.Conv2D(16, 8, strides=8, name="patch_embed")(inputs))
    windows = keras.ops.reshape(x, (-1, 9, 16))  # attention inside windows of 9 tokens
    windows = L.MultiHeadAttention(2, 8, name="window_attention")(windows, windows)
    x = L.LayerNormalization(name="stage_norm")(keras.ops.reshape(windows, (-1, 36, 16)))
    model = cam_model(keras.Model(inputs, L.Dense(2)(L.GlobalAveragePooling1D()(x))))
    found = model.transformer
    assert found.windows == 9 and found.grid.grid == (6, 6)
    assert model.read_layer == "stage_norm"
    assert "windows of 9 tokens (Swin-style)" in found.describe()
    assert make_method("gradcam", model).explain(model.prepare(np.zeros((48, 48, 3), np.uint8))
                                                 ).cam.shape == (6, 6)
    with pytest.raises(ModelError, match="attends in windows"):
        make_method("rollout", model)


def test_crop_feeds_the_centre_and_the_map_is_drawn_there(class_token_vit):
    from camview.commands.render_outputs import peak_in_frame
    from camview.drawing.overlay import OverlayStyle, render_view
    from camview.models.base import crop_box

    model = CamModel("vit", class_token_vit.keras_model, labels=["a", "b"],
                     input_size=(48, 48), resize=ResizeMode.CROP, preprocess=unit_rgb,
                     fixed_input=True)
    frame = np.random.default_rng(0).integers(0, 255, (96, 160, 3), np.uint8)
    assert crop_box((96, 160), (48, 48)) == (6, 38, 90, 122)  # 0.875 of the 96x96 centre
    assert model.map_box((96, 160)) == (6, 38, 90, 122) and "centre crop" in model.describe()
    centre = cv2.resize(frame[6:90, 38:122], (48, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(model.prepare(frame)[0], unit_rgb(centre))
    cam = np.zeros((6, 6), np.float32)
    cam[0, 5] = 1.0  # the crop's top-right patch
    view = render_view(frame, cam, [], OverlayStyle(layout="overlay", topk=0),
                       box=model.map_box((96, 160)))
    coloured = view.max(-1).astype(int) - view.min(-1) > 8  # grey (B = G = R) is uncoloured
    ys, xs = np.nonzero(coloured)
    assert len(ys) and ys.min() >= 6 and ys.max() < 40 and xs.min() >= 80 and xs.max() < 122
    assert peak_in_frame(cam, (96, 160), model.map_box((96, 160)))["x"] >= 108
    with pytest.raises(ModelError, match="use --resize squash or crop"):
        CamModel("vit", class_token_vit.keras_model, labels=["a", "b"], input_size=(48, 48),
                 resize=ResizeMode.SHORTER, preprocess=unit_rgb, fixed_input=True)
