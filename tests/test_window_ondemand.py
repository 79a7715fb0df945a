"""The window's on-demand parts, headless, on a real video and the real default model: slow
methods on the frozen frame (progress, cancel, re-run), the class-agnostic note, the layer
picker, Score maps, the layer outputs panel, model list marks, first-use download progress and
the preprocessing remembered per model file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import SQUEEZENET_DIR, Mirror
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel
from window_host import started_window

from camview.app.saved_settings import PREPROCESS_KEY, Options, open_settings, remembered_preprocess
from camview.app.scores import BASELINE, HEADERS, verdict
from camview.app.window import MainWindow
from camview.checks.faithfulness import RANDOM, score_maps
from camview.maps import make_method
from camview.models.graph import spatial_layers

LONG = 60000


def open_window(qtbot, options: Options) -> MainWindow:
    return started_window(qtbot, options, timeout=LONG)


@pytest.fixture
def window(qtbot, video, lite0, tmp_path):
    win = open_window(qtbot, Options(source=video, model=lite0, output_dir=str(tmp_path)))
    yield win
    win.close()


def pick_method(win: MainWindow, name: str) -> None:
    win.panel.choose(win.panel.method, name)  # as a click in the list does


def test_a_slow_method_freezes_runs_once_reruns_and_cancels(qtbot, window, lite0):
    p, od = window.panel, window.frozen
    assert p.method.itemText(p.method.findData("scorecam")) == "Score-CAM (frozen frame)"
    assert not od.options.isVisible()
    od.options.boxes["max_channels"].setValue(16)
    pick_method(window, "scorecam")
    assert window.session.pipeline.frozen and window.session.actions["freeze"].isChecked()
    assert od.options.isVisible() and od.options.boxes["max_channels"].isVisible()
    assert not od.options.boxes["patch"].isVisible()
    assert window.job_bar.isVisible() and window.job_bar.cancel.isVisible()
    qtbot.waitUntil(lambda: window.session.result.method_name == "Score-CAM", timeout=LONG)
    assert not window.job_bar.isVisible()
    shown = window.session.result
    assert p.method.currentData() == "scorecam"
    assert window.session.pipeline.method_name == "cam"  # the live loop keeps its fast method
    direct = make_method("scorecam", lite0, max_channels=16).explain(
        lite0.prepare(shown.frame.image), None)
    np.testing.assert_allclose(shown.map.cam, direct.cam, rtol=1e-4, atol=1e-6)
    assert shown.overlay.shape == shown.frame.image.shape

    # A style change redraws the same map, without computing it again.
    p.choose(p.colormap, "viridis")
    qtbot.waitUntil(lambda: window.session.result is not shown, timeout=LONG)
    assert window.session.result.map is shown.map and not od.busy
    assert not np.array_equal(window.session.result.overlay, shown.overlay)

    # Another class: the frozen frame is mapped again, for it.
    wanted = window.panel.top.class_at(1)
    window.controls.pin_target(wanted)
    qtbot.waitUntil(lambda: window.session.result.map.target == wanted, timeout=LONG)
    assert window.session.result.method_name == "Score-CAM"
    assert window.session.result.frame is shown.frame
    before = window.session.result

    # A fine occlusion takes many passes: cancel it, and the map shown before stays.
    od.options.boxes["patch"].setValue(8)
    od.options.boxes["stride"].setValue(4)
    pick_method(window, "occlusion")
    qtbot.waitUntil(lambda: window.job_bar.bar.value() > 0, timeout=LONG)
    assert window.job_bar.bar.maximum() > 1000
    qtbot.mouseClick(window.job_bar.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not od.busy and not window.job_bar.isVisible(), timeout=LONG)
    assert window.session.result is before
    assert "cancelled" in window.status_text()

    # Unfreezing goes back to live maps with the live method.
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.session.pipeline.frozen and od.method is None
    assert p.method.currentData() == "cam"
    qtbot.waitUntil(lambda: window.session.result.method_name == "CAM", timeout=LONG)


def test_eigen_cam_says_it_ignores_a_pinned_class(qtbot, window):
    pick_method(window, "eigencam")
    qtbot.waitUntil(lambda: window.session.pipeline.method_name == "eigencam", timeout=LONG)
    note = window.network.agnostic
    assert note.isHidden()
    window.controls.pin_target(window.panel.top.class_at(1))
    assert not note.isHidden() and "Eigen-CAM ignores the target class" in note.text()
    assert "Eigen-CAM ignores the target class" in window.status_text()
    window.controls.pin_target(None)
    assert note.isHidden()


def test_layer_list_reads_an_earlier_layer_and_cam_refuses_it(qtbot, window, lite0):
    combo = window.network.layer
    layers = spatial_layers(lite0.keras_model)
    assert combo.count() == len(layers)
    assert combo.currentData() == lite0.read_layer and combo.currentText().endswith("(read)")
    early = next(info for info in layers if info.path == "block9_expand_relu")  # stride 16
    # CAM reads only the layer before pooling: it says so and stays where it is.
    window.panel.choose(combo, early.path)
    qtbot.waitUntil(lambda: "CAM reads only the layer before global pooling"
                    in window.status_text(), timeout=LONG)
    qtbot.waitUntil(lambda: combo.currentData() == lite0.read_layer, timeout=LONG)
    pick_method(window, "layercam")
    qtbot.waitUntil(lambda: window.session.result.method_name == "Layer-CAM", timeout=LONG)
    read_h = window.session.result.map.cam.shape[0]
    window.panel.choose(combo, early.path)
    qtbot.waitUntil(lambda: window.session.pipeline.layer == early.path, timeout=LONG)
    qtbot.waitUntil(lambda: window.session.result.map.cam.shape[0] > read_h, timeout=LONG)
    assert window.session.result.method_name == "Layer-CAM"


def test_score_maps_shows_the_table_with_the_random_baseline(qtbot, window, lite0):
    scored = window.session.result
    window.session.actions["score_maps"].trigger()
    assert window.session.pipeline.frozen
    qtbot.waitUntil(lambda: window.scores.dialog is not None, timeout=LONG)
    table = window.scores.dialog.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == HEADERS
    rows = [[table.item(r, c).text() for c in range(3)] for r in range(table.rowCount())]
    assert [r[0] for r in rows] == ["CAM", BASELINE]
    for _, deletion, insertion in rows:
        assert 0.0 <= float(deletion) <= 1.0 and 0.0 <= float(insertion) <= 1.0
    # The numbers are those of the map shown, on its frame, for its class.
    direct = score_maps(lite0, lite0.prepare(scored.frame.image), {"CAM": scored.map.cam},
                        scored.map.target)
    assert rows == [[name, f"{direct[key].deletion_auc:.3f}", f"{direct[key].insertion_auc:.3f}"]
                    for name, key in (("CAM", "CAM"), (BASELINE, RANDOM))]
    note = " ".join(label.text() for label in window.scores.dialog.findChildren(QLabel))
    assert "lower deletion and a higher insertion" in note
    assert verdict("CAM", direct["CAM"], direct[RANDOM]) in note


def test_layer_outputs_dock_tiles_the_chosen_layer(qtbot, window, lite0):
    dock = window.layers_dock
    assert dock.isHidden()
    window.session.actions["layer_outputs"].trigger()
    assert dock.isVisible()
    qtbot.waitUntil(lambda: dock.image.image is not None, timeout=LONG)
    assert "channels 1–16 of 1280" in dock.caption.text()
    first = dock.image.image
    early = spatial_layers(lite0.keras_model)[3]
    window.panel.choose(dock.layer, early.path)
    window.panel.choose(dock.count, 64)
    qtbot.waitUntil(lambda: f"{early.path}: channels 1–" in dock.caption.text(), timeout=LONG)
    shown = min(64, early.shape[2])
    qtbot.waitUntil(lambda: f"channels 1–{shown} of" in dock.caption.text(), timeout=LONG)
    assert dock.image.image.shape != first.shape
    window.session.actions["layer_outputs"].trigger()
    assert dock.isHidden() and not dock.worker._enabled


def test_model_list_marks_and_a_first_use_download_in_the_status(qtbot, video, tmp_path,
                                                                 monkeypatch):
    source = next((p for p in (SQUEEZENET_DIR, Path(os.environ.get("CAMVIEW_SQUEEZENET", "/-")))
                   if (p / "squeezenet1.1.bin").is_file()), None)
    if source is None:
        pytest.skip("no SqueezeNet files here to serve as a download")
    monkeypatch.delenv("CAMVIEW_SQUEEZENET", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    mirror = Mirror(source)
    monkeypatch.setenv("CAMVIEW_WEIGHTS_URL", mirror.url)
    try:
        win = open_window(qtbot, Options(source=video, output_dir=str(tmp_path)))
        combo = win.panel.model
        text = {combo.itemData(r): combo.itemText(r) for r in range(combo.count())}
        assert text["efficientnet_lite0"] == "efficientnet_lite0 · ready"
        assert text["squeezenet"] == "squeezenet · will download on first use (2.5 MB)"
        said: list[str] = []
        win.session.bridge.status.connect(said.append)
        win.panel.choose(combo, "squeezenet")
        qtbot.waitUntil(lambda: win.session.result.model_name == "squeezenet", timeout=LONG)
        assert any("downloading squeezenet1.1.bin" in s for s in said)
        assert combo.itemText(combo.findData("squeezenet")) == "squeezenet · ready"
        win.close()
    finally:
        mirror.stop()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A tiny CNN classifier saved as .keras (random weights: only how it is fed matters)."""
    import keras

    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return str(path)


def test_preprocessing_is_remembered_per_model_file(qtbot, video, model_file, tmp_path):
    win = open_window(qtbot, Options(source=video, model=model_file,
                                     output_dir=str(tmp_path)))
    net = win.network
    qtbot.waitUntil(lambda: not net.preprocess.isHidden(), timeout=LONG)
    assert net.preprocess.currentData() == "auto"
    assert net.preprocess.itemText(0) == "auto (unit)"  # what auto chose for this model
    assert "preprocess unit" in win.status_text()
    win.panel.choose(net.preprocess, "tf")
    qtbot.waitUntil(lambda: win.session.model.preprocess_name == "tf", timeout=LONG)
    qtbot.waitUntil(lambda: "preprocess tf" in win.status_text(), timeout=LONG)
    settings = open_settings()
    assert remembered_preprocess(settings, model_file) == "tf"
    assert list(json.loads(settings.value(PREPROCESS_KEY)).values()) == ["tf"]
    win.close()

    again = open_window(qtbot, Options(source=video, model=model_file,
                                       output_dir=str(tmp_path)))
    assert again.session.model.preprocess_name == "tf"
    assert again.network.preprocess.currentData() == "tf"
    again.panel.choose(again.panel.model, "efficientnet_lite0")
    qtbot.waitUntil(lambda: again.session.result.model_name == "efficientnet_lite0", timeout=LONG)
    qtbot.waitUntil(lambda: again.network.preprocess.isHidden(), timeout=LONG)
    again.close()


def test_integrated_gradients_baseline_is_picked_beside_its_steps(qtbot, lite0):
    """The frozen frame's options row offers --baseline too, as a list (black or blur)."""
    from camview.app.frozen_frame import MethodOptions
    from camview.maps.integrated_gradients import BASELINES

    holder = QLabel()
    qtbot.addWidget(holder)
    options = MethodOptions(holder)
    options.show_for("integrated-gradients")
    holder.show()
    box = options.boxes["baseline"]
    assert box.isVisible() and options.boxes["steps"].isVisible()
    assert not options.boxes["masks"].isVisible()
    assert [box.itemData(i) for i in range(box.count())] == list(BASELINES)
    assert dict(options.values("integrated-gradients")) == {"steps": 32, "baseline": "black"}
    seen = []
    options.changed.connect(lambda: seen.append(True))
    box.setCurrentIndex(box.findData("blur"))
    box.activated.emit(box.currentIndex())  # what a user's pick sends
    assert seen and dict(options.values("integrated-gradients"))["baseline"] == "blur"
    method = make_method("integrated-gradients", lite0, **dict(options.values(
        "integrated-gradients")))
    assert method.baseline == "blur"
