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
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tf.get_logger().setLevel(logging.ERROR)


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own messages off stderr unless --debug.

    They print straight to the terminal ("moov atom not found", "overread 8", a WARN per
    failed open), several lines for one cut video; camview reports each such fault itself, in
    one line that names the file. The FFmpeg level is read when FFmpeg is first used.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
