"""Each map method option is declared once (camview.maps.options) and the command line, the
render request and the frozen frame's widgets are made from it: every declared option is a
flag with its range enforced, reaches the method, and is a widget in the window."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import skimage_bgr
from PyQt6.QtWidgets import QComboBox, QLabel

from camview.cli import build_parser, main
from camview.commands.args import render_request
from camview.commands.render_request import RenderRequest, make_methods
from camview.errors import CamviewError, ModelError
from camview.maps import (
    METHODS,
    MethodOption,
    SmoothGrad,
    check_options,
    method_options,
    option_takers,
)
from camview.maps.options import merge_options
from camview.sources import open_source

OPTIONS = method_options()


def other_value(option: MethodOption):
    """An in-range value of the option that is not its default."""
    if option.choices is not None:
        return next(c for c in option.choices if c != option.default)
    return option.high if option.default != option.high else option.low


def test_options_are_declared_once_and_listed_in_order_without_conflicts():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    assert set(names) == {o.name for m in METHODS.values() for o in m.options}
    assert {"max_channels", "patch", "stride", "steps", "baseline", "masks", "samples",
            "sigma"} <= set(names)
    for option in OPTIONS:
        assert option_takers(option.name)
        assert option.check(None) == option.default
    # Two methods may share one option, but only with one declaration of it.
    steps = next(o for o in OPTIONS if o.name == "steps")
    assert merge_options([(steps,), (steps,)]) == (steps,)
    wider = MethodOption("steps", int, 32, low=1, high=9999, help=steps.help)
    with pytest.raises(ValueError, match="steps is declared twice"):
        merge_options([(steps,), (wider,)])


def test_a_declaration_refuses_a_default_out_of_its_range():
    with pytest.raises(ModelError, match="--count must be a whole number >= 1"):
        MethodOption("count", int, 0, low=1, high=9, help="how many")
    with pytest.raises(TypeError, match="low and high"):
        MethodOption("count", int, 1, help="how many")
    with pytest.raises(TypeError, match="choices"):
        MethodOption("kind", str, "a", help="which")


def test_pass_sharing_flags_are_consistent():
    """A method that reads the activations' gradient in a shared pass shares the pass."""
    for cls in METHODS.values():
        assert cls.shares_pass or not cls.needs_activation_gradient, cls.name
    assert METHODS["cam"].shares_pass and not METHODS["cam"].needs_activation_gradient
    assert METHODS["gradcam"].shares_pass and METHODS["gradcam"].needs_activation_gradient
    assert not METHODS["saliency"].shares_pass


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_every_option_is_a_render_flag_into_the_request(capsys, option):
    taker = option_takers(option.name)[0].name
    value = other_value(option)
    args = build_parser().parse_args(["render", "demo", "--json", "x.json", "--method", taker,
                                      option.flag, str(value)])
    request = render_request(args)
    assert request.method_options == {option.name: value}
    assert check_options([taker], request.method_options) == {option.name: value}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["render", "--help"])
    render_help = " ".join(capsys.readouterr().out.split())
    assert f"{option.flag} {option.metavar or '{' + ','.join(option.choices) + '}'}" \
        in render_help
    assert f"{taker}: {' '.join(option.help.split())} (default {option.default}" in render_help


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_every_option_range_is_enforced_in_one_line(tmp_path, capsys, monkeypatch, option):
    """Out of range (or not a choice): exit 2, one line, before any model is loaded."""
    monkeypatch.chdir(tmp_path)
    taker = option_takers(option.name)[0].name
    bad = ["nowhere"] if option.choices else [str(option.low - 1), str(option.high + 1)]
    for value in bad:
        argv = ["render", "demo", "--frames", "1", "--json", "x.json", "--method", taker,
                option.flag, value]
        if option.choices:  # argparse's own refusal, as for any other list of choices
            with pytest.raises(SystemExit) as stop:
                main(argv)
            assert stop.value.code == 2
        else:
            assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert option.flag in err and "Traceback" not in err and err.count("\n") == 0
        if not option.choices:
            assert f"{option.flag} must be" in err and option.bounds in err
    others = [m.name for m in METHODS.values() if m not in option_takers(option.name)]
    with pytest.raises(CamviewError, match=f"{option.flag} applies to"):
        check_options(others[:1], {option.name: other_value(option)})


def test_an_unknown_option_in_a_request_is_refused():
    with pytest.raises(CamviewError, match="unknown method option 'mask'"):
        check_options(["rise"], {"mask": 10})


def test_every_option_reaches_the_method_it_is_given_to(lite0):
    for option in OPTIONS:
        for taker in option_takers(option.name):
            value = other_value(option)
            request = RenderRequest("demo", json="x.json", method=taker.name,
                                    method_options={option.name: value})
            (method,) = make_methods(request, lite0)
            assert getattr(method, option.name) == value, (taker.name, option.name)
            (plain,) = make_methods(RenderRequest("demo", json="x.json", method=taker.name),
                                    lite0)
            assert getattr(plain, option.name) == option.default


def test_an_option_for_another_method_or_out_of_range_is_refused(tmp_path, capsys):
    photo = tmp_path / "chelsea.png"
    cv2.imwrite(str(photo), skimage_bgr("chelsea"))
    out = str(tmp_path / "x.json")
    assert main(["render", str(photo), "--json", out, "--method", "gradcam",
                 "--masks", "10"]) == 2
    assert "--masks applies to rise only" in capsys.readouterr().err
    assert main(["render", str(photo), "--json", out, "--method", "rise", "--masks", "0"]) == 2
    assert "--masks must be a whole number >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["render", str(photo), "--json", out, "--method", "ig", "--baseline", "white"])
    assert stop.value.code == 2


def test_render_smoothgrad_takes_samples_and_sigma(tmp_path, lite0):
    """The new flags end to end: the rendered map is SmoothGrad's with 4 samples at sigma
    0.3, not its default's."""
    out = tmp_path / "maps.npy"
    assert main(["render", "demo", "--frames", "1", "--method", "smoothgrad", "--samples", "4",
                 "--sigma", "0.3", "--map", str(out), "--no-progress"]) == 0
    rendered = np.load(out)[0]
    with open_source("demo") as source:
        batch = lite0.prepare(source.read().image)
    asked = SmoothGrad(lite0, samples=4, sigma=0.3).explain(batch).cam
    np.testing.assert_allclose(rendered, asked, rtol=1e-4, atol=1e-6 * asked.max())
    for default in (SmoothGrad(lite0, sigma=0.3), SmoothGrad(lite0, samples=4)):
        assert not np.allclose(rendered, default.explain(batch).cam, rtol=1e-3)


def test_the_window_has_a_widget_per_declared_option_of_the_frozen_frame(qtbot):
    from camview.app.frozen_frame import MethodOptions

    slow = [m for m in METHODS.values() if not m.live]
    declared = method_options(slow)
    holder = QLabel()
    qtbot.addWidget(holder)
    options = MethodOptions(holder)
    assert list(options.boxes) == [o.name for o in declared]
    for option in declared:
        box, label = options.boxes[option.name], options.labels[option.name]
        assert label.text() == option.title
        assert option.help in box.toolTip() and f"default {option.default}" in box.toolTip()
        if option.choices is not None:
            assert isinstance(box, QComboBox)
            assert [box.itemData(i) for i in range(box.count())] == list(option.choices)
            assert box.currentData() == option.default
        else:
            assert (box.minimum(), box.maximum()) == (option.low, option.high)
            assert box.value() == option.default
    holder.show()
    for method in slow:
        options.show_for(method.name)
        shown = {name for name, box in options.boxes.items() if box.isVisible()}
        assert shown == {o.name for o in method.options}, method.name
        assert dict(options.values(method.name)) == {o.name: o.default for o in method.options}
