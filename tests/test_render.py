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
