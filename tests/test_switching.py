"""Rapid switching under load: 50 switches in 10 s, no stale result, no deadlock, no leak."""

import random
import threading
import time

import cv2
import keras
import numpy as np
import pytest
from helpers import skimage_bgr, write_video

from camview.live import Pipeline
from camview.models import load_model


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """A small real two-class Keras classifier with its own labels, unlike ImageNet's."""
    folder = tmp_path_factory.mktemp("pets")
    inputs = keras.Input((96, 96, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    model.save(folder / "pets.keras")
    (folder / "labels.txt").write_text("kitten\npuppy\n")
    return load_model(str(folder / "pets.keras"), labels=str(folder / "labels.txt"))


def test_fifty_switches_in_ten_seconds(tmp_path, lite0, pets):
    video = tmp_path / "clip.avi"
    cat = cv2.resize(skimage_bgr("chelsea"), (320, 240))
    write_video(video, [np.roll(cat, i * 3, axis=1) for i in range(60)], fps=30)
    image = tmp_path / "coffee.png"
    cv2.imwrite(str(image), skimage_bgr("coffee"))

    labels_of = {lite0.name: set(map(lite0.short_label, range(1000))),
                 pets.name: {"kitten", "puppy"}}
    results, errors = [], []
    lock = threading.Lock()

    def on_result(result):
        with lock:
            results.append(result)

    threads_before = set(threading.enumerate())
    pipe = Pipeline(on_result=on_result, on_error=lambda m, k: errors.append((k, m)),
                    panel_only=True)
    pipe.set_model(lite0)
    pipe.set_source(str(video))
    pipe.start()
    assert pipe.wait_idle(60)

    rng = random.Random(0)
    actions = [
        lambda: pipe.set_model(rng.choice([lite0, pets])),
        lambda: pipe.set_method(rng.choice(["cam", "gradcam", "gradcam++"])),
        lambda: pipe.set_source(rng.choice([str(video), str(image), "demo"])),
        lambda: pipe.set_target(rng.choice([None, 0, 1])),
    ]
    start = time.monotonic()
    for i in range(50):
        actions[i % len(actions)]()
        time.sleep(max(0.0, start + (i + 1) * 0.2 - time.monotonic()))
    assert pipe.wait_idle(60), "a model/method load never finished (deadlock?)"
    switching_done = len(results)

    # Results keep coming after the storm, and each carries its own model's labels. (The storm
    # may end on the still image, which is mapped once and then idles: play the video again.)
    pipe.set_source(str(video))
    deadline = time.monotonic() + 15
    while len(results) < switching_done + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(results) >= switching_done + 5, errors
    with lock:
        seen = list(results)
    generations = [r.generation for r in seen]
    assert generations == sorted(generations)
    for r in seen:
        assert {label for label, _ in r.top} <= labels_of[r.model_name], r.model_name
    assert not [e for e in errors if e[0] == "internal"], errors

    assert pipe.stop(timeout=2.0)
    time.sleep(0.1)
    leaked = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()
              and t.name.startswith("camview")]
    assert leaked == []
