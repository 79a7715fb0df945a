"""Test set-up: headless Qt, quiet TensorFlow, and the shared real data the tests use."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
from helpers import SQUEEZENET_DIR, SQUEEZENET_MISSING

# The tests find SqueezeNet the way a user's camview does, through $CAMVIEW_SQUEEZENET, set
# here only when this workplace's copy exists.
if (SQUEEZENET_DIR / "squeezenet1.1.xml").is_file():
    os.environ.setdefault("CAMVIEW_SQUEEZENET", str(SQUEEZENET_DIR))


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """No test reads or writes the user's window settings or result cache."""
    monkeypatch.setenv("CAMVIEW_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("CAMVIEW_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def lite0():
    from camview.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def squeezenet():
    if not os.environ.get("CAMVIEW_SQUEEZENET"):
        pytest.skip(SQUEEZENET_MISSING)
    from camview.models import load_model

    return load_model("squeezenet")
