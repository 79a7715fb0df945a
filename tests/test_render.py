"""`camview render` end to end, as a script would call it: outputs, JSON, maps, exit codes."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import chelsea_pan, count_frames, skimage_bgr, write_video

from camview.cli import main


def test_image_to_png_and_json(tmp_path):
    image = tmp_path / "chelsea.png"
    cv2.imwrite(str(image), skimage_bgr("chelsea"))
    out, doc = tmp_path / "out.png", tmp_path / "out.json"
    cams = tmp_path / "maps.npy"
    assert main(["render", str(image), "-o", str(out), "--json", str(doc), "--map", str(cams),
                 "--target", "tabby"]) == 0
    rendered = cv2.imread(str(out))
    assert rendered.shape[0] == 300 and rendered.shape[1] > 2 * 451 - 10  # raw | overlay
    result = json.loads(doc.read_text())
    assert result["model"] == "efficientnet_lite0" and result["method"] == "cam"
    (frame,) = result["frames"]
    assert frame["frame"] == 0
    assert frame["top"][0]["index"] == 285 and len(frame["top"]) == 5
    probs = [t["prob"] for t in frame["top"]]
    assert probs == sorted(probs, reverse=True)
    assert frame["target"] == {"index": 281, "label": "tabby"}
    assert 0 <= frame["peak"]["x"] < 370 and 0 <= frame["peak"]["y"] < 300
    maps = np.load(cams)
    assert maps.dtype == np.float32 and maps.shape[0] == 1 and maps.ndim == 3


def test_video_to_mp4_keeps_every_frame(tmp_path):
    video = str(write_video(tmp_path / "clip.avi", chelsea_pan(12), fps=10))
    out, doc, cams = tmp_path / "clip_cam.mp4", tmp_path / "clip.json", tmp_path / "clip.npy"
    assert main(["render", video, "-o", str(out), "--json", str(doc), "--map", str(cams),
                 "--method", "gradcam", "--no-progress"]) == 0
    assert count_frames(out) == 12
    frames = json.loads(doc.read_text())["frames"]
    assert [f["frame"] for f in frames] == list(range(12))
    assert np.load(cams).shape[0] == 12


def test_folder_output_and_demo(tmp_path):
    out = tmp_path / "frames"
    assert main(["render", "demo", "-o", str(out), "--frames", "3", "--layout", "overlay",
                 "--style", "blend"]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"frame_{i:06d}.png" for i in range(3)]
    assert cv2.imread(str(files[0])).shape[:2] == (480, 640)


@pytest.mark.parametrize("args, fragment", [
    (["render", "missing.mp4", "-o", "x.mp4"], "missing.mp4"),
    (["render", "demo", "--model", "alexnet", "--frames", "1", "--json", "x.json"], "alexnet"),
    (["render", "demo", "--method", "lime", "--frames", "1", "--json", "x.json"], "lime"),
    (["render", "demo", "--target", "unicorn", "--frames", "1", "--json", "x.json"], "unicorn"),
    (["render", "demo", "-o", "out.txt", "--frames", "1"], "out.txt"),
    (["render", "demo", "--patch", "8", "--method", "gradcam", "--frames", "1",
      "--json", "x.json"],
     "--patch applies to occlusion only"),
    (["render", "demo", "--compare", "cam,lime", "--frames", "1", "--json", "x.json"], "lime"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "Traceback" not in err and err.count("\n") == 0


def test_output_equal_to_input_is_refused(tmp_path, capsys):
    video = str(write_video(tmp_path / "clip.avi", chelsea_pan(3), fps=10))
    assert main(["render", video, "-o", video]) == 2
    assert "is the input" in capsys.readouterr().err
    assert count_frames(video) == 3


def test_console_script_runs_in_a_fresh_process(tmp_path):
    image = tmp_path / "coffee.jpg"
    cv2.imwrite(str(image), skimage_bgr("coffee"))
    doc = tmp_path / "coffee.json"
    proc = subprocess.run([sys.executable, "-m", "camview.cli", "render", str(image),
                           "--json", str(doc)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(doc.read_text())["frames"][0]["top"][0]["label"] == "espresso"
    assert "Traceback" not in proc.stderr


def test_compare_grid_metrics_and_scale(tmp_path):
    image = tmp_path / "coffee.png"
    cv2.imwrite(str(image), skimage_bgr("coffee"))
    out, doc, cams = tmp_path / "grid.png", tmp_path / "grid.json", tmp_path / "grid.npy"
    assert main(["render", str(image), "-o", str(out), "--json", str(doc), "--map", str(cams),
                 "--compare", "Grad-CAM,layer-cam,eigencam", "--metrics",
                 "--scale", "probability"]) == 0
    h, w = skimage_bgr("coffee").shape[:2]
    grid = cv2.imread(str(out))
    assert grid.shape[0] > 2 * h and grid.shape[1] > 2 * w  # frame + 3 titled panels, 2x2
    data = json.loads(doc.read_text())
    assert data["method"] == "gradcam" and data["compare"] == ["gradcam", "layercam",
                                                               "eigencam"]
    metrics = data["frames"][0]["metrics"]
    assert set(metrics) == {"gradcam", "layercam", "eigencam", "random"}
    for scores in metrics.values():
        assert set(scores) == {"deletion_auc", "insertion_auc"}
        assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert metrics["gradcam"]["deletion_auc"] < metrics["random"]["deletion_auc"]
    assert np.load(cams).shape[0] == 1


@pytest.mark.parametrize("method", ["layercam", "eigencam", "saliency", "guided-gradcam"])
def test_new_methods_render_and_write_raw_maps(tmp_path, method):
    out, cams = tmp_path / "out.png", tmp_path / "maps.npy"
    image = tmp_path / "chelsea.png"
    cv2.imwrite(str(image), skimage_bgr("chelsea"))
    assert main(["render", str(image), "-o", str(out), "--map", str(cams), "--method",
                 method]) == 0
    maps = np.load(cams)
    # Saliency-type maps are at the network input's resolution, CAM-type ones at 7 rows.
    assert maps.shape[1] == (224 if method in ("saliency", "guided-gradcam") else 7)


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


def test_one_image_output_names_the_frame_count(tmp_path, capsys, shared_lite0):
    three = write_video(tmp_path / "three.avi", chelsea_pan(3))
    assert main(["render", str(three), "-o", str(tmp_path / "x.png")]) == 2
    assert "three.avi has 3 frames" in capsys.readouterr().err
    one = write_video(tmp_path / "one.avi", chelsea_pan(1))
    assert main(["render", str(one), "-o", str(tmp_path / "one.png")]) == 0
    assert cv2.imread(str(tmp_path / "one.png")) is not None
    assert main(["render", "demo", "-o", str(tmp_path / "demo.png")]) == 2
    assert "demo runs until stopped" in capsys.readouterr().err


def test_a_frame_squashed_out_of_shape_is_said(tmp_path, caplog):
    """An input wider than 4:1 was squashed into the model's square with no word."""
    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), cv2.resize(skimage_bgr("rocket"), (1500, 200)))
    assert main(["render", str(wide), "--json", str(tmp_path / "x.json"), "--resize", "squash",
                 "--no-progress"]) == 0
    assert "wide.png: a 1500x200 frame is squashed" in caplog.text
    caplog.clear()
    assert main(["render", str(wide), "--json", str(tmp_path / "y.json"), "--no-progress"]) == 0
    assert "squashed" not in caplog.text  # shorter side resized: the shape is kept
