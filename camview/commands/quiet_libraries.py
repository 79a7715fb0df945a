"""Keeping TensorFlow's, OpenCV's and FFmpeg's own start-up messages off stderr: camview says
every fault itself, in one line, and their chatter would bury it."""

from __future__ import annotations

import logging
import os
import sys


def quiet_tensorflow() -> None:
    """Import TensorFlow without its C++ start-up chatter, which is noise for a user.

    TF_CPP_MIN_LOG_LEVEL silences most of it, but TensorFlow 2.21 still prints the oneDNN
    notice through absl before logging is set up, so stderr is closed for the import itself.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        _import_with_stderr_closed()
    # Also when something imported TensorFlow first (a test, a user's own script): its Python
    # warnings (a retracing heuristic that counts each model's own compiled call as a retrace
    # of one shared function) are not the user's to act on.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _import_with_stderr_closed() -> None:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own messages off stderr unless --debug.

    They print straight to the terminal ("moov atom not found", "overread 8", a WARN per
    failed open), several lines for one cut video; camview reports each such fault itself, in
    one line that names the file. The FFmpeg level is read when FFmpeg is first used.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
