"""The PyQt6 window, headless (offscreen), on a real video and the real default model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import keras
import pytest
from helpers import count_frames
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog
from window_host import started_window

from camview.app import recorder as recorder_module
from camview.app.about import setting_rows
from camview.app.main import opened_settings, options_from_args
from camview.app.saved_settings import (
    CHANGED,
    COMMAND_LINE,
    DEFAULT,
    SAVED,
    Options,
    open_settings,
    options_with_settings,
)
from camview.commands.parser import build_parser
from camview.errors import OutputError

LONG = 60000  # ms: a model switch or a first map on a busy machine


def test_frames_results_and_switches(qtbot, window):
    assert window.session.result.model_name == "efficientnet_lite0"
    assert window.panel.top.item(0).text().strip().startswith("▶")
    assert "fps" in window.readout.text() or window.readout.text() == ""

    qtbot.keyClick(window, Qt.Key.Key_2)  # the Grad-CAM shortcut
    qtbot.waitUntil(lambda: window.session.result.method_name == "Grad-CAM", timeout=10000)
    assert window.panel.method.currentText() == "Grad-CAM"

    top = window.panel.top
    wanted = top.class_at(1)
    rect = top.visualItemRect(top.item(1))
    qtbot.mouseClick(top.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.session.pipeline.target == wanted
    qtbot.waitUntil(lambda: window.session.result.target == wanted, timeout=5000)
    assert window.session.result.map.target == wanted
    assert "Pinned" in window.panel.target.current.text()
    qtbot.keyClick(window, Qt.Key.Key_A)  # back to auto
    assert window.session.pipeline.target is None

    window.session.pipeline.set_model("mobilenet_v2", weights="none")
    qtbot.waitUntil(lambda: window.session.result.model_name == "mobilenet_v2", timeout=30000)
    assert window.panel.model.currentData() == "mobilenet_v2"  # its text carries a mark


def test_search_pins_a_class(qtbot, window):
    search = window.panel.target.search
    qtbot.keyClick(window, Qt.Key.Key_T)
    assert search.hasFocus()
    qtbot.keyClicks(search, "golden retriever")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert window.session.pipeline.target == 207
    qtbot.waitUntil(lambda: window.session.result.target == 207, timeout=5000)


def test_recording_gives_a_playable_mp4(qtbot, window, tmp_path):
    path = tmp_path / "rec.mp4"
    window.recording.start(path)
    assert window.session.actions["record"].isChecked()
    qtbot.wait(1500)
    assert window.rec_label.text().startswith("● REC")
    window.recording.stop()
    assert count_frames(path) >= 20
    w = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_WIDTH)
    assert w > 2 * 320  # raw | overlay
    assert "saved" in window.status_text()


def test_write_failure_stops_the_recording(qtbot, window, tmp_path, monkeypatch):
    real = recorder_module.VideoWriter.write

    def write(self, frame):
        if self.frames >= 5:
            self.close()
            raise OutputError(f"writing video {self.path} failed after 5 frames (disk full?)")
        real(self, frame)

    monkeypatch.setattr(recorder_module.VideoWriter, "write", write)
    path = tmp_path / "full.mp4"
    window.recording.start(path)
    qtbot.waitUntil(lambda: window.recording.recorder is None, timeout=5000)
    assert "disk full" in window.status_text()
    assert not window.session.actions["record"].isChecked()
    assert count_frames(path) == 5  # the partial file is closed and plays


def test_bad_source_shows_an_error_and_keeps_running(qtbot, window, tmp_path):
    window.session.set_source(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(lambda: "missing.mp4" in window.status_text(), timeout=5000)
    assert "#d00" in window.message.label.styleSheet()
    shown = window.session.result
    qtbot.waitUntil(lambda: window.session.result is not shown, timeout=5000)


def test_snapshot_presentation_readout_help(qtbot, window, tmp_path):
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert list(tmp_path.glob("camview-*.png"))
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.session.presenting and not window.panel_scroll.isVisible()
    assert window.session.pipeline.style.label_scale > 1
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.session.presenting and window.panel_scroll.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_F)
    assert not window.readout.isVisible()
    rows = dict(window.shortcut_rows())
    assert rows["Freeze"] == "Space" and rows["Record"] == "R"
    for tip_widget in (window.panel.method, window.panel.threshold):
        assert "(" in tip_widget.toolTip()


def test_close_stops_threads_and_saves_settings(qtbot, video, lite0):
    before = set(threading.enumerate())
    win = started_window(qtbot, Options(source=video, model=lite0))
    win.panel.threshold.setValue(35)
    win.panel.choose(win.panel.method, "gradcam++")
    qtbot.waitUntil(lambda: win.session.result.method_name == "Grad-CAM++", timeout=10000)
    t0 = time.monotonic()
    win.close()
    assert time.monotonic() - t0 < 1.0
    assert set(threading.enumerate()) - before == set()
    restored = options_with_settings(Options(), open_settings())
    assert restored.method == "gradcam++" and restored.style.threshold == pytest.approx(0.35)
    given = options_with_settings(Options(method="cam", given={"method"}), open_settings())
    assert given.method == "cam"  # the command line wins


def test_ctrl_c_closes_cleanly_with_a_playable_recording(video, tmp_path):
    out = tmp_path / "r.mp4"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="2")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "camview.cli", "--source", video,
                             "--record", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            # The recording grows under a hidden partial name until it is closed.
            growing = [p for p in tmp_path.glob(".r.mp4.*.part.mp4") if p.stat().st_size > 20000]
            if growing:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()
        # The bound scales with the machine: closing may take at most half of what starting
        # (Python, TensorFlow, the model, the first frames) took in this run, and 5 s quiet.
        startup = time.monotonic() - started
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        assert time.monotonic() - t0 < max(5.0, startup / 2), (time.monotonic() - t0, startup)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count_frames(out) > 0


def window_options(*argv: str) -> Options:
    """What `camview ARGV` starts the window with, saved settings applied."""
    return options_with_settings(options_from_args(build_parser().parse_args(["window", *argv])),
                                 open_settings())


def test_saved_settings_are_said_and_never_beat_the_command_line(qtbot, video, lite0, tmp_path):
    # Issue 13: a layout chosen once in the window made a later `--record` overlay-only.
    settings = open_settings()
    settings.setValue("layout", "overlay")
    settings.setValue("style", "blend")
    settings.sync()
    quiet = window_options("--source", video, "--output-dir", str(tmp_path))
    assert quiet.style.layout == "overlay" and quiet.origins["layout"] == SAVED
    out = tmp_path / "given.mp4"
    options = window_options("--source", video, "--record", str(out), "--layout",
                             "side-by-side", "--output-dir", str(tmp_path))
    assert options.style.layout == "side-by-side" and options.origins["layout"] == COMMAND_LINE
    options.model = lite0
    win = started_window(qtbot, options)
    assert win.status_text().startswith("using saved settings: style blend — Settings → Reset")
    qtbot.waitUntil(lambda: win.recording.recorder is not None, timeout=10000)
    qtbot.wait(800)
    win.recording.stop()
    width = cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_WIDTH)
    assert width > 2 * 320  # raw | overlay, as the command line said

    dialog = win.prefs.show_about()
    table = dialog.table
    rows = {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text())
            for r in range(table.rowCount())}
    assert rows["layout"] == ("side-by-side", COMMAND_LINE)
    assert rows["style"] == ("blend", SAVED) and rows["threshold"] == ("0.20", DEFAULT)
    assert rows["output folder"] == (str(tmp_path), COMMAND_LINE)
    win.panel.choose(win.panel.colormap, "turbo")
    assert setting_rows(win.prefs.values(), win.session.options, "")[3] == ("colormap", "turbo",
                                                                     CHANGED)
    dialog.close()
    win.close()
    settings.sync()
    assert settings.value("layout") == "overlay"  # the command line's was for that run only
    assert settings.value("colormap") == "turbo"  # changed in the window: remembered


def test_reset_settings_from_the_menu_and_the_command_line(qtbot, video, lite0):
    settings = open_settings()
    for key, value in (("threshold", 0.35), ("smoothing", 0.5), ("style", "blend")):
        settings.setValue(key, value)
    settings.sync()
    options = window_options("--source", video, "--alpha", "0.8")
    options.model = lite0
    win = started_window(qtbot, options)
    assert win.panel.threshold.value() == 35 and win.panel.style.currentData() == "blend"
    win.session.actions["reset_settings"].trigger()
    assert win.panel.threshold.value() == 20 and win.panel.style.currentData() == "matlab"
    assert win.session.pipeline.style.threshold == 0.2 and win.session.pipeline.smoothing == 0.0
    assert win.session.pipeline.style.alpha == 0.8  # given on the command line: kept
    assert "settings reset" in win.status_text() and "alpha" in win.status_text()
    assert open_settings().allKeys() == []
    win.session.options.save_settings = False
    win.close()

    settings = open_settings()
    settings.setValue("threshold", 0.35)
    settings.sync()
    args = build_parser().parse_args(["window", "--reset-settings"])
    assert opened_settings(args).allKeys() == []


def test_output_folder_is_chosen_in_the_window_and_offered_after_saving(
        qtbot, window, tmp_path, monkeypatch):
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(chosen))
    window.session.actions["output_folder"].trigger()
    assert str(chosen) in window.status_text()
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert list(chosen.glob("camview-*.png"))
    assert window.status_text().startswith(f"saved {chosen}")
    assert window.message.open_folder.isVisible() and window.message.folder == chosen
    assert open_settings().value("output_dir") == str(chosen)


def test_messages_fit_clear_and_speak_to_the_window(qtbot, window, monkeypatch, tmp_path):
    width = window.width()
    monkeypatch.delenv("CAMVIEW_SQUEEZENET", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "nothing"))
    window.controls.set_model("squeezenet")
    qtbot.waitUntil(lambda: "SqueezeNet" in window.status_text(), timeout=10000)
    text = window.status_text()
    assert "choose squeezenet again" in text and "--" not in text and "$" not in text
    assert window.width() == width  # elided, not widening the window
    assert window.message.label.text().endswith("…")
    window.session.show_status("a failure", error=True, hold=0.2)
    qtbot.waitUntil(lambda: not window.message.is_error, timeout=5000)  # maps keep coming


def test_frozen_readout_is_honest_and_dialogs_show_every_row(qtbot, window):
    window.session.actions["freeze"].trigger()
    qtbot.waitUntil(lambda: "inference idle" in window.readout.text(), timeout=5000)
    assert "FROZEN" in window.readout.text()
    for dialog in (window.show_shortcuts(), window.prefs.show_about()):
        table = dialog.table
        viewport = table.viewport().rect()
        for row in range(table.rowCount()):
            for column in range(table.columnCount()):
                rect = table.visualRect(table.model().index(row, column))
                assert viewport.contains(rect), (dialog.windowTitle(), row, column)
        dialog.close()
    shown = {table.item(r, c).text() for r in range(table.rowCount())
             for c in range(table.columnCount()) if table.item(r, c)}
    assert "Freeze" not in shown  # the last table was About's


def test_a_bad_model_chosen_in_the_window_keeps_the_one_serving(window, qtbot, tmp_path):
    inputs = keras.Input((32, 32, 4))  # four channels: no frame gives them
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path / "pets.keras"
    keras.Model(inputs, keras.layers.Dense(2)(x)).save(path)
    window.session.set_model(str(path))
    qtbot.waitUntil(lambda: "kept efficientnet_lite0" in window.status_text(), timeout=LONG)
    assert "4 channels" in window.status_text()
    assert window.session.model.name == "efficientnet_lite0"
    before = window.session.result
    qtbot.waitUntil(lambda: window.session.result is not before, timeout=LONG)  # maps go on
    assert window.session.result.model_name == "efficientnet_lite0"


def test_a_new_photo_never_sits_beside_the_previous_photos_map(qtbot, lite0, tmp_path):
    import cv2
    from helpers import skimage_bgr
    from window_host import started_window

    from camview.app.saved_settings import Options

    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a_wide.png"), cv2.resize(skimage_bgr("chelsea"), (320, 180)))
    cv2.imwrite(str(photos / "b_tall.png"), cv2.resize(skimage_bgr("rocket"), (180, 320)))
    win = started_window(qtbot, Options(source=str(photos), model=lite0,
                                        output_dir=str(tmp_path)), timeout=LONG)
    seen = []  # at each new photo: its index, its shape, what the overlay view holds

    def on_frame(frame):
        result = win.session.result
        seen.append((frame.index, frame.image.shape, win.overlay_view.image.shape,
                     None if result is None else result.frame.index))

    win.session.frameShown.connect(on_frame)
    qtbot.waitUntil(lambda: any(index == 1 for index, *_ in seen), timeout=LONG)
    qtbot.waitUntil(lambda: win.session.result.frame.index == 1, timeout=LONG)
    win.close()
    for index, shape, overlay_shape, mapped in seen:
        if mapped != index:  # its map not come yet: the overlay view shows this photo
            assert overlay_shape[:2] == shape[:2], (index, shape, overlay_shape)


def test_the_side_panel_fits_without_scrolling_at_1600x1000(window, qtbot):
    from PyQt6.QtWidgets import QApplication

    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: window.height() == 1000)
    window.compare.box.methods.show()  # the tallest panel: Compare's custom list open
    window.frozen.options.show_for("integrated-gradients")  # and a slow method's options row
    QApplication.processEvents()
    bar = window.panel_scroll.verticalScrollBar()
    assert bar.maximum() == 0, (window.panel.sizeHint().height(),
                                window.panel_scroll.viewport().height())
