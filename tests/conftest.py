"""Test set-up: headless Qt, quiet TensorFlow, and the shared real data the tests use."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The suite checks the TensorFlow path unless a test asks for OpenVINO (tests/test_runtime.py
# compares the two): converting a model takes tens of seconds, once per model.
os.environ.setdefault("CAMVIEW_RUNTIME", "tensorflow")
# No test reaches the internet: a download a test provokes (Keras' ImageNet weights, the public
# SqueezeNet folder) goes to a proxy that is not there and fails as it would offline; the
# tests' own mirrors serve on 127.0.0.1, which bypasses the proxy. Subprocesses inherit it.
os.environ["http_proxy"] = os.environ["https_proxy"] = "http://127.0.0.1:9"
os.environ["HTTP_PROXY"] = os.environ["HTTPS_PROXY"] = "http://127.0.0.1:9"
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

import pytest
from helpers import SQUEEZENET_DIR, SQUEEZENET_MISSING, chelsea_pan, write_video
from window_host import started_window

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


@pytest.fixture
def shared_lite0(lite0, monkeypatch):
    """render() given the session's EfficientNet-Lite0 instead of building it again (seconds
    a test); any other model is loaded as usual."""
    import camview.commands.render

    real = camview.commands.render.load_model

    def load(name, **kwargs):
        if name == "efficientnet_lite0" and not any(kwargs.values()):
            return lite0
        return real(name, **kwargs)

    monkeypatch.setattr(camview.commands.render, "load_model", load)
    return lite0


# The window tests' real video and started window, shared by every window test file.
@pytest.fixture(scope="session")
def video(tmp_path_factory):
    return str(write_video(tmp_path_factory.mktemp("video") / "chelsea.mp4", chelsea_pan(60),
                           fps=30, fourcc="mp4v"))


@pytest.fixture
def window(qtbot, video, lite0, tmp_path):
    from camview.app.saved_settings import Options

    win = started_window(qtbot, Options(source=video, model=lite0, output_dir=str(tmp_path)))
    yield win
    win.close()


@pytest.fixture
def still_window(qtbot, lite0, tmp_path):
    """A started window on a still photo, settings not saved: the set view's tests open their
    sets over it."""
    from helpers import DEMO

    from camview.app.saved_settings import Options

    coffee = DEMO / "coffee.jpg"
    win = started_window(qtbot, Options(source=str(coffee), model=lite0,
                                        output_dir=str(tmp_path), save_settings=False),
                         ready=lambda w: w.session.model is lite0)
    yield win
    win.close()
