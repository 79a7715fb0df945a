"""The window's set view, headless, on class folders of the shipped demo photos and the real
EfficientNet-Lite0: the list fills from a worker thread, mistakes ranked, the two titled maps
of the selected image, J/K, the filters, the cache, a model switch, drops and --set; a second
model's column, filter and maps."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import DEMO
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from camview.app.labelled_set.table import MISTAKE_COLOUR, VERSUS, percent
from camview.app.labelled_set.worker import pair_titles
from camview.app.main import options_from_args
from camview.app.window import MainWindow
from camview.commands.parser import build_parser
from camview.errors import SourceError
from camview.labels import imagenet_labels
from camview.sets.classify import classify_set
from camview.sets.dataset import DEMO_CLASSES, looks_like_labelled_set, open_labelled_set
from camview.sets.tally import Tally
from camview.sets.views.versus import Versus

#: Folder (true class) -> demo photo. With EfficientNet-Lite0 three are mistakes: the cat is
#: taken for an Egyptian cat, the rocket for a drilling platform, the astronaut for a bobsled.
LONG = 60000  # ms
SET = {folder: photo for photo, folder in DEMO_CLASSES.items()}


def make_set(root: Path, classes: dict[str, str] = SET) -> Path:
    for folder, photo in classes.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO / f"{photo}.jpg", root / folder / f"{photo}.jpg")
    return root


@pytest.fixture
def demo_set(tmp_path) -> Path:
    return make_set(tmp_path / "demo-set")


@pytest.fixture
def window(still_window):
    return still_window


def open_and_finish(qtbot, win: MainWindow, path: Path) -> None:
    win.sets.open(path)
    qtbot.waitUntil(lambda: win.sets.run is None and win.sets.cache_hits is not None,
                    timeout=30000)


def picture_shown(win: MainWindow, name: str) -> bool:
    """The picture of image `name` is drawn (its caption lists the top-5 after the maps)."""
    caption = win.sets.view.caption.text()
    return win.sets.view.picture.image is not None and f"maps of {name}:" in caption \
        and "top-5:" in caption


def test_list_fills_with_mistakes_ranked(qtbot, window, demo_set, lite0):
    sets, view = window.sets, window.sets.view
    open_and_finish(qtbot, window, demo_set)
    assert sets.shown and window.session.pipeline.frozen  # the live source waits behind the set

    # The same classification the core gives, image by image: three mistakes.
    dataset = open_labelled_set(demo_set, lite0.labels)
    expected = Tally(max_mistakes=10)
    for r in classify_set(lite0, dataset.images):
        expected.add(r)
    assert len(view.table.results) == len(dataset) == 5
    shown = view.visible()
    assert [r.path.name for r in shown] == [r.path.name for r in expected.ranked_mistakes()]
    # Fed as render feeds them, the astronaut's bobsled (21.0 %) edges out the
    # rocket's drilling platform (19.5 %).
    assert [r.path.name for r in shown] == ["chelsea.jpg", "astronaut.jpg", "rocket.jpg"]
    confidences = [r.confidence for r in shown]
    assert confidences == sorted(confidences, reverse=True)
    assert "top-1 40.0 %" in view.accuracy.text() and "3 mistakes" in view.accuracy.text()
    assert view.rows.index(0, 2).data() == "Egyptian cat"

    view.mistakes_only.setChecked(False)
    assert len(view.visible()) == 5
    view.list.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by file name
    assert [r.path.name for r in view.visible()] == sorted(p + ".jpg" for p in SET.values())

    sets.leave()
    assert not sets.shown and not window.session.pipeline.frozen


def test_selection_shows_two_titled_maps_and_jk_walk(qtbot, window, demo_set):
    view = window.sets.view
    open_and_finish(qtbot, window, demo_set)
    qtbot.waitUntil(lambda: picture_shown(window, "chelsea.jpg"), timeout=20000)
    assert view.current().path.name == "chelsea.jpg"  # the most confident mistake
    caption = view.caption.text()
    assert "predicted: Egyptian cat 43." in caption and "true: tabby 15." in caption
    picture = view.picture.image
    h, w = picture.shape[:2]
    assert w > 2.4 * h  # two 3:2 photos side by side, titled above
    left, right = picture[:, : w // 2 - 4], picture[:, w // 2 + 4:]
    assert np.abs(left.astype(int) - right[:, : left.shape[1]].astype(int)).mean() > 5

    qtbot.keyClick(window, Qt.Key.Key_J)  # next
    assert view.current().path.name == "astronaut.jpg"
    qtbot.waitUntil(lambda: picture_shown(window, "astronaut.jpg"), timeout=20000)
    assert "predicted: bobsled" in view.caption.text()
    assert "true: space shuttle" in view.caption.text()
    qtbot.keyClick(window, Qt.Key.Key_J)
    qtbot.keyClick(window, Qt.Key.Key_J)  # stops at the last row
    assert view.current().path.name == "rocket.jpg"
    qtbot.keyClick(window, Qt.Key.Key_K)  # previous
    assert view.current().path.name == "astronaut.jpg"
    view.list.setFocus()
    qtbot.keyClick(view.list, Qt.Key.Key_Up)
    assert view.current().path.name == "chelsea.jpg"

    # A right answer shows the runner-up beside the class it chose.
    view.mistakes_only.setChecked(False)
    view.select_row([r.path.name for r in view.visible()].index("coffee.jpg"), by_user=True)
    qtbot.waitUntil(lambda: picture_shown(window, "coffee.jpg"), timeout=20000)
    assert "predicted = true: espresso" in view.caption.text()
    assert "runner-up:" in view.caption.text()


def test_method_switch_redraws_the_selected_image(qtbot, window, demo_set):
    view = window.sets.view
    open_and_finish(qtbot, window, demo_set)
    qtbot.waitUntil(lambda: picture_shown(window, "chelsea.jpg"), timeout=20000)
    before = view.picture.image.copy()
    qtbot.keyClick(window, Qt.Key.Key_2)  # the Grad-CAM shortcut
    qtbot.waitUntil(lambda: view.caption.text().startswith("Grad-CAM maps of chelsea.jpg"),
                    timeout=20000)
    after = view.picture.image
    assert after.shape == before.shape and not np.array_equal(after, before)
    assert window.sets.cache_hits is not None  # the set was not run again for a method


def test_class_filter_and_confusion_pairs(qtbot, window, tmp_path, lite0):
    # Two cats: one of the pairs is clicked as a filter, then a class filter.
    root = make_set(tmp_path / "cats", {"tabby": "chelsea", "espresso": "coffee",
                                        "missile": "rocket"})
    shutil.copy(DEMO / "chelsea.jpg", root / "tabby" / "chelsea2.jpg")
    view = window.sets.view
    open_and_finish(qtbot, window, root)
    tabby, egyptian = lite0.find_class("tabby"), lite0.find_class("Egyptian cat")
    assert view.pairs.item(1).data(Qt.ItemDataRole.UserRole) == (tabby, egyptian)
    assert view.pairs.item(1).text().endswith("×2")  # the most frequent pair first
    rect = view.pairs.visualItemRect(view.pairs.item(1))
    qtbot.mouseClick(view.pairs.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert {r.path.name for r in view.visible()} == {"chelsea.jpg", "chelsea2.jpg"}
    view.choose_pair(None)
    assert len(view.visible()) == 3

    view.set_class_filter(lite0.find_class("missile"), "true")
    assert [r.path.name for r in view.visible()] == ["rocket.jpg"]
    view.set_class_filter(egyptian, "true")
    assert view.visible() == []
    view.set_class_filter(egyptian, "predicted")
    assert len(view.visible()) == 2
    view.mistakes_only.setChecked(False)
    view.set_class_filter(lite0.find_class("espresso"), "either")
    assert [r.path.name for r in view.visible()] == ["coffee.jpg"]


def test_a_second_model_adds_its_column_its_filter_and_its_maps(qtbot, window, demo_set,
                                                                 lite0, squeezenet):
    sets, view = window.sets, window.sets.view
    open_and_finish(qtbot, window, demo_set)
    assert view.list.isColumnHidden(VERSUS) and view.differ.isHidden()  # no second model yet
    qtbot.waitUntil(lambda: picture_shown(window, "chelsea.jpg"), timeout=20000)
    one_model = view.picture.image.shape

    view.versus.setCurrentIndex(view.versus.findData("squeezenet"))
    qtbot.waitUntil(lambda: sets.versus is not None, timeout=120000)
    assert not view.list.isColumnHidden(VERSUS) and not view.differ.isHidden()
    assert view.rows.headerData(VERSUS, Qt.Orientation.Horizontal) == "squeezenet"
    assert view.current().path.name == "chelsea.jpg"  # the selection stays

    # The column is SqueezeNet's own top-1 of each image, red where it is wrong.
    expected = Versus(lite0, squeezenet, open_labelled_set(demo_set, lite0.labels).images)
    expected.run()
    view.mistakes_only.setChecked(False)
    seconds = {}
    for row, r in enumerate(view.visible()):
        b = seconds[r.path.name] = expected.results[r.index]
        cell = view.rows.index(row, VERSUS)
        assert cell.data() == f"{squeezenet.short_label(b.predicted)} {percent(b.confidence)}"
        assert (cell.data(Qt.ItemDataRole.ForegroundRole) == MISTAKE_COLOUR) == (not b.correct)
    assert len(seconds) == 5
    view.list.sortByColumn(VERSUS, Qt.SortOrder.AscendingOrder)
    texts = [view.rows.index(row, VERSUS).data() for row in range(view.rows.rowCount())]
    assert texts == sorted(texts, key=str.casefold)

    # "Models differ": the images exactly one of the two gets right.
    differ = {r.path.name for r in sets.tally.results if r.correct != seconds[r.path.name].correct}
    view.mistakes_only.setChecked(True)
    view.differ.setChecked(True)
    assert not view.mistakes_only.isChecked()  # both kinds of difference show
    assert {r.path.name for r in view.visible()} == differ

    # The selected image: a second row with SqueezeNet's maps under EfficientNet's.
    view.differ.setChecked(False)
    view.select_row([r.path.name for r in view.visible()].index("chelsea.jpg"), by_user=True)
    qtbot.waitUntil(lambda: "squeezenet top-5:" in view.caption.text()
                    and picture_shown(window, "chelsea.jpg"), timeout=30000)
    cat = seconds["chelsea.jpg"]
    said = pair_titles(cat, squeezenet.short_label)[0].rsplit(" ", 2)[0]  # without the %
    assert f"\nsqueezenet (CAM): {said} " in view.caption.text()
    picture = view.picture.image
    h, w = picture.shape[:2]
    assert h * w > 1.9 * one_model[0] * one_model[1]  # six panels where there were three
    if w == one_model[1]:  # a row per model: [photo | predicted | true] twice
        first_maps, second_maps = picture[:h // 2, w // 3:], picture[h - h // 2:, w // 3:]
    else:  # a column per model (a tall view): photos, then predicted maps, then true ones
        assert h > 1.4 * one_model[0]
        first_maps, second_maps = picture[h // 3:, :w // 2], picture[h // 3:, w - w // 2:]
    assert np.abs(first_maps.astype(int) - second_maps.astype(int)).mean() > 5

    view.versus.setCurrentIndex(0)  # no second model: its column, filter and row go
    assert view.list.isColumnHidden(VERSUS) and view.differ.isHidden()
    qtbot.waitUntil(lambda: "squeezenet" not in view.caption.text()
                    and picture_shown(window, "chelsea.jpg"), timeout=30000)
    assert view.picture.image.shape == one_model


def test_reopening_fills_from_the_cache(qtbot, window, demo_set):
    sets = window.sets
    open_and_finish(qtbot, window, demo_set)
    assert sets.cache_hits == 0
    first = list(sets.view.table.results)
    sets.leave()
    open_and_finish(qtbot, window, demo_set)
    assert sets.cache_hits == 5  # every image from the cache, none classified
    again = sets.view.table.results
    assert [(r.path, r.predicted) for r in again] == [(r.path, r.predicted) for r in first]
    # The cache keeps probabilities to 6 decimals.
    assert [r.confidence for r in again] == pytest.approx([r.confidence for r in first],
                                                          abs=1e-6)
    assert "all 5 from the cache" in sets.view.accuracy.text()


def test_replacing_a_set_cancels_its_run(qtbot, window, demo_set, tmp_path):
    other = make_set(tmp_path / "other", {"espresso": "coffee"})
    window.sets.open(demo_set)
    first = window.sets.run
    window.sets.open(other)
    assert first.cancelled
    assert first.join(10.0)  # its thread ends by itself
    qtbot.waitUntil(lambda: window.sets.run is None and window.sets.cache_hits is not None,
                    timeout=30000)
    assert [r.path.name for r in window.sets.view.table.results] == ["coffee.jpg"]


def test_model_switch_reruns_the_set(qtbot, window, demo_set, squeezenet):
    view = window.sets.view
    open_and_finish(qtbot, window, demo_set)
    qtbot.waitUntil(lambda: picture_shown(window, "chelsea.jpg"), timeout=20000)
    window.session.pipeline.set_model(squeezenet)
    qtbot.waitUntil(lambda: "squeezenet" in view.title.text(), timeout=30000)
    qtbot.waitUntil(lambda: window.sets.run is None and window.sets.cache_hits is not None,
                    timeout=30000)
    assert all(r.path.exists() for r in view.table.results) and len(view.table.results) == 5
    # The image selected before is drawn again by the new model and selected again.
    qtbot.waitUntil(lambda: view.current() is not None
                    and view.current().path.name == "chelsea.jpg", timeout=20000)
    assert window.sets.explainer.latest >= 2


def test_drop_opens_a_set_or_a_folder_source(qtbot, window, demo_set, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(DEMO / "rocket.jpg", plain / "rocket.jpg")
    labels = imagenet_labels()
    assert looks_like_labelled_set(demo_set, labels)
    assert not looks_like_labelled_set(plain, labels)
    csv = tmp_path / "set.csv"
    csv.write_text("path,label\ndemo-set/tabby/chelsea.jpg,tabby\n")
    assert looks_like_labelled_set(csv, labels)

    def drop(path: Path) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                                    Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))

    drop(csv)
    assert window.sets.shown and window.sets.spec == str(csv)
    qtbot.waitUntil(lambda: len(window.sets.view.table.results) == 1, timeout=30000)
    drop(plain)  # a folder of images: the live source, and the set is closed
    assert not window.sets.shown
    qtbot.waitUntil(lambda: window.session.source_name and "plain" in window.session.source_name,
                    timeout=10000)


def test_set_option(demo_set, tmp_path):
    args = build_parser().parse_args(["window", "--set", str(demo_set)])
    assert options_from_args(args).labelled_set == str(demo_set)
    args = build_parser().parse_args(["window", "--set", str(tmp_path / "nothing")])
    with pytest.raises(SourceError, match="no such folder or file"):
        options_from_args(args)


def test_closing_the_window_stops_the_run(still_window, demo_set):
    win = still_window
    win.sets.open(demo_set)
    run = win.sets.run
    win.close()  # at once, mid-run
    assert run.cancelled and run.join(10.0)
    assert not win.sets.explainer.thread.is_alive()


def test_two_models_maps_take_rows_in_a_wide_view_and_columns_in_a_tall_one():
    from camview.app.labelled_set.worker import larger_in_rows

    photo = (400, 600)  # a 3:2 photo
    assert larger_in_rows(photo, 1.6, (1200, 500))
    assert not larger_in_rows(photo, 1.6, (400, 450))


def test_the_set_view_shows_the_colour_photo_beside_the_two_maps(lite0, tmp_path):
    import cv2
    import numpy as np
    from helpers import skimage_bgr

    from camview.app.labelled_set.worker import explain_pair
    from camview.drawing.overlay import OverlayStyle
    from camview.maps import make_method
    from camview.sets.results import ImageResult

    photo = cv2.resize(skimage_bgr("chelsea"), (300, 200))
    path = tmp_path / "chelsea.png"
    cv2.imwrite(str(path), photo)
    result = ImageResult(0, path, 281, ((285, 0.5), (281, 0.2)), 0.2)
    pair = explain_pair(lite0, make_method("cam", lite0), result, OverlayStyle())
    h, w = pair.picture.shape[:2]
    assert w > 3 * 300 * (h - 40) / 200 * 0.9  # three 3:2 panels under their titles
    third = w // 3
    first = cv2.resize(pair.picture[h - 200:, :300], (300, 200))
    assert np.abs(first.astype(int) - photo.astype(int)).mean() < 12  # the photo itself
    assert pair.picture[:, third:].std() > 10


def test_an_own_model_in_the_set_view_is_labelled_by_the_sorted_folders(qtbot, tmp_path):
    from helpers import DEMO, class_folders, small_classifier
    from window_host import started_window

    from camview.app.saved_settings import Options
    from camview.models import load_model

    path = tmp_path / "own.keras"
    small_classifier(3).save(path)
    model = load_model(str(path))
    four = class_folders(tmp_path / "four", ["a", "b", "c", "d"])
    train = class_folders(tmp_path / "train", ["zebra", "apple", "mango"])
    coffee = DEMO / "coffee.jpg"
    win = started_window(qtbot, Options(source=str(coffee),
                                        model=model, output_dir=str(tmp_path),
                                        save_settings=False, labelled_set=four),
                         ready=lambda w: "no labelled images found" in w.status_text(),
                         timeout=LONG)
    assert not model.labels_named  # four folders, three classes: nothing is guessed

    # Dropped on the window: its folders are no class names yet, but one per class is a set
    # (then opened as File > Open labelled set opens it).
    assert win.sets.open_if_set(train)
    text = win.status_text()
    assert "named after the set's folders in sorted order" in text and "\n" not in text
    assert "apple, mango, zebra" in text and "--labels FILE" in text
    qtbot.waitUntil(lambda: win.sets.run is None and win.sets.cache_hits is not None,
                    timeout=LONG)
    table = win.sets.view.table
    assert sorted((r.true, table.label(r.true), r.path.name) for r in table.results) == [
        (0, "apple", "apple.jpg"), (1, "mango", "mango.jpg"), (2, "zebra", "zebra.jpg")]
    win.close()
