"""On-demand jobs without a window: the job runner, slow maps and scores of a frame. Real
model, real threads, real photos."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from helpers import skimage_bgr

from camview.checks.faithfulness import RANDOM, STEPS
from camview.live.ondemand import JobRunner, MapRequest, ScoreRequest
from camview.maps import make_method
from camview.sources import Frame

WAIT_S = 60


@pytest.fixture(scope="module")
def chelsea():
    return Frame(0, 0.0, skimage_bgr("chelsea"))


@pytest.fixture
def runner():
    r = JobRunner()
    yield r
    assert r.stop(5)


def _outcome(runner: JobRunner, work, **kw):
    """Submit and wait: ('done', result) / ('failed', message) / ('cancelled', None)."""
    done, box, progress = threading.Event(), [], []

    def finish(kind):
        return lambda *args: (box.append((kind, args[0] if args else None)), done.set())

    runner.submit(work, finish("done"), on_failed=finish("failed"),
                  on_cancelled=finish("cancelled"),
                  on_progress=lambda d, t: progress.append((d, t)), **kw)
    assert done.wait(WAIT_S)
    return box[0], progress


def test_score_cam_of_a_frame_runs_once_with_progress(lite0, chelsea, runner):
    request = MapRequest(lite0, "scorecam", None, (("max_channels", 16),), chelsea, None)
    (kind, result), progress = _outcome(runner, request.run)
    assert kind == "done"
    direct = make_method("scorecam", lite0, max_channels=16).explain(
        lite0.prepare(chelsea.image), None)
    np.testing.assert_allclose(result.cam, direct.cam, rtol=1e-4, atol=1e-6)
    assert result.target == direct.target
    assert progress[-1] == (16, 16) and all(t == 16 for _, t in progress)
    # The same map is keyed the same; another class or option is another map.
    again = MapRequest(lite0, "scorecam", None, (("max_channels", 16),), chelsea, None)
    assert again.key == request.key
    assert MapRequest(lite0, "scorecam", None, (("max_channels", 16),), chelsea, 5).key \
        != request.key


def test_a_newer_job_cancels_the_running_one(lite0, chelsea, runner):
    started, outcomes = threading.Event(), []
    slow = MapRequest(lite0, "occlusion", None, (("patch", 16), ("stride", 8)), chelsea, None)

    def work(progress, cancel):
        started.set()
        return slow.run(progress, cancel)

    runner.submit(work, lambda r: outcomes.append("done"),
                  on_cancelled=lambda: outcomes.append("cancelled"))
    assert started.wait(WAIT_S)
    (kind, value), _ = _outcome(runner, lambda progress, cancel: 42)
    assert (kind, value) == ("done", 42)
    assert outcomes == ["cancelled"]
    assert not runner.busy


def test_cancel_and_a_bad_option_are_reported_not_raised(lite0, chelsea, runner):
    gate = threading.Event()

    def waits(progress, cancel):
        gate.wait(WAIT_S)
        return MapRequest(lite0, "occlusion", None, (), chelsea, None).run(progress, cancel)

    box = []
    finished = threading.Event()
    runner.submit(waits, lambda r: box.append("done"),
                  on_cancelled=lambda: (box.append("cancelled"), finished.set()))
    assert runner.cancel()
    gate.set()
    assert finished.wait(WAIT_S) and box == ["cancelled"]

    bad = MapRequest(lite0, "occlusion", None, (("patch", 0),), chelsea, None)
    (kind, message), _ = _outcome(runner, bad.run)
    assert kind == "failed" and "--patch" in message and "\n" not in message


def test_scores_of_a_map_and_the_random_baseline(lite0, chelsea, runner):
    batch = lite0.prepare(chelsea.image)
    cam = make_method("gradcam", lite0).explain(batch, None)
    request = ScoreRequest(lite0, chelsea, {"Grad-CAM": cam.cam}, cam.target)
    (kind, scores), progress = _outcome(runner, request.run)
    assert kind == "done" and set(scores) == {"Grad-CAM", RANDOM}
    for s in scores.values():
        assert 0.0 <= s.deletion_auc <= 1.0 and 0.0 <= s.insertion_auc <= 1.0
    # The cat's own map removes the cat faster than a random map does.
    assert scores["Grad-CAM"].deletion_auc < scores[RANDOM].deletion_auc
    total = progress[-1][1]
    # Two maps (Grad-CAM's and the random one), the 2 * (STEPS - 1) inputs between each
    # curve's ends (the ends are shared by the maps: not counted).
    assert progress[-1] == (total, total) and total == 2 * 2 * (STEPS - 1)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)








