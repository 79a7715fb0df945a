"""The window as a new user meets it (issue 21): a bad model chosen inside the window keeps
the model serving and says which."""

import keras

LONG = 60000


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


def test_compare_says_it_is_preparing_until_its_first_grid(window, qtbot):
    window.session.actions["compare"].trigger()  # G
    assert window.status_text().startswith("preparing compare: CAM | Grad-CAM | Layer-CAM")
    qtbot.waitUntil(lambda: bool(window.session.result.panels), timeout=LONG)
    qtbot.waitUntil(lambda: window.status_text() == "compare: CAM | Grad-CAM | Layer-CAM",
                    timeout=LONG)


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
