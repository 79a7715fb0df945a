"""SqueezeNet 1.1 built in Keras from the OpenVINO IR in ../shared/models (never copied here).

The reference numbers come from the OpenVINO runtime on the same IR (227x227 squash resize,
bilinear, BGR); the Keras build matches it to ~1e-6 in probability in f32.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import SQUEEZENET_MISSING

from camview.errors import ModelError
from camview.models.base import softmax
from camview.models.openvino_ir import read_ir
from camview.models.squeezenet import (
    CAFFE_MEAN_BGR,
    build_squeezenet,
    check_squeezenet,
    load_squeezenet,
    preprocess,
)
from camview.models.squeezenet_weights import ENV_VAR, XML_NAME, resolve_weights_path

if not os.environ.get("CAMVIEW_SQUEEZENET"):
    pytest.skip(SQUEEZENET_MISSING, allow_module_level=True)
SHARED = Path(os.environ["CAMVIEW_SQUEEZENET"])

XML = SHARED / XML_NAME
BIN = SHARED / "squeezenet1.1.bin"


@pytest.fixture(scope="module")
def loaded():
    return load_squeezenet(SHARED)


@pytest.fixture(scope="module")
def forward(loaded):
    """One compiled call: BGR uint8 (h, w, 3) -> (relu_conv10 maps, probabilities)."""
    model = loaded.model
    features = keras.Model(model.input, [model.get_layer("relu_conv10").output, model.output])
    call = tf.function(lambda x: features(x, training=False),
                       input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])

    def run(bgr: np.ndarray):
        maps, logits = call(loaded.preprocess(bgr)[None])
        return maps.numpy()[0], softmax(logits.numpy()[0])

    return run


def _photo(name: str, size=(227, 227)) -> np.ndarray:
    """A scikit-image photo as BGR, squashed to `size` (h, w) with bilinear resizing.

    Bilinear is what reproduces the reference (chelsea 0.507/0.285/0.187); INTER_AREA gives
    0.486/0.314/0.180.
    """
    import skimage.data

    bgr = cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR)
    return cv2.resize(bgr, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def _ceil_pool(n: int) -> int:
    return -(-(n - 3) // 2) + 1


# -- the network ------------------------------------------------------------------------
def test_chelsea_top3(forward):
    _, probs = forward(_photo("chelsea"))
    top = np.argsort(-probs)[:3]
    assert list(top) == [285, 282, 281]  # Egyptian cat, tiger cat, tabby
    np.testing.assert_allclose(probs[top], [0.51, 0.28, 0.19], atol=0.02)


def test_coffee_is_espresso(forward):
    _, probs = forward(_photo("coffee"))
    assert int(np.argmax(probs)) == 967
    assert probs[967] >= 0.98


def test_relu_conv10_is_the_cam(forward):
    maps, probs = forward(_photo("chelsea"))
    assert maps.shape == (14, 14, 1000)
    assert maps.min() >= 0
    # the scores are the spatial means of the maps (the direct head)
    np.testing.assert_allclose(softmax(maps.mean(axis=(0, 1))), probs, atol=1e-5)


def test_non_square_input_uses_ceil_mode_pooling(forward):
    maps, probs = forward(_photo("chelsea", (227, 302)))
    w = 302
    w = _ceil_pool(_ceil_pool(_ceil_pool((w - 3) // 2 + 1)))
    assert maps.shape == (14, w, 1000) == (14, 18, 1000)  # floor mode would give 17
    assert int(np.argmax(probs)) == 285


@pytest.mark.parametrize("hw", [(227, 227), (224, 224), (96, 131), (250, 301)])
def test_spatial_size_any_input(hw):
    model = build_squeezenet(None)
    maps = keras.Model(model.input, model.get_layer("relu_conv10").output)
    out = maps(np.zeros((1, *hw, 3), np.float32), training=False)
    expected = [_ceil_pool(_ceil_pool(_ceil_pool((n - 3) // 2 + 1))) for n in hw]
    assert tuple(out.shape) == (1, *expected, 1000)


def test_layer_names_and_direct_head(loaded):
    from camview.labels import imagenet_labels
    from camview.models.base import CamModel, ResizeMode
    from camview.models.head import HeadKind

    model = loaded.model
    for name in ("conv1", "fire2_squeeze1x1", "fire9_expand3x3", "conv10", "relu_conv10"):
        model.get_layer(name)
    assert isinstance(model.layers[-1], keras.layers.GlobalAveragePooling2D)
    assert model.layers[-1].name == "pool10"
    cam = CamModel("squeezenet", model, labels=imagenet_labels(), input_size=(227, 227),
                   resize=ResizeMode.SHORTER, preprocess=loaded.preprocess)
    assert cam.head is HeadKind.DIRECT
    assert cam.read_layer == "relu_conv10"


def test_mean_comes_from_the_ir(loaded):
    assert loaded.preprocess.mean_bgr == CAFFE_MEAN_BGR
    pixel = np.full((1, 1, 3), 200, np.uint8)
    np.testing.assert_array_equal(loaded.preprocess(pixel), preprocess(pixel))
    assert preprocess(pixel).dtype == np.float32
    np.testing.assert_array_equal(preprocess(pixel)[0, 0], [96, 83, 77])


# -- the IR reader ----------------------------------------------------------------------
def test_convolutions_are_keyed_by_framework_name():
    ir = read_ir(XML)
    convs = ir.convolutions()
    assert len(convs) == 26
    conv1 = convs["conv1"]
    assert conv1.weights.shape == (64, 3, 3, 3) and conv1.weights.dtype == np.float32
    assert conv1.bias.shape == (64,)
    assert conv1.strides == (2, 2) and conv1.layer == "conv1/WithoutBiases"
    assert convs["fire2/expand3x3"].pads_begin == (1, 1)


def _ir_copy(tmp_path: Path, xml_text: str | None = None, bin_bytes: bytes | None = None) -> Path:
    xml = tmp_path / XML_NAME
    xml.write_text(xml_text if xml_text is not None else XML.read_text())
    xml.with_suffix(".bin").write_bytes(bin_bytes if bin_bytes is not None else BIN.read_bytes())
    return xml


def test_truncated_bin(tmp_path):
    xml = _ir_copy(tmp_path, bin_bytes=BIN.read_bytes()[:100_000])
    with pytest.raises(ModelError, match=r"\.bin does not match its \.xml"):
        read_ir(xml)


def test_text_file_named_xml(tmp_path):
    xml = tmp_path / "model.xml"
    xml.write_text("these are not the weights you are looking for\n")
    with pytest.raises(ModelError, match="not an XML file") as info:
        read_ir(xml)
    assert str(xml) in str(info.value) and "\n" not in str(info.value)


def test_xml_that_is_not_an_ir(tmp_path):
    xml = _ir_copy(tmp_path, xml_text="<?xml version='1.0'?><svg/>")
    with pytest.raises(ModelError, match="not an OpenVINO IR"):
        read_ir(xml)


def test_missing_files(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        read_ir(tmp_path / "absent.xml")
    xml = tmp_path / XML_NAME
    xml.write_text(XML.read_text())
    with pytest.raises(ModelError, match=r"squeezenet1\.1\.bin are missing"):
        read_ir(xml)


def test_unsupported_element_type(tmp_path):
    text = XML.read_text().replace('shape="64,3,3,3" element_type="f16"',
                                   'shape="64,3,3,3" element_type="bf16"')
    xml = _ir_copy(tmp_path, xml_text=text)
    with pytest.raises(ModelError, match="element type 'bf16'"):
        load_squeezenet(xml)


def test_not_squeezenet():
    ir = read_ir(XML)
    convs = ir.convolutions()
    with pytest.raises(ModelError, match=r"not SqueezeNet 1\.1"):
        check_squeezenet(ir, {k: v for k, v in convs.items() if k != "conv10"})
    wrong = dict(convs, conv10=dataclasses.replace(convs["conv10"],
                                                   weights=convs["conv10"].weights[:10]))
    with pytest.raises(ModelError, match=r"conv10 weights are \(10, 512, 1, 1\)"):
        check_squeezenet(ir, wrong)


# -- finding the weights ----------------------------------------------------------------
def test_resolve_explicit_path(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/nonexistent")
    assert resolve_weights_path(SHARED) == XML
    assert resolve_weights_path(XML) == XML
    assert resolve_weights_path(str(BIN)) == XML


def test_resolve_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(SHARED))
    assert resolve_weights_path(None) == XML
    monkeypatch.setenv(ENV_VAR, str(XML))
    assert resolve_weights_path(None) == XML
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=f"{ENV_VAR}"):
        resolve_weights_path(None)


def test_resolve_user_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    folder = tmp_path / "camview" / "models" / "squeezenet1.1"
    with pytest.raises(ModelError) as info:
        resolve_weights_path(None, download=False)  # a download is tests/test_weights_download
    message = str(info.value)
    assert str(folder) in message and ENV_VAR in message and "\n" not in message
    assert "intel/inference-engine-node" in message and "--weights PATH" in message
    folder.mkdir(parents=True)
    (folder / XML_NAME).write_text("<net/>")  # only the presence of the pair matters here
    (folder / XML_NAME).with_suffix(".bin").write_bytes(b"")
    assert resolve_weights_path(None, download=False) == folder / XML_NAME
