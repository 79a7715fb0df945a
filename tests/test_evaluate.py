"""`camview evaluate`: labelled sets, batched classification against per-image classification,
the mistakes' ranking, the HTML report, the cache, cancelling, and flat memory."""

import importlib.util
import json
import logging
import re
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import DEMO, REPO, class_folders, forward, saved, skimage_bgr, small_classifier

from camview.cli import main
from camview.commands.evaluate import write_json
from camview.errors import SourceError
from camview.labels import ClassNames, imagenet_labels
from camview.models import ResizeMode
from camview.sets.batches import call_size, network_input
from camview.sets.classify import classify_set
from camview.sets.dataset import open_labelled_set, write_demo_set
from camview.sets.results import ImageResult, ResultCache
from camview.sets.tally import Tally, evaluate_set
from camview.sources.images import load_image

LABELS = imagenet_labels()


def _stripes(h: int, w: int) -> np.ndarray:
    """A generated image: diagonal colour stripes (the network calls it something)."""
    y, x = np.mgrid[0:h, 0:w]
    band = ((x + y) // 12) % 3
    colours = np.array([[40, 40, 200], [240, 240, 240], [30, 140, 30]], np.uint8)
    return colours[band]


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory) -> Path:
    """Class folders named by label, by synonym with '_', and by WordNet id; photos, crops,
    flips and generated images of several shapes; a folder named after no class; a text file
    posing as an image."""
    root = tmp_path_factory.mktemp("set")
    chelsea = cv2.imread(str(DEMO / "chelsea.jpg"))
    rocket = cv2.imread(str(DEMO / "rocket.jpg"))
    files = {
        "tabby/chelsea.jpg": chelsea,
        "tabby/chelsea_flip.jpg": chelsea[:, ::-1],
        "n02123045/chelsea_crop.jpg": chelsea[20:280, 60:400],  # tabby by WordNet id
        "Egyptian_Cat/chelsea_tall.png": chelsea[:, 100:300],  # portrait: another bucket
        "espresso/coffee.jpg": cv2.imread(str(DEMO / "coffee.jpg")),
        "tripod/camera.jpg": cv2.imread(str(DEMO / "camera.jpg")),
        "missile/rocket.jpg": rocket,
        "missile/sub/rocket_flip.jpg": rocket[:, ::-1],  # deeper inside a class folder
        "window_screen/stripes_wide.png": _stripes(180, 400),
        "window_screen/stripes_square.png": _stripes(200, 200),
        "kitty/astronaut.jpg": cv2.imread(str(DEMO / "astronaut.jpg")),  # no such class
    }
    for name, image in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), np.ascontiguousarray(image))
    (root / "tripod" / "broken.jpg").write_text("not an image\n")
    return root


def per_image(model, path: Path) -> tuple[list[int], np.ndarray]:
    """One image classified alone (batch 1, CamModel's own call) from the same input."""
    image, _ = load_image(path)
    probs = forward(model, network_input(model, image)[None]).probabilities
    return list(np.argsort(-probs, kind="stable")[:5]), probs


# ---------------------------------------------------------------------------------------------
# Reading sets


def test_class_names_by_label_synonym_underscore_and_wordnet_id():
    from camview.labels import imagenet_wnids

    names = ClassNames(LABELS, imagenet_wnids())
    assert names.find("tabby") == names.find("Tabby_Cat") == names.find("n02123045") == 281
    assert names.find("egyptian cat") == 285
    assert names.find("crane") == 134  # its display name wins over the machine's synonym
    assert names.find("kitty") is None
    assert names.find("7", allow_index=True) == 7 and names.find("7") is None
    assert names.closest("tabbby")[0] == "tabby"


def test_folder_set_order_warning_and_skips(labelled_folder, caplog):
    with caplog.at_level(logging.WARNING):
        found = open_labelled_set(labelled_folder, LABELS)
    names = [p.path.relative_to(labelled_folder).as_posix() for p in found.images]
    assert names[:3] == ["Egyptian_Cat/chelsea_tall.png", "espresso/coffee.jpg",
                         "missile/rocket.jpg"]
    assert "missile/sub/rocket_flip.jpg" in names and "tripod/broken.jpg" in names
    assert not any(n.startswith("kitty/") for n in names)
    warning = [r.getMessage() for r in caplog.records if "kitty" in r.getMessage()]
    assert len(warning) == 1 and "closest labels" in warning[0] and "1 image" in warning[0]
    assert {i.label for i in found.images if "chelsea" in i.path.name} == {281, 285}


def test_csv_set_with_header_index_wnid_and_unknown_label(labelled_folder, tmp_path, caplog):
    shutil.copy(DEMO / "coffee.jpg", tmp_path / "coffee.jpg")
    (tmp_path / "imgs").mkdir()
    shutil.copy(DEMO / "chelsea.jpg", tmp_path / "imgs" / "cat.jpg")
    (tmp_path / "set.csv").write_text(
        "path,label\n"
        "coffee.jpg,espresso\n"
        "imgs/cat.jpg,n02123045\n"
        "imgs/cat.jpg,285\n"
        "gone.jpg,tabby\n"
        "coffee.jpg,latte macchiato\n"
        "\n")
    with caplog.at_level(logging.WARNING):
        found = open_labelled_set(tmp_path / "set.csv", LABELS)
    assert [(i.path.name, i.label) for i in found.images] == [
        ("coffee.jpg", 967), ("cat.jpg", 281), ("cat.jpg", 285), ("gone.jpg", 281)]
    assert any("'latte macchiato' matches no class" in r.getMessage() for r in caplog.records)


def test_bad_dataset_is_one_line():
    with pytest.raises(SourceError, match="no such folder or file"):
        open_labelled_set("/nonexistent/set", LABELS)


def test_bad_dataset_path_exits_2(capsys):
    assert main(["evaluate", "/nonexistent/set"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such folder or file" in err


# ---------------------------------------------------------------------------------------------
# Batching


def test_inputs_are_renders_and_every_call_is_a_full_batch(lite0):
    assert lite0.resize is ResizeMode.SHORTER
    image = np.zeros((300, 451, 3), np.uint8)
    assert network_input(lite0, image).shape == lite0.prepare(image).shape[1:] == (224, 337, 3)
    # A 224x337 input holds as many pixels per call as 10 square ones; a square one 16.
    assert call_size(lite0, (224, 337, 3), 16) == 10
    assert call_size(lite0, (224, 224, 3), 16) == 16 and call_size(lite0, (224, 224, 3), 1) == 1


def test_an_images_result_does_not_depend_on_the_images_sharing_its_call(lite0, tmp_path):
    """The same image among other neighbours, at other places in its call: bitwise the same
    scores, features and map (so a resumed run, or one spread over Ray, folds the same
    embedding)."""
    folder = write_demo_set(tmp_path / "set", 12, long_side=96)
    images = open_labelled_set(folder, LABELS).images
    runs = [list(classify_set(lite0, subset, batch_size=4, views=True))
            for subset in (images, images[3:], images[::-1], images[::3])]
    by_path = [{r.path: r for r in run} for run in runs]
    for r in runs[0]:
        for other in by_path[1:]:
            o = other.get(r.path)
            if o is None:
                continue
            assert o.top == r.top, r.path
            assert np.array_equal(o.views.features, r.views.features), r.path
            assert (o.views.where is None) == (r.views.where is None)
            if r.views.where is not None:
                assert np.array_equal(o.views.where, r.views.where), r.path


def test_json_matches_per_image_classification_and_report(lite0, labelled_folder, tmp_path,
                                                          capsys):
    out, report = tmp_path / "eval.json", tmp_path / "report.html"
    status = main(["evaluate", str(labelled_folder), "--json", str(out), "--report",
                   str(report), "--batch", "3", "--no-progress"])
    assert status == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert list(doc)[:4] == ["model", "preprocess", "dataset", "count"]
    assert doc["preprocess"] == lite0.preprocess_name
    assert doc["model"] == "efficientnet_lite0" and doc["dataset"] == str(labelled_folder)
    order = [str(i.path) for i in open_labelled_set(labelled_folder, LABELS).images]
    assert [e["path"] for e in doc["images"]] == order

    good = [e for e in doc["images"] if "problem" not in e]
    (bad,) = [e for e in doc["images"] if "problem" in e]
    assert bad["path"].endswith("broken.jpg") and bad["top"] == [] and not bad["correct"]
    assert "text file" in bad["problem"]
    assert doc["count"] == len(good) == 10

    for entry in good:
        top, probs = per_image(lite0, Path(entry["path"]))
        assert [t["index"] for t in entry["top"]] == top, entry["path"]
        np.testing.assert_allclose([t["prob"] for t in entry["top"]], probs[top], atol=2e-4)
        assert entry["correct"] == (top[0] == entry["true"]["index"])
    top1 = sum(e["correct"] for e in good) / len(good)
    top5 = sum(e["true"]["index"] in [t["index"] for t in e["top"]] for e in good) / len(good)
    assert doc["accuracy"] == {"top1": round(top1, 6), "top5": round(top5, 6)}
    assert sum(c["count"] for c in doc["per_class"]) == len(good)
    counts = [c["count"] for c in doc["confusions"]]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == sum(not e["correct"] for e in good)

    # The report: every mistake, most confident first, with its photo and both maps.
    mistakes = sorted((e for e in good if not e["correct"]),
                      key=lambda e: -e["top"][0]["prob"])
    assert len(mistakes) >= 3
    page = report.read_text()
    titles = re.findall(r'<span class="rank">#(\d+)</span>([^<]+?) — ', page)
    assert [Path(m["path"]).name for m in mistakes] == [t[1] for t in titles]
    for m in mistakes:
        name = Path(m["path"]).name
        for label in (m["top"][0]["label"], m["true"]["label"]):
            assert f"CAM map of &#x27;{label}&#x27; on {name}" in page
    cards = "".join(re.findall(r'<article class="card" id="mistake-\d+".*?</article>', page,
                               re.S))
    assert cards.count('<img src="data:image/jpeg;base64,') == 3 * len(mistakes)
    assert "@media print" in page and "break-inside: avoid" in page
    assert "broken.jpg" in page and "Most confused pairs" in page
    assert "top-1" in capsys.readouterr().out


def test_report_escapes_user_strings(tmp_path):
    from camview.sets.report import MistakeCard, write_report

    evil = "<script>alert(1)</script>"
    summary = {"model": evil, "dataset": evil, "count": 1, "accuracy": {"top1": 0, "top5": 0},
               "per_class": [{"index": 0, "label": evil, "count": 1, "top1": 0.0}],
               "confusions": [{"true": {"index": 0, "label": evil},
                               "predicted": {"index": 1, "label": evil}, "count": 1}]}
    pic = np.zeros((8, 8, 3), np.uint8)
    card = MistakeCard(1, evil, evil, evil, 0.5, evil, 0.1, pic, pic, pic, top=[(evil, 0.5)])
    write_report(tmp_path / "r.html", summary, method_title="CAM", cards=[card], shown=1,
                 mistakes=1, problems=[(evil, evil)], skipped=[evil])
    page = (tmp_path / "r.html").read_text()
    # The one script is the report's own filter; every user string is escaped.
    assert evil not in page and "alert(1)" not in page.split("<script>")[-1]
    assert page.count("<script") == 1 and "&lt;script&gt;" in page


# ---------------------------------------------------------------------------------------------
# The core the window reuses: order, cache, cancel, interrupt


def test_cache_serves_unchanged_files_and_misses_changed_ones(lite0, labelled_folder, tmp_path,
                                                               monkeypatch):
    folder = tmp_path / "set"
    shutil.copytree(labelled_folder / "tabby", folder / "tabby")
    shutil.copytree(labelled_folder / "espresso", folder / "espresso")
    images = open_labelled_set(folder, LABELS).images
    cache = ResultCache(tmp_path / "c.sqlite")
    first = list(classify_set(lite0, images, batch_size=2, cache=cache))
    assert all(r.problem is None for r in first)

    # Trap the decoder: a result that does not come from the cache now has a problem.
    import camview.sets.classify as classify

    def no_decoding(path):
        raise SourceError(f"image {path}: decoded although cached")

    monkeypatch.setattr(classify, "load_image", no_decoding)
    again = list(classify_set(lite0, images, batch_size=2, cache=cache))
    assert [(r.top, r.true_prob) for r in again] == [
        (tuple((i, round(p, 6)) for i, p in r.top), r.true_prob) for r in first]
    touched = images[0].path
    stat = touched.stat()
    import os

    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = list(classify_set(lite0, images, batch_size=2, cache=cache))
    assert "decoded although cached" in changed[0].problem
    assert all(r.problem is None for r in changed[1:])
    cache.close()


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "camview-evaluate-read"]


def test_cancel_stops_and_leaves_no_thread(lite0, tmp_path):
    folder = write_demo_set(tmp_path / "set", 40, long_side=96)
    images = open_labelled_set(folder, LABELS).images
    cancel = threading.Event()
    seen = []
    for result in classify_set(lite0, images, batch_size=4, cancel=cancel):
        seen.append(result.index)
        if len(seen) == 3:
            cancel.set()
    assert seen[:3] == [0, 1, 2] and len(seen) < 40
    assert _reader_threads() == []


def test_interrupt_keeps_the_images_done(lite0, tmp_path):
    """Ctrl+C (a KeyboardInterrupt in the consuming thread) ends the pass with what is done;
    the JSON is written for those images."""
    folder = write_demo_set(tmp_path / "set", 24, long_side=96)
    dataset = open_labelled_set(folder, LABELS)

    class InterruptAt:
        def update(self, done):
            if done == 5:
                raise KeyboardInterrupt

        def finish(self, done):
            self.finished = done

    progress = InterruptAt()
    tally = Tally(10)
    assert evaluate_set(lite0, dataset, tally, batch_size=4, cache=None, progress=progress)
    assert len(tally.results) == 5 and progress.finished == 5 and _reader_threads() == []
    write_json(tmp_path / "part.json", lite0, str(folder), tally)
    doc = json.loads((tmp_path / "part.json").read_text())
    assert len(doc["images"]) == 5 and doc["count"] == 5


def test_ranking_keeps_the_most_confident_mistakes():
    tally = Tally(max_mistakes=2)
    confidences = [0.3, 0.9, 0.5, 0.9, 0.1]
    for n, p in enumerate(confidences):
        tally.add(ImageResult(n, Path(f"{n}.jpg"), 1, ((2, p), (1, 0.05)), 0.05))
    tally.add(ImageResult(5, Path("5.jpg"), 1, ((1, 0.99),), 0.99))  # correct: not a mistake
    assert [r.index for r in tally.ranked_mistakes()] == [1, 3]  # ties: set order
    assert tally.mistakes == 5 and tally.count == 6


# ---------------------------------------------------------------------------------------------
# Memory


def test_stress_run_memory_stays_flat(lite0, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "stress_evaluate", REPO / "scripts" / "stress_evaluate.py")
    stress = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stress)
    folder = write_demo_set(tmp_path / "set", 240, long_side=64)
    # The first pass meets the set's input shapes (TensorFlow keeps buffers per shape); the
    # second meets no new one, so whatever it adds would be memory that grows with the set.
    first = stress.stress(folder, lite0, batch=16, max_mistakes=20, outputs=tmp_path)
    second = stress.stress(folder, lite0, batch=16, max_mistakes=20)
    assert first["images"] == second["images"] == 240
    assert (tmp_path / "report.html").stat().st_size > 0
    # No image (12 kB at 64 px, 600 kB as network input) or map is held per image ...
    for report in (first, second):
        assert report["held_bytes_per_image"] < stress.MAX_HELD_BYTES_PER_IMAGE, report
    # ... and a pass over shapes already met adds next to nothing to resident memory. Images
    # are fed at their exact sizes, so these random crops make a dozen input shapes, and
    # oneDNN's bounded kernel cache may still churn in the second pass: a third settles.
    if second["rss_growth_mb"] >= 25:
        third = stress.stress(folder, lite0, batch=16, max_mistakes=20)
        assert third["rss_growth_mb"] < 25, (first, second, third)


def test_own_model_on_its_keras_set_is_labelled_by_the_sorted_folders(tmp_path, capsys):
    path = saved(small_classifier(3), tmp_path / "own.keras")
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
    path = saved(small_classifier(3), tmp_path / "own.keras")
    train = class_folders(tmp_path / "train", ["a", "b", "c", "d"])
    assert main(["evaluate", train, "--model", path, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--labels FILE" in err.splitlines()[-1] and "WordNet" not in err


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
