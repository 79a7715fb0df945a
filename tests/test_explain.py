"""One way to draw an explained frame: the live pipeline and `camview render` agree."""

from __future__ import annotations

import threading

import cv2
import numpy as np
from helpers import MOUNTAIN_BIKE, skimage_bgr

from camview.cli import main
from camview.drawing.explain import describe, draw
from camview.drawing.overlay import OverlayStyle
from camview.live import Pipeline
from camview.maps import make_method


def test_live_and_render_draw_a_pinned_target_identically(tmp_path, lite0):
    photo = tmp_path / "chelsea.png"
    cv2.imwrite(str(photo), skimage_bgr("chelsea"))
    out = tmp_path / "rendered.png"
    assert main(["render", str(photo), "-o", str(out), "--target", "mountain bike",
                 "--method", "gradcam", "--no-progress"]) == 0
    rendered = cv2.imread(str(out))

    results, ready = [], threading.Event()

    def keep(result) -> None:
        if result.target == MOUNTAIN_BIKE:
            results.append(result)
            ready.set()

    pipe = Pipeline(on_result=keep, method="gradcam", style=OverlayStyle())
    pipe.set_source(str(photo))
    pipe.set_model(lite0)
    pipe.start()
    try:
        assert pipe.wait_idle(60)
        pipe.set_target(MOUNTAIN_BIKE)  # a new model clears the pin: pin once it is in
        assert ready.wait(60), "no live result for the pinned class"
    finally:
        pipe.stop()
    live = results[0].overlay
    assert live.shape == rendered.shape
    # PNG is lossless: the two pictures are the same pixels.
    np.testing.assert_array_equal(live, rendered)


def test_a_pinned_map_says_so_and_highlights_its_row(lite0):
    frame = skimage_bgr("chelsea")
    method = make_method("gradcam", lite0)
    batch = lite0.prepare(frame)
    style = OverlayStyle(layout="overlay", topk=3)

    pinned = describe(lite0, method.explain(batch, MOUNTAIN_BIKE), topk=3, pinned=True)
    assert pinned.banner == "map of: mountain bike (pinned)"
    assert pinned.highlight is None  # not among the top-3 drawn
    auto = describe(lite0, method.explain(batch, None), topk=3, pinned=False)
    assert auto.banner is None and auto.highlight == 0

    # The banner is drawn: the bottom strip of the pinned picture differs from the auto one
    # drawn with the same map, while the top-left label box is the same.
    same_map = describe(lite0, pinned.map, topk=3, pinned=False)
    with_banner, without = draw(frame, pinned, style), draw(frame, same_map, style)
    h = frame.shape[0]
    assert not np.array_equal(with_banner[int(h * 0.85):], without[int(h * 0.85):])
    assert np.array_equal(with_banner[: h // 4], without[: h // 4])


def test_an_undrawable_map_shows_the_frame_and_names_the_fault(lite0):
    frame = skimage_bgr("coffee")
    result = make_method("cam", lite0).explain(lite0.prepare(frame), None)
    broken = describe(lite0, type(result)(np.full_like(result.cam, np.nan), result.logits,
                                          result.target), topk=3, pinned=False)
    assert broken.problem == "NaN in map"
    assert broken.banner.endswith(": NaN in map")
    picture = draw(frame, broken, OverlayStyle(layout="overlay", topk=0))
    # No colour map over the photo: the top half is the photo itself.
    h = frame.shape[0]
    assert np.array_equal(picture[: h // 2], frame[: h // 2])
