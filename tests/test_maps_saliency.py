"""The methods added over the shared base, each against its maths written out here (numpy, or
TensorFlow used another way), on EfficientNet-Lite0 and on tiny Keras models built here."""

import threading

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import forward, skimage_bgr, tiny_cam_model, tiny_input

from camview.errors import ModelError
from camview.maps import (
    METHODS,
    Cancelled,
    EigenCAM,
    GradCAM,
    GuidedGradCAM,
    LayerCAM,
    Occlusion,
    Saliency,
    ScoreCAM,
    SmoothGrad,
    make_method,
    method_class,
)
from camview.maps.perturbation import patch_origins
from camview.models import CamModel

TABBY, EGYPTIAN_CAT, ESPRESSO = 281, 285, 967


def _cat_and_coffee() -> np.ndarray:
    cat = cv2.resize(skimage_bgr("chelsea"), (300, 300), interpolation=cv2.INTER_AREA)
    coffee = cv2.resize(skimage_bgr("coffee"), (300, 300), interpolation=cv2.INTER_AREA)
    return np.hstack([cat, coffee])


def _tiny(relu6: bool = False, seed: int = 0) -> CamModel:
    """A small CNN with ReLUs both as layers and inside a convolution: 3 classes."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c2")(x)
    x = keras.layers.ReLU(max_value=6.0 if relu6 else None, name="act")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, name="fc")(x)
    return tiny_cam_model(keras.Model(inputs, outputs))


def _eager_gradients(model: CamModel, batch: np.ndarray, target: int):
    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        features, logits = model.feature_model(x, training=False)
        score = logits[0, target]
    g = tape.gradient(score, features)[0].numpy().astype(np.float64)
    return features[0].numpy().astype(np.float64), g


def test_every_method_describes_itself_once():
    for name, cls in METHODS.items():
        assert cls.name == name and cls.title and cls.summary and cls.paper
        assert method_class(name) is cls and method_class(cls.title) is cls
    for alias, name in (("Layer-CAM", "layercam"), ("EIGEN_CAM", "eigencam"),
                        ("guided_gradcam", "guided-gradcam"), ("GuidedGradCAM", "guided-gradcam"),
                        ("Score-CAM", "scorecam"), ("smooth-grad", "smoothgrad"),
                        ("Occlusion", "occlusion"), ("grad-cam++", "gradcam++")):
        assert method_class(alias).name == name
    assert {n for n, c in METHODS.items() if not c.live} == {
        "smoothgrad", "scorecam", "occlusion", "integrated-gradients", "rise"}
    assert [n for n, c in METHODS.items() if c.class_agnostic] == ["eigencam"]
    with pytest.raises(ModelError, match="unknown method"):
        method_class("lime")


def test_layercam_is_positive_gradients_as_position_weights(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    a, g = _eager_gradients(lite0, batch, ESPRESSO)
    expected = np.maximum((np.maximum(g, 0) * a).sum(axis=2), 0)
    got = LayerCAM(lite0).explain(batch, ESPRESSO).cam
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * expected.max())


def test_layercam_at_an_earlier_layer_is_finer(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    result = LayerCAM(lite0, "block10_project_conv").explain(batch, TABBY)
    assert result.cam.shape[0] == 2 * 7 and result.problem is None


def test_eigencam_is_the_first_principal_component(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    a, _ = _eager_gradients(lite0, batch, 0)
    flat = a.reshape(-1, a.shape[2])
    centred = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = (centred @ vt[0]).reshape(a.shape[:2])
    if np.corrcoef(expected.ravel(), flat.sum(axis=1))[0, 1] < 0:
        expected = -expected
    method = EigenCAM(lite0)
    got = method.explain(batch, TABBY).cam
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    # No class in it: any target gives the same map.
    np.testing.assert_array_equal(method.explain(batch, ESPRESSO).cam, got)


def test_saliency_is_the_input_gradient(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = lite0.keras_model(x, training=False)[0, ESPRESSO]
    expected = np.abs(tape.gradient(score, x)[0].numpy()).max(axis=2)
    got = Saliency(lite0).explain(batch, ESPRESSO).cam
    assert got.shape == batch.shape[1:3]  # drawn at full input resolution
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * expected.max())


def test_smoothgrad_averages_gradients_of_noisy_copies(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    method = SmoothGrad(lite0, samples=SmoothGrad.CHUNK + 2, sigma=0.1)  # two chunks
    noise = method.noise(tf.constant(batch)).numpy()
    assert noise.shape == (SmoothGrad.CHUNK + 2, *batch.shape[1:])
    np.testing.assert_allclose(noise.std(), 0.1 * np.ptp(batch), rtol=0.05)
    grads = []
    for n in noise:  # one copy at a time, eagerly
        x = tf.constant(batch + n[None])
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = lite0.keras_model(x, training=False)[0, ESPRESSO]
        grads.append(tape.gradient(score, x)[0].numpy())
    expected = np.abs(np.mean(grads, axis=0)).max(axis=2)
    got = method.explain(batch, ESPRESSO).cam
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-3 * expected.max())
    # No noise: the vanilla gradient.
    plain = SmoothGrad(lite0, samples=2, sigma=0.0).explain(batch, ESPRESSO).cam
    np.testing.assert_allclose(plain, Saliency(lite0).explain(batch, ESPRESSO).cam,
                               rtol=1e-3, atol=1e-5)


def _guided_relu(max_value=None):
    """Guided ReLU written the textbook way: its own gradient, dy * (z > 0) * (dy > 0)."""

    @tf.custom_gradient
    def guided(z):
        y = tf.nn.relu(z) if max_value is None else tf.clip_by_value(z, 0.0, max_value)

        def grad(dy):
            inside = z > 0.0 if max_value is None else (z > 0.0) & (z < max_value)
            return dy * tf.cast(inside, dy.dtype) * tf.cast(dy > 0.0, dy.dtype)

        return y, grad

    return guided


@pytest.mark.parametrize("relu6", [False, True])
def test_guided_backprop_matches_a_textbook_guided_relu(relu6):
    model = _tiny(relu6)
    batch = tiny_input(model)
    net = model.keras_model
    c1, c2, fc = net.get_layer("c1"), net.get_layer("c2"), net.get_layer("fc")
    x = tf.constant(batch)
    with tf.GradientTape() as tape:  # the same network, by hand, with guided ReLUs
        tape.watch(x)
        h = tf.nn.conv2d(x, c1.kernel, 2, "VALID") + c1.bias
        h = _guided_relu()(h)
        h = tf.nn.conv2d(h, c2.kernel, 1, "SAME") + c2.bias
        h = _guided_relu(6.0 if relu6 else None)(h)
        score = (tf.reduce_mean(h, axis=(1, 2)) @ fc.kernel + fc.bias)[0, 1]
    guided = np.abs(tape.gradient(score, x)[0].numpy()).max(axis=2)
    gradcam = GradCAM(model).explain(batch, 1).cam
    up = tf.image.resize(gradcam[:, :, None], batch.shape[1:3], "bilinear")[:, :, 0].numpy()
    got = GuidedGradCAM(model).explain(batch, 1).cam
    assert np.ptp(got) > 0
    np.testing.assert_allclose(got, guided * up, rtol=1e-4, atol=1e-6 * got.max())
    # The user's model is left as it was: its plain gradient is still the plain one.
    plain = Saliency(model).explain(batch, 1).cam
    assert not np.allclose(plain, guided)


def test_guided_gradcam_works_on_relu6_lite0(lite0):
    frame = _cat_and_coffee()
    batch = lite0.prepare(frame)
    for target, (x0, x1) in ((TABBY, (0, 300)), (ESPRESSO, (300, 600))):
        result = GuidedGradCAM(lite0).explain(batch, target)
        assert result.cam.shape == batch.shape[1:3] and result.problem is None
        big = cv2.resize(result.cam, frame.shape[1::-1])
        columns = big.sum(axis=0)
        assert columns[x0:x1].sum() > 0.8 * columns.sum()
    np.testing.assert_allclose(result.logits, forward(lite0, batch).logits, rtol=1e-4,
                               atol=1e-4)


def test_scorecam_against_masked_forward_passes():
    model = _tiny()
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
    model = _tiny(seed=3)
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


@pytest.mark.parametrize("method,options", [("layercam", {}), ("scorecam", {"max_channels": 32}),
                                            ("occlusion", {"patch": 64, "stride": 48})])
def test_class_maps_peak_on_their_object(lite0, method, options):
    frame = _cat_and_coffee()
    batch = lite0.prepare(frame)
    explainer = make_method(method, lite0, **options)
    for target, (x0, x1) in ((EGYPTIAN_CAT, (0, 300)), (ESPRESSO, (300, 600))):
        big = cv2.resize(explainer.explain(batch, target).cam, frame.shape[1::-1])
        x = int(np.unravel_index(np.argmax(big), big.shape)[1])
        assert x0 <= x < x1, f"{method} map of class {target} peaks at x={x}"


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


def test_make_method_passes_only_the_options_a_method_takes(lite0):
    assert make_method("occlusion", lite0, patch=30, stride=None, max_channels=4).patch == 30
    assert make_method("gradcam", lite0, patch=30).name == "gradcam"
    assert make_method("scorecam", lite0, max_channels=7).max_channels == 7
