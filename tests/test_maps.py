"""The map methods as one family (camview/maps/__init__.py, base.py, validity.py): each method
described once and made by name with only its own options, the default target, problem maps
named, progress and cancelling of the slow methods, and the pointing game every class map
plays on a real two-object photo."""

import threading

import cv2
import numpy as np
import pytest
from helpers import EGYPTIAN_CAT, ESPRESSO, TABBY, cat_and_coffee, skimage_bgr

from camview.errors import ModelError
from camview.maps import (
    CAM,
    METHODS,
    RISE,
    Cancelled,
    GradCAM,
    GradCAMPlusPlus,
    IntegratedGradients,
    MapResult,
    make_method,
    map_problem,
    method_class,
)


def test_every_method_describes_itself_once():
    for name, cls in METHODS.items():
        assert cls.name == name and cls.title and cls.summary and cls.paper
        assert method_class(name) is cls and method_class(cls.title) is cls
    for alias, name in (("Layer-CAM", "layercam"), ("EIGEN_CAM", "eigencam"),
                        ("guided_gradcam", "guided-gradcam"), ("GuidedGradCAM", "guided-gradcam"),
                        ("Score-CAM", "scorecam"), ("smooth-grad", "smoothgrad"),
                        ("Occlusion", "occlusion"), ("grad-cam++", "gradcam++")):
        assert method_class(alias).name == name
    assert {n for n, c in METHODS.items() if not c.live} == {
        "smoothgrad", "scorecam", "occlusion", "integrated-gradients", "rise"}
    assert [n for n, c in METHODS.items() if c.class_agnostic] == ["eigencam", "rollout"]
    assert [n for n, c in METHODS.items() if c.needs_attention] == ["rollout",
                                                                     "gradient-rollout"]
    with pytest.raises(ModelError, match="unknown method"):
        method_class("lime")


def test_make_method_passes_only_the_options_a_method_takes(lite0):
    assert make_method("occlusion", lite0, patch=30, stride=None, max_channels=4).patch == 30
    assert make_method("gradcam", lite0, patch=30).name == "gradcam"
    assert make_method("scorecam", lite0, max_channels=7).max_channels == 7


def test_unknown_method():
    with pytest.raises(ModelError, match="unknown method"):
        make_method("lime", None)


def test_default_target_is_top1(lite0):
    batch = lite0.prepare(skimage_bgr("coffee"))
    for cls in (CAM, GradCAM, GradCAMPlusPlus):
        result = cls(lite0).explain(batch)
        assert result.target == int(np.argmax(result.logits)) == ESPRESSO
        assert result.top(3)[0][0] == ESPRESSO


def test_map_problems_are_named():
    assert "NaN" in MapResult(np.array([[np.nan, 1.0]], np.float32), np.zeros(2), 0).problem
    assert "flat" in map_problem(np.zeros((7, 7), np.float32))
    tiny = np.random.default_rng(0).random((7, 7)).astype(np.float32) * 1e-12
    assert map_problem(tiny) is None  # random-weight nets give honest maps this small


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


#: Every class map, with the options that keep it quick: (method, options, pixel level). A map
#: drawn at the input's full resolution from input gradients is pointed at as a blob only
#: (smoothed first, Gaussian sigma 12 px); every other map must peak on the object both as it
#: is and smoothed.
POINTING = [
    ("cam", {}, False), ("gradcam", {}, False), ("gradcam++", {}, False),
    ("layercam", {}, False), ("hirescam", {}, False), ("xgradcam", {}, False),
    ("scorecam", {"max_channels": 32}, False), ("occlusion", {"patch": 64, "stride": 48}, False),
    ("rise", {"masks": 400}, False), ("integrated-gradients", {"steps": 16}, False),
    ("reciprocam", {}, False),
    ("saliency", {}, True), ("smoothgrad", {}, True), ("guided-gradcam", {}, True)]


def test_the_pointing_game_covers_every_class_map():
    # The attention maps point on vision transformers (tests/test_vit.py), not on these CNNs.
    assert {m for m, _, _ in POINTING} == {n for n, c in METHODS.items()
                                           if not c.class_agnostic and not c.needs_attention}


@pytest.mark.parametrize("method,options,pixel_level", POINTING, ids=[m for m, _, _ in POINTING])
def test_each_class_map_peaks_on_its_object(lite0, method, options, pixel_level):
    """The pointing game on a real photo: the cat's maps (tabby and Egyptian cat) peak on the
    cat, the coffee's on the coffee."""
    frame = cat_and_coffee()
    batch = lite0.prepare(frame)
    explainer = make_method(method, lite0, **options)
    for target, (x0, x1) in ((TABBY, (0, 300)), (EGYPTIAN_CAT, (0, 300)), (ESPRESSO, (300, 600))):
        big = cv2.resize(explainer.explain(batch, target).cam, frame.shape[1::-1],
                         interpolation=cv2.INTER_LINEAR)
        peaks = {"smoothed": cv2.GaussianBlur(big, (0, 0), 12)}
        if not pixel_level:
            peaks["as drawn"] = big
        for how, heat in peaks.items():
            x = int(np.unravel_index(np.argmax(heat), heat.shape)[1])
            assert x0 <= x < x1, f"{method} map of class {target} ({how}) peaks at x={x}"
