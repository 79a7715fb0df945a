"""The set view's overview of the whole set, in the real window, headless: the
embedding scatter (hover names the image, a click selects it, the selection is ringed, the
class filter dims the others), the confusion tab (a click filters the list to its pair) and
where each class looks beside the class filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QPointF, Qt

from camview.app.labelled_set.overview import DIMMED_ALPHA
from camview.sets.dataset import write_demo_set


@pytest.fixture
def window(still_window):
    return still_window


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    return write_demo_set(tmp_path_factory.mktemp("crops") / "set", 15, long_side=96)


def test_scatter_confusion_and_where_in_the_set_view(qtbot, window, crops):
    sets, view = window.sets, window.sets.view
    overview = view.overview
    sets.open(crops)
    qtbot.waitUntil(lambda: sets.run is None and sets.cache_hits is not None, timeout=60000)
    assert len(overview.results) == 15  # every image a point, from the run's own features
    assert overview.xy.min() >= 0 and overview.xy.max() <= 1

    # Hover names the image: true -> predicted, confidence.
    first = overview.results[0]
    tip = overview.tip_of(first)
    assert tip.startswith(f"{first.path.name}: ") and "\u2192" in tip and "%" in tip

    # A click on a point selects its image in the list (widening the filters) and rings it.
    target = next(r for r in overview.results if r.correct) if any(
        r.correct for r in overview.results) else overview.results[-1]
    x, y = overview.position_of(target)
    overview.setCurrentIndex(0)
    vb = overview.plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(x, y))
    where = overview.plot.mapFromScene(scene)
    qtbot.mouseClick(overview.plot.viewport(), Qt.MouseButton.LeftButton, pos=where)
    qtbot.waitUntil(lambda: view.current() is not None
                    and view.current().path == target.path, timeout=5000)
    ring = overview.ring.data
    assert len(ring) == 1 and (ring[0]["x"], ring[0]["y"]) == pytest.approx((x, y), abs=1e-4)

    # The class filter dims the other classes' points.
    cls = target.true
    view.set_class_filter(cls, "true")
    for spot, r in zip(overview.points.points(), overview.results, strict=True):
        alpha = spot.brush().color().alpha()
        assert (alpha == DIMMED_ALPHA) == (r.true != cls and r.predicted != cls)
    assert "mean map peaks at the" in view.where.text()

    # The confusion tab: the set's matrix; a click on an off-diagonal cell filters the pair.
    table = overview.confusion
    labels = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    assert table.columnCount() == len(labels) + 1
    assert table.horizontalHeaderItem(len(labels)).text() == "other"
    assert sum(int(table.item(r, c).text()) for r in range(table.rowCount())
               for c in range(table.columnCount())) == 15
    pairs = [(r, c) for r in range(len(labels)) for c in range(len(labels))
             if r != c and int(table.item(r, c).text())]
    if pairs:
        r, c = pairs[0]
        overview.setCurrentIndex(1)
        rect = table.visualItemRect(table.item(r, c))
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        shown = view.visible()
        assert shown and all(view.table.label(x.true) == labels[r]
                             and view.table.label(x.predicted) == labels[c] for x in shown)
    else:  # the diagonal: the class's own images
        overview.setCurrentIndex(1)
        rect = table.visualItemRect(table.item(0, 0))
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert all(view.table.label(x.true) == labels[0] for x in view.visible())

    # Ordinary photos: nothing flagged, nothing marked in the class filter.
    assert view.flagged() == []
    sets.leave()


def test_second_model_picker_runs_it_over_the_set(qtbot, window, crops, lite0, squeezenet):
    from camview.sets.dataset import open_labelled_set
    from camview.sets.views.versus import Versus

    sets, view = window.sets, window.sets.view
    sets.open(crops)
    qtbot.waitUntil(lambda: sets.run is None and sets.cache_hits is not None, timeout=60000)
    view.versus.setCurrentIndex(view.versus.findData("squeezenet"))
    qtbot.waitUntil(lambda: sets.versus is not None, timeout=120000)
    note = view.versus_note.text()
    expected = Versus(lite0, squeezenet, open_labelled_set(crops, lite0.labels).images)
    expected.run()
    v = expected.summary(sets.tally.results)
    assert note.startswith(f"squeezenet: top-1 {100 * v['accuracy']['top1']:.1f} %")
    assert f"agrees with efficientnet_lite0 on {100 * v['agree']:.1f} %" in note
    assert f"only squeezenet right on {v['only_second_right']}" in note
    view.versus.setCurrentIndex(0)
    assert view.versus_note.text() == "" and sets.versus is None
    sets.leave()
