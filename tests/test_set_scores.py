"""camview evaluate --metrics: each method's maps scored on every image of a set."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import DEMO
from scipy.stats import t

from camview.checks.faithfulness import RANDOM, confidence_changes, random_map, score_maps
from camview.cli import main
from camview.drawing.upsample import upsample_map
from camview.maps import make_method
from camview.sets.views.set_scores import mean_interval


@pytest.fixture
def small_set(tmp_path) -> Path:
    root = tmp_path / "set"
    (root / "tabby").mkdir(parents=True)
    (root / "espresso").mkdir()
    shutil.copy(DEMO / "chelsea.jpg", root / "tabby" / "chelsea.jpg")
    photo = cv2.imread(str(DEMO / "chelsea.jpg"))
    cv2.imwrite(str(root / "tabby" / "mirrored.png"), np.ascontiguousarray(photo[:, ::-1]))
    shutil.copy(DEMO / "coffee.jpg", root / "espresso" / "coffee.jpg")
    return root


def test_mean_interval_is_students_t():
    values = [0.2, 0.5, 0.3, 0.9]
    got = mean_interval(values)
    low, high = t.interval(0.95, 3, loc=np.mean(values), scale=np.std(values, ddof=1) / 2)
    assert got["count"] == 4 and got["mean"] == pytest.approx(np.mean(values))
    assert (got["low"], got["high"]) == pytest.approx((low, high), abs=1e-6)
    assert mean_interval([0.4])["low"] is None and mean_interval([])["count"] == 0


def test_average_drop_and_increase_against_masked_inputs(lite0):
    image = cv2.imread(str(DEMO / "coffee.jpg"))
    batch = lite0.prepare(image)
    result = make_method("gradcam", lite0).explain(batch)
    got = confidence_changes(lite0, batch, {"gradcam": result.cam}, result.target)["gradcam"]
    big = upsample_map(result.cam, batch.shape[2:0:-1])
    mask = (big - big.min()) / np.ptp(big)
    probs = lite0.keras_model(np.concatenate([batch, batch * mask[None, :, :, None]]))
    probs = np.asarray(probs)
    p = np.exp(probs - probs.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True))[:, result.target]
    assert got.probability == pytest.approx(p[0], rel=1e-4)
    assert got.masked == pytest.approx(p[1], rel=1e-3, abs=1e-6)
    assert got.drop == pytest.approx(100 * max(0, p[0] - p[1]) / p[0], rel=1e-3, abs=1e-4)
    assert got.increase == (100.0 if p[1] > p[0] else 0.0)


def test_evaluate_metrics_json_and_report(lite0, small_set, tmp_path, capsys):
    out, report = tmp_path / "set.json", tmp_path / "set.html"
    assert main(["evaluate", str(small_set), "--metrics", "gradcam,layercam", "--json",
                 str(out), "--report", str(report), "--no-progress"]) == 0
    section = json.loads(out.read_text())["metrics"]
    assert section["metrics"] == ["deletion_auc", "insertion_auc", "average_drop",
                                  "increase_in_confidence"]
    assert sorted(section["ranking"]) == ["gradcam", "layercam"]
    assert len(section["images"]) == 3
    for method in ("gradcam", "layercam", RANDOM):
        for metric in section["metrics"]:
            s = section["summary"][method][metric]
            assert s["count"] == 3 and s["low"] <= s["mean"] <= s["high"]
    # One image's numbers are the faithfulness module's own for that image and class.
    first = section["images"][0]
    image = cv2.imread(first["path"])
    batch = lite0.prepare(image)
    cam = make_method("gradcam", lite0).explain(batch, first["target"]["index"]).cam
    maps = {"gradcam": cam, "layercam": make_method("layercam", lite0).explain(
        batch, first["target"]["index"]).cam}
    direct = score_maps(lite0, batch, maps, first["target"]["index"])
    change = confidence_changes(lite0, batch, {**maps, RANDOM: random_map(maps, batch.shape[1:3])},
                                first["target"]["index"])
    for name in ("gradcam", RANDOM):
        got = first["scores"][name]
        assert got["deletion_auc"] == pytest.approx(direct[name].deletion_auc, abs=1e-4)
        assert got["insertion_auc"] == pytest.approx(direct[name].insertion_auc, abs=1e-4)
        assert got["average_drop"] == pytest.approx(change[name].drop, abs=1e-3)
    html = report.read_text()
    assert "Which map to believe" in html and "random map (baseline)" in html
    assert section["leaders"][0] == section["ranking"][0]
    said = capsys.readouterr().out
    if len(section["leaders"]) == 1:
        best = {"gradcam": "Grad-CAM", "layercam": "Layer-CAM"}[section["leaders"][0]]
        assert f"{best}&#x27;s maps are the ones its output supports best" in html
        assert f"{best}'s maps are the ones its output supports best" in said
    else:
        assert "are tied for the maps its output supports best" in html
        assert "are tied for the maps its output supports best" in said


def test_a_method_is_named_best_only_when_it_clears_the_others():
    """evaluate --metrics named Grad-CAM best when HiResCAM's insertion was identical and
    Layer-CAM's interval overlapped: the first place is shared unless the first method's
    margin beats each other's on these images (a paired 95 % interval above 0)."""
    from camview.sets.views.set_scores import ImageScores, leaders, verdict

    rng = np.random.default_rng(0)

    def scores(margin: float) -> dict:
        return {"insertion_auc": margin, "deletion_auc": 0.0}

    scored = [ImageScores(Path(f"{i}.jpg"), 0, {
        "gradcam": scores(0.30 + d), "hirescam": scores(0.30 + d),
        "layercam": scores(0.30 + d - 0.01 + 0.05 * rng.standard_normal()),
        "saliency": scores(0.10 + d)}) for i, d in enumerate(rng.normal(0, 0.05, 12))]
    ranking = ["gradcam", "hirescam", "layercam", "saliency"]
    tied = leaders(scored, ranking)
    assert tied == ["gradcam", "hirescam", "layercam"]  # saliency is clearly behind
    titles = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "layercam": "Layer-CAM"}
    assert verdict({"leaders": tied}, titles).startswith(
        "For this model, on this set, Grad-CAM, HiResCAM and Layer-CAM are tied")
    assert leaders(scored, ["gradcam", "saliency"]) == ["gradcam"]
    assert "Grad-CAM's maps are the ones" in verdict({"leaders": ["gradcam"]}, titles)


def test_evaluate_metrics_unknown_method_is_one_line(small_set, capsys):
    assert main(["evaluate", str(small_set), "--metrics", "gradcam,lime"]) == 2
    assert "unknown method 'lime'" in capsys.readouterr().err
