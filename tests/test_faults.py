"""Faults and bad input through `camview render`: exit status, one line naming the file and the
reason, no traceback, and every frame that could be computed kept.

Every bad input is made here, in tmp_path. Most cases run the CLI in this process
(`camview.cli.main`); a few run it in a fresh process, the only way to see everything that
reaches stderr (OpenCV's and FFmpeg's own messages, Python warnings, tracebacks).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import SQUEEZENET_DIR, count_frames, skimage_bgr, write_video
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camview.cli import main
from camview.drawing.writers import VideoWriter
from camview.errors import SourceError
from camview.sources import DemoSource, VideoSource

SIZE = (160, 120)
FRAMES = 30


# -- helpers -----------------------------------------------------------------------------------

def demo_frames(n: int = FRAMES, size=SIZE) -> list[np.ndarray]:
    return [f.image for f in DemoSource(duration_s=n / 15, fps=15, size=size).open()]


def cut(path: Path, fraction: float, name: str) -> Path:
    data = path.read_bytes()
    out = path.with_name(name)
    out.write_bytes(data[: int(len(data) * fraction)])
    return out



def readable_frames(path: Path) -> int:
    with VideoSource(path) as src:
        return sum(1 for _ in src)


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`python -m camview.cli ARGS` in a fresh process, in tmp_path."""
    environ = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "camview.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=environ)


def one_line_error(err: str, *fragments: str) -> str:
    """The one stderr line of an expected fault, checked to name what it must name."""
    err = err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("camview: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def demo_frame(tmp_path: Path) -> list[str]:
    """One demo frame to a --json output: a render that gets as far as loading the model."""
    return ["demo", "--frames", "1", "--json", str(tmp_path / "x.json")]


def refused(capsys, args: list[str], *fragments: str) -> str:
    assert main(["render", *args]) == 2
    return one_line_error(capsys.readouterr().err, *fragments)


def strict_json(path: Path) -> dict:
    """Parse as a strict JSON reader would: NaN and Infinity are not JSON."""
    def no_constants(name):
        raise ValueError(f"{name} in {path}")

    return json.loads(path.read_text(), parse_constant=no_constants)


# -- cameras -----------------------------------------------------------------------------------

def test_missing_camera_exits_2_quickly(tmp_path, capsys):
    t0 = time.monotonic()
    refused(capsys, ["7", "-o", str(tmp_path / "x.mp4")], "camera 7")
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "x.mp4").exists()


# -- videos ------------------------------------------------------------------------------------

def test_truncated_mjpg_renders_every_readable_frame(tmp_path, capsys, caplog):
    video = cut(write_video(tmp_path / "full.avi", demo_frames()), 0.6, "cut.avi")
    readable = readable_frames(video)
    assert 5 < readable < FRAMES
    caplog.clear()
    out, doc = tmp_path / "out.mp4", tmp_path / "out.json"
    assert main(["render", str(video), "-o", str(out), "--json", str(doc)]) == 0
    assert count_frames(out) == readable
    assert len(strict_json(doc)["frames"]) == readable
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "cut.avi" in warnings[0]
    assert f"only {readable} could be read" in warnings[0]
    assert "Traceback" not in capsys.readouterr().err


def test_truncated_h264_keeps_the_frames_opencv_alone_would_lose(tmp_path):
    """A +faststart mp4 (index first) cut in the middle: OpenCV's reader stops at the cut and
    loses the frames its decoder still holds; they are read too. In a fresh process, to see
    that stderr holds the one warning and nothing else."""
    full = tmp_path / "full.mp4"
    frames = demo_frames(60)
    with VideoWriter(full, 15, SIZE) as writer:
        for frame in frames:
            writer.write(frame)
    video = cut(full, 0.6, "cut.mp4")
    readable = readable_frames(video)
    assert 5 < readable < 60
    assert readable >= count_frames(video)
    proc = run_cli(["render", "cut.mp4", "-o", "out.mp4", "--json", "out.json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cut.mp4" in lines[0] and "60 frames" in lines[0], proc.stderr
    assert f"only {readable} could be read" in lines[0]
    assert count_frames(tmp_path / "out.mp4") == readable
    assert len(strict_json(tmp_path / "out.json")["frames"]) == readable


def test_recovered_frames_are_the_frames_of_the_whole_file(tmp_path):
    full = tmp_path / "full.mp4"
    with VideoWriter(full, 15, SIZE) as writer:
        for frame in demo_frames(60):
            writer.write(frame)
    with VideoSource(full) as src:
        whole = [f.image for f in src]
    with VideoSource(cut(full, 0.6, "cut.mp4")) as src:
        got = list(src)
    assert [f.index for f in got] == list(range(len(got)))
    assert all(got[i].timestamp < got[i + 1].timestamp for i in range(len(got) - 1))
    for f in got:
        np.testing.assert_array_equal(f.image, whole[f.index])


def test_mp4_without_its_index_is_refused_naming_the_cause(tmp_path, capsys):
    video = cut(write_video(tmp_path / "full.mp4", demo_frames(), fourcc="mp4v"), 0.5, "cut.mp4")
    refused(capsys, [str(video), "-o", str(tmp_path / "out.mp4")], "cut.mp4", "moov")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("name, content, reason", [
    ("text.mp4", b"hello, I am not a video\n" * 20, "text file"),
    ("empty.mp4", b"", "empty"),
    ("noise.avi", bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), ""),
    ("missing.mp4", None, "no such file"),
    ("nothing_here", "folder", "contains no images"),
])
def test_bad_video_sources_exit_2_naming_the_file(tmp_path, capsys, name, content, reason):
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
        (path / "notes.txt").write_text("not an image")
    elif content is not None:
        path.write_bytes(content)
    refused(capsys, [str(path), "-o", str(tmp_path / "out.mp4")], name, reason)


def test_bad_video_in_a_fresh_process_prints_one_line(tmp_path):
    """OpenCV and FFmpeg print their own complaints about a broken file straight to stderr;
    only camview's line may reach the user."""
    (tmp_path / "text.mp4").write_text("not a video\n")
    video = cut(write_video(tmp_path / "full.mp4", demo_frames(10), fourcc="mp4v"), 0.5, "cut.mp4")
    (tmp_path / "broken.png").write_bytes(cv2.imencode(".png", demo_frames(1)[0])[1]
                                          .tobytes()[:80] + b"\x07" * 500)
    names = ("text.mp4", video.name, "broken.png")
    with ThreadPoolExecutor(len(names)) as pool:  # three fresh processes, started together
        procs = list(pool.map(lambda n: run_cli(["render", n, "-o", f"{n}.out.mp4"], tmp_path),
                              names))
    for name, proc in zip(names, procs, strict=True):
        assert proc.returncode == 2
        one_line_error(proc.stderr, name)


# -- images ------------------------------------------------------------------------------------

def _odd_images() -> dict[str, np.ndarray]:
    photo = cv2.resize(skimage_bgr("chelsea"), (120, 90), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    alpha = np.tile(np.linspace(0, 255, 120, dtype=np.uint8), (90, 1))
    return {
        "grey.png": grey,
        "deep.png": photo.astype(np.uint16) * 257,
        "grey16.png": grey.astype(np.uint16) * 257,
        "alpha.png": np.dstack([photo, alpha]),
        "alpha16.png": np.dstack([photo, alpha]).astype(np.uint16) * 257,
        "one.png": photo[:1, :1],
        "strip.png": photo[:1],  # 1x120: the network input must not be 224x26880
        "float.tiff": photo.astype(np.float32) / 255.0,
    }


def test_odd_images_are_converted_and_rendered(tmp_path, capsys):
    folder = tmp_path / "odd"
    folder.mkdir()
    images = _odd_images()
    for name, image in images.items():
        assert cv2.imwrite(str(folder / name), image), name
    out, doc = tmp_path / "frames", tmp_path / "odd.json"
    assert main(["render", str(folder), "-o", str(out), "--json", str(doc),
                 "--layout", "overlay"]) == 0
    assert capsys.readouterr().err == ""
    frames = strict_json(doc)["frames"]
    assert len(frames) == len(images)
    assert all("problem" not in f and f["top"][0]["prob"] > 0 for f in frames)
    sizes = sorted(cv2.imread(str(p)).shape[:2] for p in out.iterdir())
    assert sizes == sorted(image.shape[:2] for image in images.values())


@pytest.mark.parametrize("name", ["grey.png", "alpha16.png", "one.png"])
def test_odd_single_images_render_to_an_image(tmp_path, capsys, name):
    image = _odd_images()[name]
    cv2.imwrite(str(tmp_path / name), image)
    out = tmp_path / "out.png"
    assert main(["render", str(tmp_path / name), "-o", str(out), "--layout", "overlay"]) == 0
    assert cv2.imread(str(out)).shape == (*image.shape[:2], 3)
    assert capsys.readouterr().err == ""


def test_a_48_megapixel_photo_renders(tmp_path, capsys):
    big = cv2.resize(skimage_bgr("coffee"), (8000, 6000), interpolation=cv2.INTER_NEAREST)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 50])
    del big
    doc = tmp_path / "big.json"
    assert main(["render", str(path), "-o", str(tmp_path / "out.jpg"), "--json", str(doc),
                 "--layout", "overlay"]) == 0
    (frame,) = strict_json(doc)["frames"]
    assert 0 <= frame["peak"]["x"] < 8000 and 0 <= frame["peak"]["y"] < 6000
    assert frame["top"][0]["label"] == "espresso"
    assert cv2.imread(str(tmp_path / "out.jpg")).shape == (6000, 8000, 3)
    assert capsys.readouterr().err == ""


def _broken_images(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    photo = skimage_bgr("chelsea")
    png = cv2.imencode(".png", photo)[1].tobytes()
    jpg = cv2.imencode(".jpg", photo)[1].tobytes()
    noise = np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    files = {
        "text.png": (b"I am a text file\n", "text file"),
        "garbage.png": (png[:33] + noise, "PNG"),  # a valid signature and IHDR, then noise
        "half.jpg": (jpg[: len(jpg) // 2], "cut short"),
        "empty.png": (b"", "empty"),
    }
    out = {}
    for name, (data, reason) in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, reason)
    return out


@pytest.mark.parametrize("name", ["text.png", "garbage.png", "half.jpg", "empty.png"])
def test_broken_images_are_refused_naming_the_file_and_reason(tmp_path, capsys, name):
    path, reason = _broken_images(tmp_path)[name]
    refused(capsys, [str(path), "-o", str(tmp_path / "out.png")], name, reason)


# -- models ------------------------------------------------------------------------------------

def test_squeezenet_without_weights_says_where_to_get_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CAMVIEW_SQUEEZENET", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    # Offline: the download is pointed at a local port nothing listens on, never the internet.
    monkeypatch.setenv("CAMVIEW_WEIGHTS_URL", "http://127.0.0.1:9/squeezenet")
    err = refused(capsys, [*demo_frame(tmp_path), "--model", "squeezenet"],
                  "squeezenet1.1.xml", "--weights")
    assert str(tmp_path / "data") in err


@pytest.mark.parametrize("model", [[], ["--model", "squeezenet"], ["--model", "resnet50"]])
def test_missing_weights_file_is_named(tmp_path, capsys, model):
    refused(capsys, [*demo_frame(tmp_path), *model, "--weights", "/nonexistent/w.bin"],
            "/nonexistent")


def test_text_named_keras_is_refused(tmp_path, capsys):
    path = tmp_path / "model.keras"
    path.write_text("not a model")
    refused(capsys, [*demo_frame(tmp_path), "--model", str(path)], "model.keras",
            "not a Keras model")


@pytest.mark.skipif(not (SQUEEZENET_DIR / "squeezenet1.1.xml").is_file(),
                    reason=f"SqueezeNet 1.1 IR not found at {SQUEEZENET_DIR}")
def test_ir_whose_bin_does_not_match_its_xml(tmp_path, capsys):
    for name in ("squeezenet1.1.xml", "squeezenet1.1.bin"):
        shutil.copy(SQUEEZENET_DIR / name, tmp_path / name)
    with open(tmp_path / "squeezenet1.1.bin", "r+b") as f:
        f.truncate(100_000)
    refused(capsys, [*demo_frame(tmp_path), "--model", "squeezenet", "--weights",
                     str(tmp_path)], "squeezenet1.1.bin", "does not match")


def test_checkpoint_of_another_network_is_refused(tmp_path, capsys):
    from torch_checkpoints import write_zip_checkpoint

    path = tmp_path / "resnet18.pth"
    write_zip_checkpoint(path, {"conv1.weight": np.zeros((64, 3, 7, 7), np.float32),
                                 "fc.weight": np.zeros((1000, 512), np.float32)})
    refused(capsys, [*demo_frame(tmp_path), "--weights", str(path)], "resnet18.pth",
            "not an EfficientNet-Lite0 checkpoint")


def _save(model, path: Path) -> Path:
    model.save(path)
    return path


def test_model_without_convolutions_is_refused(tmp_path, capsys):
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(inputs))
    path = _save(keras.Model(inputs, keras.layers.Dense(10)(x)), tmp_path / "mlp.keras")
    refused(capsys, [*demo_frame(tmp_path), "--model", str(path)], "mlp.keras",
            "convolutional")


def test_labels_file_of_the_wrong_length(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    refused(capsys, [*demo_frame(tmp_path), "--labels", str(labels)], "labels.txt",
            "2 labels", "1000 outputs")
    refused(capsys, [*demo_frame(tmp_path), "--labels", str(tmp_path / "none.txt")],
            "none.txt", "does not exist")


def test_cam_of_a_gradient_only_net_fails_before_building_it(tmp_path, capsys):
    t0 = time.monotonic()
    refused(capsys, [*demo_frame(tmp_path), "--model", "vgg16", "--weights", "none",
                     "--method", "cam"], "vgg16", "gradcam")
    assert time.monotonic() - t0 < 3  # refused from the name, VGG16 is never built


def _nan_model(tmp_path: Path) -> Path:
    """A small CNN whose feature map is NaN for every input: a NaN kernel weight."""
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, name="conv")(inputs)  # linear: ReLU would hide NaN as 0
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    kernel, bias = model.get_layer("conv").get_weights()
    kernel[0, 0, 0, 0] = np.nan
    model.get_layer("conv").set_weights([kernel, bias])
    return _save(model, tmp_path / "nan.keras")


@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_nan_map_is_reported_not_drawn(tmp_path, capsys, caplog, method):
    photo = cv2.resize(skimage_bgr("chelsea"), (160, 120), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "cat.png"), photo)
    out, doc = tmp_path / "out.png", tmp_path / "out.json"
    assert main(["render", str(tmp_path / "cat.png"), "-o", str(out), "--json", str(doc),
                 "--model", str(_nan_model(tmp_path)), "--method", method,
                 "--layout", "overlay"]) == 0
    assert capsys.readouterr().err == ""  # no numpy RuntimeWarning
    (frame,) = strict_json(doc)["frames"]
    assert frame["problem"] == "NaN in map"
    assert all(t["prob"] is None for t in frame["top"])  # null, not NaN: valid JSON
    assert any("no map drawn" in r.getMessage() for r in caplog.records)
    view = cv2.imread(str(out)).astype(int)
    grey = np.abs(view - photo).sum(axis=2) > 60
    # The frame itself (no colours), with labels at the top and a banner at the bottom.
    assert grey[40:90].mean() < 0.02
    assert grey[95:].mean() > 0.05


# -- outputs -----------------------------------------------------------------------------------

def _avi(tmp_path: Path, n: int = 8) -> Path:
    return write_video(tmp_path / "clip.avi", demo_frames(n))


def test_output_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    refused(capsys, [str(_avi(tmp_path)), "-o", str(tmp_path / "file.txt" / "out.mp4")],
            "file.txt", "not a folder")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
def test_output_where_no_file_can_be_made(tmp_path, capsys):
    refused(capsys, [str(_avi(tmp_path)), "-o", "/proc/camview_out.mp4"],
            "/proc/camview_out.mp4")


@pytest.mark.skipif(sys.platform.startswith("win") or os.geteuid() == 0,
                    reason="as root (or on Windows) permission bits do not stop writes")
def test_read_only_output_folder(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        refused(capsys, [str(_avi(tmp_path)), "-o", str(folder / "out.mp4")], "locked")
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("full", ["--json", "--map"])
def test_full_disk_for_one_output_keeps_the_others(tmp_path, capsys, full):
    """/dev/full opens but every write fails with ENOSPC, as a full disk does."""
    video = _avi(tmp_path)
    other = "--map" if full == "--json" else "--json"
    kept = tmp_path / ("maps.npy" if other == "--map" else "out.json")
    out = tmp_path / "out.mp4"
    assert main(["render", str(video), "-o", str(out), full, "/dev/full",
                 other, str(kept)]) == 2
    one_line_error(capsys.readouterr().err, "/dev/full", "No space left")
    assert count_frames(out) == 8  # the video is finished and plays
    assert kept.stat().st_size > 0
    assert not Path("/dev/full.npy").exists()


@pytest.mark.parametrize("flag", ["-o", "--json", "--map"])
def test_output_equal_to_the_input_is_refused_and_the_input_kept(tmp_path, capsys, flag):
    image = tmp_path / "cat.png"
    cv2.imwrite(str(image), skimage_bgr("chelsea"))
    before = image.read_bytes()
    refused(capsys, [str(image), flag, str(tmp_path / "." / "cat.png")], "cat.png",
            "is the input")
    assert image.read_bytes() == before


def test_a_video_write_failing_midway_leaves_a_closed_playable_file(tmp_path, capsys,
                                                                     monkeypatch):
    from camview.drawing import writers

    real = writers.FFmpegPipe.write
    calls = []

    def failing(self, frame):
        calls.append(1)
        if len(calls) > 5:
            raise BrokenPipeError(32, "Broken pipe")
        real(self, frame)

    monkeypatch.setattr(writers.FFmpegPipe, "write", failing)
    out, doc = tmp_path / "out.mp4", tmp_path / "out.json"
    assert main(["render", str(_avi(tmp_path, 12)), "-o", str(out), "--json", str(doc)]) == 2
    one_line_error(capsys.readouterr().err, "out.mp4", "after 5 frames")
    assert count_frames(out) == 5
    assert len(strict_json(doc)["frames"]) >= 5  # what was computed is kept


def test_encoder_failing_when_it_finishes_is_reported(tmp_path, capsys, monkeypatch):
    from camview.drawing import writers

    monkeypatch.setattr(writers.FFmpegPipe, "close", lambda self: "No space left on device")
    assert main(["render", str(_avi(tmp_path)), "-o", str(tmp_path / "out.mp4")]) == 2
    one_line_error(capsys.readouterr().err, "out.mp4", "No space left")


# -- unexpected faults and --debug -------------------------------------------------------------

def test_a_bug_is_one_line_and_exit_1_and_debug_shows_the_traceback(tmp_path, caplog,
                                                                   monkeypatch):
    import camview.commands.render

    def boom(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(camview.commands.render, "record_of", boom)
    out = tmp_path / "out.mp4"
    args = ["render", str(_avi(tmp_path)), "-o", str(out)]
    assert main(args) == 1
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == ("unexpected RuntimeError: boom (run with --debug for the "
                                   "traceback)")
    with pytest.raises(RuntimeError, match="boom"):
        main([*args, "--debug"])


def test_a_bug_in_a_fresh_process_prints_no_traceback(tmp_path):
    video = _avi(tmp_path)
    code = ("import sys, camview.commands.render as r\n"
            "def boom(*a): raise RuntimeError('boom')\n"
            "r.record_of = boom\n"
            "from camview.cli import main\n"
            f"sys.exit(main(['render', {str(video)!r}, '-o', 'out.mp4'] + sys.argv[1:]))\n")
    with ThreadPoolExecutor(2) as pool:  # both fresh processes at once
        proc, debug = pool.map(lambda extra: subprocess.run(
            [sys.executable, "-c", code, *extra], capture_output=True, text=True, timeout=300,
            cwd=tmp_path), ([], ["--debug"]))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "camview: ERROR: unexpected RuntimeError: boom (run with --debug for the traceback)"]
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert not (tmp_path / "out.mp4").exists()  # no frame was finished


def test_bad_style_options_exit_2_before_any_work(capsys):
    refused(capsys, ["demo", "--threshold", "5"], "threshold")
    refused(capsys, ["demo", "--colormap", "rainbow"], "rainbow")
    refused(capsys, ["demo", "--frames", "0"], "--frames")


# -- property: random frames through the model path --------------------------------------------

@st.composite
def any_frames(draw):
    h, w = draw(st.integers(1, 400)), draw(st.integers(1, 400))
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32, np.bool_, np.int32]))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if dtype == np.float32:
        image = (rng.standard_normal(shape) * draw(st.sampled_from([1.0, 1e3, 1e-6])))
        image = image.astype(np.float32)
        if draw(st.booleans()):
            image.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return image
    if dtype == np.int32:
        return rng.integers(-(2**31), 2**31 - 1, shape, dtype=np.int32)
    return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True, dtype=dtype)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=any_frames())
def test_any_frame_through_the_model_gives_a_finite_map(lite0, image):
    from camview.maps import make_method

    try:
        batch = lite0.prepare(image)
    except SourceError:
        return
    assert batch.dtype == np.float32 and batch.shape[0] == 1 and batch.shape[3] == 3
    assert max(batch.shape[1:3]) <= 4 * 224
    result = make_method("cam", lite0).explain(batch)
    assert result.cam.ndim == 2 and np.isfinite(result.cam).all()
    assert math.isclose(float(result.probabilities.sum()), 1.0, rel_tol=1e-4)
