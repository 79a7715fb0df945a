"""The input-gradient methods (camview/maps/saliency.py: saliency, SmoothGrad, guided
Grad-CAM) against the gradient taken here another way, on EfficientNet-Lite0 and on a tiny
Keras model with a textbook guided ReLU written here."""

import cv2
import numpy as np
import pytest
import tensorflow as tf
from helpers import (
    ESPRESSO,
    TABBY,
    cat_and_coffee,
    forward,
    skimage_bgr,
    tiny_input,
    tiny_relu_cnn,
)

from camview.maps import GradCAM, GuidedGradCAM, Saliency, SmoothGrad


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
    model = tiny_relu_cnn(relu6)
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
    frame = cat_and_coffee()
    batch = lite0.prepare(frame)
    for target, (x0, x1) in ((TABBY, (0, 300)), (ESPRESSO, (300, 600))):
        result = GuidedGradCAM(lite0).explain(batch, target)
        assert result.cam.shape == batch.shape[1:3] and result.problem is None
        big = cv2.resize(result.cam, frame.shape[1::-1])
        columns = big.sum(axis=0)
        assert columns[x0:x1].sum() > 0.8 * columns.sum()
    np.testing.assert_allclose(result.logits, forward(lite0, batch).logits, rtol=1e-4,
                               atol=1e-4)
