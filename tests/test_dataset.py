"""Reading a labelled set (camview.sets.dataset): what it finds and what it says it skipped."""

from __future__ import annotations

import shutil

from helpers import DEMO


def test_an_empty_class_folder_is_said(tmp_path):
    from camview.labels import imagenet_labels
    from camview.sets.dataset import open_labelled_set

    root = tmp_path / "set"
    (root / "tabby").mkdir(parents=True)
    (root / "espresso").mkdir()
    shutil.copy(DEMO / "chelsea.jpg", root / "tabby" / "chelsea.jpg")
    found = open_labelled_set(root, list(imagenet_labels()))
    assert any("class folder espresso holds no images" in w for w in found.warnings)
