"""Saved settings: what wins, what is remembered, what a broken one falls back to."""

from __future__ import annotations

from camview.app.saved_settings import (
    COMMAND_LINE,
    DEFAULT,
    SAVED,
    Options,
    open_settings,
    options_with_settings,
    reset_options,
    save_settings,
    saved_changes,
    setting_values,
)
from camview.drawing.overlay import OverlayStyle


def values(model="efficientnet_lite0", method="cam", style=None, smoothing=0.0, readout=True,
           output_dir=None, runtime="auto"):
    return setting_values(model=model, method=method, style=style or OverlayStyle(),
                          smoothing=smoothing, readout=readout, output_dir=output_dir,
                          runtime=runtime)


def test_settings_round_trip_and_the_command_line_wins(tmp_path):
    style = OverlayStyle(style="blend", threshold=0.4, alpha=0.3, colormap="turbo",
                         layout="overlay")
    save_settings(open_settings(), values("mobilenet_v2", "gradcam", style, 0.25, False,
                                          str(tmp_path)), Options(), geometry=None)
    restored = options_with_settings(Options(), open_settings())
    assert restored.style == style and restored.method == "gradcam"
    assert restored.model == "mobilenet_v2" and restored.smoothing == 0.25
    assert not restored.readout and restored.output_dir == str(tmp_path)
    assert set(restored.origins.values()) == {SAVED, DEFAULT}  # topk: never saved
    assert "layout overlay" in saved_changes(restored)
    given = options_with_settings(Options(style=OverlayStyle(threshold=0.1), method="cam",
                                          given={"threshold", "method"}), open_settings())
    assert given.style.threshold == 0.1 and given.method == "cam"
    assert given.origins["threshold"] == COMMAND_LINE and given.origins["style"] == SAVED
    assert given.style.style == "blend"  # not given: the saved one
    reset = reset_options(given)
    assert reset.style == OverlayStyle(threshold=0.1) and reset.model == "efficientnet_lite0"
    assert reset.origins["threshold"] == COMMAND_LINE and reset.origins["style"] == DEFAULT


def test_only_window_changes_that_differ_from_the_defaults_are_remembered():
    settings = open_settings()
    start = Options(style=OverlayStyle(layout="overlay"), given={"layout"})
    save_settings(settings, values(style=OverlayStyle(layout="overlay", threshold=0.3)), start,
                  geometry=None)
    assert settings.value("layout") is None  # the command line's, for that run only
    assert float(settings.value("threshold")) == 0.3  # changed in the window
    assert settings.value("method") is None  # the default: nothing to remember
    save_settings(settings, values(), Options(), geometry=None)
    assert settings.value("threshold") is None  # back to the default: forgotten
    assert saved_changes(options_with_settings(Options(), settings)) == []


def test_a_broken_saved_setting_falls_back_to_its_default():
    settings = open_settings()
    for key, value in (("threshold", "lots"), ("method", "lime"), ("colormap", "nope")):
        settings.setValue(key, value)
    options = options_with_settings(Options(), settings)
    assert options.style == OverlayStyle() and options.method == "cam"
    assert set(options.origins.values()) == {DEFAULT}


def test_the_runtime_chosen_is_remembered_and_the_command_line_wins(tmp_path):
    from camview.app.main import options_from_args
    from camview.commands.parser import build_parser

    settings = open_settings()
    save_settings(settings, values(runtime="openvino"), Options(), geometry=None)
    assert settings.value("runtime") == "openvino"
    restored = options_with_settings(Options(), settings)
    assert restored.runtime == "openvino" and restored.origins["runtime"] == SAVED
    args = build_parser().parse_args(["window", "--runtime", "tensorflow"])
    given = options_with_settings(options_from_args(args), settings)
    assert given.runtime == "tensorflow" and given.origins["runtime"] == COMMAND_LINE
    assert "model" not in given.given  # --runtime alone keeps the saved model
    settings.setValue("runtime", "cuda-please")  # a broken one: the default
    assert options_with_settings(Options(), settings).runtime == "auto"


def test_saved_nan_and_infinity_fall_back_to_defaults_and_the_window_says_so(qtbot, video,
                                                                          lite0, tmp_path):
    """A hand-edited or damaged settings file killed the window at start ("cannot convert
    float NaN to integer"): each bad number is its default, and one status line says which."""
    from window_host import started_window

    settings = open_settings()
    for key, value in (("smoothing", "nan"), ("threshold", "inf"), ("alpha", "-inf"),
                       ("colormap", "turbo")):
        settings.setValue(key, value)
    options = options_with_settings(Options(source=video, model=lite0,
                                            output_dir=str(tmp_path)), settings)
    assert options.smoothing == 0.0 and options.style.threshold == OverlayStyle().threshold
    assert options.style.alpha == OverlayStyle().alpha
    assert options.style.colormap == "turbo"  # the good one is kept
    assert options.ignored == ["threshold=inf", "alpha=-inf", "smoothing=nan"]
    win = started_window(qtbot, options)
    try:
        assert "smoothing=nan" in win.status_text() and "defaults used" in win.status_text()
    finally:
        win.close()
