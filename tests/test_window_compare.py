"""The window's compare view, second map and map-scale control (pytest-qt, offscreen, the real
default model on a real video)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from helpers import count_frames
from PyQt6.QtCore import Qt

from camview.app.compare_controls import PREPARING
from camview.app.main import options_from_args
from camview.app.saved_settings import Options, open_settings, options_with_settings
from camview.app.window import MainWindow
from camview.commands.parser import build_parser
from camview.drawing.scale import SCALES
from camview.live import PRESETS
from camview.maps import METHODS, make_method
from camview.models import model_names
from camview.sources.images import letterbox

LONG = 60000  # ms


def wait_panels(qtbot, win, count: int, classes: list[int] | None = None,
                titles: list[str] | None = None, timeout: int = 15000):
    """The newest result once it has `count` panels (of these classes, with these titles)."""
    def ready() -> bool:
        r = win.session.result
        return (r is not None and len(r.panels) == count
                and (classes is None or [c for _, c, _ in r.panels] == classes)
                and (titles is None or [t for t, _, _ in r.panels] == titles))

    qtbot.waitUntil(ready, timeout=timeout)
    return win.session.result


def test_compare_grid_replaces_the_overlay_and_is_recorded_and_saved(qtbot, window, tmp_path):
    box = window.compare.box
    assert [box.methods.item(r).data(Qt.ItemDataRole.UserRole)
            for r in range(box.methods.count())] == [n for n, m in METHODS.items() if m.live]
    window.recording.start(tmp_path / "grid.mp4")
    qtbot.keyClick(window, Qt.Key.Key_G)  # compare on: the first preset
    result = wait_panels(qtbot, window, 3, titles=["CAM", "Grad-CAM", "Layer-CAM"])
    assert window.session.actions["compare"].isChecked()
    assert window.status_text() == "compare: CAM | Grad-CAM | Layer-CAM"
    assert window.overlay_view.image is result.overlay
    views = window.views.views  # the grid gets the larger part of the width
    assert views.stretch(1) / views.stretch(0) == pytest.approx(2, abs=0.05)

    snap = window.recording.snapshot()  # raw | grid, at the raw frame's height
    saved = cv2.imread(str(snap))
    h, w = window.session.raw.image.shape[:2]
    assert saved.shape[0] == h and saved.shape[1] > w

    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ShiftModifier)  # next preset
    wait_panels(qtbot, window, 3, titles=["Grad-CAM", "Grad-CAM++", "Eigen-CAM"])
    box.mode.setCurrentIndex(box.mode.findData("custom"))
    box.mode.activated.emit(box.mode.currentIndex())
    assert box.methods.isVisible()
    box.tick(("gradcam", "saliency"))
    wait_panels(qtbot, window, 2, titles=["Grad-CAM", "Saliency"])
    qtbot.keyClick(window, Qt.Key.Key_G)  # off
    s = window.session
    qtbot.waitUntil(lambda: s.result.panels == () and s.result.generation == s.pipeline.generation,
                    timeout=10000)
    qtbot.wait(300)
    window.recording.stop()
    path = tmp_path / "grid.mp4"
    assert count_frames(path) > 5
    frames = cv2.VideoCapture(str(path))
    ok, first = frames.read()
    assert ok and first.shape[1] > 1.5 * first.shape[0]  # one size all along: raw | overlay


def test_compare_shows_it_is_preparing_at_once_and_its_grid_fills_the_view(qtbot, window):
    view = window.overlay_view
    assert view.busy is None
    qtbot.keyClick(window, Qt.Key.Key_G)
    assert view.busy == PREPARING and window.compare.busy_shown()  # at once, before any grid
    assert window.status_text().startswith("preparing compare: CAM | Grad-CAM | Layer-CAM")
    wait_panels(qtbot, window, 3, titles=["CAM", "Grad-CAM", "Layer-CAM"])
    assert view.busy is None and not window.compare.busy_shown()

    def filled() -> float:  # the part of the overlay view the grid covers
        rect = view.image_rect()
        return rect.width() * rect.height() / (view.width() * view.height())

    # The grid is shaped for the view: a tall one gets a column, a wide one a row.
    for size, tall in (((760, 1000), True), ((1600, 420), False)):
        window.resize(*size)
        qtbot.waitUntil(lambda tall=tall: (lambda h, w: h > 2 * w if tall else w > 2.5 * h)(
            *window.session.result.overlay.shape[:2]), timeout=10000)
        qtbot.wait(200)
        assert filled() > 0.6


def test_a_second_model_adds_a_row_and_one_that_fails_leaves_the_grid(qtbot, window, squeezenet,
                                                                   monkeypatch, tmp_path):
    box = window.compare.box
    assert [box.versus.itemData(r) for r in range(1, box.versus.count())] == model_names()
    qtbot.keyClick(window, Qt.Key.Key_G)
    wait_panels(qtbot, window, 3, titles=["CAM", "Grad-CAM", "Layer-CAM"])

    real = os.environ["CAMVIEW_SQUEEZENET"]
    monkeypatch.setenv("CAMVIEW_SQUEEZENET", str(tmp_path / "nothing here"))
    window.compare.set_second_model("squeezenet")
    assert window.compare.busy_shown()
    qtbot.waitUntil(lambda: window.status_text().startswith("second model squeezenet: "),
                    timeout=30000)
    assert "\n" not in window.status_text()
    assert not window.compare.busy_shown() and box.versus.currentData() is None
    qtbot.wait(300)
    assert [t for t, _, _ in window.session.result.panels] == ["CAM", "Grad-CAM", "Layer-CAM"]

    monkeypatch.setenv("CAMVIEW_SQUEEZENET", real)
    box.versus.setCurrentIndex(box.versus.findData("squeezenet"))
    box.versus.activated.emit(box.versus.currentIndex())
    result = wait_panels(qtbot, window, 6, timeout=60000)
    assert not window.compare.busy_shown()
    assert window.status_text() == "compare: CAM | Grad-CAM | Layer-CAM; second model: squeezenet"
    titles = [t for t, _, _ in result.panels]
    assert all(t.startswith("efficientnet_lite0 ") for t in titles[:3])
    assert [t.split(":")[0] for t in titles[3:]] == [f"squeezenet {METHODS[n].title}"
                                                    for n in PRESETS[0]]
    assert result.compare.columns == 3  # a row per model
    batch = squeezenet.prepare(result.frame.image)  # the same frame, through SqueezeNet alone
    for (title, index, prob), name in zip(result.panels[3:], PRESETS[0], strict=True):
        alone = make_method(name, squeezenet).explain(batch)
        assert index == alone.target
        assert prob == pytest.approx(float(alone.probabilities[alone.target]), abs=1e-4)
        assert f"{squeezenet.short_label(index)} {100 * prob:.0f}%" in title


def test_second_map_shows_the_runner_up_then_a_picked_class_when_frozen(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_Space)  # frozen: the second map is mapped on it
    qtbot.wait(400)  # the capture thread has seen the freeze
    held = window.session.pipeline.last_frame
    qtbot.keyClick(window, Qt.Key.Key_V)
    qtbot.waitUntil(lambda: window.session.result.frame is held
                    and len(window.session.result.panels) == 2, timeout=15000)
    result = window.session.result
    (t1, c1, p1), (_, c2, p2) = result.panels
    ranked = result.map.top(2)
    assert (c1, c2) == (ranked[0][0], ranked[1][0]) and p1 >= p2
    model = window.session.pipeline.current_model
    assert t1 == f"{model.short_label(c1)} {100 * p1:.0f}%"
    assert window.compare.box.rival.current.text().startswith(f"Runner-up: {model.short_label(c2)}")
    assert window.session.actions["second_map"].isChecked()

    rival = window.compare.box.rival
    rival.search.setText("golden retriever")
    qtbot.keyClick(rival.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.session.result.panels[-1][1] == 207, timeout=10000)
    assert window.session.result.frame is held
    assert "golden retriever" in window.session.result.panels[-1][0]
    assert "Pinned: golden retriever" in rival.current.text()

    qtbot.keyClick(window, Qt.Key.Key_G)  # with methods too: a row per class
    result = wait_panels(qtbot, window, 6, classes=[c1] * 3 + [207] * 3)
    assert result.panels[0][0].startswith("CAM: ")
    qtbot.keyClick(window, Qt.Key.Key_V)
    wait_panels(qtbot, window, 3)


def test_scale_control_cycles_is_explained_and_remembered(qtbot, window):
    win = window
    scale = win.panel.scale
    assert [scale.itemData(r) for r in range(scale.count())] == list(SCALES)
    tip = scale.toolTip()
    assert "(N)" in tip and all(name in tip for name in SCALES)
    assert "Next map scale" in dict(win.shortcut_rows())
    qtbot.keyClick(win, Qt.Key.Key_N)
    assert win.session.pipeline.style.scale == "fixed" and scale.currentData() == "fixed"
    win.close()
    assert open_settings().value("scale") == "fixed"
    assert options_with_settings(Options(), open_settings()).style.scale == "fixed"


def test_compare_option_starts_the_window_with_the_grid(qtbot, video, lite0):
    args = build_parser().parse_args(["window", "--compare", "Grad-CAM,gradcam++,eigencam",
                                      "--scale", "probability"])
    options = options_from_args(args)
    assert options.compare == ("Grad-CAM", "gradcam++", "eigencam")
    assert options.compare_model is None
    assert options.style.scale == "probability" and "scale" in options.given
    options.source, options.model = video, lite0
    win = MainWindow(options)
    qtbot.addWidget(win)
    win.start()
    try:
        assert win.compare.box.mode.currentData() == ",".join(PRESETS[1])
        wait_panels(qtbot, win, 3, timeout=30000)
    finally:
        win.close()


def test_compare_model_option_starts_the_window_with_a_row_per_model(qtbot, video, lite0,
                                                                     squeezenet):
    args = build_parser().parse_args(["window", "--compare", "gradcam,cam",
                                      "--compare-model", "squeezenet"])
    options = options_from_args(args)
    assert options.compare_model == "squeezenet"
    options.source, options.model = video, lite0
    win = MainWindow(options)
    qtbot.addWidget(win)
    win.start()
    try:
        assert win.compare.box.versus.currentData() == "squeezenet"
        result = wait_panels(qtbot, win, 4, timeout=60000)
        assert [t.split(":")[0] for t, _, _ in result.panels] == [  # the order typed
            "efficientnet_lite0 Grad-CAM", "efficientnet_lite0 CAM", "squeezenet Grad-CAM",
            "squeezenet CAM"]
    finally:
        win.close()


def test_letterbox_keeps_the_picture_shape():
    grid = np.full((100, 300, 3), 200, np.uint8)
    boxed = letterbox(grid, (200, 200))
    assert boxed.shape == (200, 200, 3)
    rows = np.where(boxed[:, 100, 0] > 100)[0]
    assert rows.min() > 50 and rows.max() < 150  # 300x100 fitted as 200x67, centred


def test_compare_says_it_is_preparing_until_its_first_grid(window, qtbot):
    window.session.actions["compare"].trigger()  # G
    assert window.status_text().startswith("preparing compare: CAM | Grad-CAM | Layer-CAM")
    qtbot.waitUntil(lambda: bool(window.session.result.panels), timeout=LONG)
    qtbot.waitUntil(lambda: window.status_text() == "compare: CAM | Grad-CAM | Layer-CAM",
                    timeout=LONG)


def test_a_custom_compare_keeps_the_order_typed(qtbot):
    """`--compare gradcam,cam` showed CAM first: the custom list kept the menu's order."""
    from camview.app.compare_controls import CompareBox

    box = CompareBox()
    qtbot.addWidget(box)
    box.tick(("gradcam", "cam"))
    assert box.checked() == ("gradcam", "cam")
    box.tick(("layercam", "gradcam++", "cam"))
    assert box.checked() == ("layercam", "gradcam++", "cam")
