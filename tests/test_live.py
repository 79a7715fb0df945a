"""The live pipeline on real files and the real default model: no Qt involved."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from helpers import TABBY, chelsea_pan, skimage_bgr, write_video

from camview.drawing.overlay import OverlayStyle, render_view
from camview.errors import ModelError, SourceError
from camview.live import HOLD_RATE, Delivery, ErrorKind, Mailbox, Pipeline, Result, Smoother
from camview.sources import Frame, Pacing, Source


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return str(write_video(tmp_path_factory.mktemp("video") / "chelsea.mp4", chelsea_pan(90),
                           fps=30, fourcc="mp4v"))


class Collector:
    """Callbacks that remember everything, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: list[Frame] = []
        self.results: list[Result] = []
        self.errors: list[tuple[str, str]] = []
        self.statuses: list[str] = []

    def callbacks(self) -> dict:
        return {"on_frame": self._add(self.frames), "on_result": self._add(self.results),
                "on_error": lambda m, k: self._add(self.errors)((m, k)),
                "on_status": self._add(self.statuses)}

    def _add(self, into: list):
        def add(item) -> None:
            with self.lock:
                into.append(item)
        return add

    def wait(self, predicate, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return
            time.sleep(0.02)
        raise AssertionError(f"timed out; errors={self.errors} statuses={self.statuses[-5:]}")


@pytest.fixture
def threads_before():
    return set(threading.enumerate())


def start(got: Collector, source, model, **options) -> Pipeline:
    """A started pipeline on `source` and `model`, reporting to `got`."""
    pipe = Pipeline(**got.callbacks(), **options)
    pipe.set_source(source)
    pipe.set_model(model)
    return pipe.start()


def stop_and_check(pipe: Pipeline, before: set) -> None:
    t0 = time.monotonic()
    assert pipe.stop(timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert set(threading.enumerate()) - before == set()


def test_mailbox_keeps_the_newest_and_counts_drops():
    box = Mailbox()
    frames = [Frame(i, i / 30, np.zeros((2, 2, 3), np.uint8)) for i in range(3)]
    for f in frames:
        box.put(Delivery(f, 0.0))
    assert box.get(0.1).frame.index == 2 and box.dropped == 2
    assert box.get(0.01) is None
    box.put(Delivery(frames[0], 0.0, fresh=False))  # a re-delivery replaced: not a drop
    box.put(Delivery(frames[1], 0.0))
    assert box.dropped == 2


def test_video_frames_and_results_on_their_own_frame(video, lite0, threads_before):
    got = Collector()
    style = OverlayStyle(layout="side-by-side")
    pipe = Pipeline(**got.callbacks(), style=style)
    pipe.set_source(video)
    pipe.set_model(lite0)
    t0 = time.monotonic()
    pipe.start()
    got.wait(lambda c: len(c.results) >= 10 and len(c.frames) >= 30)
    elapsed = time.monotonic() - t0
    # Paced at the video's 30 fps, not faster.
    assert len(got.frames) <= 30 * elapsed + 5
    stop_and_check(pipe, threads_before)
    assert not got.errors
    r = got.results[-1]
    assert r.model_name == "efficientnet_lite0" and r.method_name == "CAM"
    assert r.top[0][0] in ("tabby", "tiger cat", "Egyptian cat") and r.map.problem is None
    # The overlay is composed on the result's own frame: the raw half is that frame, and
    # recomposing the map on it gives the same picture.
    w = r.frame.image.shape[1]
    assert np.array_equal(r.overlay[:, :w], r.frame.image)
    rows = [i for i, _ in r.top_classes]
    again = render_view(r.frame.image, r.map.cam, r.top, style,
                        highlight=rows.index(r.map.target))
    assert np.array_equal(again, r.overlay)
    assert 0 < r.latency_s < 2.0
    stats = pipe.stats()
    assert stats.frames >= 30 and stats.results >= 10 and stats.latency_p50_ms is not None


def test_switches_bump_the_generation(video, lite0, threads_before):
    got = Collector()
    pipe = start(got, video, lite0, panel_only=True)
    got.wait(lambda c: len(c.results) >= 3)

    def after(generation: int) -> list[Result]:
        with got.lock:
            return [r for r in got.results if r.generation >= generation]

    g0 = pipe.generation
    pipe.set_method("gradcam")
    got.wait(lambda c: any(r.method_name == "Grad-CAM" for r in c.results[-1:]))
    g1 = pipe.generation
    assert g1 > g0 and all(r.method_name == "Grad-CAM" for r in after(g1))
    assert got.results[-1].overlay.shape == got.results[-1].frame.image.shape  # panel only

    pipe.set_target(TABBY + 1)
    g2 = pipe.generation
    assert g2 > g1
    got.wait(lambda c: c.results[-1].generation >= g2)
    assert all(r.map.target == TABBY + 1 and r.target == TABBY + 1 for r in after(g2))

    pipe.set_model("mobilenet_v2", weights="none")  # random weights: only the switch matters
    got.wait(lambda c: c.results[-1].model_name == "mobilenet_v2", timeout=60)
    g3 = pipe.generation
    assert g3 > g2 and all(r.model_name == "mobilenet_v2" for r in after(g3))
    assert any("loading mobilenet_v2" in s for s in got.statuses)
    stop_and_check(pipe, threads_before)
    assert not got.errors


def test_failing_model_and_method_keep_the_old_ones(video, lite0, tmp_path, threads_before):
    keras = pytest.importorskip("keras")
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.Dense(8)(keras.layers.Flatten()(x))
    path = tmp_path / "dense_head.keras"
    keras.Model(inputs, keras.layers.Dense(5)(x)).save(path)

    got = Collector()
    pipe = start(got, video, lite0)
    got.wait(lambda c: len(c.results) >= 2)
    pipe.set_model("no_such_net")
    got.wait(lambda c: any(k is ErrorKind.MODEL for _, k in c.errors))
    assert "unknown model 'no_such_net'" in got.errors[-1][0]
    n = len(got.results)
    got.wait(lambda c: len(c.results) > n + 2)  # the old model keeps serving
    assert got.results[-1].model_name == "efficientnet_lite0"

    # A gradient-only net: CAM falls back to Grad-CAM, and asking for CAM again is refused.
    pipe.set_model(str(path))
    got.wait(lambda c: c.results[-1].model_name == str(path))
    assert pipe.method_name == "gradcam"
    pipe.set_method("cam")
    got.wait(lambda c: any(k is ErrorKind.METHOD for _, k in c.errors))
    assert "gradient-only" in got.errors[-1][0] and pipe.method_name == "gradcam"
    stop_and_check(pipe, threads_before)


class FlakySource(Source):
    """A live source that stops delivering after `fail_after` frames, then fails to reopen
    `bad_opens` times (the camera is being plugged back in), then works again."""

    is_live = True
    pacing = Pacing.LIVE

    def __init__(self, fail_after: int = 15, bad_opens: int = 1) -> None:
        super().__init__("flaky camera")
        self.fail_after, self.bad_opens = fail_after, bad_opens
        self.opens = 0
        self.failed = False
        self.image = skimage_bgr("coffee")[::2, ::2].copy()

    def _open(self) -> None:
        self.opens += 1
        if self.failed and self.opens <= 1 + self.bad_opens:
            raise SourceError("flaky camera: not found")

    def _read(self):
        time.sleep(1 / 60)
        if not self.failed and self._next_index >= self.fail_after:
            self.failed = True
            raise SourceError("flaky camera stopped delivering frames")
        return self.image, None


def test_lost_camera_is_reported_and_retried(lite0, threads_before):
    got = Collector()
    source = FlakySource()
    pipe = start(got, source, lite0)
    got.wait(lambda c: bool(c.errors))
    assert got.errors[0] == ("flaky camera stopped delivering frames", ErrorKind.SOURCE)
    n = len(got.frames)
    got.wait(lambda c: len(c.frames) > n + 10, timeout=10)  # resumed after 0.5 s + 1 s
    assert source.opens == 3
    assert any("retrying in 0.5 s" in m for m, _ in got.errors)
    assert any("retrying in 1 s" in m for m, _ in got.errors)
    assert any("is back" in s for s in got.statuses)
    stop_and_check(pipe, threads_before)
    assert not source.is_open  # the camera is released on stop


def test_still_image_and_freeze_keep_inference_working(video, lite0, tmp_path, threads_before):
    image = tmp_path / "coffee.png"
    cv2.imwrite(str(image), skimage_bgr("coffee"))
    got = Collector()
    pipe = start(got, str(image), lite0)
    got.wait(lambda c: len(c.results) >= 1 and pipe.stats().map_up_to_date)
    time.sleep(1.0 / HOLD_RATE * 3)  # re-delivered 3 times: nothing new to explain
    assert len(got.frames) == 1 and len(got.results) == 1
    assert got.results[-1].top[0][0] in ("cup", "espresso", "coffee mug")
    pipe.set_style(OverlayStyle(style="blend"))  # a change is mapped on the held image
    got.wait(lambda c: len(c.results) == 2)

    pipe.set_source(video)
    got.wait(lambda c: len(c.frames) > 10)
    pipe.freeze(True)
    time.sleep(0.2)
    n, held = len(got.frames), got.frames[-1].index
    t0 = time.monotonic()
    time.sleep(1.0 / HOLD_RATE * 3)
    assert len(got.frames) == n  # paused
    pipe.set_target(TABBY)  # inference keeps working on the frozen frame
    got.wait(lambda c: c.results[-1].target == TABBY)
    assert got.results[-1].frame.index == held and time.monotonic() - t0 < 5
    pipe.step()
    got.wait(lambda c: len(c.frames) == n + 1)
    assert got.frames[-1].index == held + 1 and pipe.frozen
    pipe.freeze(False)
    got.wait(lambda c: len(c.frames) > n + 5)
    stop_and_check(pipe, threads_before)


def test_bad_source_keeps_the_current_one(video, lite0, tmp_path, threads_before):
    got = Collector()
    pipe = start(got, video, lite0)
    got.wait(lambda c: len(c.results) >= 2)
    pipe.set_source(str(tmp_path / "missing.mp4"))
    got.wait(lambda c: bool(c.errors))
    assert got.errors[0][1] is ErrorKind.OPEN and "missing.mp4" in got.errors[0][0]
    n = len(got.results)
    got.wait(lambda c: len(c.results) > n + 3)
    assert pipe.source.name == "chelsea.mp4"
    stop_and_check(pipe, threads_before)


def test_smoothing_averages_the_normalised_map_and_restarts_on_a_switch():
    smoother = Smoother()
    a = np.array([[0.0, 1e-12], [0.0, 0.0]], np.float32)  # tiny maps are normalised first
    b = np.array([[2.0, 0.0], [0.0, 0.0]], np.float32)
    assert np.allclose(smoother.update(a, 0.75, generation=1), [[0, 1], [0, 0]])
    assert np.allclose(smoother.update(b, 0.75, generation=1), [[0.25, 0.75], [0, 0]])
    assert np.allclose(smoother.update(b, 0.75, generation=2), [[1, 0], [0, 0]])  # restart
    assert np.allclose(smoother.update(a, 0.0, generation=2), [[0, 1], [0, 0]])  # off
    assert not smoother.settled
    for _ in range(40):  # the same map again and again: the average comes to rest
        smoother.update(b, 0.75, generation=3)
    assert smoother.settled and np.allclose(smoother.update(b, 0.75, 3), [[1, 0], [0, 0]])


def test_unknown_method_fails_in_the_caller():
    with pytest.raises(ModelError, match="unknown method"):
        Pipeline().set_method("lime")
