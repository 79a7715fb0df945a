"""A ViT fed its centre crop (`--resize crop`) in every picture camview draws, and a CNN and a
ViT trained on the same task compared on one set (`evaluate --versus`).

Both models are trained here for some seconds on the tests' marked-pictures task (the ViT on
48x48 squares, the CNN on the 48x80 a 5:3 frame becomes at `--resize shorter`), and the set
is wide 96x160 pictures with a 12-px mark at known places: the map of "marked" must land on
the mark's pixels in render's picture, the sanity figure and the report's cards, which it does
not when the crop's map is stretched over the whole frame (some 20 px off, more than a patch).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from vit_models import trained_marked_cnn, trained_marked_vit

from camview.cli import main
from camview.models.base import crop_box

FRAME = (96, 160)
MARK = 12
BOX = crop_box(FRAME, (48, 48))  # (6, 38, 90, 122): the ViT's 84x84 centre
PATCH = (BOX[2] - BOX[0]) / 6  # one token's side in frame pixels
#: Marks by file: inside the crop (off its centre, so a stretched map misses them), and
#: outside it (the ViT cannot see them; the CNN, fed the whole frame, can).
MARKS = {"marked/in_a.png": (14, 104), "marked/in_b.png": (66, 44),
         "marked/out_left.png": (40, 4), "marked/out_right.png": (40, 144),
         "plain/mislabelled.png": (60, 104)}


def picture(seed: int, mark: tuple[int, int] | None) -> np.ndarray:
    """Grey noise (colourless, so only the map's colours are coloured), with the mark."""
    grey = np.random.default_rng(seed).integers(40, 140, (*FRAME, 1)).astype(np.uint8)
    image = np.repeat(grey, 3, axis=2)
    if mark is not None:
        y, x = mark
        image[y:y + MARK, x:x + MARK] = (40, 230, 250)
    return image


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("vit-versus")
    vit, cnn = folder / "vit.keras", folder / "cnn.keras"
    trained_marked_vit().keras_model.save(vit)
    trained_marked_cnn().save(cnn)
    labels = folder / "labels.txt"
    labels.write_text("plain\nmarked\n")
    names = [*MARKS, "plain/p1.png", "plain/p2.png", "plain/p3.png"]
    for n, name in enumerate(names):
        path = folder / "set" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), picture(n, MARKS.get(name)))
    return {"vit": str(vit), "cnn": str(cnn), "labels": str(labels), "set": folder / "set",
            "folder": folder}


def vit_args(t: dict) -> list[str]:
    return ["--model", t["vit"], "--labels", t["labels"], "--preprocess", "unit",
            "--resize", "crop"]


def hottest(view: np.ndarray) -> tuple[float, float]:
    """(y, x) of the most coloured place of an overlay on a colourless picture (the map's
    peak), smoothed over a few pixels."""
    colour = (view.max(-1).astype(np.float32) - view.min(-1)) * (view[..., 2] > view[..., 0])
    colour = cv2.GaussianBlur(colour, (0, 0), 3)
    y, x = np.unravel_index(int(np.argmax(colour)), colour.shape)
    return float(y), float(x)


def on_mark(yx: tuple[float, float], name: str) -> bool:
    """Whether a frame point is on the mark or the tokens it touches: within half the mark
    and a token's side (14 px) of its centre. A crop's map stretched over the frame puts
    these marks' peaks 27 px away."""
    y, x = MARKS[name]
    return float(np.hypot(yx[0] - y - MARK / 2, yx[1] - x - MARK / 2)) <= MARK / 2 + PATCH


def report_pictures(path: Path) -> dict[str, np.ndarray]:
    """The report's embedded pictures by their alt text."""
    found = {}
    for data, alt in re.findall(r'src="data:image/jpeg;base64,([^"]+)"[^>]*alt="([^"]*)"',
                                path.read_text()):
        found[alt.replace("&#x27;", "'")] = cv2.imdecode(
            np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
    return found


def test_render_and_its_sanity_figure_draw_the_crops_map_on_the_mark(trained, tmp_path,
                                                                      capsys):
    name = "marked/in_a.png"
    out = tmp_path / "in_a.png"
    assert main(["render", str(trained["set"] / name), *vit_args(trained), "-o", str(out),
                 "--layout", "overlay", "--topk", "0", "--json", str(tmp_path / "a.json"),
                 "--sanity", "--no-progress"]) == 0
    capsys.readouterr()
    view = cv2.imread(str(out))
    assert view.shape[:2] == FRAME
    assert on_mark(hottest(view), name), hottest(view)
    outside = view.copy()
    outside[BOX[0]:BOX[2], BOX[1]:BOX[3]] = 0
    assert (outside.max(-1).astype(int) - outside.min(-1)).max() <= 8  # nothing coloured
    peak = json.loads((tmp_path / "a.json").read_text())["frames"][0]["peak"]
    assert on_mark((peak["y"], peak["x"]), name), peak

    figure = cv2.imread(str(tmp_path / "in_a-sanity.png"))
    original = figure[-160:, :160]  # the first panel: the crop, at the figure's height
    y, x = hottest(original)
    scale = (BOX[2] - BOX[0]) / 160
    assert on_mark((BOX[0] + y * scale, BOX[1] + x * scale), name), (y, x)


def test_the_reports_cards_draw_the_crops_map_on_the_mark(trained, tmp_path, caplog):
    report, data = tmp_path / "vit.html", tmp_path / "vit.json"
    assert main(["evaluate", str(trained["set"]), *vit_args(trained), "--report", str(report),
                 "--json", str(data), "--no-progress"]) == 0
    assert "using HiResCAM" in caplog.text
    wrong = {Path(i["path"]).name for i in json.loads(data.read_text())["images"]
             if not i["correct"]}
    assert wrong == {"out_left.png", "out_right.png", "mislabelled.png"}  # what the crop hides
    pictures = report_pictures(report)
    card = pictures["HiResCAM map of 'marked' on mislabelled.png"]  # its predicted class
    assert card.shape[:2] == FRAME and on_mark(hottest(card), "plain/mislabelled.png")
    text = report.read_text()
    assert "in the coordinates of the centre crop the model saw" in text


def test_a_cnn_and_a_vit_compared_on_one_set(trained, tmp_path, capsys, caplog):
    report, data = tmp_path / "versus.html", tmp_path / "versus.json"
    assert main(["evaluate", str(trained["set"]), "--model", trained["cnn"], "--labels",
                 trained["labels"], "--preprocess", "unit", "--versus", trained["vit"],
                 "--versus-labels", trained["labels"], "--versus-preprocess", "unit",
                 "--versus-resize", "crop", "--report", str(report), "--json", str(data),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    # No --method: each its own default, the ViT's said once (CAM is not defined for it).
    assert "its maps use HiResCAM" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    doc = json.loads(data.read_text())
    assert doc["accuracy"]["top1"] == pytest.approx(7 / 8)  # the CNN sees the whole frame
    assert doc["versus"]["accuracy"]["top1"] == pytest.approx(5 / 8)
    assert (doc["versus"]["only_first_right"], doc["versus"]["only_second_right"]) == (2, 0)
    assert out.rstrip().endswith("cnn.keras right 2, only " + trained["vit"] + " right 0")
    text = report.read_text()
    assert "vit.keras (maps: HiResCAM)" in text and "<dd>CAM</dd>" in text
    pictures = report_pictures(report)
    for name in ("out_left.png", "out_right.png"):
        cnn_map = pictures[f"{trained['cnn']} map of 'marked' on {name}"]
        assert on_mark(hottest(cnn_map), f"marked/{name}"), name
        vit_map = pictures[f"{trained['vit']} map of 'plain' on {name}"]  # in the crop only
        outside = vit_map.copy()
        outside[BOX[0] - 3:BOX[2] + 3, BOX[1] - 3:BOX[3] + 3] = 0  # (and JPEG's blur)
        assert (outside.max(-1).astype(int) - outside.min(-1)).max() <= 48, name

    # The other way round: the ViT's recommended method, the CNN's CAM.
    assert main(["evaluate", str(trained["set"]), *vit_args(trained), "--versus",
                 trained["cnn"], "--versus-labels", trained["labels"], "--versus-preprocess",
                 "unit", "--report", str(tmp_path / "back.html"), "--no-progress"]) == 0
    capsys.readouterr()
    back = (tmp_path / "back.html").read_text()
    assert "cnn.keras (maps: CAM)" in back and "<dd>HiResCAM</dd>" in back
