"""A layer picker: a combo of the model's layers maps can be read from, shown as a name |
shape table when it opens.

The side panel (camview.app.layer_preprocess_controls) and the Layer outputs dock
(camview.app.layer_outputs_dock) both pick a layer this way.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QStandardItem, QStandardItemModel
from PyQt6.QtWidgets import QComboBox, QTreeView

from camview.app.signal_blocking import signals_blocked
from camview.models import CamModel


def fill_layers(combo: QComboBox, model: CamModel) -> None:
    """Every layer maps can be read from, the read layer selected.

    The closed combo shows only the name (and "(read)" for the read layer): in the narrow
    side panel a name with its shape was cut ("head_activation 1280 ch (re…"). The list that
    opens is a two-column table, name and output shape, as wide as its widest row, and each
    entry's whole description is its tooltip."""
    rows = QStandardItemModel(combo)
    for info in model.spatial_layers():
        h, w, c = info.shape
        shape = f"{c} ch" if h is None or w is None else f"{h}x{w}x{c}"
        read = info.path == model.read_layer
        name = QStandardItem(f"{info.path} (read)" if read else info.path)
        name.setData(info.path, Qt.ItemDataRole.UserRole)
        size = QStandardItem(shape)
        tip = f"{info.path}  {shape}" + ("  (the read layer)" if read else "")
        for item in (name, size):
            item.setToolTip(tip)
            item.setEditable(False)
        rows.appendRow([name, size])
    with signals_blocked(combo):
        combo.setModel(rows)
        combo.setCurrentIndex(max(0, combo.findData(model.read_layer)))
    view = combo.view()
    if isinstance(view, QTreeView):
        for column in range(rows.columnCount()):
            view.resizeColumnToContents(column)
        view.setMinimumWidth(sum(view.columnWidth(c) for c in range(rows.columnCount()))
                             + 3 * combo.fontMetrics().averageCharWidth())
    show_whole(combo)


def layer_combo(tip: str) -> QComboBox:
    """A layer picker for the side panel or a dock: it narrows to its place (the name is
    elided there) and opens as a name | shape table (fill_layers fills it)."""
    combo = QComboBox()
    combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    combo.setToolTip(tip)
    view = QTreeView()
    view.setHeaderHidden(True)
    view.setRootIsDecorated(False)
    view.setItemsExpandable(False)
    view.setAllColumnsShowFocus(True)
    view.setUniformRowHeights(True)
    combo.setView(view)
    return combo


def show_whole(combo: QComboBox) -> None:
    """The chosen entry's whole text first in the combo's tooltip (a cut one included)."""
    base = combo.property("baseTip")
    if base is None:
        base = combo.toolTip()
        combo.setProperty("baseTip", base)
    current = combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole) \
        or combo.currentText()
    combo.setToolTip(f"{current}\n\n{base}" if current else base)
