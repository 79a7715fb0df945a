"""`camview evaluate` on the set as a whole: evaluate feeds each image exactly as
render does; the embedding scatter, the confusion matrix and where each class looks come from
the classification's own forward pass; a planted shortcut is found; two models compare."""

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import DEMO, forward

from camview.cli import main
from camview.commands.evaluate import write_json
from camview.sets.batches import network_input
from camview.sets.classify import classify_set
from camview.sets.dataset import open_labelled_set, write_demo_set
from camview.sets.per_image import GRID, where_grid
from camview.sets.results import ResultCache, model_fingerprint
from camview.sets.tally import Tally
from camview.sets.views.where import border_weights, peak_of
from camview.sources.images import load_image


def _evaluate(args: list[str], capsys) -> dict:
    status = main(["evaluate", *args, "--no-progress"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured


# ---------------------------------------------------------------------------------------------
# 1. evaluate and render agree exactly


@pytest.fixture(scope="module")
def aspects(tmp_path_factory) -> Path:
    """The cat photo cropped to several aspect ratios (odd sizes too), named in set order."""
    root = tmp_path_factory.mktemp("aspects")
    photo = cv2.imread(str(DEMO / "chelsea.jpg"))
    h, w = photo.shape[:2]
    crops = [(h, h), (h, int(h * 4 / 3)), (int(w * 3 / 4), w), (h, w), (int(w * 9 / 16), w),
             (h, int(h * 9 / 16)), (h - 7, int(h * 3 / 2) - 3), (301, 500), (299, 163)]
    rows = []
    for n, (ch, cw) in enumerate(crops):
        ch, cw = min(ch, h), min(cw, w)
        name = f"{n:02d}_{cw}x{ch}.png"
        cv2.imwrite(str(root / name), photo[:ch, w - cw:] if n % 2 else photo[h - ch:, :cw])
        rows.append(f"{name},tabby\n")
    (root / "labels.csv").write_text("path,label\n" + "".join(rows))
    return root


def test_evaluate_probabilities_are_renders(lite0, aspects, tmp_path, capsys):
    render_json, plain_json, views_json = (tmp_path / n for n in ("r.json", "p.json", "v.json"))
    assert main(["render", str(aspects), "--json", str(render_json), "--no-progress"]) == 0
    _evaluate([str(aspects / "labels.csv"), "--json", str(plain_json), "--no-views",
               "--batch", "4", "--no-cache"], capsys)
    frames = json.loads(render_json.read_text())["frames"]
    images = open_labelled_set(aspects / "labels.csv", lite0.labels).images
    tally = Tally(0)
    for r in classify_set(lite0, images, batch_size=3, views=True):  # the views' batched call
        tally.add(r)
    write_json(views_json, lite0, "aspects", tally)
    sizes = {lite0.network_size(load_image(p)[0].shape[:2])
             for p in sorted(aspects.glob("*.png"))}
    assert len(frames) == 9 and len(sizes) >= 6  # several input shapes, batched per shape
    for doc in (json.loads(plain_json.read_text()), json.loads(views_json.read_text())):
        assert len(doc["images"]) == len(frames)
        for frame, image in zip(frames, doc["images"], strict=True):
            assert [t["index"] for t in image["top"]] == [t["index"] for t in frame["top"]]
            np.testing.assert_allclose([t["prob"] for t in image["top"]],
                                       [t["prob"] for t in frame["top"]], atol=1e-4)


def test_cache_key_names_the_exact_inputs_and_the_read_layer(lite0, tmp_path):
    key = model_fingerprint(lite0)
    assert key.startswith("v2|") and key.endswith(f"|{lite0.read_layer}")
    cache = ResultCache(tmp_path / "c.sqlite")
    tables = {r[0] for r in cache._db.execute("SELECT name FROM sqlite_master")}
    cache.close()
    assert "results_v2" in tables and "results" not in tables  # v1's rows are never read


# ---------------------------------------------------------------------------------------------
# 2-4. Embedding, confusion, where: from the classification's own pass


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory) -> Path:
    return write_demo_set(tmp_path_factory.mktemp("demo") / "set", 40, long_side=96)


def test_views_come_from_the_same_pass_and_match_the_maths(lite0, demo_set):
    images = open_labelled_set(demo_set, lite0.labels).images[:6]
    results = list(classify_set(lite0, images, batch_size=4, views=True))
    for r in results:
        image, _ = load_image(r.path)
        x = network_input(lite0, image)[None]
        ref = forward(lite0, x)
        np.testing.assert_allclose(r.views.features, ref.features.mean(axis=(0, 1)),
                                   rtol=2e-2, atol=2e-3)
        cam = np.tensordot(ref.features, lite0.fc_weights[:, r.true], axes=[[2], [0]])
        np.testing.assert_allclose(r.views.where, where_grid(cam), atol=2e-3)
        assert r.views.thumb.shape == (32, 32, 3) and r.views.where.shape == (GRID, GRID)
        assert np.isclose(r.true_prob, ref.probabilities[r.true], atol=1e-4)


def test_json_embedding_confusion_where_and_the_report(lite0, demo_set, tmp_path, capsys,
                                                      monkeypatch):
    out, report = tmp_path / "e.json", tmp_path / "e.html"
    _evaluate([str(demo_set), "--json", str(out), "--report", str(report), "--batch", "8"],
              capsys)
    doc = json.loads(out.read_text())
    assert doc["embedding"] == {"method": "tsne", "layer": lite0.read_layer, "dims": 1280}
    points = np.array([i["embedding"] for i in doc["images"]])
    assert points.shape == (40, 2) and points.min() >= 0 and points.max() <= 1
    assert np.isclose(points.max(axis=0) - points.min(axis=0), 1).any()

    # Confusion: rows true, columns predicted over the classes present, then "other".
    conf = doc["confusion"]
    labels = [c["label"] for c in doc["per_class"]]
    assert conf["labels"] == labels
    matrix = np.array(conf["matrix"])
    assert matrix.shape == (len(labels), len(labels) + 1)
    for row, c in zip(matrix, doc["per_class"], strict=True):
        assert row.sum() == c["count"] and row[labels.index(c["label"])] == round(
            c["top1"] * c["count"])
    expected = np.zeros_like(matrix)
    for image in doc["images"]:
        t, p = image["true"]["label"], image["top"][0]["label"]
        expected[labels.index(t), labels.index(p) if p in labels else len(labels)] += 1
    np.testing.assert_array_equal(matrix, expected)

    # Where: per class a 16x16 grid (max 1), its peak, consistency, border; no flag on photos.
    assert [c["label"] for c in doc["classes"]] == labels
    for c in doc["classes"]:
        grid = np.array(c["where"]["grid"])
        assert grid.shape == (GRID, GRID) and np.isclose(grid.max(), 1, atol=1e-3)
        assert c["where"]["peak"] == pytest.approx(list(peak_of(grid)), abs=1e-3)
        assert 0 < c["where"]["consistency"] <= 1
        border = (grid * border_weights()).sum() / grid.sum()
        assert c["where"]["border"] == pytest.approx(border, abs=1e-3)
        assert c["flag"] is None, c["flag"]  # ordinary photos: quiet

    page = report.read_text()
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count("<title>") == 40
    mistakes = [i for i in doc["images"] if not i["correct"]]
    assert svg.count('stroke="#111"') == len(mistakes) and "<script" not in svg
    for anchor in re.findall(r'<a href="#(mistake-\d+)">', svg):
        assert f'id="{anchor}"' in page
    assert len(re.findall(r'<a href="#mistake-\d+">', svg)) == min(len(mistakes), 100)
    name = Path(mistakes[0]["path"]).name
    assert f"<title>{name}: {mistakes[0]['true']['label']} \u2192 " in svg
    assert "Confusion matrix" in page and "Where each class looks" in page
    assert page.count("mean map of ") == len(labels)

    # Cached (the command's cache): the same views again without decoding an image, for the
    # same batch size (it sets every call's size, and so a result's last bits).
    import camview.sets.classify as classify

    def no_decoding(path):
        raise AssertionError(f"{path} decoded although cached")

    monkeypatch.setattr(classify, "load_image", no_decoding)
    cache = ResultCache.default()
    again = Tally(0)
    for r in classify_set(lite0, open_labelled_set(demo_set, lite0.labels).images,
                          batch_size=8, cache=cache, views=True):
        again.add(r)
    cache.close()
    assert again.summary(lite0, str(demo_set))["classes"] == doc["classes"]
    again.finish_views()
    np.testing.assert_allclose(again.embedding_points(), points, atol=1e-4)


def test_small_sets_one_class_and_one_image(lite0, tmp_path, capsys, caplog):
    folder = tmp_path / "one"
    (folder / "tabby").mkdir(parents=True)
    shutil.copy(DEMO / "chelsea.jpg", folder / "tabby" / "chelsea.jpg")
    out, report = tmp_path / "one.json", tmp_path / "one.html"
    _evaluate([str(folder), "--json", str(out), "--report", str(report)], capsys)
    doc = json.loads(out.read_text())
    assert doc["embedding"]["method"] == "pca" and doc["images"][0]["embedding"] == [0.5, 0.5]
    assert doc["confusion"]["labels"] == ["tabby"] and len(doc["confusion"]["matrix"][0]) == 2
    (cls,) = doc["classes"]
    assert cls["where"]["images"] == 1 and cls["where"]["consistency"] == 1 and not cls["flag"]
    page = report.read_text()
    assert "Only one class in the set" in page and page.count("<title>") == 2  # page + point


# ---------------------------------------------------------------------------------------------
# 4. A planted shortcut is found


def _noise(rng, n=64) -> np.ndarray:
    return cv2.GaussianBlur(rng.integers(0, 128, (n, n, 3), dtype=np.uint8), (5, 5), 0)


@pytest.fixture(scope="module")
def shortcut(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A set where every 'marked' image has a magenta square in its top-left corner, 'ring'
    images a green ring anywhere and 'plain' images only noise, and a small GAP + Dense CNN
    trained on it for a few seconds, saved as .keras."""
    import keras

    root = tmp_path_factory.mktemp("shortcut")
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for label, cls in (("marked", 0), ("plain", 1), ("ring", 2)):
        (root / "set" / label).mkdir(parents=True)
        for n in range(16):
            image = _noise(rng)
            if label == "marked":
                o = int(rng.integers(1, 4))
                image[o:o + 14, o:o + 14] = (255, 0, 255)
            elif label == "ring":
                cy, cx = (int(v) for v in rng.integers(16, 48, 2))
                cv2.circle(image, (cx, cy), 10, (0, 255, 0), 4)
            cv2.imwrite(str(root / "set" / label / f"{label}_{n:02d}.png"), image)
            xs.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) / 255.0)
            ys.append(cls)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    model.compile(keras.optimizers.Adam(5e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(np.array(xs, np.float32), np.array(ys), epochs=12, batch_size=16, verbose=0)
    path = root / "shortcut.keras"
    model.save(path)
    labels = root / "labels.txt"
    labels.write_text("marked\nplain\nring\n")
    return root / "set", path, labels


def test_planted_shortcut_is_flagged_in_its_corner(shortcut, tmp_path, capsys):
    folder, model, labels = shortcut
    out, report = tmp_path / "s.json", tmp_path / "s.html"
    _evaluate([str(folder), "--model", str(model), "--labels", str(labels), "--preprocess",
               "unit", "--json", str(out), "--report", str(report)], capsys)
    doc = json.loads(out.read_text())
    assert doc["accuracy"]["top1"] > 0.8, doc["accuracy"]
    flagged = {c["label"]: c for c in doc["classes"] if c["flag"]}
    assert list(flagged) == ["marked"], {c["label"]: c["where"] for c in doc["classes"]}
    where = flagged["marked"]["where"]
    assert where["peak"][0] < 0.25 and where["peak"][1] < 0.25
    assert where["consistency"] >= 0.8
    assert "of 16 'marked' maps peak in the top-left corner" in flagged["marked"]["flag"]
    page = report.read_text()
    assert page.index('class="flagged"') < page.index("mean map of &#x27;plain&#x27;")


# ---------------------------------------------------------------------------------------------
# 5. Two models on one set


def test_versus_with_other_labels_matches_classes_by_name(shortcut, tmp_path, capsys):
    folder, model, labels = shortcut
    other = tmp_path / "other.txt"
    other.write_text("marked\nplain\nsquare\n")  # 'ring' has no name in the second model
    out, report = tmp_path / "v.json", tmp_path / "v.html"
    common = ["--preprocess", "unit"]
    captured = _evaluate([str(folder), "--model", str(model), "--labels", str(labels), *common,
                          "--versus", str(model), "--versus-labels", str(other),
                          "--versus-preprocess", "unit", "--json", str(out), "--report",
                          str(report)], capsys)
    doc = json.loads(out.read_text())
    versus = doc["versus"]
    assert versus["unmatched"] == ["ring"] and versus["count"] == 32
    matched = [i for i in doc["images"] if i["true"]["label"] != "ring"]
    assert all(i["versus_top"] for i in matched)
    assert all(i["versus_top"] == [] for i in doc["images"] if i["true"]["label"] == "ring")
    # The same network: its answers are the first model's, named by the second's labels.
    for i in matched:
        assert [t["prob"] for t in i["versus_top"]] == [t["prob"] for t in i["top"]]
    right = sum(i["correct"] for i in matched) / 32
    assert versus["accuracy"]["top1"] == pytest.approx(right, abs=1e-6)
    agree = sum(i["top"][0]["label"] != "ring" for i in matched) / 32
    assert versus["agree"] == pytest.approx(agree, abs=1e-6)
    assert versus["only_first_right"] == versus["only_second_right"] == 0
    assert "Where the two models differ" in report.read_text()
    assert "agree" in captured.out


def test_versus_lite0_and_squeezenet(lite0, squeezenet, demo_set, tmp_path, capsys):
    out, report = tmp_path / "v.json", tmp_path / "v.html"
    _evaluate([str(demo_set), "--versus", "squeezenet", "--json", str(out), "--report",
               str(report), "--no-views", "--max-mistakes", "4"], capsys)
    doc = json.loads(out.read_text())
    v = doc["versus"]
    assert v["model"] == "squeezenet" and v["unmatched"] == [] and v["count"] == 40
    first = [i["correct"] for i in doc["images"]]
    second = [i["versus_top"][0]["index"] == i["true"]["index"] for i in doc["images"]]
    assert v["only_first_right"] == sum(a and not b for a, b in zip(first, second, strict=True))
    assert v["only_second_right"] == sum(b and not a for a, b in zip(first, second, strict=True))
    agree = np.mean([i["versus_top"][0]["index"] == i["top"][0]["index"] for i in doc["images"]])
    assert v["agree"] == pytest.approx(agree, abs=1e-6)
    assert v["accuracy"]["top1"] == pytest.approx(np.mean(second), abs=1e-6)
    page = report.read_text()
    differ = min(4, v["only_first_right"] + v["only_second_right"])
    assert page.count('id="differ-') == differ
    assert page.count("squeezenet map of ") == differ


def test_versus_model_that_cannot_load_is_one_line_and_writes_nothing(demo_set, tmp_path,
                                                                      capsys):
    out = tmp_path / "v.json"
    status = main(["evaluate", str(demo_set), "--versus", str(tmp_path / "missing.keras"),
                   "--json", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.count("\n") == 0 and "missing.keras" in err, err
    assert not out.exists()
    assert main(["evaluate", str(demo_set), "--versus-labels", "x.txt"]) == 2
    assert "give --versus MODEL too" in capsys.readouterr().err


def test_tally_keeps_features_compactly():
    from camview.sets.results import ImageResult, SetViews

    tally = Tally(0)
    for n in range(3000):
        views = SetViews(np.full(64, n % 7, np.float16), None, np.zeros((32, 32, 3), np.uint8))
        tally.add(ImageResult(n, Path(f"{n}.jpg"), n % 3, ((n % 3, 0.9),), 0.9, views=views))
    assert all(r.views is None for r in tally.results)
    features = tally.features.array()
    assert features.shape == (3000, 64) and (features[:, 0] == np.arange(3000) % 7).all()


def test_scatter_markers_tell_40_classes_apart_and_confusion_shows_the_30_worst():
    from camview.sets.views.confusion import confusion_html
    from camview.sets.views.embedding import (
        OTHER_COLOUR,
        PALETTE,
        SHAPES,
        Point,
        class_markers,
        scatter_html,
    )

    counts = {c: 50 - c for c in range(42)}  # class 0 the largest
    markers = class_markers(counts)
    assert [markers[c].colour for c in range(10)] == list(PALETTE)
    assert [markers[c].shape for c in (0, 10, 20, 30)] == list(SHAPES)
    assert len({markers[c] for c in range(40)}) == 40  # each its own colour and shape
    assert markers[40].colour == markers[41].colour == OTHER_COLOUR
    points = [Point(c / 42, 0.5, f"{c}.jpg", c, f"c{c}", "c0", 0.5, c != 0,
                    1 if c == 1 else None) for c in range(42)]
    svg = scatter_html(points, {"method": "tsne", "layer": "top", "dims": 8},
                       {c: f"c{c}" for c in range(42)})
    scatter = svg.split("</svg>", 1)[0]
    assert scatter.count(f'fill="{OTHER_COLOUR}"') == 2 and "2 other classes" in svg
    assert svg.count('<a href="#mistake-1">') == 1
    assert scatter.count('stroke="#111"') == 41  # every mistake edged dark, whatever its shape

    n = 40
    matrix = np.eye(n, n + 1, dtype=int) * 5
    for worst in range(n - 30, n):  # the last 30 classes are the confused ones
        matrix[worst, 0] += 1
    page = confusion_html({"labels": [f"k{i}" for i in range(n)], "matrix": matrix.tolist()})
    shown = re.findall(r"<tr><th>(k\d+)</th>", page)
    assert len(shown) == 30 and "k1<" not in page and "k0" in shown and "of 40 classes" in page


def test_gradient_only_model_gets_one_gradcam_per_image(shortcut, tmp_path):
    import keras

    from camview.maps import make_method
    from camview.models import HeadKind, load_model

    folder, _, labels = shortcut
    keras.utils.set_random_seed(1)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, strides=4, activation="relu")(inputs)
    net = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    net.save(tmp_path / "flat.keras")
    model = load_model(str(tmp_path / "flat.keras"), labels=str(labels), preprocess="unit")
    assert model.head is HeadKind.GRADIENT_ONLY
    images = open_labelled_set(folder, model.labels).images[::8]
    gradcam = make_method("gradcam", model)
    for r in classify_set(model, images, batch_size=4, views=True):
        image, _ = load_image(r.path)
        ref = gradcam.explain(network_input(model, image)[None], r.true).cam
        expected = where_grid(ref)
        if expected is None:
            assert r.views.where is None
        else:
            np.testing.assert_allclose(r.views.where, expected, atol=2e-3)


def test_views_of_another_runtime_are_the_compiled_views(lite0, squeezenet):
    """The numpy sums used on OpenVINO's outputs equal the compiled TensorFlow call's."""
    from camview.sets.batches import batch_views, views_of

    rng = np.random.default_rng(0)
    for model in (lite0, squeezenet):  # an fc head and a direct one
        x = rng.uniform(-1, 1, (3, 224, 256, 3)).astype(np.float32)
        targets = np.array([281, 7, 999], np.int32)
        features, logits = model.feature_model(x, training=False)
        ours = views_of(model, np.asarray(features), np.asarray(logits), targets)
        if model.runtime.name == "tensorflow":
            for a, b in zip(ours, batch_views(model)(x, targets), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
        cam = np.tensordot(np.asarray(features)[1], lite0.fc_weights[:, 7], axes=[[2], [0]]) \
            if model is lite0 else np.asarray(features)[1][..., 7]
        np.testing.assert_allclose(ours[2][1], cam, rtol=1e-4, atol=1e-4)
