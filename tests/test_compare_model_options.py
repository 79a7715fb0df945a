"""The window's second model takes its own options (`--compare-model vit.keras --compare-resize
crop --compare-preprocess unit --compare-labels FILE`), as `evaluate --versus` does: its row of
the live compare grid is fed exactly what that model loaded alone with those options is fed,
and a bad one is refused in one line before TensorFlow (pytest-qt, offscreen; a tiny ViT saved
as a user saves one, a wide photo whose centre crop is not its squashed whole)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO, saved, small_classifier
from vit_models import MARK, SIZE, marked_images, tiny_vit
from window_host import started_window

from camview.app.main import options_from_args
from camview.commands.parser import build_parser
from camview.maps import make_method
from camview.models import CamModel, ResizeMode, load_model


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("compare-options")
    vit = saved(tiny_vit(class_token=False, position=False, softmax=False, seed=3),
                folder / "vit.keras")
    labels = folder / "labels.txt"
    labels.write_text("plain\nmarked\n")
    pictures, _, _ = marked_images(2, SIZE, MARK, seed=5)
    photo = folder / "wide.png"  # 5:3: the centre crop leaves out a third of it
    cv2.imwrite(str(photo), cv2.resize(pictures[1], (160, 96)))
    return {"vit": vit, "labels": str(labels), "photo": str(photo), "folder": str(folder)}


def test_bad_compare_model_options_are_one_line_before_tensorflow(files):
    missing = os.path.join(files["folder"], "nosuch.txt")
    cases = {  # argv -> what the one line says
        ("--compare-resize", "crop"):
            "--compare-resize is for the --compare-model model: give --compare-model NAME",
        ("--compare-model", files["vit"], "--compare-labels", missing):
            f"--compare-labels: labels file {missing} does not exist",
        ("--compare-model", files["vit"], "--compare-weights", files["labels"]):
            "--compare-weights is for the built-in models",
        ("--compare-model", "squeezenet", "--compare-weights", missing):
            f"--compare-weights {missing}: no such file or folder",
        ("--compare-model", "squeezenet", "--compare-preprocess", "unit"):
            "--compare-preprocess is for your own models",
        ("--compare-model", os.path.join(files["folder"], "nosuch.keras")):
            "--compare-model: model file",
        ("--compare-model", files["vit"], "--compare-resize", "wide"):
            "argument --compare-resize: invalid choice",
    }
    # One fresh process runs them all and says whether TensorFlow was ever imported.
    code = ("import contextlib, io, json, sys\n"
            "from camview.cli import main\n"
            f"for argv in {[list(a) for a in cases]!r}:\n"
            "    err = io.StringIO()\n"
            "    with contextlib.redirect_stderr(err):\n"
            "        try:\n"
            "            rc = main(argv)\n"
            "        except SystemExit as exc:\n"
            "            rc = exc.code\n"
            "    print(json.dumps([rc, err.getvalue()]))\n"
            "print(json.dumps('tensorflow' in sys.modules))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(cases) + 1, done.stderr[-2000:]
    for (rc, err), said in zip(lines, cases.values(), strict=False):
        assert rc == 2 and err.count("\n") == 1 and err.startswith("camview: "), err
        assert said in err
    assert lines[-1] is False  # every refusal came before TensorFlow was imported


def test_the_compare_row_is_fed_as_the_model_loaded_alone_with_its_options(qtbot, files):
    """A CNN with a ViT fed its centre crop (0..1 RGB, its own labels) beside it: the ViT's
    panel has the class and probability, and its method the map, of the ViT loaded alone with
    load_model(resize="crop", preprocess="unit") on the same frame, not those of the ViT
    squashed (what it got without the options)."""
    vit = files["vit"]
    args = build_parser().parse_args([
        "window", "--compare", "gradcam", "--compare-model", vit, "--compare-resize", "crop",
        "--compare-preprocess", "unit", "--compare-labels", files["labels"]])
    options = options_from_args(args)
    assert options.compare_model == vit
    assert options.compare_kwargs == {"resize": "crop", "preprocess": "unit",
                                      "labels": files["labels"]}
    options.source, options.output_dir = files["photo"], files["folder"]
    options.model = CamModel("cnn", small_classifier(2), labels=["plain", "marked"],
                             input_size=(48, 48), resize=ResizeMode.SHORTER,
                             preprocess=lambda bgr: bgr.astype(np.float32))
    win = started_window(qtbot, options, timeout=60000,
                         ready=lambda w: w.session.result is not None
                         and len(w.session.result.panels) == 2)
    try:
        result = win.session.result
        frame = result.frame.image
        assert frame.shape[:2] == (96, 160)
        title, index, prob = result.panels[1]
        assert title.startswith(f"{Path(vit).name} Grad-CAM: ")  # its file name, not its path
        versus = win.session.pipeline.config().versus_methods["gradcam"]
        shown = versus.explain(versus.model.prepare(frame), None)  # what its panel maps

        alone = load_model(vit, resize="crop", preprocess="unit", labels=files["labels"])
        wanted = make_method("gradcam", alone).explain(alone.prepare(frame), None)
        assert title.split(": ")[1].startswith(alone.labels[wanted.target])
        assert index == wanted.target
        assert prob == pytest.approx(float(wanted.probabilities[wanted.target]), abs=1e-5)
        np.testing.assert_allclose(shown.probabilities, wanted.probabilities, atol=1e-5)
        np.testing.assert_allclose(shown.cam, wanted.cam, rtol=1e-4, atol=1e-5)
        assert versus.model.resize == ResizeMode.CROP and versus.model.labels == alone.labels

        plain = load_model(vit)  # squashed, its own guess of the feeding: another answer
        other = make_method("gradcam", plain).explain(plain.prepare(frame), None)
        assert np.abs(other.probabilities - wanted.probabilities).max() > 1e-3

        box = win.compare.box.versus  # the Compare box says how this model is fed
        assert box.currentData() == vit
        assert box.currentText() == ("vit.keras (labels labels.txt, preprocess unit, "
                                     "resize crop)")
        assert "second model: " + vit + " (labels labels.txt" in win.status_text()
    finally:
        win.close()


def test_the_loader_loads_the_first_models_file_again_with_the_compares_options(files):
    """The same ViT file as the main model and as the compare's, there with `resize crop`:
    a second copy fed its centre crop, not the main model reused; without options the main
    model is reused; a failed load's advice names the --compare-* flag."""
    from live_hosts import LoaderOnly, wait_for

    from camview.live import CompareSpec, LoadCompare, Loader, LoadModel
    from camview.sources import Frame

    vit = files["vit"]
    main = load_model(vit)  # squashed: the default for a fixed-size input
    host = LoaderOnly("gradcam", Frame(0, 0.0, cv2.imread(files["photo"])))
    loader = Loader(host)
    loader.thread.start()
    try:
        loader.submit(LoadModel(main))
        cropped = CompareSpec.of(("gradcam",), versus=vit, versus_options={"resize": "crop"})
        loader.submit(LoadCompare(cropped))
        wait_for(lambda: not loader.busy.is_set(), timeout=60)
        assert host.compare is cropped and not host.errors
        second = host.versus_methods["gradcam"].model
        assert second is not main and second.resize == ResizeMode.CROP
        assert main.resize == ResizeMode.SQUASH

        same = CompareSpec.of(("gradcam",), versus=vit)
        loader.submit(LoadCompare(same))
        wait_for(lambda: not loader.busy.is_set(), timeout=60)
        assert host.compare is same and host.versus_methods["gradcam"].model is main

        loader.submit(LoadCompare(CompareSpec.of(("gradcam",), versus="squeezenet",
                                                 versus_options={"preprocess": "unit"})))
        wait_for(lambda: not loader.busy.is_set(), timeout=60)
        assert host.compare is same  # as it was
        (message, _), = host.errors
        assert message.startswith("second model squeezenet: --compare-preprocess is for "
                                  "your own models")
    finally:
        loader.stop()
        loader.thread.join(2.0)
