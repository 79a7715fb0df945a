"""Integrated Gradients (camview/maps/integrated_gradients.py) against the path integral taken
here with eager gradients, its completeness promise on every demo photo, and the
completeness `camview render --json` reports."""

import json

import cv2
import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO, EGYPTIAN_CAT, TABBY, skimage_bgr, tiny_hidden_dense_cnn, tiny_input

from camview.cli import main
from camview.maps import IntegratedGradients
from camview.maps.integrated_gradients import completeness_gap
from camview.sources.images import load_image


def test_integrated_gradients_against_eager_gradients():
    model = tiny_hidden_dense_cnn()
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
