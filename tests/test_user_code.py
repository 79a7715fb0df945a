"""The user's Python that camview meets: a --import file and the names a .keras config gives
Keras to rebuild (camview.models.user). Each ends in one line that says what happened."""

from __future__ import annotations

import json
import zipfile

import keras

from camview.cli import main


def test_an_import_file_that_exits_is_one_line_not_its_exit_status(tmp_path, capsys):
    """It exited 3 with no word: the file's sys.exit ended camview itself."""
    module = tmp_path / "layers.py"
    module.write_text("import sys\nsys.exit(3)\n")
    assert main(["inspect", "--import", str(module)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"camview: error: --import {module} called sys.exit(3) while it was "
                   "imported: a file for --import only defines and registers classes")


def test_a_config_naming_a_python_function_is_not_called_a_custom_class(tmp_path, capsys):
    """A config whose layer is os.system was called "a custom class ... register it with
    --import", inviting the user to make it run."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    keras.Model(inputs, keras.layers.Dense(2)(x)).save(tmp_path / "ok.keras")
    with zipfile.ZipFile(tmp_path / "ok.keras") as good:
        config = json.loads(good.read("config.json"))
        layer = config["config"]["layers"][1]
        layer["module"], layer["class_name"] = "os", "system"
        with zipfile.ZipFile(tmp_path / "evil.keras", "w") as evil:
            for name in good.namelist():
                evil.writestr(name, json.dumps(config) if name == "config.json"
                              else good.read(name))
    assert main(["inspect", str(tmp_path / "evil.keras")]) == 2
    err = capsys.readouterr().err.strip()
    assert "names the Python function os.system as a layer" in err
    assert "nothing ran" in err and "--import" not in err and err.count("\n") == 0


def test_weights_for_a_model_file_or_a_folder_for_a_pth_are_one_line(tmp_path, capsys):
    """--weights was silently ignored for a .keras file, and a folder for Lite0's .pth was
    said not to exist."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    keras.Model(inputs, keras.layers.Dense(2)(x)).save(tmp_path / "mine.keras")
    (tmp_path / "weights").mkdir()
    out = str(tmp_path / "x.json")
    assert main(["render", "demo", "--json", out, "--model", str(tmp_path / "mine.keras"),
                 "--weights", str(tmp_path / "weights")]) == 2
    assert "--weights is for the built-in models" in capsys.readouterr().err
    assert main(["render", "demo", "--frames", "1", "--json", out, "--weights",
                 str(tmp_path / "weights")]) == 2
    assert "is a folder: give the .pth file" in capsys.readouterr().err
