"""The window's widgets and actions on their own (no model running), and view output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QObject, QPoint, Qt, QUrl, pyqtSlot
from PyQt6.QtGui import QDesktopServices, QGuiApplication
from PyQt6.QtWidgets import QComboBox, QToolTip, QVBoxLayout, QWidget

from camview.app.class_pickers import TargetPicker
from camview.app.control_panel import ControlPanel
from camview.app.file_patterns import patterns
from camview.app.saved_settings import (
    Options,
)
from camview.app.status_line import COPIED, StatusMessage
from camview.app.view_area import ViewArea
from camview.app.view_output import ViewOutput
from camview.app.window import MainWindow
from camview.drawing.layout import separator_width
from camview.drawing.overlay import COLORMAPS, LAYOUTS, STYLES, OverlayStyle
from camview.errors import CamviewError
from camview.maps import METHODS
from camview.models import model_names


def entries(combo: QComboBox) -> list[tuple[str, object]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def test_panel_lists_the_core_vocabularies(qtbot):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    assert entries(panel.method) == [(m.title if m.live else f"{m.title} (frozen frame)", m.name)
                                     for m in METHODS.values()]
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
    for i, method in enumerate(METHODS.values(), 1):  # number keys for the first ten
        keys = str(i % 10) if i <= 10 else ""
        assert (f"{keys} {method.title}" if keys else f", {method.title}") in tip
        assert win.session.actions[f"method_{method.name}"].shortcut().toString() == keys
    rows = dict(win.shortcut_rows())
    assert rows["Next style"] == "Y" and "(Y)" in win.panel.style.toolTip()
    assert rows["Search a target class"] in win.panel.target.search.toolTip()
    win.close()


def test_file_dialog_patterns():
    assert patterns(".mp4", ".png") == "*.mp4 *.png"


def test_target_picker_finds_typed_classes(qtbot, lite0):
    picker = TargetPicker()
    qtbot.addWidget(picker)
    picker.set_labels(lite0.labels, lite0.find_class)
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
    assert message.text() == "camera lost" and "bold" in message.label.styleSheet()
    message.success()  # held: a success does not hide it yet
    assert message.is_error
    qtbot.waitUntil(lambda: message.text() == "live", timeout=5000)  # the newest, after it
    assert message.label.styleSheet() == "" and not message.is_error


def test_an_error_gives_way_to_the_next_success_after_its_hold(qtbot):
    message = StatusMessage()
    qtbot.addWidget(message)
    message.show_message("model failed", error=True, hold=0.2)
    qtbot.wait(300)
    assert message.text() == "model failed"  # nothing newer: it stays until things work
    message.success()
    assert message.text() == "" and not message.is_error


def test_a_long_message_is_elided_with_the_full_text_to_hover_and_copy(qtbot):
    message = StatusMessage()
    qtbot.addWidget(message)
    message.resize(300, 30)
    message.show()
    qtbot.waitExposed(message)
    long = "SqueezeNet 1.1 weights not found: copy squeezenet1.1.xml and squeezenet1.1.bin " \
           "into /home/someone/.local/share/camview/models, then choose squeezenet again"
    message.show_message(long, error=True)
    shown = message.label.text()
    assert shown.endswith("…") and len(shown) < len(long)
    assert message.label.fontMetrics().horizontalAdvance(shown) <= message.label.width()
    assert message.label.toolTip().startswith(long) and message.text() == long
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(message.label, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == long
    assert QToolTip.text() == COPIED


def test_saved_files_offer_their_folder(qtbot, tmp_path):
    opened = []

    class Handler(QObject):  # stands in for the file manager: Qt routes file URLs to it
        @pyqtSlot(QUrl)
        def open(self, url):
            opened.append(url.toLocalFile())

    handler = Handler()
    QDesktopServices.setUrlHandler("file", handler, "open")
    try:
        message = StatusMessage()
        qtbot.addWidget(message)
        message.show()
        message.show_message(f"saved {tmp_path / 'a.png'}", folder=tmp_path)
        assert message.open_folder.isVisible()
        qtbot.mouseClick(message.open_folder, Qt.MouseButton.LeftButton)
        assert opened == [str(tmp_path)]
        message.show_message("live")
        assert not message.open_folder.isVisible()
    finally:
        QDesktopServices.unsetUrlHandler("file")










def test_snapshot_before_the_first_map_keeps_the_view_size(tmp_path):
    raw = np.full((120, 160, 3), 90, np.uint8)
    output = ViewOutput(str(tmp_path), on_record_failure=print)
    saved = cv2.imread(str(output.snapshot(raw, None, "side-by-side")))
    sep = separator_width(120)
    assert saved.shape == (120, 2 * 160 + sep, 3)
    assert (saved[:, :160] == 90).all() and (saved[:, 160 + sep:] == 0).all()


def test_no_two_actions_share_a_shortcut(qtbot):
    """Qt runs neither action of an ambiguous shortcut: every key must be one action's."""
    win = MainWindow(Options(save_settings=False))
    qtbot.addWidget(win)
    owners: dict[str, str] = {}
    for name, action in win.session.actions.items():
        for key in action.shortcuts():
            text = key.toString()
            assert text not in owners, f"{text} is both {owners[text]} and {name}"
            owners[text] = name
    win.close()
