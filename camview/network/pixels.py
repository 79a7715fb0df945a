"""A model's preprocessing as an affine map of one pixel, for tools that work in pixel space.

Every preprocessing camview offers (raw, unit, tf, caffe, torch, the keras.applications
families) scales and shifts each channel and may reorder them (BGR frames, RGB networks), so
it is ``input = pixel @ A + b``: measured here once from the model's own transform rather
than written again per mode. Activation maximisation differentiates through it; the filters
view reads from A which frame colour each input channel is.
"""

from __future__ import annotations

import numpy as np

from camview.errors import ModelError
from camview.models.base import CamModel


def pixel_affine(model: CamModel) -> tuple[np.ndarray, np.ndarray]:
    """(A, b), float32 (c, c) and (c,), with input = pixel @ A + b for a pixel in the frame's
    colour order (BGR, or grey); ModelError for a custom preprocessing that is not affine."""
    c = model.channels
    zero = np.asarray(model.preprocess(np.zeros((1, 1, c), np.uint8)), np.float32).reshape(c)
    rows = [np.asarray(model.preprocess((np.eye(c)[i] * 255).astype(np.uint8)[None, None]),
                       np.float32).reshape(c) - zero for i in range(c)]
    a = (np.stack(rows) / 255.0).astype(np.float32)
    probe = np.random.default_rng(0).integers(0, 256, (4, 4, c), dtype=np.uint8)
    expected = np.asarray(model.preprocess(probe), np.float32)
    if not np.allclose(probe.astype(np.float32) @ a + zero, expected, atol=1e-3):
        raise ModelError(f"{model.name}: its preprocessing ({model.preprocess_name}) is not a "
                         "per-pixel scaling, so it cannot be run backwards to pixels")
    return a, zero


def frame_channel_of_input(model: CamModel) -> list[int]:
    """For each network input channel, the frame channel (BGR index) it is made from."""
    a, _ = pixel_affine(model)
    return [int(np.argmax(np.abs(a[:, j]))) for j in range(a.shape[1])]
