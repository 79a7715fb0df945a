"""Closing the window while the model is being converted for OpenVINO: exit 0, no abort, and
a cache holding a whole conversion or none (camview.app.leaving, camview.models.whole_folder).

Closing it during the export or as the converted graph was saved used to abort the process (SIGABRT,
"terminate called without an active exception"; 4 times in 4 at these two moments), and
SIGTERM killed it leaving the conversion's staging folder in the cache. The window runs in its
own process here, as a user starts it; SIGINT (Ctrl+C) and SIGTERM close it the way its close
button does (camview.app.main).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import DEMO, REPO

from camview.models.runtimes import PROBE
from camview.models.whole_folder import STAGING

pytest.importorskip("openvino")

#: What an aborted or crashed exit prints (faulthandler is on in the child).
CRASH_WORDS = ("Traceback", "Fatal Python error", "terminate called", "Aborted", "core dumped")
MODEL_XML = "model.xml"


def _start_converting(step: str) -> tuple[subprocess.Popen, Path]:
    """The window on a photo with --runtime openvino and an empty cache, once its conversion
    has reached `step`: "export" (the SavedModel export under way in its staging folder, named
    with its process id) or "save" (the converted graph being saved, then moved into place,
    compiled and probed). The conversions' folder."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("CAMVIEW_RUNTIME", None)
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "camview", "--runtime", "openvino",
         "--source", str(DEMO / "chelsea.jpg")],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    folder = Path(os.environ["CAMVIEW_CACHE_DIR"]) / "openvino"
    def reached() -> bool:
        if step == "export":
            return any(folder.glob(f"*{STAGING}{proc.pid}-*/saved_model"))
        return any(folder.glob(f"*/{MODEL_XML}"))

    deadline = time.monotonic() + 120
    while not reached():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the conversion did not reach {step} (exit {proc.wait()}): "
                        f"{proc.stderr.read()}")
        time.sleep(0.02)
    return proc, folder


def _closed_cleanly(proc: subprocess.Popen, sig: int) -> None:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not any(word in err for word in CRASH_WORDS), err


def _partial(folder: Path) -> list[str]:
    """What in the conversions' folder is not a whole conversion."""
    return sorted(p.name for p in folder.iterdir()
                  if not ((p / MODEL_XML).is_file() and (p / PROBE).is_file()))


def test_closed_during_the_export_it_exits_cleanly_and_the_next_load_converts(lite0):
    # A process killed outright mid-conversion leaves its staging folder (nothing can stop
    # that) ...
    killed, folder = _start_converting("export")
    killed.kill()
    killed.communicate()
    left = _partial(folder)
    assert left and all(f"{STAGING}{killed.pid}-" in name for name in left)

    # ... the next one's conversion removes it; closed during its export (SIGTERM closes the
    # window as its close button does), that one exits 0 without a word, its own gone too
    # (or, had its conversion ended meanwhile, whole).
    closed, _ = _start_converting("export")
    _closed_cleanly(closed, signal.SIGTERM)
    assert _partial(folder) == []

    # The next load converts (or reads the whole conversion), and runs.
    from camview.models.runtimes import OPENVINO, openvino_forward, probe_input

    forward = openvino_forward(lite0)
    assert forward.name == OPENVINO and _partial(folder) == [] and any(folder.iterdir())
    assert forward(probe_input(lite0))[1].shape == (1, 1000)


def test_closed_while_saving_or_compiling_it_exits_cleanly_keeping_no_partial_conversion():
    closed, folder = _start_converting("save")
    _closed_cleanly(closed, signal.SIGINT)  # Ctrl+C in the terminal
    assert _partial(folder) == []  # the whole conversion (read at the next start) or none
