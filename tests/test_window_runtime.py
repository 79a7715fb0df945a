"""The window's runtime setting: a pick in the Network group switches the live maps to
OpenVINO and back, and the readout names the runtime and its device."""

from __future__ import annotations

from camview.models.runtimes import OPENVINO, TENSORFLOW


def _pick(window, qtbot, name: str) -> None:
    combo = window.runtime.combo
    row = combo.findData(name)
    combo.setCurrentIndex(row)
    combo.activated.emit(row)  # what a user's pick sends
    s = window.session
    # The first switch to OpenVINO converts the model: tens of seconds on a loaded machine.
    qtbot.waitUntil(lambda: s.model.runtime.name == name and combo.currentData() == name,
                    timeout=600000)
    asked = s.pipeline.generation
    qtbot.waitUntil(lambda: s.result is not None and s.result.generation >= asked,
                    timeout=20000)


def test_runtime_setting_switches_the_live_maps_and_the_readout_says_it(qtbot, window, lite0):
    s = window.session
    assert window.runtime.combo.currentData() == TENSORFLOW  # the suite's default
    s.set_readout(True)
    try:
        _pick(window, qtbot, OPENVINO)
        # The status line ends with the model's description, runtime included.
        qtbot.waitUntil(lambda: "runtime openvino on CPU" in window.status_text(),
                        timeout=20000)
        window._tick()
        assert "openvino on CPU" in window.readout.text()
        assert "openvino on CPU" in window.runtime.combo.toolTip()
        assert s.result.map.cam.ndim == 2  # maps keep coming, now from OpenVINO
        _pick(window, qtbot, TENSORFLOW)
        window._tick()
        assert "tensorflow on CPU" in window.readout.text()
    finally:
        lite0.use_runtime(TENSORFLOW)


def test_a_runtime_picked_in_the_window_is_remembered_for_the_next_start(qtbot, window, lite0):
    from camview.app.saved_settings import SAVED, open_settings, options_with_settings

    try:
        _pick(window, qtbot, OPENVINO)
        window.prefs.save()
        restored = options_with_settings(window.session.options, open_settings())
        assert restored.runtime == OPENVINO and restored.origins["runtime"] == SAVED
    finally:
        lite0.use_runtime(TENSORFLOW)
