"""--topk asks for rows; the label box still never hides more than half of the picture."""

import numpy as np
import pytest

from camview.drawing.overlay import OverlayStyle, render_view
from camview.drawing.text import LABEL_BOX_MAX_FRACTION, draw_labels

GREY = 200


def darkened_rows(image: np.ndarray) -> np.ndarray:
    """Rows where the backing box darkened the grey picture (its text is light)."""
    return np.flatnonzero((image.max(axis=2) < GREY // 2).any(axis=1))


def entries(n: int) -> list[tuple[str, float]]:
    return [(f"class {i}", 1.0 / (i + 2)) for i in range(n)]


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_topk_1000_covers_at_most_half_of_a_640x480_frame(scale):
    frame = np.full((480, 640, 3), GREY, np.uint8)
    out = draw_labels(frame, entries(1000), scale=scale)
    rows = darkened_rows(out)
    assert rows.size, "no label box drawn"
    assert rows.max() < 480 * LABEL_BOX_MAX_FRACTION
    assert rows.max() > 480 * 0.35  # and it does use the room it has


def test_a_few_rows_are_not_cut():
    frame = np.full((480, 640, 3), GREY, np.uint8)
    three = darkened_rows(draw_labels(frame.copy(), entries(3))).max()
    four = darkened_rows(draw_labels(frame.copy(), entries(4))).max()
    assert three < four < 480 / 2


def test_render_view_with_topk_1000():
    frame = np.full((480, 640, 3), GREY, np.uint8)
    cam = np.outer(np.hanning(7), np.hanning(7)).astype(np.float32)
    view = render_view(frame, cam, entries(1000), OverlayStyle(topk=1000, layout="overlay",
                                                               style="blend", alpha=0.0))
    assert view.shape == (480, 640, 3)
    assert darkened_rows(view).max() < 240


def test_a_picture_too_small_for_one_row_gets_none():
    frame = np.full((12, 64, 3), GREY, np.uint8)
    assert np.array_equal(draw_labels(frame.copy(), entries(3)), frame)
