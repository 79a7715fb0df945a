"""Keeping OpenVINO's Python package from reporting camview's use of it to its telemetry.

Unless a user has opted out with OpenVINO's own tool (or CI=true is set), ``import openvino``
sends an "import" event (and one more when Keras is loaded, and one per conversion) to
Google Analytics, from a child process forked off the importing one, and writes a client id
under ~/intel. camview's users asked for neither, camview promises nothing reaches the
network unasked, and a fork of the window's many-threaded process can deadlock (seen: a
child stuck in getaddrinfo kept the window's exit waiting, camview.app.leaving).

OpenVINO has no setting for it, but its model-conversion package falls back to its own
no-op stand-in when the optional ``openvino_telemetry`` package cannot be imported. Python's
import system makes an import fail where ``sys.modules`` holds None for the name: so it
does here, before camview imports OpenVINO (camview.models imports this first). A process
that imported OpenVINO or the telemetry package before camview keeps what it chose.
"""

from __future__ import annotations

import sys

TELEMETRY_PACKAGE = "openvino_telemetry"


def block_openvino_telemetry() -> None:
    """Make ``import openvino_telemetry`` fail in this process, unless it was imported."""
    sys.modules.setdefault(TELEMETRY_PACKAGE, None)  # type: ignore[arg-type]


block_openvino_telemetry()
