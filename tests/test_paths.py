"""Where recordings and snapshots go: the user's Videos/Pictures folders, never the cwd."""

import sys
import time

import pytest

from camview.errors import OutputError
from camview.paths import new_output_file, output_folder, user_dir

VIDEOS = "Movies" if sys.platform == "darwin" else "Videos"


@pytest.fixture
def home(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def test_defaults_are_the_users_folders(home):
    env = {"HOME": str(home)}
    assert output_folder("recording", env=env) == home / VIDEOS / "camview"
    assert output_folder("snapshot", env=env) == home / "Pictures" / "camview"


def test_xdg_environment_wins(home, tmp_path):
    env = {"HOME": str(home), "XDG_VIDEOS_DIR": str(tmp_path / "films"),
           "XDG_PICTURES_DIR": "$HOME/Bilder"}
    assert output_folder("recording", env=env) == tmp_path / "films" / "camview"
    assert output_folder("snapshot", env=env) == home / "Bilder" / "camview"


def test_user_dirs_file_as_xdg_user_dirs_writes_it(home):
    config = home / ".config"
    config.mkdir()
    (config / "user-dirs.dirs").write_text(
        "# This file is written by xdg-user-dirs-update\n"
        'XDG_DESKTOP_DIR="$HOME/Schreibtisch"\n'
        'XDG_VIDEOS_DIR="$HOME/Eigene Videos"\n'
        'XDG_PICTURES_DIR="/srv/pictures"\n'
        'XDG_MUSIC_DIR="relative/is/ignored"\n')
    env = {"HOME": str(home)}
    assert user_dir("VIDEOS", "Videos", env) == home / "Eigene Videos"
    assert user_dir("PICTURES", "Pictures", env).as_posix() == "/srv/pictures"
    assert user_dir("MUSIC", "Music", env) == home / "Music"


def test_user_dirs_file_under_xdg_config_home(home, tmp_path):
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "user-dirs.dirs").write_text('XDG_VIDEOS_DIR="$HOME/clips"\n')
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(config)}
    assert output_folder("recording", env=env) == home / "clips" / "camview"


def test_override_and_environment_variable(home, tmp_path):
    env = {"HOME": str(home), "CAMVIEW_OUTPUT_DIR": str(tmp_path / "shared")}
    assert output_folder("snapshot", env=env) == tmp_path / "shared"
    assert output_folder("snapshot", tmp_path / "mine", env=env) == tmp_path / "mine"


def test_new_file_creates_its_folder_and_never_overwrites(home):
    env = {"HOME": str(home)}
    now = time.mktime((2024, 5, 6, 7, 8, 9, 0, 0, -1))
    first = new_output_file("snapshot", ".png", env=env, now=now)
    assert first == home / "Pictures" / "camview" / "camview-20240506-070809.png"
    assert first.parent.is_dir() and not first.exists()
    first.write_bytes(b"x")
    second = new_output_file("snapshot", ".png", env=env, now=now)
    assert second.name == "camview-20240506-070809-2.png"


def test_folder_that_cannot_be_made_is_one_line(home):
    (home / "blocker").write_text("a file")
    env = {"HOME": str(home), "CAMVIEW_OUTPUT_DIR": str(home / "blocker" / "out")}
    with pytest.raises(OutputError) as caught:
        new_output_file("recording", ".mp4", env=env)
    message = str(caught.value)
    assert "blocker is a file" in message and "CAMVIEW_OUTPUT_DIR" in message
    assert "\n" not in message


def test_unknown_kind_is_a_bug():
    with pytest.raises(ValueError):
        output_folder("movie", env={})
