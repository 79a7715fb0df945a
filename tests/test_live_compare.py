"""The live compare (several panels of one frame), Qt-free: the spec, the shared pass, the
inference and loader threads on their interfaces, and the pipeline on a real video."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
from helpers import TABBY, chelsea_pan, skimage_bgr, write_video
from live_hosts import LoaderOnly, run_inference, wait_for

from camview.drawing.layout import SEPARATOR_COLOUR, compose_grid, grid_shape
from camview.drawing.overlay import OverlayStyle
from camview.errors import CamviewError
from camview.live import (
    FOLLOW,
    PRESETS,
    RIVAL,
    CompareSpec,
    Config,
    LoadCompare,
    Loader,
    LoadModel,
    PanelSpec,
    Pipeline,
)
from camview.live.compare import Versus, explain_panels, preset_title, rival
from camview.maps import METHODS, make_method
from camview.maps.shared_pass import explain_shared
from camview.sources import Frame


def test_specs_name_their_panels_and_refuse_slow_methods():
    spec = CompareSpec.of(PRESETS[0])
    assert [p.method for p in spec.panels] == ["cam", "gradcam", "layercam"]
    assert all(p.target == FOLLOW for p in spec.panels)
    assert spec.names_methods and not spec.names_classes and spec.columns is None
    assert preset_title(PRESETS[0]) == "CAM | Grad-CAM | Layer-CAM"
    assert preset_title(PRESETS[1]) == "Grad-CAM | Grad-CAM++ | Eigen-CAM"
    assert preset_title(PRESETS[2]) == "CAM | Grad-CAM | Recipro-CAM"
    assert all(METHODS[n].live for preset in PRESETS for n in preset)

    second = CompareSpec.of((), RIVAL)  # the second map: the pipeline's method, two classes
    assert second.panels == (PanelSpec(None, FOLLOW), PanelSpec(None, RIVAL))
    assert second.method_names == () and second.names_classes and not second.names_methods
    assert second.columns is None  # side by side
    both = CompareSpec.of(("Grad-CAM", "layer_cam"), 285)  # names as --method takes them
    assert [(p.method, p.target) for p in both.panels] == [
        ("gradcam", FOLLOW), ("layercam", FOLLOW), ("gradcam", 285), ("layercam", 285)]
    assert both.columns == 2  # one row per class
    assert CompareSpec.of(()) is None  # nothing to compare: the single view

    with pytest.raises(CamviewError) as slow:
        CompareSpec.of(("gradcam", "scorecam"))
    line = str(slow.value)
    assert "\n" not in line and "Score-CAM takes seconds a map" in line
    assert "Layer-CAM" in line and "freeze the frame" in line
    with pytest.raises(CamviewError, match="unknown method"):
        CompareSpec.of(("gradcam", "nosuch"))
    with pytest.raises(CamviewError, match="first panel"):
        CompareSpec((PanelSpec("cam", RIVAL),))


def test_shared_pass_gives_each_methods_own_map(lite0):
    batch = lite0.prepare(skimage_bgr("chelsea"))
    methods = [make_method(n, lite0) for n in ("cam", "gradcam", "gradcam++", "layercam",
                                                 "eigencam", "saliency")]
    for target in (None, TABBY):
        shared = explain_shared(lite0, methods, batch, target)
        assert set(shared) == set(methods[:5])  # saliency differentiates to the pixels: alone
        for method, result in shared.items():
            own = method.explain(batch, target)
            assert result.target == own.target and (target is None or own.target == TABBY)
            np.testing.assert_allclose(result.cam, own.cam, rtol=1e-4,
                                       atol=1e-5 * float(np.abs(own.cam).max()))
            np.testing.assert_allclose(result.logits, own.logits, rtol=1e-4, atol=1e-4)
    assert explain_shared(lite0, methods[:1], batch, None) == {}  # one alone: its own call


def test_panels_map_methods_and_the_runner_up(lite0):
    image = skimage_bgr("chelsea")
    batch = lite0.prepare(image)
    main = make_method("gradcam", lite0)
    built = {n: make_method(n, lite0) for n in PRESETS[0]}
    panels = explain_panels(lite0, main, built, CompareSpec.of(PRESETS[0]), batch, None, 3)
    assert [p.title for p in panels] == ["CAM", "Grad-CAM", "Layer-CAM"]
    top1 = panels[0].explained.map.top(1)[0][0]
    assert all(p.explained.map.target == top1 and not p.explained.pinned for p in panels)

    pinned = explain_panels(lite0, main, built, CompareSpec.of(PRESETS[0]), batch, TABBY, 3)
    assert all(p.explained.map.target == TABBY for p in pinned)
    assert pinned[0].explained.banner.startswith("map of: tabby")  # titles name methods only

    two = explain_panels(lite0, main, {}, CompareSpec.of((), RIVAL), batch, None, 3)
    (first, p1), (second, p2) = [(p.explained.map.target, p.explained.map.probabilities)
                                 for p in two]
    ranked = two[0].explained.map.top(2)
    assert (first, second) == (ranked[0][0], ranked[1][0])  # top-1 | runner-up
    assert two[0].title == f"{lite0.short_label(first)} {100 * p1[first]:.0f}%"
    assert two[1].title == f"{lite0.short_label(second)} {100 * p2[second]:.0f}%"
    assert two[1].method is main and not two[1].explained.banner
    # Pinned to the runner-up, the rival is the class the network preferred.
    swapped = explain_panels(lite0, main, {}, CompareSpec.of((), RIVAL), batch, second, 3)
    assert [p.explained.map.target for p in swapped] == [second, first]
    assert rival(swapped[0].explained.map) == first


def test_the_grid_is_shaped_for_the_view_it_is_shown_in():
    assert grid_shape(3) == (1, 3) and grid_shape(4) == (2, 2)  # no view given: as before
    cell = 1.2  # a 4:3 panel under its title bar
    assert grid_shape(3, 4.0, cell) == (1, 3)  # a wide view: one row
    assert grid_shape(3, 0.5, cell) == (3, 1)  # a tall view: one column
    assert grid_shape(3, 1.4, cell) == (2, 2)  # about square: 2x2, one cell empty
    assert grid_shape(6, 1.0, 4 / 3) == (3, 2)
    assert grid_shape(2, 3.0, cell) == (1, 2) and grid_shape(2, 0.8, cell) == (2, 1)

    panels = [(name, np.full((120, 160, 3), 90, np.uint8)) for name in ("a", "b", "c")]
    wide = compose_grid(panels, aspect=4.0)
    tall = compose_grid(panels, aspect=0.5)
    assert wide.shape[1] > 2.5 * wide.shape[0]  # 1x3
    assert tall.shape[1] == 160 and tall.shape[0] > 3 * 120  # 3x1
    assert compose_grid(panels).shape == wide.shape  # the default is one row
    assert compose_grid(panels, columns=3, aspect=0.5).shape == wide.shape  # columns win
    square = compose_grid(panels, aspect=1.4)  # 2x2: the third panel centred below, on black
    assert square.shape[1] == 2 * 160 + 2
    below = square[square.shape[0] - 60]  # a row through the third panel's picture
    margin = (square.shape[1] - 160) // 2
    assert not below[:margin].any() and not below[margin + 160:].any()
    assert (below[margin:margin + 160] == 90).all()
    assert (square[60, 160] == SEPARATOR_COLOUR).all()  # the first row's panels set apart


def test_a_second_model_adds_a_row_of_its_own_maps_of_the_same_frame(lite0, squeezenet):
    spec = CompareSpec.of(("gradcam", "cam"), versus="squeezenet")
    assert [(p.method, p.versus) for p in spec.panels] == [
        ("gradcam", False), ("cam", False), ("gradcam", True), ("cam", True)]
    assert spec.columns == 2 and spec.names_classes  # a row per model, titles name the class
    assert spec.versus_method_names("cam") == ("gradcam", "cam")
    one = CompareSpec.of((), versus="squeezenet")  # the method shown, for both models
    assert one.panels == (PanelSpec(), PanelSpec(versus=True)) and one.columns is None
    assert one.versus_method_names("layercam") == ("layercam",)
    with pytest.raises(CamviewError, match="second model"):
        CompareSpec((PanelSpec(), PanelSpec(versus=True)))  # its panels, but no model named

    image = skimage_bgr("chelsea")
    methods = {n: make_method(n, lite0) for n in spec.method_names}
    other = {n: make_method(n, squeezenet) for n in spec.versus_method_names("cam")}
    assert not spec.ready(lite0, methods, {}, "cam") and spec.ready(lite0, methods, other, "cam")
    versus = Versus(squeezenet, other, squeezenet.prepare(image))
    panels = explain_panels(lite0, make_method("cam", lite0), methods, spec,
                            lite0.prepare(image), None, 3, versus)
    assert [p.method.model for p in panels] == [lite0, lite0, squeezenet, squeezenet]
    for panel in panels:
        alone = panel.method.explain(panel.method.model.prepare(image), None)
        result = panel.explained.map
        np.testing.assert_allclose(result.cam, alone.cam, rtol=1e-4,
                                   atol=1e-5 * float(np.abs(alone.cam).max()))
        assert result.target == alone.target  # each model's own top-1
        prob = 100 * float(alone.probabilities[alone.target])
        model = panel.method.model
        assert panel.title == (f"{model.name} {panel.method.title}: "
                               f"{model.short_label(alone.target)} {prob:.0f}%")
    assert panels[2].title.startswith("squeezenet Grad-CAM: ")
    # A class pinned that both models know is mapped by both.
    pinned = explain_panels(lite0, make_method("cam", lite0), methods, spec,
                            lite0.prepare(image), TABBY, 3, versus)
    assert [p.explained.map.target for p in pinned] == [TABBY] * 4


def test_inference_draws_the_grid_into_the_results_overlay(lite0):
    frame = Frame(0, 0.0, skimage_bgr("chelsea"))
    h, w = frame.image.shape[:2]
    spec = CompareSpec.of(PRESETS[0])
    methods = {n: make_method(n, lite0) for n in spec.method_names}
    cfg = Config(lite0, make_method("gradcam", lite0), None, OverlayStyle(scale="fixed"), 0.5,
                 3, spec, methods)
    result, inference = run_inference(cfg, frame)
    assert [title for title, _, _ in result.panels] == ["CAM", "Grad-CAM", "Layer-CAM"]
    oh, ow = result.overlay.shape[:2]
    assert ow == 3 * w + 2 * max(2, round(h / 240)) and h < oh < 1.3 * h  # titles on top
    assert result.map.target == result.top_classes[0][0]  # the first panel's map and scores
    assert len(inference.panel_smoothers) == 3
    # Each panel is drawn as draw() draws that method's map: the grid's first cell is CAM's.
    first_cell = result.overlay[oh - h:, :w]
    assert float(np.abs(first_cell.astype(int) - frame.image.astype(int)).mean()) > 5

    # Shaped for a tall view, the same grid is one column.
    tall, _ = run_inference(dataclasses.replace(cfg, grid_aspect=0.5), frame)
    th, tw = tall.overlay.shape[:2]
    assert tw == w and th > 3 * h

    # A compare whose methods were built for another model waits (no result, no error).
    stale = Config(lite0, cfg.method, None, OverlayStyle(), 0.0, 4, spec, {})
    assert not stale.compare.ready(lite0, stale.compare_methods)


def test_loader_builds_the_compare_and_rebuilds_it_for_a_new_model(lite0):
    host = LoaderOnly("gradcam", Frame(0, 0.0, skimage_bgr("coffee")))
    loader = Loader(host)
    spec = CompareSpec.of(PRESETS[1])
    loader.submit(LoadCompare(spec))  # no model yet: remembered
    loader.thread.start()
    try:
        wait_for(lambda: not loader.busy.is_set())
        assert host.compare is spec and host.compare_methods == {}
        loader.submit(LoadModel(lite0))
        wait_for(lambda: not loader.busy.is_set(), timeout=60)
        assert spec.ready(lite0, host.compare_methods)
        assert sorted(host.compare_methods) == sorted(PRESETS[1])
        loader.submit(LoadCompare(None))
        wait_for(lambda: not loader.busy.is_set())
        assert host.compare is None
    finally:
        loader.stop()
        loader.thread.join(2.0)
    assert not host.errors


def test_loader_loads_the_second_model_or_leaves_the_compare_as_it_was(lite0, squeezenet):
    host = LoaderOnly("cam", Frame(0, 0.0, skimage_bgr("coffee")))
    ahead = CompareSpec.of(PRESETS[0])
    loader = Loader(host, ahead=ahead)
    loader.thread.start()
    try:
        loader.submit(LoadModel(lite0))
        wait_for(lambda: not loader.busy.is_set(), timeout=120)
        # The first preset was traced ahead, installing nothing.
        assert host.compare is None
        assert ("read pass", lite0.read_layer, True) in lite0.compiled
        loader.submit(LoadCompare(ahead))
        wait_for(lambda: not loader.busy.is_set())
        assert host.compare is ahead

        both = CompareSpec.of(PRESETS[0], versus="squeezenet")
        loader.submit(LoadCompare(both))
        wait_for(lambda: not loader.busy.is_set(), timeout=120)
        assert host.compare is both and not host.errors
        assert sorted(host.versus_methods) == sorted(PRESETS[0])
        assert {m.model.name for m in host.versus_methods.values()} == {"squeezenet"}
        assert both.ready(lite0, host.compare_methods, host.versus_methods, "cam")

        loader.submit(LoadCompare(CompareSpec.of(PRESETS[0], versus="nosuch")))
        wait_for(lambda: not loader.busy.is_set())
        assert host.compare is both  # as it was
        (message, _), = host.errors
        assert message.startswith("second model nosuch: ") and "\n" not in message
    finally:
        loader.stop()
        loader.thread.join(2.0)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return str(write_video(tmp_path_factory.mktemp("video") / "chelsea.mp4", chelsea_pan(90),
                           fps=30, fourcc="mp4v"))


def test_pipeline_compares_live_and_goes_back(video, lite0):
    results, errors, lock = [], [], threading.Lock()

    def on_result(result) -> None:
        with lock:
            results.append(result)

    pipe = Pipeline(on_result=on_result, on_error=lambda m, k: errors.append(m),
                    method="gradcam", panel_only=True)
    pipe.set_source(video)
    pipe.set_model(lite0)
    pipe.start()
    try:
        pipe.set_compare(CompareSpec.of(PRESETS[0]))
        wait_for(lambda: len([r for r in results if len(r.panels) == 3]) >= 3)
        grid = [r for r in results if r.panels][-1]
        assert grid.overlay.shape[1] > 2.5 * grid.frame.image.shape[1]
        assert grid.generation == pipe.generation

        pipe.set_compare(CompareSpec.of((), RIVAL))  # the second map, live
        wait_for(lambda: [t for t, _, _ in results[-1].panels][-1:] != ["Layer-CAM"]
                 and len(results[-1].panels) == 2)
        (_, c1, p1), (_, c2, p2) = results[-1].panels
        assert c1 != c2 and p1 >= p2  # top-1 | runner-up
        pipe.set_method("layercam")  # the second map follows the method
        wait_for(lambda: results[-1].method_name == "Layer-CAM" and len(results[-1].panels) == 2)

        with pytest.raises(CamviewError, match="Occlusion takes seconds"):
            pipe.set_compare(CompareSpec((PanelSpec("occlusion"),)))
        pipe.set_compare(None)
        wait_for(lambda: results[-1].panels == () and results[-1].generation == pipe.generation)
        assert results[-1].overlay.shape == results[-1].frame.image.shape
    finally:
        assert pipe.stop(timeout=2.0)
    assert not errors
