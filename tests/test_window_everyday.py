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
