"""Each live worker run on its own, through only its small host interface (no Pipeline).

The hosts below implement exactly the members of CaptureHost, InferenceHost and LoaderHost and
nothing else: a worker reaching for anything more fails with AttributeError, which the worker
reports as an internal error, and the tests check that no error came.
"""

from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np
from helpers import skimage_bgr
from live_hosts import CaptureOnly, InferenceOnly, LoaderOnly, run_inference, wait_for

from camview.drawing.overlay import OverlayStyle
from camview.live import (
    FOLDER_SECONDS,
    Capture,
    Config,
    Delivery,
    ErrorKind,
    Inference,
    Loader,
    LoadMethod,
    LoadModel,
    Mailbox,
)
from camview.live.capture import MediaClock
from camview.maps import make_method
from camview.sources import (
    CameraSource,
    DemoSource,
    FolderSource,
    Frame,
    ImageSource,
    Pacing,
    VideoSource,
)


def test_capture_runs_on_its_interface_and_holds_a_still_image(tmp_path):
    path = tmp_path / "coffee.png"
    cv2.imwrite(str(path), skimage_bgr("coffee"))
    host = CaptureOnly()
    capture = Capture(host, loop_video=True)
    capture.request_source(ImageSource(path), None)
    capture.thread.start()
    try:
        wait_for(lambda: len(host.puts) >= 3)  # the image, then held re-deliveries
    finally:
        capture.stop()
        capture.thread.join(2.0)
    assert not capture.thread.is_alive() and not host.errors
    assert [s.name for s in host.sources] == ["coffee.png"]
    assert len(host.delivered) == 1 and host.puts[0].fresh
    assert all(not d.fresh and d.frame is host.delivered[0] for d in host.puts[1:])
    assert host.mailbox.get(0.1).frame.image.shape == skimage_bgr("coffee").shape
    assert host.statuses[-1] == "showing coffee.png"
    assert not host.sources[0].is_open  # the source is closed when the thread ends


def test_each_source_class_says_its_pacing():
    assert ImageSource.pacing is Pacing.STILL and FolderSource.pacing is Pacing.FOLDER
    assert CameraSource.pacing is Pacing.LIVE
    assert VideoSource.pacing is Pacing.TIMED and DemoSource.pacing is Pacing.TIMED


def test_media_clock_spaces_frames_by_their_time_or_folder_index():
    image = np.zeros((2, 2, 3), np.uint8)
    clock = MediaClock()
    first = clock.due(Pacing.TIMED, Frame(0, 5.0, image))
    assert clock.due(Pacing.TIMED, Frame(1, 6.5, image)) == first + 1.5
    assert clock.due(Pacing.LIVE, Frame(2, 7.0, image)) is None
    assert clock.due(Pacing.STILL, Frame(0, 0.0, image)) is None
    clock.reset()
    start = clock.due(Pacing.FOLDER, Frame(0, 0.0, image))
    assert clock.due(Pacing.FOLDER, Frame(2, 0.0, image)) == start + 2 * FOLDER_SECONDS


def test_inference_runs_on_its_interface(lite0):
    cfg = Config(lite0, make_method("gradcam", lite0), None, OverlayStyle(), 0.0, 7)
    frame = Frame(0, 0.0, skimage_bgr("coffee"))
    result, inference = run_inference(cfg, frame)
    assert not inference.thread.is_alive()
    assert inference.host.results[0][1] is cfg
    assert result.generation == 7 and result.frame is frame
    assert result.method_name == "Grad-CAM" and result.overlay.shape == frame.image.shape
    assert result.top[0][0] in ("cup", "espresso", "coffee mug")


def test_inference_explains_a_held_frame_again_only_while_its_picture_can_change(lite0):
    """Frozen or still: re-delivered 5 times a second, mapped again only until smoothing
    settles, and again after a config change."""
    cfg = Config(lite0, make_method("cam", lite0), None, OverlayStyle(), 0.6, 1)
    host = InferenceOnly(cfg)
    mailbox = Mailbox()
    inference = Inference(host, mailbox, panel_only=True)
    frame = Frame(0, 0.0, skimage_bgr("coffee"))
    inference.thread.start()

    def deliver_until_idle() -> int:
        """Re-deliver the frame until inference skips it; how many maps it made meanwhile."""
        before = len(host.results)
        for _ in range(60):
            inference.up_to_date = False  # set again only by a skipped delivery
            n = len(host.results)
            mailbox.put(Delivery(frame, time.monotonic(), fresh=False))
            wait_for(lambda n=n: len(host.results) > n or inference.up_to_date)
            if len(host.results) == n:
                break
        return len(host.results) - before

    try:
        mailbox.put(Delivery(frame, time.monotonic()))
        wait_for(lambda: bool(host.results))
        # With smoothing the first map (a restart) is shown at once, a second one with the
        # same frame moves the average by nothing: settled, so the third delivery idles.
        assert deliver_until_idle() == 1 and inference.up_to_date
        assert deliver_until_idle() == 0
        host.cfg = dataclasses.replace(cfg, target=281, generation=2)  # pinned a class
        assert deliver_until_idle() == 2
        assert host.results[-1][0].target == 281
        host.cfg = dataclasses.replace(host.cfg, smoothing=0.0)
        assert deliver_until_idle() == 1  # no smoothing: once
    finally:
        inference.stop()
        mailbox.close()
        inference.thread.join(2.0)
    assert not host.errors


def test_loader_runs_on_its_interface(lite0):
    host = LoaderOnly("gradcam", Frame(0, 0.0, skimage_bgr("coffee")))
    loader = Loader(host)
    # Queued before the thread runs, so it sees all three at once: the first model is
    # skipped (a newer one is asked for), the second is built with the host's method.
    loader.submit(LoadModel("no_such_net"))
    loader.submit(LoadModel(lite0))
    loader.submit(LoadMethod("gradcam++"))
    loader.thread.start()
    try:
        wait_for(lambda: not loader.busy.is_set(), timeout=60)
        assert host.current_model is lite0 and not host.errors
        assert host.method.name == "gradcam++" and host.method_name == "gradcam++"
        assert any(s.startswith("warming up") for s in host.statuses)
        loader.submit(LoadModel("no_such_net"))
        wait_for(lambda: not loader.busy.is_set())
    finally:
        loader.stop()
        loader.thread.join(2.0)
    assert not loader.thread.is_alive() and host.config_changes == 3
    assert len(host.errors) == 1 and host.errors[0][1] is ErrorKind.MODEL
    assert "unknown model 'no_such_net'" in host.errors[0][0]
    assert host.current_model is lite0  # a failed load keeps the model that serves
