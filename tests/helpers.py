"""Small real data the tests make: photos, videos written with OpenCV, frame counts.

One place for them, so that no test imports another test file.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SQUEEZENET_DIR = REPO.parent / "shared" / "models" / "squeezenet1.1"
#: The bundled demo photos (camview/resources/demo/SOURCES.md says where each comes from).
DEMO = REPO / "camview" / "resources" / "demo"
#: ImageNet classes the tests find in the demo photos (0-based, the order of camview.labels).
TABBY, EGYPTIAN_CAT, MOUNTAIN_BIKE, ESPRESSO = 281, 285, 671, 967
SQUEEZENET_MISSING = ("SqueezeNet 1.1 weights are not on this machine: these tests read them from "
                      "$CAMVIEW_SQUEEZENET, which the test set-up points at "
                      f"{SQUEEZENET_DIR} when that folder exists (a checkout without the "
                      "shared/ folder beside it has none)")


def skimage_bgr(name: str) -> np.ndarray:
    """A scikit-image sample photo (chelsea, coffee: CC0) as a BGR uint8 frame."""
    from skimage import data

    return cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR)


def cat_and_coffee() -> np.ndarray:
    """A real two-object frame: the cat photo left (x < 300), the espresso photo right (both
    CC0), 600x300."""
    cat = cv2.resize(skimage_bgr("chelsea"), (300, 300), interpolation=cv2.INTER_AREA)
    coffee = cv2.resize(skimage_bgr("coffee"), (300, 300), interpolation=cv2.INTER_AREA)
    return np.hstack([cat, coffee])


def chelsea_pan(frames: int, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """The cat photo panned slowly left to right: frames the network recognises as a cat."""
    photo = skimage_bgr("chelsea")
    h, w = photo.shape[:2]
    crop_w = min(w, int(h * size[0] / size[1]))
    out = []
    for i in range(frames):
        x = int(i * (w - crop_w) / max(1, frames - 1))
        out.append(cv2.resize(photo[:, x:x + crop_w], size, interpolation=cv2.INTER_AREA))
    return out


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 15.0,
                fourcc: str = "MJPG") -> Path:
    """A real video file written by OpenCV (MJPG .avi by default: every OpenCV build has it)."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for frame in frames:
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    return Path(path)


def count_frames(path: str | Path) -> int:
    """How many frames OpenCV can read back from a video file."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def saved(model, path) -> str:
    """The Keras model saved at `path` as a user saves one; the path as a string."""
    model.save(path)
    return str(path)


def small_classifier(classes: int):
    """A tiny untrained Keras classifier of 0..255 photos (it scales them itself), as a user
    saves one: no label names, `classes` outputs."""
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x))


def class_folders(root: Path, names: list[str]) -> str:
    """A class-folder set at `root`: one small photo in a folder per name, in that order."""
    for n, name in enumerate(names):
        (root / name).mkdir(parents=True)
        photo = skimage_bgr(("chelsea", "rocket", "coffee", "astronaut")[n % 4])
        cv2.imwrite(str(root / name / f"{name}.jpg"), cv2.resize(photo, (64, 48)))
    return str(root)


def forward(model, batch: np.ndarray) -> SimpleNamespace:
    """One plain (uncompiled) pass of a CamModel: the read layer's activations and the scores,
    as an independent check on what the compiled map methods return."""
    from camview.models.base import softmax

    features, logits = model.feature_model(batch, training=False)
    logits = np.asarray(logits[0])
    return SimpleNamespace(features=np.asarray(features[0]), logits=logits,
                           probabilities=softmax(logits))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log in the test output
        pass


class Mirror:
    """A folder served over HTTP on 127.0.0.1 from a thread of this test."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def write_repeating_video(path: str | Path, pictures: list[np.ndarray], hold: int,
                          fps: float = 24.0) -> Path:
    """An AVI whose every picture fills `hold` frame slots, stored the way OpenCV's sample
    tree.avi stores them: the picture once, then zero-length "repeat the previous frame"
    packets. Made with ffmpeg's mpdecimate filter (imageio-ffmpeg's binary) from a video
    holding each picture `hold` times; the last picture's repeats are dropped by it, so the
    file has (len(pictures) - 1) * hold + 1 slots."""
    import subprocess

    from camview.sources.ffmpeg import ffmpeg_exe

    path = Path(path)
    held = write_video(path.with_name(path.stem + "_held.avi"),
                       [p for p in pictures for _ in range(hold)], fps=fps)
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-i", str(held), "-vf", "mpdecimate",
                    "-fps_mode", "vfr", "-c:v", "mjpeg", str(path)], check=True, timeout=60)
    held.unlink()
    return path


def tiny_cam_model(keras_model):
    """A small 3-class Keras graph as a CamModel fed 20x24 inputs (squashed, (bgr - 127) / 64):
    the method tests' toy network, so each test says only how its layers differ."""
    from camview.models import CamModel, ResizeMode

    return CamModel("tiny", keras_model, labels=["a", "b", "c"], input_size=(20, 24),
                    resize=ResizeMode.SQUASH,
                    preprocess=lambda bgr: (bgr.astype(np.float32) - 127.0) / 64.0)


def tiny_input(model) -> np.ndarray:
    """The cat photo prepared for a tiny_cam_model."""
    return model.prepare(cv2.resize(skimage_bgr("chelsea"), (24, 20)))



def tiny_relu_cnn(relu6: bool = False, seed: int = 0):
    """A tiny_cam_model with ReLUs both as layers and inside a convolution, read at "act"."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c2")(x)
    x = keras.layers.ReLU(max_value=6.0 if relu6 else None, name="act")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, name="fc")(x)
    return tiny_cam_model(keras.Model(inputs, outputs))


def tiny_hidden_dense_cnn(seed: int = 0):
    """A tiny_cam_model with a non-linear head (a dense layer with ReLU after pooling)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(3, name="fc")(x)
    return tiny_cam_model(keras.Model(inputs, outputs))


def eager_gradients(model, batch: np.ndarray, target: int, layer: str | None = None):
    """Activations at the read layer (or `layer`) and the class score's gradient to them,
    eagerly (float64): the maps' gradient computed another way than the compiled methods."""
    import tensorflow as tf

    read = model.feature_model if layer is None else model.features_at(layer)
    with tf.GradientTape() as tape:
        features, logits = read(tf.constant(batch), training=False)
        score = logits[0, target]
    grads = tape.gradient(score, features)[0].numpy().astype(np.float64)
    return features[0].numpy().astype(np.float64), grads


def peak_xy(cam: np.ndarray, frame_hw) -> tuple[int, int]:
    """Where a map peaks once stretched (bilinear) over a frame of height, width `frame_hw`."""
    big = cv2.resize(cam, (frame_hw[1], frame_hw[0]), interpolation=cv2.INTER_LINEAR)
    y, x = np.unravel_index(np.argmax(big), big.shape)
    return int(x), int(y)


def assert_positive_multiple(a: np.ndarray, b: np.ndarray) -> None:
    """b == s * a for one s > 0 (both maps flattened)."""
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    assert np.ptp(a) > 0
    scale = float(a @ b / (a @ a))
    assert scale > 0
    np.testing.assert_allclose(b, scale * a, atol=1e-4 * np.abs(b).max())
