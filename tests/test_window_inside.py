"""The window's Network dock, headless, on the real video and model: the summary of the model
shown, the filters of a chosen convolution, and a picture grown on demand with progress,
Cancel and Save (camview.app.network_dock)."""

from __future__ import annotations

import cv2
import numpy as np

from camview.network.dream import class_probabilities
from camview.network.filters import filter_grid, kernels
from camview.network.summary import summarise, summary_lines

LONG = 90000


def test_summary_and_filters_tabs_show_the_model_shown(qtbot, window, lite0):
    dock = window.inside
    assert dock.isHidden()
    window.session.actions["network_summary"].trigger()
    assert dock.isVisible() and dock.tabs.currentIndex() == 0
    frame = window.session.raw.image.shape[:2]
    lines = summary_lines(summarise(lite0, frame))
    table = lines[:-1]
    qtbot.waitUntil(lambda: dock.summary.toPlainText().startswith("\n".join(table)),
                    timeout=LONG)
    shown = dock.summary.toPlainText()
    assert "total params: 4,631,000" in shown
    # The whole table is in view: no line wider than the table, no sideways scrolling.
    assert max(len(line) for line in shown.splitlines()) == max(len(line) for line in table)
    assert dock.summary.horizontalScrollBar().maximum() == 0

    window.session.actions["network_filters"].trigger()
    assert dock.tabs.currentIndex() == 1
    assert dock.filters.image is not None and "stem_conv (Conv2D): 32 kernels" in \
        dock.filters_caption.text()
    assert np.array_equal(dock.filters.image, filter_grid(kernels(lite0), 64))
    window.panel.choose(dock.conv, "block1_dwconv")
    dock.max.setValue(16)
    assert "96 depthwise kernels 3x3" in dock.filters_caption.text()
    assert np.array_equal(dock.filters.image, filter_grid(kernels(lite0, "block1_dwconv"), 16))


def test_grow_a_class_cancel_and_save(qtbot, window, lite0, tmp_path):
    dock = window.inside
    window.session.actions["network_dream"].trigger()
    assert dock.tabs.currentIndex() == 2 and not dock.save_button.isEnabled()
    dock.target.setText("espressoo")
    dock.grow()  # a typo: one line with suggestions, nothing started
    assert "did you mean: espresso" in dock.dream_caption.text()
    assert not window.session.jobs.busy

    dock.steps.setValue(5000)
    dock.target.setText("espresso")
    dock.grow()
    assert window.job_bar.isVisible()
    qtbot.waitUntil(lambda: window.job_bar.bar.value() >= 2, timeout=LONG)
    window.job_bar.cancel.click()
    qtbot.waitUntil(lambda: "cancelled" in dock.dream_caption.text(), timeout=LONG)
    assert dock.image is None and not dock.save_button.isEnabled()

    dock.steps.setValue(3)
    dock.grow()
    qtbot.waitUntil(lambda: dock.image is not None, timeout=LONG)
    assert dock.save_button.isEnabled() and "espresso: probability" in dock.dream_caption.text()
    out = tmp_path / "grown.png"
    dock.save(out)
    back = cv2.imread(str(out))
    assert np.array_equal(back, dock.image)
    prob = class_probabilities(lite0, back)[lite0.find_class("espresso")]
    assert f"probability {prob:.3f}" in dock.dream_caption.text()


def test_the_layer_combo_shows_its_name_whole_and_the_list_shows_the_shapes(window):
    from PyQt6.QtCore import Qt

    combo = window.network.layer
    window.resize(1600, 1000)
    assert combo.currentText() == "head_activation (read)"
    # What the closed combo shows fits it (no "head_activation 1280 ch (re…").
    assert combo.fontMetrics().horizontalAdvance(combo.currentText()) < combo.width() - 24
    rows = combo.model()
    assert rows.columnCount() == 2  # name | shape, in the list that opens
    shapes = [rows.index(i, 1).data() for i in range(rows.rowCount())]
    assert all(s.endswith(" ch") or s.count("x") == 2 for s in shapes)
    view = combo.view()
    assert view.minimumWidth() >= view.columnWidth(0) + view.columnWidth(1)  # cuts nothing
    tips = [combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(combo.count())]
    assert all(tip.startswith(combo.itemData(i)) for i, tip in enumerate(tips))
    assert combo.toolTip().startswith(tips[combo.currentIndex()] + "\n")
    window.panel.pick(combo, 3)  # another layer: its name and shape in the tooltip now
    assert combo.toolTip().startswith(tips[3] + "\n")
