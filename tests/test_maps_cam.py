"""CAM and Eigen-CAM (camview/maps/cam.py, eigen.py): the maps read from the activations alone,
against the dense layer's weighted sum, SqueezeNet's class channel and the principal component
computed here, on the real pretrained networks."""

import keras
import numpy as np
import pytest
from helpers import (
    ESPRESSO,
    TABBY,
    assert_positive_multiple,
    eager_gradients,
    peak_xy,
    skimage_bgr,
)

from camview.errors import ModelError
from camview.maps import CAM, EigenCAM, GradCAM, make_method
from camview.models import HeadKind, load_model


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
    assert_positive_multiple(result.cam, GradCAM(squeezenet).explain(batch, TABBY).cam)


def test_tabby_map_peaks_on_the_cat(squeezenet, lite0):
    frame = skimage_bgr("chelsea")  # the cat fills x < ~370; shelves and a wall to its right
    for model in (squeezenet, lite0):
        result = CAM(model).explain(model.prepare(frame), TABBY)
        x, y = peak_xy(result.cam, frame.shape[:2])
        assert x < 370, f"{model.name}: tabby map peaks at ({x}, {y}), off the cat"


def test_cam_refused_for_gradient_only_nets():
    vgg = load_model("vgg16", weights="none")
    with pytest.raises(ModelError, match="gradient-only"):
        make_method("cam", vgg)
    assert make_method("gradcam", vgg).explain(vgg.prepare(skimage_bgr("coffee"))).cam.shape == (
        14, 14)


def test_eigencam_is_the_first_principal_component(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    a, _ = eager_gradients(lite0, batch, 0)
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
