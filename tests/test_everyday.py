"""Everyday use as a new user meets it (issue 21): answers that were silently wrong, time
lost before a one-line error, outputs lost or unnamed. Each test failed before its fix."""

import json
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest
from helpers import REPO, chelsea_pan, class_folders, skimage_bgr, small_classifier, write_video

import camview.commands.render
from camview.cli import main
from camview.models import load_model


@pytest.fixture
def shared_lite0(lite0, monkeypatch):
    """render() given the session's EfficientNet-Lite0 instead of building it again (seconds
    a test); any other model is loaded as usual."""
    real = camview.commands.render.load_model

    def load(name, **kwargs):
        if name == "efficientnet_lite0" and not any(kwargs.values()):
            return lite0
        return real(name, **kwargs)

    monkeypatch.setattr(camview.commands.render, "load_model", load)
    return lite0


# -- 1. preprocessing read from the layer's own numbers -----------------------------------------

def _scaling_model(first: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((None, None, 3))
    x = first(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def _saved(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


def test_normalization_adapted_on_unit_data_is_fed_0_1(tmp_path, capsys):
    rng = np.random.default_rng(0)
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(rng.random((16, 8, 8, 3), dtype=np.float32))  # the 0..1 photos it was fit on
    path = _saved(_scaling_model(norm), tmp_path / "unit.keras")
    model = load_model(path)
    assert model.preprocess_name == "unit"
    assert "adapted on 0..1 data" in model.preprocess_why
    photo = skimage_bgr("chelsea")
    x = model.preprocess(photo)
    np.testing.assert_allclose(x, photo[..., ::-1].astype(np.float32) / 255.0, rtol=1e-6)
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "preprocess:" in out and "unit" in out and "mean 0.5" in out


def test_normalization_adapted_on_0_255_data_is_fed_raw(tmp_path):
    norm = keras.layers.Normalization(mean=[120.0, 110.0, 100.0], variance=[3000.0] * 3)
    model = load_model(_saved(_scaling_model(norm), tmp_path / "raw.keras"))
    assert model.preprocess_name == "raw" and "0..255" in model.preprocess_why


@pytest.mark.parametrize("scale, offset, mode", [
    (2.0, -1.0, "unit"),  # 0..1 -> -1..1
    (1 / 255.0, 0.0, "raw"),  # 0..255 -> 0..1
    (1 / 127.5, -1.0, "raw"),  # 0..255 -> -1..1
])
def test_rescaling_scale_says_the_range_it_takes(tmp_path, scale, offset, mode):
    layer = keras.layers.Rescaling(scale, offset)
    model = load_model(_saved(_scaling_model(layer), tmp_path / f"{mode}.keras"))
    assert model.preprocess_name == mode, model.preprocess_why


# -- 4. folder renders keep the file names ------------------------------------------------------

def test_folder_render_keeps_each_stem_and_path(tmp_path, shared_lite0):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("cat.png", "rocket.jpg", "cat.jpg"):
        cv2.imwrite(str(photos / name), skimage_bgr("chelsea" if "cat" in name else "rocket"))
    out, doc = tmp_path / "out", tmp_path / "out.json"
    assert main(["render", str(photos), "-o", str(out), "--json", str(doc),
                 "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cat_cam.png", "cat_png_cam.png",
                                                      "rocket_cam.png"]
    frames = json.loads(doc.read_text())["frames"]
    assert [f["path"] for f in frames] == [str(photos / n) for n in
                                           ("cat.jpg", "cat.png", "rocket.jpg")]


# -- 5. mistakes that need no model are told before TensorFlow is imported ----------------------

@pytest.mark.parametrize("argv, fragment", [
    (["render", "demo", "-o", "x.png", "--method", "gradcamm"], "unknown method 'gradcamm'"),
    (["render", "missing.jpg", "-o", "x.png"], "missing.jpg: no such file"),
    (["render", "97", "-o", "x.mp4"], "camera 97 not found"),
    (["render", "demo", "-o", "x.mp4", "--threshold", "1.5"], "threshold"),
    (["render", "demo", "-o", "x.mp4", "--target", "tabbyy"], "did you mean: tabby"),
    (["render", "demo", "-o", "x.mp4", "--model", "missing.keras"], "missing.keras"),
    (["render", "demo", "-o", "x.mp4", "--labels", "missing.txt"], "missing.txt"),
    (["evaluate", "missing_set"], "missing_set"),
    (["inspect", "alexnet"], "unknown model 'alexnet'"),
])
def test_refused_before_tensorflow_is_imported(tmp_path, argv, fragment):
    code = ("import sys\nfrom camview.cli import main\nrc = main(sys.argv[1:])\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)\nsys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, text=True,
                          capture_output=True, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2, done.stderr
    assert done.stdout.strip() == "False False"
    (line,) = done.stderr.splitlines()
    assert line.startswith("camview: error: ") and fragment in line


# -- 12. --layer candidates and messages --------------------------------------------------------

def test_preprocessing_layers_are_no_layer_candidates_and_dense_is_named(tmp_path, capsys):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.RandomFlip(name="random_flip")(inputs)
    x = keras.layers.Rescaling(1 / 255.0, name="rescaling")(x)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, name="dense")(x)
    path = _saved(keras.Model(inputs, outputs), tmp_path / "aug.keras")
    assert main(["inspect", path]) == 0
    listed = capsys.readouterr().out.split("layers for --layer", 1)[1]
    assert "conv" in listed and "random_flip" not in listed and "rescaling" not in listed
    for layer, fragment in (("dense", "exists but cannot be read for maps: its output is 3 "
                                      "(Dense)"),
                            ("random_flip", "RandomFlip layer, which outputs the input")):
        assert main(["render", "demo", "--frames", "1", "--json", str(tmp_path / "x.json"),
                     "--model", path, "--method", "gradcam", "--layer", layer]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert fragment in line, line


# -- 6. whatever ends a render, its JSON and maps are complete for the frames done ----------

def test_sighup_ends_a_job_as_ctrl_c_does():
    import os
    import signal

    from camview.commands.stopping import Stopped, stop_on_signals

    before = signal.getsignal(signal.SIGHUP)
    with pytest.raises(KeyboardInterrupt) as stop, stop_on_signals():
        os.kill(os.getpid(), signal.SIGHUP)  # a real signal, as a closed terminal sends
    assert isinstance(stop.value, Stopped) and stop.value.signum == signal.SIGHUP
    assert signal.getsignal(signal.SIGHUP) == before


@pytest.mark.parametrize("signame", ["SIGTERM"])  # SIGHUP: the same handler, tested above
def test_a_signal_during_render_keeps_json_and_maps(tmp_path, signame):
    import os
    import signal
    import time

    video = write_video(tmp_path / "clip.avi", chelsea_pan(150), fps=30)
    out, doc, maps = tmp_path / "frames", tmp_path / "run.json", tmp_path / "run.npy"
    proc = subprocess.Popen(
        [sys.executable, "-m", "camview.cli", "render", str(video), "-o", str(out), "--json",
         str(doc), "--map", str(maps), "--no-progress"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len(list(out.glob("*.png"))) >= 3:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the render ended before it could be stopped"
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    written = len(list(out.glob("*.png")))
    frames = json.loads(doc.read_text())["frames"]
    assert 3 <= len(frames) == written < 150
    assert np.load(maps).shape[0] == written
    assert f"stopped after {written} frames" in err
    assert not list(tmp_path.glob(".*.part"))


def test_an_atomic_write_that_fails_keeps_the_old_file(tmp_path):
    from camview.drawing.output_files import atomic_file

    path = tmp_path / "run.json"
    path.write_text('{"good": true}')
    with pytest.raises(RuntimeError), atomic_file(path) as f:
        f.write('{"half": ')
        raise RuntimeError("killed midway")
    assert path.read_text() == '{"good": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


# -- 7. a model saved without names, on the set it was trained on (Keras' folder order) -----

def test_own_model_on_its_keras_set_is_labelled_by_the_sorted_folders(tmp_path, capsys):
    path = _saved(small_classifier(3), tmp_path / "own.keras")
    train = class_folders(tmp_path / "train", ["zebra", "apple", "mango"])
    doc = tmp_path / "run.json"
    assert main(["evaluate", train, "--model", path, "--json", str(doc), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "named after the set's folders in sorted order" in err
    assert "apple, mango, zebra" in err
    result = json.loads(doc.read_text())
    assert result["count"] == 3
    assert sorted((i["true"]["index"], i["true"]["label"]) for i in result["images"]) == [
        (0, "apple"), (1, "mango"), (2, "zebra")]


def test_a_set_that_does_not_fit_the_model_names_labels(tmp_path, capsys):
    path = _saved(small_classifier(3), tmp_path / "own.keras")
    train = class_folders(tmp_path / "train", ["a", "b", "c", "d"])
    assert main(["evaluate", train, "--model", path, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--labels FILE" in err.splitlines()[-1] and "WordNet" not in err


def test_a_lambda_layer_is_named_with_the_way_to_trust_it(tmp_path, capsys):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t / 255.0, name="scale")(inputs)
    x = keras.layers.Conv2D(4, 3)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = _saved(keras.Model(inputs, keras.layers.Dense(3)(x)), tmp_path / "lambda.keras")
    assert main(["inspect", path]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "holds a Lambda layer" in line and "damaged" not in line
    assert "--import" in line and "enable_unsafe_deserialization" in line
    trust = tmp_path / "trust.py"
    trust.write_text("import keras\nkeras.config.enable_unsafe_deserialization()\n")
    from keras.src.backend.common import global_state  # Keras has no public "disable"

    before = global_state.get_global_attribute("safe_mode_saving")
    try:
        assert main(["inspect", path, "--import", str(trust)]) == 0
    finally:
        global_state.set_global_attribute("safe_mode_saving", before)


# -- 3. a video that repeats pictures keeps its timing ------------------------------------

def test_repeated_slots_are_frames_and_a_render_keeps_the_duration(tmp_path, shared_lite0,
                                                                  caplog):
    from helpers import write_repeating_video

    from camview.sources import open_source

    video = write_repeating_video(tmp_path / "still.avi", chelsea_pan(5), hold=8, fps=24)
    slots = 4 * 8 + 1
    cap = cv2.VideoCapture(str(video))
    assert sum(1 for _ in iter(lambda: cap.read()[0], False)) == 5  # what OpenCV alone reads
    with open_source(str(video)) as source:
        frames = list(source)
    assert (source.frame_count, len(frames), source.warnings) == (slots, slots, [])
    assert [f.repeat for f in frames[:9]] == [False] + [True] * 7 + [False]
    assert frames[7].image is frames[0].image
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(slots) / 24, atol=1e-3)

    out, doc, maps = tmp_path / "out.mp4", tmp_path / "out.json", tmp_path / "out.npy"
    assert main(["render", str(video), "-o", str(out), "--json", str(doc), "--map", str(maps),
                 "--no-progress"]) == 0
    assert "truncated" not in caplog.text
    written = cv2.VideoCapture(str(out))
    duration = written.get(cv2.CAP_PROP_FRAME_COUNT) / written.get(cv2.CAP_PROP_FPS)
    assert abs(duration - slots / 24) <= 0.02 * slots / 24
    entries = json.loads(doc.read_text())["frames"]
    assert [e["frame"] for e in entries] == list(range(slots))
    np.testing.assert_allclose([e["time"] for e in entries], np.arange(slots) / 24, atol=1e-3)
    cams = np.load(maps)
    assert cams.shape[0] == slots
    np.testing.assert_array_equal(cams[7], cams[0])
    assert not np.array_equal(cams[8], cams[0])


def test_a_header_that_lies_about_the_frame_count_does_not_repeat_past_the_file(tmp_path):
    """The same file with its AVI headers' frame counts raised to 100 000 (a fault probe's
    copy of tree.avi rendered forever): repeats end where the file's packets end."""
    import struct

    from helpers import write_repeating_video

    from camview.sources import open_source

    video = write_repeating_video(tmp_path / "still.avi", chelsea_pan(5), hold=8, fps=24)
    data = bytearray(video.read_bytes())
    avih, strh = data.find(b"avih"), data.find(b"strh")
    struct.pack_into("<I", data, avih + 8 + 16, 100_000)  # dwTotalFrames
    struct.pack_into("<I", data, strh + 8 + 32, 100_000)  # dwLength
    liar = tmp_path / "liar.avi"
    liar.write_bytes(bytes(data))
    with open_source(str(liar)) as source:
        frames = list(source)
    assert source.frame_count == 100_000
    assert len(frames) == 4 * 8 + 1
    assert len(source.warnings) == 1 and "claims 100000 frames" in source.warnings[0]


# -- 8. a subclassed model, built by being called, saved, loaded with --import -------------

SUBCLASSED = '''
import keras


@keras.saving.register_keras_serializable(package="camview_test_everyday")
class PetNet(keras.Model):
    def __init__(self, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.conv = keras.layers.Conv2D(6, 3, activation="relu", name="features")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(classes)

    def call(self, x):
        return self.head(self.pool(self.conv(x / 255.0)))

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}
'''


def test_a_subclassed_model_is_traced_at_its_built_shape(tmp_path, capsys, caplog):
    import runpy

    from helpers import forward

    from camview.maps import make_method

    module = tmp_path / "petnet.py"
    module.write_text(SUBCLASSED)
    net = runpy.run_path(str(module))["PetNet"](3)
    photo = cv2.resize(skimage_bgr("chelsea"), (40, 32))
    net(np.zeros((1, 32, 40, 3), np.float32))  # built by being called: no Input anywhere
    path = _saved(net, tmp_path / "petnet.keras")
    assert main(["inspect", path, "--import", str(module)]) == 0
    captured = capsys.readouterr()
    assert "40x32, 3 channel(s)" in captured.out and "features" in captured.out
    assert "subclassed model: traced through its call()" in caplog.text
    model = load_model(path)
    batch = model.prepare(photo)
    np.testing.assert_allclose(model.keras_model(batch), net(batch), rtol=1e-5, atol=1e-6)
    got = make_method("cam", model).explain(batch, 1).cam
    ref = forward(model, batch).features @ np.asarray(net.head.kernel)[:, 1]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:You are saving a model that has not yet been built")
def test_a_subclassed_model_never_built_is_told_in_words(tmp_path, capsys):
    import runpy

    module = tmp_path / "petnet.py"
    module.write_text(SUBCLASSED)
    net = runpy.run_path(str(module))["PetNet"](3)
    path = _saved(net, tmp_path / "unbuilt.keras")
    assert main(["inspect", path, "--import", str(module)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "subclassed model (PetNet)" in line and "call it once" in line


# -- 11. the report: top-5, skipped folders, colour legend, links, sorting and filtering --

def test_report_has_top5_skipped_legend_links_and_a_filter(tmp_path):
    from camview.sets.report import MistakeCard, write_report

    photo = cv2.resize(skimage_bgr("chelsea"), (60, 40))
    original = tmp_path / "set" / "tabby" / "cat 1.jpg"
    original.parent.mkdir(parents=True)
    cv2.imwrite(str(original), photo)
    cards = [MistakeCard(rank, str(original), f"cat {rank}.jpg", pred, conf, "tabby", 0.1,
                         photo, photo, photo, top=[(pred, conf), ("tabby", 0.1)])
             for rank, pred, conf in ((1, "tiger cat", 0.8), (2, "lynx", 0.6))]
    summary = {"model": "m", "dataset": "set", "count": 3, "accuracy": {"top1": 1 / 3,
               "top5": 1.0}, "per_class": [], "confusions": []}
    skipped = ["folder 'kittens' matches no class of the model (closest labels: 'kit fox'); "
               "skipping its 4 images"]
    path = tmp_path / "report.html"
    write_report(path, summary, method_title="CAM", cards=cards, shown=2, mistakes=2,
                 problems=[], skipped=skipped)
    page = path.read_text()
    assert '<ol class="top5"' in page and '<li class="is-true">tabby 10.0' in page
    assert "Skipped from the set" in page and "kittens" in page
    assert 'class="legend"' in page and "linear-gradient" in page and "strongest" in page
    assert f'href="{original.resolve().as_uri()}"' in page  # the space is %20
    assert 'id="filter"' in page and 'id="sort"' in page and "<script>" in page
    assert page.count('data-rank="') == 2 and 'data-pred="lynx"' in page


# -- 2. the window refuses an unusable --model as render does, before it opens -------------

def test_the_window_refuses_an_unusable_model_before_it_opens(tmp_path, capsys, monkeypatch):
    import camview.app.main

    def no_window(args):
        raise AssertionError("the window opened for an unusable model")

    monkeypatch.setattr(camview.app.main, "run_window", no_window)
    inputs = keras.Input((32, 32, 4))  # four channels: no frame gives them
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = _saved(keras.Model(inputs, keras.layers.Dense(2)(x)), tmp_path / "pets.keras")
    assert main(["--model", path]) == 2
    (window_line,) = capsys.readouterr().err.splitlines()
    assert main(["render", "demo", "--frames", "1", "--json", str(tmp_path / "x.json"),
                 "--model", path]) == 2
    (render_line,) = capsys.readouterr().err.splitlines()
    assert window_line == render_line and "4 channels" in window_line


# -- 12. a one-image output is refused with the real frame count, a one-frame video is not --

def test_one_image_output_names_the_frame_count(tmp_path, capsys, shared_lite0):
    three = write_video(tmp_path / "three.avi", chelsea_pan(3))
    assert main(["render", str(three), "-o", str(tmp_path / "x.png")]) == 2
    assert "three.avi has 3 frames" in capsys.readouterr().err
    one = write_video(tmp_path / "one.avi", chelsea_pan(1))
    assert main(["render", str(one), "-o", str(tmp_path / "one.png")]) == 0
    assert cv2.imread(str(tmp_path / "one.png")) is not None
    assert main(["render", "demo", "-o", str(tmp_path / "demo.png")]) == 2
    assert "demo runs until stopped" in capsys.readouterr().err
