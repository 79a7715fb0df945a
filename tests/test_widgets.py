"""The window's parts on their own (no model running): widgets, actions, settings, output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QPoint
from PyQt6.QtWidgets import QComboBox, QVBoxLayout, QWidget

from camview.app.settings import Options, open_settings, options_with_settings, save_settings
from camview.app.view_output import ViewOutput
from camview.app.widgets import ControlPanel, StatusMessage, TargetPicker, ViewArea
from camview.app.window import MainWindow, patterns
from camview.errors import CamviewError
from camview.maps import METHODS
from camview.models import model_names
from camview.overlay import COLORMAPS, LAYOUTS, STYLES, OverlayStyle, separator_width


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Never read or write the user's settings."""
    monkeypatch.setenv("CAMVIEW_SETTINGS_DIR", str(tmp_path / "settings"))


def entries(combo: QComboBox) -> list[tuple[str, object]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def test_panel_lists_the_core_vocabularies(qtbot):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    assert entries(panel.method) == [(m.title, m.name) for m in METHODS.values()]
    assert [d for _, d in entries(panel.style)] == list(STYLES)
    assert [d for _, d in entries(panel.layout_)] == list(LAYOUTS)
    assert [d for _, d in entries(panel.colormap)] == list(COLORMAPS)
    assert [d for _, d in entries(panel.model)][:-1] == list(model_names())

    style = OverlayStyle(style=STYLES[-1], threshold=0.35, alpha=0.7, colormap="turbo",
                         layout=LAYOUTS[-1])
    panel.show_state("/models/mine.keras", "gradcam", style, 0.5)
    assert panel.model.currentText() == "mine.keras"  # a file is added before 'Open…'
    assert panel.chosen_style(topk=3, label_scale=1.0) == style
    assert panel.values["threshold"].text() == "0.35"
    panel.cycle(panel.model)  # wraps round, past the 'open a file' entry
    assert panel.model.currentIndex() == 0


def test_view_area_is_black_between_and_around_the_views(qtbot):
    window = QWidget()  # inside a window, as it is used (a top-level one paints differently)
    qtbot.addWidget(window)
    area = ViewArea()
    QVBoxLayout(window).addWidget(area)
    window.resize(640, 240)
    window.show()
    for view in (area.raw, area.overlay):
        view.set_image(np.full((240, 320, 3), 200, np.uint8))
    shot = window.grab().toImage()
    gap = (area.raw.geometry().right() + area.overlay.geometry().left()) // 2
    where = area.mapTo(window, QPoint(gap, area.raw.geometry().center().y()))
    assert shot.pixelColor(where).name() == "#000000"
    area.set_layout(False, None)
    assert area.raw.isHidden()


def test_tooltips_and_shortcuts_come_from_the_actions(qtbot):
    win = MainWindow(Options(save_settings=False))
    qtbot.addWidget(win)
    tip = win.panel.method.toolTip()
    for i, method in enumerate(METHODS.values(), 1):
        assert f"{i} {method.title}" in tip
        assert win.actions_by_name[f"method_{method.name}"].shortcut().toString() == str(i)
    rows = dict(win.shortcut_rows())
    assert rows["Next style"] == "Y" and "(Y)" in win.panel.style.toolTip()
    assert rows["Search a target class"] in win.panel.target.search.toolTip()
    win.close()


def test_file_dialog_patterns():
    assert patterns(".mp4", ".png") == "*.mp4 *.png"


def test_target_picker_finds_typed_classes(qtbot, lite0):
    picker = TargetPicker()
    qtbot.addWidget(picker)
    picker.set_labels(lite0.labels)
    assert picker.class_for(picker.entries[281], lite0.find_class) == 281  # a completer entry
    assert picker.class_for("golden retriever", lite0.find_class) == 207  # a label
    hit = picker.class_for("RETRIEV", lite0.find_class)  # part of a name: the first entry
    assert "retriever" in lite0.labels[hit].lower()
    with pytest.raises(CamviewError, match="no class matches 'xyzzy'"):
        picker.class_for("xyzzy", lite0.find_class)


def test_an_error_is_not_hidden_by_plain_messages(qtbot):
    message = StatusMessage()
    qtbot.addWidget(message)
    message.show_message("camera lost", error=True, hold=0.3)
    message.show_message("frozen")
    message.show_message("live")
    assert message.text() == "camera lost" and "bold" in message.styleSheet()
    qtbot.waitUntil(lambda: message.text() == "live", timeout=5000)  # the newest, after it
    assert message.styleSheet() == ""


def test_settings_round_trip_and_the_command_line_wins():
    style = OverlayStyle(style="blend", threshold=0.4, alpha=0.3, colormap="turbo",
                         layout="overlay")
    save_settings(open_settings(), model="mobilenet_v2", method="gradcam", style=style,
                  smoothing=0.25, readout=False, geometry=None)
    restored = options_with_settings(Options(), open_settings())
    assert restored.style == style and restored.method == "gradcam"
    assert restored.model == "mobilenet_v2" and restored.smoothing == 0.25
    assert not restored.readout
    given = options_with_settings(Options(style=OverlayStyle(threshold=0.1), method="cam",
                                          given={"threshold", "method"}), open_settings())
    assert given.style.threshold == 0.1 and given.method == "cam"
    assert given.style.style == "blend"  # not given: the saved one


def test_snapshot_before_the_first_map_keeps_the_view_size(tmp_path):
    raw = np.full((120, 160, 3), 90, np.uint8)
    output = ViewOutput(str(tmp_path), on_record_failure=print)
    saved = cv2.imread(str(output.snapshot(raw, None, "side-by-side")))
    sep = separator_width(120)
    assert saved.shape == (120, 2 * 160 + sep, 3)
    assert (saved[:, :160] == 90).all() and (saved[:, 160 + sep:] == 0).all()
