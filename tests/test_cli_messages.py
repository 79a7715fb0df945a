"""What the command line tells a user: help that lists the window's options, a render with
nothing to write, and unwritable outputs named by their real cause."""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import keras
import pytest
from helpers import DEMO, REPO, saved

import camview.commands.render
from camview.cli import build_parser, main
from camview.drawing import output_files
from camview.drawing.output_files import check_writable, filesystem_type
from camview.errors import OutputError

# -- camview --help ----------------------------------------------------------------------------

WINDOW_OPTIONS = ("--source", "--record", "--target", "--model", "--weights", "--method",
                  "--layer", "--style", "--layout", "--topk", "--threshold", "--alpha",
                  "--colormap")


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_top_level_help_lists_the_window_options(capsys, flag):
    with pytest.raises(SystemExit) as stop:
        main([flag])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for option in WINDOW_OPTIONS:
        assert f"\n  {option} " in out, option
    for command in ("render", "models"):
        assert f"camview {command}" in out


def test_subcommand_usage_is_not_mangled_by_the_top_level_usage():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices["render"].format_usage().startswith("usage: camview render [-h]")


def test_top_level_options_still_open_the_window():
    args = build_parser().parse_args(["window", "--source", "x.mp4", "--topk", "2"])
    assert (args.command, args.source, args.topk) == ("window", "x.mp4", 2)


# -- camview render with nothing to write ------------------------------------------------------

def test_render_with_no_output_is_refused_before_the_model_loads(tmp_path, capsys, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded for a render that writes nothing")

    monkeypatch.setattr(camview.commands.render, "load_model", no_model)
    monkeypatch.chdir(tmp_path)
    assert main(["render", "demo"]) == 2
    err = capsys.readouterr().err
    assert err == "camview: error: nothing to write: give -o, --json or --map\n"
    assert list(tmp_path.iterdir()) == []


# -- unwritable outputs ------------------------------------------------------------------------

def refusal(path, **kwargs) -> str:
    with pytest.raises(OutputError) as caught:
        check_writable(path, **kwargs)
    return str(caught.value)


@pytest.mark.skipif(filesystem_type(Path("/proc")) != "proc", reason="needs Linux's /proc")
@pytest.mark.parametrize(("path", "folder"), [("/proc/out.png", False),
                                              ("/proc/self/out.json", False),
                                              ("/proc/camview_frames", True)])
def test_proc_is_named_as_a_virtual_file_system(path, folder):
    message = refusal(path, folder=folder)
    assert "virtual proc file system" in message
    assert "No such file" not in message


def test_render_to_proc_gives_the_real_cause(tmp_path, capsys):
    if filesystem_type(Path("/proc")) != "proc":
        pytest.skip("needs Linux's /proc")
    image = DEMO
    source = sorted(p for p in image.iterdir() if p.suffix == ".jpg")[0]
    assert main(["render", str(source), "-o", "/proc/out.png"]) == 2
    err = capsys.readouterr().err.strip()
    assert "/proc/out.png" in err and "virtual proc file system" in err
    assert "\n" not in err


def test_path_under_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    message = refusal(tmp_path / "notes.txt" / "out.png")
    assert "notes.txt is a file, not a folder" in message


def test_a_missing_folder_is_refused_not_made(tmp_path):
    """A typo in a path must not make folders anywhere (-o /nonexist/x.png made /nonexist):
    as ffmpeg does, the folder of an output must exist; an output folder itself is made."""
    out = tmp_path / "new" / "deeper" / "out.png"
    with pytest.raises(OutputError, match=r"folder .*new/deeper does not exist"):
        check_writable(out)
    assert not (tmp_path / "new").exists()
    frames = tmp_path / "frames"
    assert check_writable(frames, folder=True) == frames and frames.is_dir()


def test_ordinary_folder_is_on_a_disk(tmp_path):
    fs = filesystem_type(tmp_path)
    if fs is None:
        pytest.skip("no /proc/self/mounts here")
    assert fs not in output_files.VIRTUAL_FILESYSTEMS


@pytest.mark.parametrize(("code", "words"), [
    (errno.EROFS, "read-only file system"), (errno.ENOSPC, "is full"),
    (errno.EACCES, "no permission to write in folder"),
])
def test_causes_in_words(tmp_path, code, words):
    assert words in output_files._cause(tmp_path, OSError(code, os.strerror(code)))


def _without_root_override(code: str) -> subprocess.CompletedProcess:
    """Run `code` where permission bits apply: as root, without CAP_DAC_OVERRIDE."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root, where permission bits do not stop writes, and "
                        "setpriv (util-linux) is not there to drop that power")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if os.geteuid() == 0 and "setpriv:" in done.stderr:
        pytest.skip(f"running as root and setpriv cannot drop CAP_DAC_OVERRIDE here "
                    f"({done.stderr.strip()})")
    return done


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX permission bits")
def test_read_only_folder_says_permission(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        done = _without_root_override(
            "from camview.drawing.output_files import check_writable\n"
            f"check_writable({str(folder / 'out.png')!r})")
    finally:
        folder.chmod(0o755)
    assert f"no permission to write in folder {folder}" in done.stderr, done.stderr


def test_an_option_is_only_ever_its_whole_name(capsys):
    """argparse's prefix matching took `inspect M --layer X` as `--layers`."""
    with pytest.raises(SystemExit) as exit_status:
        main(["render", "demo", "--fram", "1", "--json", "x.json"])
    assert exit_status.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unrecognized arguments: --fram 1" in err


def test_the_network_commands_default_to_the_built_in_model(tmp_path):
    from camview.models import DEFAULT_MODEL

    assert main(["filters", "-o", str(tmp_path / "f.png")]) == 0
    assert cv2.imread(str(tmp_path / "f.png")) is not None
    args = build_parser().parse_args(["dream", "--target", "tabby", "-o", "d.png"])
    assert args.model == DEFAULT_MODEL


def test_models_lists_the_built_ins_without_tensorflow():
    """`camview models` took 15-17 s: it imported TensorFlow for a table of names."""
    code = ("import sys\nfrom camview.cli import main\nassert main(['models']) == 0\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "efficientnet_lite0 (default)" in done.stdout and done.stderr == ""


def test_notes_are_labelled_notes_and_warnings_warnings(capsys):
    import logging

    from camview.cli import _set_up_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        root.handlers.clear()
        _set_up_logging(debug=False)
        logging.getLogger("camview.models").info("optimising the model for this CPU (once)")
        logging.getLogger("camview.sources").warning("video x.avi: cut short")
        logging.getLogger("some.library").info("library chatter")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert capsys.readouterr().err.splitlines() == [
        "camview: note: optimising the model for this CPU (once)",
        "camview: WARNING: video x.avi: cut short"]


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


def test_the_window_refuses_an_unusable_model_before_it_opens(tmp_path, capsys, monkeypatch):
    import camview.app.main

    def no_window(args):
        raise AssertionError("the window opened for an unusable model")

    monkeypatch.setattr(camview.app.main, "run_window", no_window)
    inputs = keras.Input((32, 32, 4))  # four channels: no frame gives them
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = saved(keras.Model(inputs, keras.layers.Dense(2)(x)), tmp_path / "pets.keras")
    assert main(["--model", path]) == 2
    (window_line,) = capsys.readouterr().err.splitlines()
    assert main(["render", "demo", "--frames", "1", "--json", str(tmp_path / "x.json"),
                 "--model", path]) == 2
    (render_line,) = capsys.readouterr().err.splitlines()
    assert window_line == render_line and "4 channels" in window_line


def test_tensorflow_warnings_stay_quiet_when_it_was_imported_first():
    """A test run or a user's script imports TensorFlow before camview's CLI: its Python
    warnings (a retracing heuristic that counts each model's compiled call) stay off anyway."""
    import logging

    import tensorflow  # noqa: F401

    from camview.commands.quiet_libraries import quiet_tensorflow

    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    quiet_tensorflow()
    assert logging.getLogger("tensorflow").getEffectiveLevel() == logging.ERROR
