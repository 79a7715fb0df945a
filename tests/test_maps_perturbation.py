"""The perturbation methods (camview/maps/perturbation.py: Score-CAM, occlusion, RISE) against
forward passes of masked inputs run here one by one, on tiny Keras models and
EfficientNet-Lite0; their progress and cancelling."""

import threading

import numpy as np
import pytest
import tensorflow as tf
from helpers import (
    EGYPTIAN_CAT,
    ESPRESSO,
    forward,
    skimage_bgr,
    tiny_hidden_dense_cnn,
    tiny_input,
    tiny_relu_cnn,
)

from camview.errors import ModelError
from camview.maps import RISE, Cancelled, Occlusion, ScoreCAM
from camview.maps.perturbation import patch_origins


def test_scorecam_against_masked_forward_passes():
    model = tiny_relu_cnn()
    batch = tiny_input(model)
    features, logits = (t.numpy()[0] for t in model.feature_model(batch))
    masks = tf.image.resize(features.transpose(2, 0, 1)[:, :, :, None], batch.shape[1:3],
                            "bilinear").numpy()
    lo = masks.min(axis=(1, 2, 3), keepdims=True)
    hi = masks.max(axis=(1, 2, 3), keepdims=True)
    masks = (masks - lo) / np.where(hi > lo, hi - lo, 1)
    probs = tf.nn.softmax(model.keras_model(batch * masks)).numpy()[:, 2]
    expected = np.maximum(features @ probs, 0)
    got = ScoreCAM(model, max_channels=0).explain(batch, 2)
    np.testing.assert_allclose(got.cam, expected, rtol=1e-4, atol=1e-5 * expected.max())
    np.testing.assert_allclose(got.logits, logits, rtol=1e-5)


def test_scorecam_keeps_the_channels_of_highest_variance(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    features = forward(lite0, batch).features
    method = ScoreCAM(lite0, max_channels=5)
    wanted = np.argsort(-features.reshape(-1, features.shape[2]).var(axis=0))[:5]
    assert set(method.channels(features)) == set(wanted)
    assert len(ScoreCAM(lite0, max_channels=0).channels(features)) == features.shape[2]
    with pytest.raises(ModelError, match="max-channels"):
        ScoreCAM(lite0, max_channels=-1)


def test_occlusion_against_a_patch_loop():
    model = tiny_relu_cnn(seed=3)
    batch = tiny_input(model)
    method = Occlusion(model, patch=8, stride=5)
    p0 = tf.nn.softmax(model.keras_model(batch))[0, 0].numpy()
    total, count = np.zeros(batch.shape[1:3]), np.zeros(batch.shape[1:3])
    for y in patch_origins(20, 8, 5):
        for x in patch_origins(24, 8, 5):
            hidden = batch.copy()
            hidden[0, y:y + 8, x:x + 8] = (128 - 127.0) / 64.0
            drop = p0 - tf.nn.softmax(model.keras_model(hidden))[0, 0].numpy()
            total[y:y + 8, x:x + 8] += drop
            count[y:y + 8, x:x + 8] += 1
    assert count.min() >= 1
    got = method.explain(batch, 0).cam
    np.testing.assert_allclose(got, total / count, atol=1e-5)
    assert patch_origins(20, 8, 5) == [0, 5, 10, 12]


def test_on_demand_methods_report_progress_and_cancel(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    method = ScoreCAM(lite0, max_channels=40)
    seen: list[tuple[int, int]] = []
    method.explain(batch, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (40, 40) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    cancel = threading.Event()
    calls: list[int] = []

    def stop_after_first(done: int, total: int) -> None:
        calls.append(done)
        cancel.set()

    with pytest.raises(Cancelled):
        Occlusion(lite0).explain(batch, progress=stop_after_first, cancel=cancel)
    assert len(calls) == 1


def test_rise_against_masked_forward_passes():
    model = tiny_hidden_dense_cnn(seed=2)
    batch = tiny_input(model)
    method = RISE(model, masks=40)
    masks = method.mask_batch(batch.shape[1:3], 0, 40)
    probs = tf.nn.softmax(model.keras_model(batch * masks[:, :, :, None])).numpy()[:, 2]
    expected = np.tensordot(probs, masks, axes=1) / (40 * RISE.KEEP)
    got = method.explain(batch, 2)
    np.testing.assert_allclose(got.cam, expected, rtol=1e-4, atol=1e-6)
    assert got.cam.shape == batch.shape[1:3]


def test_rise_masks_are_smooth_seeded_and_independent_of_batching():
    method = RISE(tiny_hidden_dense_cnn(), masks=8)
    masks = method.mask_batch((224, 337), 0, 64)
    assert masks.min() >= 0 and masks.max() <= 1
    assert 0.4 < masks.mean() < 0.6  # cells kept with probability 1/2
    assert np.mean((masks > 0.02) & (masks < 0.98)) > 0.2  # bilinear ramps, not a binary grid
    np.testing.assert_array_equal(method.mask_batch((224, 337), 5, 9), masks[5:9])
    assert not np.array_equal(masks[0], masks[1])


def test_rise_maps_another_class_of_the_same_frame_without_a_forward_pass(lite0):
    """The masked inputs' probabilities of every class are kept for the last input: a second
    class costs no pass and gives the map a fresh RISE computes."""
    batch = lite0.prepare(skimage_bgr("chelsea"))
    method = RISE(lite0, masks=40)
    passes = []
    real = method.forward._probabilities
    method.forward._probabilities = lambda x, t: passes.append(len(x)) or real(x, t)
    method.explain(batch, EGYPTIAN_CAT)
    assert sum(passes) == 40
    second = method.explain(batch, ESPRESSO)
    assert sum(passes) == 40  # no new pass
    np.testing.assert_allclose(second.cam, RISE(lite0, masks=40).explain(batch, ESPRESSO).cam,
                               rtol=1e-5, atol=1e-7)
    method.explain(batch[:, :, ::-1], ESPRESSO)  # another input: passes again
    assert sum(passes) == 80
