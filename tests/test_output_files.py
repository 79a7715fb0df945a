"""Outputs never cost the user a file (camview.drawing.output_files): no output over an input, and
every output written whole or not at all, also when the process is killed or a second camview
writes the same name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import (
    REPO,
    chelsea_pan,
    class_folders,
    count_frames,
    skimage_bgr,
    small_classifier,
    write_video,
)

from camview.cli import main
from camview.drawing.output_files import PartialFile, check_writable, sweep_partials
from camview.drawing.writers import VideoWriter
from camview.errors import OutputError


def one_line(err: str, *fragments: str) -> None:
    err = err.strip()
    assert err.count("\n") == 0 and err.startswith("camview: error: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, photo in (("eagle", "rocket"), ("cat", "chelsea")):
        cv2.imwrite(str(folder / f"{name}.png"), cv2.resize(skimage_bgr(photo), (64, 48)))
    return folder


def partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


# -- A: never over an input ------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--json", "--map"])
def test_render_refuses_an_output_naming_an_image_of_its_input_folder(tmp_path, capsys, flag):
    folder = photo_folder(tmp_path)
    before = (folder / "eagle.png").read_bytes()
    assert main(["render", str(folder), flag, str(folder / "eagle.png")]) == 2
    one_line(capsys.readouterr().err, "eagle.png", "one of the images in input folder")
    assert (folder / "eagle.png").read_bytes() == before


@pytest.mark.parametrize("flag", ["--json", "--report"])
def test_evaluate_refuses_an_output_naming_an_image_of_its_set(tmp_path, capsys, flag):
    root = Path(class_folders(tmp_path / "set", ["bald_eagle", "malamute"]))
    photo = root / "malamute" / "malamute.jpg"
    before = photo.read_bytes()
    assert main(["evaluate", str(root), flag, str(photo)]) == 2
    one_line(capsys.readouterr().err, "malamute.jpg", "one of the images in input folder")
    assert photo.read_bytes() == before


def test_evaluate_refuses_an_output_naming_a_file_a_csv_set_lists(tmp_path, capsys):
    folder = photo_folder(tmp_path)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "set.csv").write_text("path,label\n../photos/eagle.png,bald eagle\n")
    before = (folder / "eagle.png").read_bytes()
    assert main(["evaluate", str(lists / "set.csv"), "--json", str(folder / "eagle.png")]) == 2
    one_line(capsys.readouterr().err, "eagle.png", "is the input file")
    assert (folder / "eagle.png").read_bytes() == before


def test_an_output_over_the_model_or_labels_file_is_refused(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    assert main(["render", "demo", "--labels", str(labels), "--json", str(labels)]) == 2
    one_line(capsys.readouterr().err, "labels.txt", "is the input file")
    assert labels.read_text() == "a\nb\n"
    model = tmp_path / "mine.keras"
    small_classifier(3).save(model)
    before = model.read_bytes()
    assert main(["inspect", str(model), "--layers", "--json", str(model)]) == 2
    one_line(capsys.readouterr().err, "mine.keras", "is the input file")
    assert model.read_bytes() == before


def test_new_names_and_non_images_inside_an_input_folder_may_be_written(tmp_path):
    folder = photo_folder(tmp_path)
    (folder / "notes.json").write_text("{}")
    for name in ("run.json", "notes.json", "new.png"):
        check_writable(folder / name, inputs=(folder,), folder=False)


# -- B: written whole or not at all --------------------------------------------------------

def test_a_live_writer_of_the_same_output_is_refused_and_a_dead_ones_leftover_swept(tmp_path):
    out = tmp_path / "out.mp4"
    live = PartialFile(out)
    with pytest.raises(OutputError, match="another camview is writing it now"):
        check_writable(out)
    live.discard()
    # A writer killed midway: its lock went with its process, its partial file stayed.
    code = ("import sys, os; from camview.drawing.output_files import PartialFile; "
            f"p = PartialFile({str(out)!r}); os._exit(9)")
    subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    assert len(partials(tmp_path)) == 1
    check_writable(out)  # not refused: a dead run is no writer
    assert partials(tmp_path) == []
    # A folder of frames is swept of its dead partial frames only, never of the user's files.
    for name in (".cat_cam.png.ab12cd_9.part.png", ".partners.txt", ".notes.part.png"):
        (tmp_path / name).write_text("x")
    assert sweep_partials(tmp_path, suffix=".png") == []
    assert partials(tmp_path) == [".notes.part.png", ".partners.txt"]


def test_a_failed_video_replaces_nothing(tmp_path, monkeypatch):
    from camview.drawing import writers

    out = tmp_path / "out.mp4"
    out.write_bytes(b"the good video of an earlier run")
    monkeypatch.setattr(writers.FFmpegPipe, "close", lambda self: "No space left on device")
    writer = VideoWriter(out, 15, (64, 48))
    writer.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(OutputError, match="No space left"):
        writer.finish()
    assert out.read_bytes() == b"the good video of an earlier run"
    assert partials(tmp_path) == []


def _start_render(tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "camview.cli", "render", "demo", "-o", "out.mp4", "--no-progress",
         "--model", "squeezenet", *extra],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})


def _ffmpegs_writing(folder: Path) -> list[int]:
    """The processes whose command line names a file in `folder` (our ffmpeg children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            if "ffmpeg" in cmdline and str(folder) in cmdline.replace("\0", " "):
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 and /proc: Linux")
def test_kill_9_midway_leaves_the_earlier_outputs_whole_and_no_ffmpeg_running(tmp_path):
    first = _start_render(tmp_path, "--frames", "8", "--json", "out.json")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    video, doc = (tmp_path / "out.mp4").read_bytes(), (tmp_path / "out.json").read_bytes()

    second = _start_render(tmp_path, "--json", "out.json")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and second.poll() is None:
        growing = [p for p in tmp_path.iterdir() if ".part" in p.name and p.stat().st_size > 0]
        if growing:
            break
        time.sleep(0.05)
    assert second.poll() is None, second.stderr.read()
    time.sleep(0.5)  # a few frames into the video
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _ffmpegs_writing(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ffmpegs_writing(tmp_path) == []
    assert (tmp_path / "out.mp4").read_bytes() == video
    assert (tmp_path / "out.json").read_bytes() == doc
    assert partials(tmp_path)  # the dead run's leftovers, until the next writer of the name
    for name in ("out.mp4", "out.json"):  # the next writer of each name sweeps its leftover
        check_writable(tmp_path / name)
    assert partials(tmp_path) == []


def test_two_renders_to_one_video_at_once_leave_one_whole_video(tmp_path):
    runs = [_start_render(tmp_path, "--frames", "20") for _ in range(2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for status, err in results:
        assert status == 0 or (status == 2 and "another camview is writing" in err), err
    assert any(status == 0 for status, _ in results)
    assert count_frames(tmp_path / "out.mp4") == 20
    assert partials(tmp_path) == []


def test_one_frame_of_a_source_that_runs_on_is_one_image(tmp_path):
    """`render demo --frames 1 -o demo.png`: one frame asked for, one picture written (it was
    refused: "demo runs until stopped")."""
    out = tmp_path / "demo.png"
    assert main(["render", "demo", "--frames", "1", "-o", str(out), "--no-progress"]) == 0
    assert cv2.imread(str(out)) is not None


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
