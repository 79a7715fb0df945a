"""The gradient methods (camview/maps/gradient.py: Grad-CAM, Grad-CAM++, Layer-CAM, HiResCAM,
XGrad-CAM) against their formulas written out here on an eager gradient, the compiled call
they share (camview/maps/shared_pass.py), on EfficientNet-Lite0 and SqueezeNet."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import (
    EGYPTIAN_CAT,
    ESPRESSO,
    TABBY,
    assert_positive_multiple,
    cat_and_coffee,
    eager_gradients,
    skimage_bgr,
)

from camview.errors import ModelError
from camview.maps import CAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM, make_method
from camview.maps.shared_pass import explain_shared
from camview.models import HeadKind

EARLY = "block10_project_conv"


def test_gradcam_equals_relu_cam_for_fc_head(lite0):
    assert lite0.head is HeadKind.FC
    batch = lite0.prepare(cat_and_coffee())
    for target in (EGYPTIAN_CAT, ESPRESSO, 7):
        cam = CAM(lite0).explain(batch, target).cam
        grad = GradCAM(lite0).explain(batch, target).cam
        assert_positive_multiple(np.maximum(cam, 0), grad)


def test_gradcam_plus_plus_matches_the_closed_form(lite0):
    """Grad-CAM++ against the formula written out in numpy on an eager gradient."""
    batch = lite0.prepare(skimage_bgr("coffee"))
    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        features, logits = lite0.feature_model(x, training=False)
        score = logits[0, ESPRESSO]
    g = tape.gradient(score, features)[0].numpy().astype(np.float64)
    a = features[0].numpy().astype(np.float64)
    denominator = 2 * g**2 + a.sum(axis=(0, 1)) * g**3
    alpha = g**2 / np.where(denominator != 0, denominator, 1)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(0, 1)) * np.exp(float(score))
    expected = np.maximum(a @ weights, 0)
    got = GradCAMPlusPlus(lite0).explain(batch, ESPRESSO).cam
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-3 * expected.max())


def test_compiled_pass_is_built_once_per_model_and_layer(lite0):
    """Every gradient method at a layer shares one compiled pass, traced once for any class."""
    batch = lite0.prepare(skimage_bgr("coffee"))
    GradCAM(lite0).explain(batch, 1)
    LayerCAM(lite0).explain(batch, 2)
    GradCAM(lite0).explain(batch, None)
    passes = [key for key in lite0.compiled if key[0] == "read pass"
              and key[1] == lite0.read_layer and key[2]]
    assert len(passes) == 1
    assert lite0.compiled[passes[0]].experimental_get_tracing_count() == 1


def test_gradcam_at_a_named_layer(lite0):
    layer = lite0.keras_model.layers[-12].name
    while len(lite0.keras_model.get_layer(layer).output.shape) != 4:
        layer = lite0.keras_model.layers[lite0.keras_model.layers.index(
            lite0.keras_model.get_layer(layer)) - 1].name
    result = GradCAM(lite0, layer).explain(lite0.prepare(skimage_bgr("chelsea")))
    assert result.cam.ndim == 2 and result.problem is None
    with pytest.raises(ModelError, match="CAM reads only"):
        CAM(lite0, layer)


def test_layercam_is_positive_gradients_as_position_weights(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    a, g = eager_gradients(lite0, batch, ESPRESSO)
    expected = np.maximum((np.maximum(g, 0) * a).sum(axis=2), 0)
    got = LayerCAM(lite0).explain(batch, ESPRESSO).cam
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * expected.max())


def test_layercam_at_an_earlier_layer_is_finer(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    result = LayerCAM(lite0, "block10_project_conv").explain(batch, TABBY)
    assert result.cam.shape[0] == 2 * 7 and result.problem is None


def test_hirescam_is_cam_over_the_positions_behind_global_pooling(lite0):
    """The paper's theorem: with pooling then one dense layer, d S / d A = W / (h w)."""
    batch = lite0.prepare(skimage_bgr("chelsea"))
    cam = CAM(lite0).explain(batch, ESPRESSO).cam
    got = HiResCAM(lite0).explain(batch, ESPRESSO).cam
    assert (got < 0).any()  # signed: no ReLU, as in the paper
    np.testing.assert_allclose(got, cam / cam.size, rtol=1e-3, atol=1e-4 * np.abs(cam).max()
                               / cam.size)


def test_hirescam_and_xgradcam_at_an_earlier_layer(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    a, g = eager_gradients(lite0, batch, ESPRESSO, EARLY)
    hires = (g * a).sum(axis=2)
    got = HiResCAM(lite0, EARLY).explain(batch, ESPRESSO).cam
    np.testing.assert_allclose(got, hires, rtol=1e-3, atol=1e-4 * np.abs(hires).max())
    weights = (a * g).sum(axis=(0, 1)) / (a.sum(axis=(0, 1)) + 1e-7)
    xgrad = np.maximum(a @ weights, 0)
    got = XGradCAM(lite0, EARLY).explain(batch, ESPRESSO).cam
    np.testing.assert_allclose(got, xgrad, rtol=1e-3, atol=1e-4 * xgrad.max())
    # Not Grad-CAM under another name: the weights differ where the gradient varies.
    assert not np.allclose(got, GradCAM(lite0, EARLY).explain(batch, ESPRESSO).cam, rtol=0.05)


def test_new_gradient_methods_share_one_pass(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    methods = [make_method(n, lite0, EARLY) for n in ("gradcam", "hirescam", "xgradcam")]
    shared = explain_shared(lite0, methods, batch, TABBY)
    for method in methods:
        own = method.explain(batch, TABBY).cam
        np.testing.assert_allclose(shared[method].cam, own, rtol=1e-4,
                                   atol=1e-5 * np.abs(own).max())
