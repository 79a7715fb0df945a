"""Test set-up: headless Qt, quiet TensorFlow, and the shared real data the tests use."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
SQUEEZENET_DIR = SHARED_MODELS / "squeezenet1.1"

needs_squeezenet = pytest.mark.skipif(
    not (SQUEEZENET_DIR / "squeezenet1.1.xml").is_file(),
    reason=f"SqueezeNet 1.1 IR not found at {SQUEEZENET_DIR} (../shared is absent)")


def count_frames(path) -> int:
    """How many frames OpenCV can read back from a video file."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def skimage_bgr(name: str) -> np.ndarray:
    """A scikit-image sample photo (chelsea, coffee: CC0) as a BGR uint8 frame."""
    from skimage import data

    return cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def lite0():
    from camview.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def squeezenet():
    if not (SQUEEZENET_DIR / "squeezenet1.1.xml").is_file():
        pytest.skip(f"SqueezeNet 1.1 IR not found at {SQUEEZENET_DIR} (../shared is absent)")
    from camview.models import load_model

    return load_model("squeezenet", weights=str(SQUEEZENET_DIR))
