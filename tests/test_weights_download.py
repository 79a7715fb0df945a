"""SqueezeNet's weights fetched once, checked against their pinned SHA-256 and cached.

The "remote" is a local HTTP server on 127.0.0.1 serving the shared copy of the public files
(CAMVIEW_WEIGHTS_URL points at it, as a user behind a firewall points camview at a mirror);
these tests never touch the internet.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from helpers import SQUEEZENET_DIR, Mirror, forward, skimage_bgr

from camview.errors import ModelError
from camview.models import WeightsState, load_model
from camview.models.registry import REGISTRY
from camview.models.squeezenet_weights import FILES, URL_ENV_VAR, user_model_dir

SOURCE = next((p for p in (SQUEEZENET_DIR, Path(os.environ.get("CAMVIEW_SQUEEZENET", "/-")))
               if (p / "squeezenet1.1.bin").is_file()), None)
pytestmark = pytest.mark.skipif(
    SOURCE is None, reason=f"the shared copy of the SqueezeNet 1.1 files is not here "
    f"({SQUEEZENET_DIR} is absent and $CAMVIEW_SQUEEZENET is not set), so there is nothing to "
    "serve as a download")


@pytest.fixture
def fresh_machine(tmp_path, monkeypatch):
    """No local SqueezeNet: an empty data folder and no $CAMVIEW_SQUEEZENET."""
    monkeypatch.delenv("CAMVIEW_SQUEEZENET", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return user_model_dir()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pinned_hashes_are_those_of_the_public_files():
    for f in FILES:
        assert _sha256(SOURCE / f.name) == f.sha256
        assert (SOURCE / f.name).stat().st_size == f.size


def test_downloaded_once_verified_and_cached(fresh_machine, monkeypatch):
    mirror = Mirror(SOURCE)
    monkeypatch.setenv(URL_ENV_VAR, mirror.url)
    status = REGISTRY["squeezenet"].weights_status()
    assert status.state is WeightsState.DOWNLOAD
    assert status.summary == "will download on first use (2.5 MB)"
    steps: list[str] = []
    try:
        first = load_model("squeezenet", progress=steps.append)
    finally:
        mirror.stop()
    for f in FILES:
        assert _sha256(fresh_machine / f.name) == f.sha256
    assert [p.name for p in fresh_machine.parent.iterdir()] == ["squeezenet1.1"]  # no staging
    assert any("downloading squeezenet1.1.bin" in s and mirror.url in s for s in steps)
    assert REGISTRY["squeezenet"].weights_status().state is WeightsState.READY
    # The server is gone: the second load is a cache hit.
    second = load_model("squeezenet")
    frame = skimage_bgr("chelsea")
    a, b = forward(first, first.prepare(frame)), forward(second, second.prepare(frame))
    np.testing.assert_array_equal(a.logits, b.logits)
    assert first.short_label(int(np.argmax(a.logits))) in ("Egyptian cat", "tabby", "tiger cat")


def test_a_corrupt_file_is_refused_and_nothing_is_kept(fresh_machine, monkeypatch, tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    shutil.copy(SOURCE / "squeezenet1.1.xml", served)
    data = bytearray((SOURCE / "squeezenet1.1.bin").read_bytes())
    data[1000:1010] = bytes(10)
    (served / "squeezenet1.1.bin").write_bytes(bytes(data))
    mirror = Mirror(served)
    monkeypatch.setenv(URL_ENV_VAR, mirror.url)
    try:
        with pytest.raises(ModelError) as info:
            load_model("squeezenet")
    finally:
        mirror.stop()
    message = str(info.value)
    assert "squeezenet1.1.bin" in message and "SHA-256" in message and "nothing was kept" in message
    assert "\n" not in message
    assert not fresh_machine.exists() or not any(fresh_machine.iterdir())
    assert not any(p.name.startswith(".") for p in fresh_machine.parent.iterdir())


def test_offline_is_one_line_saying_what_to_do(fresh_machine, monkeypatch):
    monkeypatch.setenv(URL_ENV_VAR, "http://127.0.0.1:9/nothing-listens-here")
    with pytest.raises(ModelError) as info:
        load_model("squeezenet")
    message = str(info.value)
    for fragment in (URL_ENV_VAR, str(fresh_machine), "--weights", "inference-engine-node"):
        assert fragment in message
    assert "\n" not in message


class _Endless(BaseHTTPRequestHandler):
    """A mirror gone wrong: answers every file with bytes that never end."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        block = bytes(65536)
        deadline = time.monotonic() + 60  # bounded: the test's server stops by itself
        try:
            while time.monotonic() < deadline:
                self.wfile.write(block)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_mirror_sending_endless_bytes_is_stopped_at_the_files_size(fresh_machine,
                                                                      monkeypatch, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(URL_ENV_VAR, f"http://127.0.0.1:{server.server_port}")
    try:
        with pytest.raises(ModelError) as info:
            load_model("squeezenet")
    finally:
        server.shutdown()
        server.server_close()
    message = str(info.value)
    assert "more than the" in message and "nothing was kept" in message and "\n" not in message
    assert not fresh_machine.exists() or not any(fresh_machine.iterdir())
    assert not any(p.name.startswith(".") for p in fresh_machine.parent.iterdir())
    assert capsys.readouterr().out == ""  # nothing on stdout, which scripts read


def test_a_mirror_that_never_answers_times_out_in_one_line(fresh_machine, monkeypatch):
    from camview.models import download

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)  # accepts (the kernel does) and never replies
    monkeypatch.setattr(download, "READ_TIMEOUT_S", 1.0)
    monkeypatch.setenv(URL_ENV_VAR, f"http://127.0.0.1:{listener.getsockname()[1]}")
    started = time.monotonic()
    try:
        with pytest.raises(ModelError) as info:
            load_model("squeezenet")
    finally:
        listener.close()
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "no answer in 1 s" in message and "nothing was kept" in message
    assert "\n" not in message
