"""The maps against their maths, on the real pretrained networks."""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import skimage_bgr

from camview.errors import ModelError
from camview.maps import CAM, GradCAM, GradCAMPlusPlus, MapResult, make_method, map_problem
from camview.models import HeadKind, load_model

TABBY, EGYPTIAN_CAT, ESPRESSO = 281, 285, 967


def _cat_and_coffee() -> np.ndarray:
    """A real two-object frame: the cat photo left, the espresso photo right (both CC0)."""
    cat = cv2.resize(skimage_bgr("chelsea"), (300, 300), interpolation=cv2.INTER_AREA)
    coffee = cv2.resize(skimage_bgr("coffee"), (300, 300), interpolation=cv2.INTER_AREA)
    return np.hstack([cat, coffee])


def _peak(cam: np.ndarray, frame_hw) -> tuple[int, int]:
    big = cv2.resize(cam, (frame_hw[1], frame_hw[0]), interpolation=cv2.INTER_LINEAR)
    y, x = np.unravel_index(np.argmax(big), big.shape)
    return int(x), int(y)


def _assert_positive_multiple(a: np.ndarray, b: np.ndarray) -> None:
    """b == s * a for one s > 0 (both maps flattened)."""
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    assert np.ptp(a) > 0
    scale = float(a @ b / (a @ a))
    assert scale > 0
    np.testing.assert_allclose(b, scale * a, atol=1e-4 * np.abs(b).max())


def test_gradcam_equals_relu_cam_for_fc_head(lite0):
    assert lite0.head is HeadKind.FC
    batch = lite0.prepare(_cat_and_coffee())
    for target in (EGYPTIAN_CAT, ESPRESSO, 7):
        cam = CAM(lite0).explain(batch, target).cam
        grad = GradCAM(lite0).explain(batch, target).cam
        _assert_positive_multiple(np.maximum(cam, 0), grad)


def test_cam_is_the_dense_weighted_sum(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    features = keras.Model(lite0.keras_model.input,
                           lite0.keras_model.get_layer(lite0.read_layer).output)(batch)[0]
    kernel = lite0.keras_model.get_layer("fc").kernel.numpy()
    expected = np.tensordot(np.asarray(features), kernel[:, TABBY], axes=[[2], [0]])
    np.testing.assert_allclose(CAM(lite0).explain(batch, TABBY).cam, expected,
                               rtol=1e-4, atol=1e-4)


def test_squeezenet_cam_is_its_relu_conv10_channel(squeezenet):
    assert squeezenet.head is HeadKind.DIRECT and squeezenet.read_layer == "relu_conv10"
    batch = squeezenet.prepare(skimage_bgr("chelsea"))
    relu_conv10 = keras.Model(squeezenet.keras_model.input,
                              squeezenet.keras_model.get_layer("relu_conv10").output)
    expected = np.asarray(relu_conv10(batch))[0, :, :, TABBY]
    result = CAM(squeezenet).explain(batch, TABBY)
    np.testing.assert_allclose(result.cam, expected, rtol=1e-5, atol=1e-5)
    # Its global average is the class score.
    np.testing.assert_allclose(result.logits[TABBY], expected.mean(), rtol=1e-4)
    _assert_positive_multiple(result.cam, GradCAM(squeezenet).explain(batch, TABBY).cam)


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


@pytest.mark.parametrize("method", ["cam", "gradcam", "gradcam++"])
def test_each_class_map_peaks_on_its_object(lite0, method):
    frame = _cat_and_coffee()
    batch = lite0.prepare(frame)
    explainer = make_method(method, lite0)
    for target, (x0, x1) in ((TABBY, (0, 300)), (EGYPTIAN_CAT, (0, 300)), (ESPRESSO, (300, 600))):
        x, _ = _peak(explainer.explain(batch, target).cam, frame.shape[:2])
        assert x0 <= x < x1, f"{method} map of class {target} peaks at x={x}"


def test_tabby_map_peaks_on_the_cat(squeezenet, lite0):
    frame = skimage_bgr("chelsea")  # the cat fills x < ~370; shelves and a wall to its right
    for model in (squeezenet, lite0):
        result = CAM(model).explain(model.prepare(frame), TABBY)
        x, y = _peak(result.cam, frame.shape[:2])
        assert x < 370, f"{model.name}: tabby map peaks at ({x}, {y}), off the cat"


def test_default_target_is_top1(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    for cls in (CAM, GradCAM, GradCAMPlusPlus):
        result = cls(lite0).explain(batch)
        assert result.target == int(np.argmax(result.logits)) == ESPRESSO
        assert result.top(3)[0][0] == ESPRESSO


def test_compiled_function_is_built_once_per_model_and_layer(lite0):
    first = GradCAM(lite0)
    second = GradCAM(lite0)
    assert first._run is second._run
    batch = lite0.prepare(skimage_bgr("coffee"))
    first.explain(batch, 1)
    first.explain(batch, 2)
    assert first._run.experimental_get_tracing_count() == 1


def test_gradcam_at_a_named_layer(lite0):
    layer = lite0.keras_model.layers[-12].name
    while len(lite0.keras_model.get_layer(layer).output.shape) != 4:
        layer = lite0.keras_model.layers[lite0.keras_model.layers.index(
            lite0.keras_model.get_layer(layer)) - 1].name
    result = GradCAM(lite0, layer).explain(lite0.prepare(skimage_bgr("chelsea")))
    assert result.cam.ndim == 2 and result.problem is None
    with pytest.raises(ModelError, match="CAM reads only"):
        CAM(lite0, layer)


def test_cam_refused_for_gradient_only_nets():
    vgg = load_model("vgg16", weights="none")
    with pytest.raises(ModelError, match="gradient-only"):
        make_method("cam", vgg)
    assert make_method("gradcam", vgg).explain(vgg.prepare(skimage_bgr("coffee"))).cam.shape == (
        14, 14)


def test_map_problems_are_named():
    assert "NaN" in MapResult(np.array([[np.nan, 1.0]], np.float32), np.zeros(2), 0).problem
    assert "flat" in map_problem(np.zeros((7, 7), np.float32))
    tiny = np.random.default_rng(0).random((7, 7)).astype(np.float32) * 1e-12
    assert map_problem(tiny) is None  # random-weight nets give honest maps this small


def test_unknown_method():
    with pytest.raises(ModelError, match="unknown method"):
        make_method("lime", None)
