"""Recipro-CAM (camview/maps/reciprocam.py) and the head run alone (CamModel.head_scores,
camview/models/head_run.py): the map is the paper's formula written out plainly here, for a
direct, an fc, a binary and two gradient-only heads; the head alone gives the network's own
scores; the masked copies are batched in bounded chunks; and on real photos the cat's map is
on the cat and the cup's on the cup."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest
from helpers import (
    EGYPTIAN_CAT,
    ESPRESSO,
    TABBY,
    cat_and_coffee,
    forward,
    skimage_bgr,
    tiny_cam_model,
    tiny_input,
)

import camview.maps.reciprocam as reciprocam
from camview.errors import ModelError
from camview.maps import ReciproCAM, make_method
from camview.models import CamModel, HeadKind, ResizeMode
from camview.models.base import softmax

#: The paper's 3x3 Gaussian, written again here.
GAUSSIAN = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float64) / 16


def _tiny(kind: str):
    """(CamModel, the layers after the read layer in order) for a head of `kind`."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((20, 24, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    if kind in ("direct", "binary-direct"):  # the read layer's channels are the classes
        channels = 1 if kind == "binary-direct" else 3
        read = keras.layers.Conv2D(channels, 1, activation="relu", name="classes")(x)
        head = [keras.layers.GlobalAveragePooling2D()]
    else:
        read = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
        head = {"fc": [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)],
                "binary": [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)],
                "hidden": [keras.layers.GlobalAveragePooling2D(),
                           keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)],
                "flatten": [keras.layers.Flatten(), keras.layers.Dense(5, activation="relu"),
                            keras.layers.Dense(3, activation="softmax")]}[kind]
    out = read
    for layer in head:
        out = layer(out)
    if kind.startswith("binary"):
        model = CamModel("tiny", keras.Model(inputs, out), labels=["no", "yes"],
                         input_size=(20, 24), resize=ResizeMode.SQUASH,
                         preprocess=lambda bgr: (bgr.astype(np.float32) - 127.0) / 64.0)
    else:
        model = tiny_cam_model(keras.Model(inputs, out))
    return model, head


def _head_by_hand(kind: str, head: list, masked: np.ndarray) -> np.ndarray:
    """The class scores of one masked map (h, w, k): the head's own layers called one by one
    (a flatten head's softmax left off, a binary logit z shown as [-z/2, z/2])."""
    x = masked[None].astype(np.float32)
    for n, layer in enumerate(head):
        if kind == "flatten" and n == len(head) - 1:
            x = np.asarray(x) @ np.asarray(layer.kernel) + np.asarray(layer.bias)
        else:
            x = layer(x)
    scores = np.asarray(x, np.float64)[0]
    return np.concatenate([-scores / 2, scores / 2]) if kind.startswith("binary") else scores


def _reciprocam_by_hand(kind: str, model: CamModel, head: list, batch: np.ndarray,
                        target: int | None) -> tuple[np.ndarray, int]:
    """The paper's map, plainly: for each position a mask of the Gaussian centred there, the
    activations times the mask through the head, the class's softmax probability."""
    seen = forward(model, batch)
    a = seen.features.astype(np.float64)
    c = int(np.argmax(seen.logits)) if target is None else target
    h, w, _ = a.shape
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            mask = np.zeros((h, w))
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    if 0 <= i + di < h and 0 <= j + dj < w:
                        mask[i + di, j + dj] = GAUSSIAN[di + 1, dj + 1]
            scores = _head_by_hand(kind, head, a * mask[:, :, None])
            out[i, j] = softmax(scores)[c]
    return out, c


#: The heads tried: a binary model's one logit is shown as two classes, its direct head
#: (a one-channel map pooled) as an fc head of weight 1 (camview.models.head).
KINDS = {"direct": HeadKind.DIRECT, "fc": HeadKind.FC, "binary": HeadKind.FC,
         "binary-direct": HeadKind.FC, "hidden": HeadKind.GRADIENT_ONLY,
         "flatten": HeadKind.GRADIENT_ONLY}


@pytest.fixture(scope="module")
def tiny():
    return {kind: _tiny(kind) for kind in KINDS}


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_map_is_the_formula_written_out(tiny, kind):
    model, head = tiny[kind]
    assert model.head is KINDS[kind]
    batch = tiny_input(model)
    method = make_method("reciprocam", model)
    assert method.runs_on_forward_runtime() == (KINDS[kind] is not HeadKind.GRADIENT_ONLY)
    for target in (None, 1):
        result = method.explain(batch, target)
        want, c = _reciprocam_by_hand(kind, model, head, batch, target)
        assert result.target == c and result.cam.shape == want.shape == (9, 11)
        assert result.cam.dtype == np.float32
        np.testing.assert_allclose(result.cam, want, rtol=1e-4, atol=1e-7)
        # and as drawn (min-max): the cells differ by far less than the probabilities' size
        span = np.ptp(want)
        assert span > 0
        np.testing.assert_allclose((result.cam - result.cam.min()) / span,
                                   (want - want.min()) / span, atol=1e-3)


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_head_alone_gives_the_networks_scores(tiny, kind):
    model, _ = tiny[kind]
    seen = forward(model, tiny_input(model))
    scores = model.head_scores(seen.features[None])
    assert scores.shape == (1, len(model.labels))
    np.testing.assert_allclose(scores[0], seen.logits, rtol=1e-4, atol=1e-6)


def test_the_head_alone_of_the_real_models(lite0, squeezenet):
    frame = skimage_bgr("chelsea")
    for model in (lite0, squeezenet):
        features, logits = model.forward(model.prepare(frame))
        scores = model.head_scores(features)
        span = np.abs(logits).max()
        assert np.max(np.abs(scores - logits)) <= 1e-4 * span, model.name
        # a head that starts with global pooling takes maps already pooled (1x1) too
        pooled = features.mean(axis=(1, 2), keepdims=True)
        assert np.max(np.abs(model.head_scores(pooled) - logits)) <= 1e-4 * span


def test_masked_copies_go_to_the_head_in_bounded_chunks(tiny, monkeypatch):
    model, _ = tiny["hidden"]
    batch = tiny_input(model)
    whole = ReciproCAM(model).explain(batch).cam
    calls: list[int] = []
    real = model.head_scores

    def counted(features: np.ndarray) -> np.ndarray:
        calls.append(len(features))
        return real(features)

    h, w, k = forward(model, batch).features.shape
    monkeypatch.setattr(reciprocam, "CHUNK_BYTES", 10 * h * w * k * 4)  # ten copies a call
    monkeypatch.setattr(model, "head_scores", counted)
    np.testing.assert_allclose(ReciproCAM(model).explain(batch).cam, whole, rtol=1e-6)
    assert calls == [10] * (h * w // 10) + [h * w % 10]


def test_only_the_layer_before_the_head_is_read(tiny):
    model, _ = tiny["fc"]
    with pytest.raises(ModelError, match=r"reads only the layer before the head.*'c1'"):
        make_method("reciprocam", model, "c1")


def test_a_head_that_needs_an_earlier_layer_is_refused_in_one_line():
    inputs = keras.Input((None, None, 3))
    c1 = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    c2 = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(c1)
    joined = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(c2),
                                         keras.layers.GlobalAveragePooling2D()(c1)])
    model = CamModel("branchy", keras.Model(inputs, keras.layers.Dense(3)(joined)),
                     labels=["a", "b", "c"], input_size=(20, 24), resize=ResizeMode.SQUASH,
                     preprocess=lambda bgr: bgr.astype(np.float32) / 255.0, read_layer="c2")
    with pytest.raises(ModelError, match="head after 'c2' cannot run on its own") as caught:
        make_method("reciprocam", model).explain(tiny_input(model))
    assert "\n" not in str(caught.value)


def test_the_pointing_game_with_squeezenet(squeezenet):
    """The cat's maps (tabby, Egyptian cat) peak on the cat, the espresso's on the cup, with
    SqueezeNet's real weights (EfficientNet-Lite0 plays in tests/test_maps.py)."""
    frame = cat_and_coffee()
    method = make_method("reciprocam", squeezenet)
    batch = squeezenet.prepare(frame)
    for target, (x0, x1) in ((TABBY, (0, 300)), (EGYPTIAN_CAT, (0, 300)), (ESPRESSO, (300, 600))):
        big = cv2.resize(method.explain(batch, target).cam, frame.shape[1::-1],
                         interpolation=cv2.INTER_LINEAR)
        for heat in (big, cv2.GaussianBlur(big, (0, 0), 12)):
            x = int(np.unravel_index(np.argmax(heat), heat.shape)[1])
            assert x0 <= x < x1, f"class {target} peaks at x={x}"
