"""Sanity checks (Adebayo et al. 2018): cascading randomisation of a copy of the model."""

import json

import cv2
import numpy as np
import pytest
from helpers import TABBY, chelsea_pan, skimage_bgr, write_video
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from camview.checks.sanity import (
    _head_names,
    cascade,
    copy_model,
    randomise,
    sanity_check,
    spearman,
    ssim,
    weighted_layers,
)
from camview.cli import main


def test_ssim_is_scikit_images_gaussian_ssim():
    rng = np.random.default_rng(0)
    for _ in range(3):
        a = cv2.GaussianBlur(rng.random((64, 64)), (0, 0), 3)
        b = cv2.GaussianBlur(a + 0.3 * rng.random((64, 64)), (0, 0), 2)
        a, b = ((m - m.min()) / np.ptp(m) for m in (a, b))  # as ssim prepares them
        expected = structural_similarity(a, b, data_range=1.0, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False)
        assert ssim(a, b) == pytest.approx(expected, abs=1e-6)
    assert ssim(a, a) == pytest.approx(1.0)


def test_spearman_is_the_rank_correlation_of_absolute_maps():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 10)), rng.normal(size=(7, 10))
    assert spearman(a, b) == pytest.approx(spearmanr(np.abs(a).ravel(),
                                                     np.abs(b).ravel()).statistic)
    assert spearman(a, -a) == pytest.approx(1.0)  # the sign does not count
    assert spearman(a, np.zeros_like(a)) == 0.0


def test_cascade_goes_top_down_from_the_head_to_the_stem(lite0):
    copy = copy_model(lite0)
    layers = weighted_layers(copy.keras_model)
    head = _head_names(copy)
    groups = cascade(layers, head)
    assert len(groups) == 5 and [g.name for g in groups[0]] == sorted(head) == ["fc"]
    order = [layer.name for g in groups for layer in g]
    assert sorted(order) == sorted(layer.name for layer in layers)  # each layer once
    assert order == [layer.name for layer in layers][::-1]  # top-down
    assert layers[0] in groups[-1]  # the stem last


def test_sanity_check_leaves_the_users_model_alone(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    before = lite0.keras_model(batch).numpy()
    weights = [w.copy() for w in lite0.keras_model.get_weights()]
    result = sanity_check(lite0, batch, ["gradcam", "saliency"], TABBY, steps=2)
    after = lite0.keras_model(batch).numpy()
    np.testing.assert_array_equal(before, after)
    for w0, w1 in zip(weights, lite0.keras_model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)
    # The copy's original maps are the user's model's own.
    from camview.maps import make_method

    own = make_method("gradcam", lite0).explain(batch, TABBY).cam
    np.testing.assert_allclose(result.maps["gradcam"][0], own, rtol=1e-4, atol=1e-6)
    assert len(result.steps) == 2 and result.steps[0] == ["fc"]
    assert len(result.steps[1]) == len(weighted_layers(lite0.keras_model))
    for method in ("gradcam", "saliency"):
        assert len(result.spearman[method]) == 2 and len(result.ssim[method]) == 2
        # Once the head is random, the class's map is another map.
        assert result.spearman[method][-1] < 0.9


def test_render_sanity_writes_numbers_figure_and_verdicts(tmp_path, capsys):
    photo = tmp_path / "chelsea.png"
    cv2.imwrite(str(photo), skimage_bgr("chelsea"))
    out, doc = tmp_path / "chelsea_cam.png", tmp_path / "chelsea.json"
    assert main(["render", str(photo), "-o", str(out), "--json", str(doc), "--sanity",
                 "--compare", "gradcam,layercam", "--no-progress"]) == 0
    sanity = json.loads(doc.read_text())["frames"][0]["sanity"]
    assert len(sanity["steps"]) == 5 and sanity["steps"][0] == ["fc"]
    assert sanity["step_names"][0] == "head" and sanity["step_names"][-1].startswith("stem")
    for method in ("gradcam", "layercam"):
        scores = sanity["methods"][method]
        assert len(scores["spearman"]) == len(scores["ssim"]) == 5
        assert all(-1 <= v <= 1 for v in scores["spearman"] + scores["ssim"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["gradcam", "layercam"]
    assert "changes with the network" in lines[0]
    figure = cv2.imread(str(tmp_path / "chelsea_cam-sanity.png"))
    assert figure is not None and figure.shape[1] > 5 * figure.shape[0] / 2 * 0.9  # 2 x 6
    assert out.is_file()


def test_render_sanity_takes_one_image(tmp_path, capsys):
    clip = write_video(tmp_path / "pan.avi", chelsea_pan(3))
    assert main(["render", str(clip), "--json", str(tmp_path / "x.json"), "--sanity"]) == 2
    assert "--sanity takes one image" in capsys.readouterr().err


def test_window_sanity_check_shows_the_figure(qtbot, window):
    from PyQt6.QtWidgets import QLabel

    window.session.actions["sanity_check"].trigger()
    assert window.session.pipeline.frozen
    qtbot.waitUntil(lambda: window.sanity.dialog is not None, timeout=180000)
    dialog = window.sanity.dialog
    note = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "cam:" in note and "gradcam:" in note and "saliency:" in note
    assert "changes with the network" in note
    # The figure: 3 methods x (original + 5 steps) panels of the frame shown.
    picture = dialog.view.image
    assert picture is not None and picture.shape[1] > 2 * picture.shape[0]


def test_every_method_reads_the_weights_the_model_has_now():
    """Each layer of a small fc-head network randomised in turn: every method's map changes
    with every layer it depends on (all of them, but the head for Eigen-CAM, which reads the
    activations alone). CAM read its dense weights once at load and RISE reused the masked
    passes of the same input, so their sanity rows after a step were the trained model's."""
    import keras
    from helpers import tiny_cam_model, tiny_input

    from camview.maps import METHODS, make_method

    keras.utils.set_random_seed(0)  # the same small network every run
    inputs = keras.Input((20, 24, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="stem")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = tiny_cam_model(keras.Model(inputs, outputs))
    batch = tiny_input(model)
    rng = np.random.default_rng(0)
    unchanged = []
    for layer_name in ("head", "features", "stem"):
        copy = copy_model(model)
        methods = {name: make_method(name, copy) for name, cls in METHODS.items()
                   if cls.applies_to(copy) is None}  # rollout: vision transformers only
        before = {name: m.explain(batch, 1).cam for name, m in methods.items()}
        randomise(copy.keras_model.get_layer(layer_name), rng)
        for name, method in methods.items():
            after = method.explain(batch, 1).cam
            flat = not np.any(after) and not np.any(before[name])  # nothing to compare
            if not flat and np.allclose(after, before[name], rtol=1e-5, atol=1e-7):
                unchanged.append(f"{name} after {layer_name}")
    assert unchanged == ["eigencam after head"], "maps that ignored a randomised layer"
