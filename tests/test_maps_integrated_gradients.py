"""HiResCAM, XGrad-CAM, Integrated Gradients and RISE, each against its maths written out
here (numpy, or TensorFlow run eagerly another way), on EfficientNet-Lite0 and a tiny CNN."""

import json
import threading

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO, skimage_bgr, tiny_cam_model, tiny_input

from camview.cli import main
from camview.maps import (
    CAM,
    RISE,
    Cancelled,
    GradCAM,
    HiResCAM,
    IntegratedGradients,
    XGradCAM,
    make_method,
)
from camview.maps.integrated_gradients import completeness_gap
from camview.maps.shared_pass import explain_shared
from camview.models import CamModel
from camview.sources.images import load_image

TABBY, EGYPTIAN_CAT, ESPRESSO = 281, 285, 967
EARLY = "block10_project_conv"


def _tiny(seed: int = 0) -> CamModel:
    """A small CNN with a non-linear head (a dense layer with ReLU after pooling), 3 classes."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(3, name="fc")(x)
    return tiny_cam_model(keras.Model(inputs, outputs))


def _eager(model: CamModel, layer: str, batch: np.ndarray, target: int):
    """Activations at `layer` and the class score's gradient to them, eagerly (float64)."""
    with tf.GradientTape() as tape:
        features, logits = model.features_at(layer)(tf.constant(batch), training=False)
        score = logits[0, target]
    grads = tape.gradient(score, features)[0].numpy().astype(np.float64)
    return features[0].numpy().astype(np.float64), grads


def _cat_and_coffee() -> np.ndarray:
    cat = cv2.resize(skimage_bgr("chelsea"), (300, 300), interpolation=cv2.INTER_AREA)
    coffee = cv2.resize(skimage_bgr("coffee"), (300, 300), interpolation=cv2.INTER_AREA)
    return np.hstack([cat, coffee])


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
    a, g = _eager(lite0, EARLY, batch, ESPRESSO)
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


def test_integrated_gradients_against_eager_gradients():
    model = _tiny()
    batch = tiny_input(model)
    method = IntegratedGradients(model, steps=12, baseline="blur")
    x0 = method.baseline_of(batch)
    got = method.explain(batch, 1)
    steps = got.details["completeness"]["steps"]  # 12, or more where 12 missed by > 5 %
    assert steps in (12, 24, 48, 96)
    # The same partition from the class score along the path, computed eagerly here.
    along = np.linspace(0, 1, 2 * 12 + 1)
    path = np.stack([x0[0] + a * (batch[0] - x0[0]) for a in along]).astype(np.float32)
    alphas, widths = method.partition(model.keras_model(path).numpy()[:, 1].astype(np.float64),
                                      steps)
    assert alphas.shape == (steps,) and abs(widths.sum() - 1) < 1e-6
    total = np.zeros(batch.shape[1:])
    for a, w in zip(alphas, widths, strict=True):
        x = tf.constant(x0 + a * (batch - x0))
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = model.keras_model(x, training=False)[0, 1]
        total += w * tape.gradient(score, x)[0].numpy()
    expected = ((batch[0] - x0[0]) * total).sum(axis=2)
    np.testing.assert_allclose(got.cam, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    logits = model.keras_model(np.concatenate([batch, x0])).numpy()[:, 1]
    done = got.details["completeness"]
    assert done["score_difference"] == pytest.approx(logits[0] - logits[1], abs=1e-5)
    assert done["attribution_sum"] == pytest.approx(expected.sum(), rel=1e-4, abs=1e-6)
    # Completeness: the sum converges to the score difference as the steps grow.
    fine = IntegratedGradients(model, steps=256, baseline="blur").explain(batch, 1)
    assert completeness_gap(fine.details) < 0.01


@pytest.mark.parametrize("baseline", ["black", "blur"])
def test_integrated_gradients_completeness_at_default_steps(lite0, baseline):
    """The attributions sum to the logit difference within 5 % at the default 32 steps."""
    batch = lite0.prepare(skimage_bgr("chelsea"))
    result = IntegratedGradients(lite0, baseline=baseline).explain(batch)
    assert result.target in (TABBY, EGYPTIAN_CAT, 282)  # a cat
    done = result.details["completeness"]
    assert abs(done["score_difference"]) > 1.0
    assert completeness_gap(result.details) <= 0.05, done


@pytest.mark.parametrize("photo", ["astronaut", "camera", "coffee", "rocket"])
def test_integrated_gradients_keeps_its_promise_on_every_demo_photo(lite0, photo):
    """Completeness within 5 % on photos the default steps were not tuned on (a held-out
    squirrel missed by 6.5 %): the steps are doubled where the first run misses."""
    image, _ = load_image(DEMO / f"{photo}.jpg")
    result = IntegratedGradients(lite0).explain(lite0.prepare(image))
    done = result.details["completeness"]
    assert completeness_gap(result.details) <= 0.05, done
    assert done["steps"] in (32, 64, 128, 256)


def test_render_json_reports_completeness(tmp_path):
    photo = tmp_path / "chelsea.png"
    cv2.imwrite(str(photo), cv2.resize(skimage_bgr("chelsea"), (150, 100)))
    out = tmp_path / "ig.json"
    assert main(["render", str(photo), "--json", str(out), "--method", "integrated-gradients",
                 "--steps", "4", "--baseline", "blur", "--no-progress"]) == 0
    done = json.loads(out.read_text())["frames"][0]["completeness"]
    assert set(done) == {"attribution_sum", "score_difference", "steps"}
    assert all(np.isfinite(v) for v in done.values())


def test_rise_against_masked_forward_passes():
    model = _tiny(seed=2)
    batch = tiny_input(model)
    method = RISE(model, masks=40)
    masks = method.mask_batch(batch.shape[1:3], 0, 40)
    probs = tf.nn.softmax(model.keras_model(batch * masks[:, :, :, None])).numpy()[:, 2]
    expected = np.tensordot(probs, masks, axes=1) / (40 * RISE.KEEP)
    got = method.explain(batch, 2)
    np.testing.assert_allclose(got.cam, expected, rtol=1e-4, atol=1e-6)
    assert got.cam.shape == batch.shape[1:3]


def test_rise_masks_are_smooth_seeded_and_independent_of_batching():
    method = RISE(_tiny(), masks=8)
    masks = method.mask_batch((224, 337), 0, 64)
    assert masks.min() >= 0 and masks.max() <= 1
    assert 0.4 < masks.mean() < 0.6  # cells kept with probability 1/2
    assert np.mean((masks > 0.02) & (masks < 0.98)) > 0.2  # bilinear ramps, not a binary grid
    np.testing.assert_array_equal(method.mask_batch((224, 337), 5, 9), masks[5:9])
    assert not np.array_equal(masks[0], masks[1])


def test_rise_and_integrated_gradients_report_progress_and_cancel(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    for method in (RISE(lite0, masks=40), IntegratedGradients(lite0, steps=20)):
        cancel = threading.Event()
        seen: list[tuple[int, int]] = []

        def stop(done: int, total: int, seen=seen, cancel=cancel) -> None:
            seen.append((done, total))
            cancel.set()

        with pytest.raises(Cancelled):
            method.explain(batch, progress=stop, cancel=cancel)
        assert len(seen) == 1 and seen[0][0] < seen[0][1]


@pytest.mark.parametrize("method,options", [
    ("hirescam", {}), ("xgradcam", {}), ("integrated-gradients", {"steps": 16}),
    ("rise", {"masks": 400})])
def test_new_maps_peak_on_their_object(lite0, method, options):
    """The pointing game on real photos: the cat's map peaks on the cat, the coffee's on the
    coffee (pixel-level maps smoothed first, as one points at a blob, not a pixel)."""
    frame = _cat_and_coffee()
    batch = lite0.prepare(frame)
    explainer = make_method(method, lite0, **options)
    for target, (x0, x1) in ((EGYPTIAN_CAT, (0, 300)), (ESPRESSO, (300, 600))):
        big = cv2.resize(explainer.explain(batch, target).cam, frame.shape[1::-1])
        big = cv2.GaussianBlur(big, (0, 0), 12)
        x = int(np.unravel_index(np.argmax(big), big.shape)[1])
        assert x0 <= x < x1, f"{method} map of class {target} peaks at x={x}"


def test_new_options_are_checked(tmp_path, capsys):
    photo = tmp_path / "chelsea.png"
    cv2.imwrite(str(photo), skimage_bgr("chelsea"))
    out = str(tmp_path / "x.json")
    assert main(["render", str(photo), "--json", out, "--method", "gradcam",
                 "--masks", "10"]) == 2
    assert "--masks applies to rise only" in capsys.readouterr().err
    assert main(["render", str(photo), "--json", out, "--method", "rise", "--masks", "0"]) == 2
    assert "--masks must be a whole number >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["render", str(photo), "--json", out, "--method", "ig", "--baseline", "white"])
    assert stop.value.code == 2


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
