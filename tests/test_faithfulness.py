"""Deletion and insertion scores against a direct loop, and on the real network: the maps
beat a random map."""

import keras
import numpy as np
import tensorflow as tf
from helpers import skimage_bgr

from camview.checks.faithfulness import RANDOM, removal_masks, score_map, score_maps
from camview.maps import make_method
from camview.models import CamModel, ResizeMode


def test_masks_remove_the_most_salient_pixels_first():
    saliency = np.array([[0.1, 0.9], [0.5, 0.7]], np.float32)
    masks = removal_masks(saliency, steps=4)
    assert masks.shape == (5, 2, 2)
    assert masks[0].sum() == 0 and masks[4].all()
    assert masks[1].tolist() == [[False, True], [False, False]]
    assert masks[2].tolist() == [[False, True], [False, True]]


def test_curves_and_areas_against_a_direct_loop():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = CamModel("tiny", keras.Model(inputs, keras.layers.Dense(3)(x)),
                     labels=["a", "b", "c"], input_size=(12, 16), resize=ResizeMode.SQUASH,
                     preprocess=lambda bgr: (bgr.astype(np.float32) - 127.0) / 64.0)
    import cv2

    batch = model.prepare(cv2.resize(skimage_bgr("coffee"), (16, 12)))
    cam = np.random.default_rng(2).random((12, 16)).astype(np.float32)
    got = score_map(model, batch, cam, 1, steps=6)
    grey = (128 - 127.0) / 64.0
    blurred = cv2.GaussianBlur(batch[0], (0, 0), 5.0)
    order = np.argsort(-cam.ravel(), kind="stable")
    deletion, insertion = [], []
    for i in range(7):
        chosen = np.zeros(12 * 16, bool)
        chosen[order[:round(i * 12 * 16 / 6)]] = True
        chosen = chosen.reshape(12, 16, 1)
        for images, curve in (((np.where(chosen, grey, batch[0])), deletion),
                              ((np.where(chosen, batch[0], blurred)), insertion)):
            curve.append(float(tf.nn.softmax(model.keras_model(images[None]))[0, 1]))
    np.testing.assert_allclose(got.deletion, deletion, rtol=1e-4)
    np.testing.assert_allclose(got.insertion, insertion, rtol=1e-4)
    area = sum((deletion[i] + deletion[i + 1]) / 2 / 6 for i in range(6))
    assert abs(got.deletion_auc - area) < 1e-5
    assert set(got.as_json()) == {"deletion_auc", "insertion_auc"}


def test_class_maps_beat_a_random_map(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    result = make_method("gradcam", lite0).explain(batch)
    scores = score_maps(lite0, batch, {"gradcam": result.cam}, result.target)
    assert set(scores) == {"gradcam", RANDOM}
    assert scores["gradcam"].deletion_auc < scores[RANDOM].deletion_auc
    assert scores["gradcam"].insertion_auc > scores[RANDOM].insertion_auc
    p = result.probabilities[result.target]
    for s in scores.values():  # both curves end (deletion: start) at the input itself
        assert abs(s.deletion[0] - p) < 1e-3 and abs(s.insertion[-1] - p) < 1e-3


def test_maps_equal_up_to_scale_share_their_curves_and_the_ends_are_shared(lite0):
    """Through EfficientNet's pooling + dense head HiResCAM is Grad-CAM up to a positive
    scale: score_maps scores it once, and what it gives equals scoring each map alone."""
    from camview.checks.faithfulness import same_ranking

    batch = lite0.prepare(skimage_bgr("coffee"))
    grad = make_method("gradcam", lite0).explain(batch)
    hires = make_method("hirescam", lite0).explain(batch, grad.target)
    layer = make_method("layercam", lite0).explain(batch, grad.target)
    assert same_ranking(grad.cam, hires.cam) and not same_ranking(grad.cam, layer.cam)
    assert same_ranking(grad.cam, 3 * grad.cam) and not same_ranking(grad.cam, -grad.cam)
    maps = {"gradcam": grad.cam, "hirescam": hires.cam, "layercam": layer.cam}
    seen = []
    scores = score_maps(lite0, batch, maps, grad.target, steps=6,
                        progress=lambda done, total: seen.append((done, total)))
    assert scores["hirescam"] is scores["gradcam"]
    assert seen[-1][0] == seen[-1][1]  # the progress ends at its total
    for name, cam in maps.items():
        alone = score_map(lite0, batch, cam, grad.target, steps=6)
        np.testing.assert_allclose(scores[name].deletion, alone.deletion, atol=1e-5)
        np.testing.assert_allclose(scores[name].insertion, alone.insertion, atol=1e-5)
