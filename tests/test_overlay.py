"""The overlay styles against a literal float implementation of the reference recipe, labels,
layouts, problem maps, and a property test over arbitrary frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camview.drawing import colour as colouring
from camview.drawing.colour import COLORMAPS, compose_blend, compose_matlab, ramped_table
from camview.drawing.layout import compose_layout, separator_width
from camview.drawing.overlay import OverlayStyle, render_view
from camview.drawing.text import draw_banner, draw_labels
from camview.drawing.upsample import upsample_map
from camview.errors import SourceError
from camview.maps.validity import map_problem, normalise
from camview.sources.images import to_bgr8


def reference_matlab(frame_bgr: np.ndarray, cam: np.ndarray, threshold: float = 0.2,
                     colormap: int = cv2.COLORMAP_JET) -> tuple[np.ndarray, np.ndarray]:
    """CAMshow, literally, in float64. Returns (output, colour index)."""
    h, w = frame_bgr.shape[:2]
    # 1. resize the CAM to the frame size: bicubic, clipped to the map's range (to a quarter
    #    of the frame size, then bilinear: see test_upsampling_is_bicubic_and_smooth)
    cam = cam.astype(np.float64)
    if cam.shape[0] * 4 >= h and cam.shape[1] * 4 >= w:
        cam_r = cv2.resize(cam, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        quarter = cv2.resize(cam, (-(-w // 4), -(-h // 4)), interpolation=cv2.INTER_CUBIC)
        quarter = np.clip(quarter, cam.min(), cam.max())
        cam_r = cv2.resize(quarter, (w, h), interpolation=cv2.INTER_LINEAR)
    # 2. min-max normalise
    n = (cam_r - cam_r.min()) / (cam_r.max() - cam_r.min())
    # 3. zero every value below the threshold
    n[n < threshold] = 0.0
    # 4. a colormap whose rows are scaled by a ramp 0..1, indexed by uint8(255 * value)
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], colormap)
    cmap = jet.reshape(256, 3).astype(np.float64) * np.linspace(0.0, 1.0, 256)[:, None]
    index = np.rint(n * 255.0).astype(np.uint8)
    colour = cmap[index]
    # 5. add it to the frame's grayscale halved
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY).astype(np.float64)
    total = gray[:, :, None] / 2.0 + colour
    # 6. rescale the sum to 0..255
    out = (total - total.min()) / (total.max() - total.min()) * 255.0
    return np.rint(out).astype(np.uint8), index


def gaussian(h: int, w: int, cy: float, cx: float, sigma: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo (scikit-image's chelsea, CC0) as BGR."""
    skimage_data = pytest.importorskip("skimage.data")
    return cv2.cvtColor(skimage_data.chelsea(), cv2.COLOR_RGB2BGR)


def hand_made_map() -> np.ndarray:
    """A 7x7 map with an interior peak, a second bump and a negative dip, at 1e-12 scale."""
    m = gaussian(7, 7, 2.3, 3.6, 1.2) + 0.5 * gaussian(7, 7, 5.0, 1.0, 0.8)
    m -= 0.3 * gaussian(7, 7, 6.0, 6.0, 0.7)
    return (m * 1e-12).astype(np.float32)


@pytest.mark.parametrize("size", [(320, 240), (451, 300), (1280, 720)])
@pytest.mark.parametrize("threshold", [0.2, 0.0, 0.5])
def test_matlab_style_equals_the_float_recipe(photo, size, threshold):
    frame = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    cam = hand_made_map()
    ref, ref_index = reference_matlab(frame, cam, threshold)
    out = compose_matlab(frame, cam, threshold)
    assert out.shape == frame.shape and out.dtype == np.uint8
    # The colour index agrees except at float rounding ties (float32 here, float64 there).
    index, _ = colouring._index_map(normalise(cam), size, threshold, exact=True)
    differ = index != ref_index
    assert differ.mean() < 1e-4
    # Where the index agrees, every output value is within one grey level.
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff[~differ].max() <= 1
    assert (diff <= 1).mean() > 0.9999


def test_below_threshold_is_the_halved_gray_rescaled(photo):
    frame = cv2.resize(photo, (320, 240))
    cam = hand_made_map()
    out = compose_matlab(frame, cam, 0.2)
    _, ref_index = reference_matlab(frame, cam, 0.2)
    low = ref_index == 0
    assert 0.02 < low.mean() < 0.95  # thousands of pixels
    # There the recipe's colour is 0: pixel = (gray/2 - min) * 255 / (max - min), grey.
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float64)
    _, index = reference_matlab(frame, cam, 0.2)
    colour = ramped_table(cv2.COLORMAP_JET)[index]
    total = gray[:, :, None] / 2 + colour
    expected = np.rint((gray / 2 - total.min()) * 255 / (total.max() - total.min()))
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c][low], expected[low])
    # Above the threshold there is colour (channels differ).
    high = ~low
    assert (out[high].max(axis=1) - out[high].min(axis=1)).mean() > 20


def test_ramped_colormap_is_black_at_the_bottom():
    table = ramped_table(cv2.COLORMAP_JET)
    assert table[0].tolist() == [0, 0, 0]
    assert table[10].max() < 10  # low values stay nearly black, not jet's blue
    assert table[255].tolist() == [0, 0, 128]  # jet's dark red at full weight
    assert set(COLORMAPS) == {"jet", "turbo", "inferno", "viridis"}


def test_matlab_fallback_path_matches_the_recipe(monkeypatch):
    # A map the same size as the frame (no interpolation): index 0 on bright gray, index 130
    # (all channels > 0) on black, index 255 on mid gray. The sum's minimum (60) lies above
    # the black pixels' gray/2 = 0, its range (128) is under the colour's 130: the scaled
    # colour table would pass 255, so the float fallback runs.
    calls = []
    fallback = colouring._matlab_float
    monkeypatch.setattr(colouring, "_matlab_float", lambda *a: calls.append(1) or fallback(*a))
    cam = np.array([[0.0, 0.51, 0.51, 1.0]]).repeat(2, axis=0)
    frame = np.zeros((2, 4, 3), np.uint8)
    frame[:, 0] = 255
    frame[:, 3] = 120
    ref, _ = reference_matlab(frame, cam, 0.0)
    out = compose_matlab(frame, cam, 0.0)
    assert calls == [1]
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_blend_style():
    frame = np.full((40, 60, 3), (10, 100, 200), np.uint8)
    cam = gaussian(5, 5, 2, 2, 1.0)
    out = compose_blend(frame, cam, alpha=0.5, threshold=0.3)
    n = upsample_map(normalise(cam), (60, 40))
    np.testing.assert_array_equal(out[n < 0.3], frame[n < 0.3])  # untouched
    index = np.rint(n * 255).astype(np.uint8)
    jet = cv2.applyColorMap(index, cv2.COLORMAP_JET)
    expected = frame * 0.5 + jet * 0.5
    above = n >= 0.3
    assert above.mean() > 0.1
    assert np.abs(out[above] - expected[above]).max() <= 1
    np.testing.assert_array_equal(compose_blend(frame, cam, alpha=0.0), frame)


def test_normalise_and_problem_maps():
    tiny = hand_made_map()
    n = normalise(tiny)  # 1e-12 scale is NOT flat
    assert n.dtype == np.float32 and n.min() == 0 and n.max() == 1
    assert normalise(np.full((7, 7), 3.0)) is None
    assert map_problem(np.full((7, 7), 3.0)).startswith("flat")
    noisy_flat = 1000.0 + np.random.default_rng(0).normal(0, 1e-5, (7, 7)).astype(np.float32)
    assert map_problem(noisy_flat).startswith("flat")  # float32 rounding noise only
    nan = tiny.copy()
    nan[3, 3] = np.nan
    assert normalise(nan) is None and map_problem(nan) == "NaN in map"
    inf = tiny.copy()
    inf[0, 0] = np.inf
    assert map_problem(inf) == "Inf in map"
    assert map_problem(np.zeros((0, 7))) == "empty map"
    assert map_problem(np.zeros((2, 2, 2))).startswith("map has shape")
    with pytest.raises(ValueError, match="NaN"):
        compose_matlab(np.zeros((10, 10, 3), np.uint8), nan)


def test_render_view_with_problem_maps_shows_the_frame_and_a_banner(photo):
    frame = cv2.resize(photo, (320, 240))
    style = OverlayStyle(layout="overlay", topk=0)
    for cam in (np.full((7, 7), 2.0), np.full((7, 7), np.nan)):
        out = render_view(frame, cam, [], style)
        assert out.shape == frame.shape
        np.testing.assert_array_equal(out[:150], frame[:150])  # the banner is at the bottom
        assert not np.array_equal(out[200:], frame[200:])
    # No map yet and no message: the plain frame.
    np.testing.assert_array_equal(render_view(frame, None, [], style), frame)


def test_labels_change_the_top_left_corner_only(photo):
    image = cv2.resize(photo, (640, 480))
    out = draw_labels(image.copy(), [("tabby cat", 0.512), ("Egyptian cat", 0.3),
                                     ("lynx, catamount", 0.05)], highlight=0)
    changed = np.any(out != image, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed[:60, :60].any()
    assert ys.max() < 240 and xs.max() < 480
    assert not changed[300:, :].any()


def test_label_text_is_large_enough_for_a_1080p_recording():
    image = np.zeros((1080, 1920, 3), np.uint8)
    out = draw_labels(image, [("HHHH", 1.0)], bars=False)
    rows = np.flatnonzero((out[:, :, 0] > 200).any(axis=1))  # the white text ink
    assert rows.max() - rows.min() + 1 >= 0.025 * 1080


def test_labels_and_banner_survive_odd_input():
    tiny = np.zeros((1, 1, 3), np.uint8)
    draw_labels(tiny, [("x" * 500, 0.5)])
    draw_banner(tiny, "map unavailable: NaN in map")
    wide = np.zeros((100, 400, 3), np.uint8)
    out = draw_labels(wide, [("Café crème ünïcode " * 10, float("nan")), ("b", 2.0)])
    assert out.shape == wide.shape
    assert draw_labels(wide, []) is wide


def test_layouts():
    raw = np.zeros((120, 160, 3), np.uint8)
    over = np.full((120, 160, 3), 255, np.uint8)
    sbs = compose_layout(raw, over, "side-by-side")
    sep = separator_width(120)
    assert sbs.shape == (120, 320 + sep, 3)
    assert (sbs[:, :160] == 0).all() and (sbs[:, 160 + sep:] == 255).all()
    assert compose_layout(raw, over, "overlay") is over
    nothing_yet = compose_layout(raw + 7, None, "side-by-side")  # no map yet: a black panel
    assert nothing_yet.shape == sbs.shape and (nothing_yet[:, 160 + sep:] == 0).all()
    with pytest.raises(ValueError, match="layout"):
        compose_layout(raw, over, "diagonal")


def test_render_view_styles_and_layouts(photo):
    frame = cv2.resize(photo, (320, 240))
    cam = hand_made_map()
    top = [("tabby", 0.6), ("tiger cat", 0.2), ("Egyptian cat", 0.1)]
    for style_name in ("matlab", "blend"):
        for layout in ("side-by-side", "overlay"):
            style = OverlayStyle(style=style_name, layout=layout, colormap="turbo")
            out = render_view(frame, cam, top, style, message="paused")
            width = 320 if layout == "overlay" else 640 + separator_width(240)
            assert out.shape == (240, width, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="style"):
        render_view(frame, cam, top, OverlayStyle(style="sepia"))
    with pytest.raises(ValueError, match="colormap"):
        render_view(frame, cam, top, OverlayStyle(colormap="rainbow"))


# ---------------------------------------------------------------------------------------------
# Property test: arbitrary frames and maps never crash render_view


@st.composite
def frames(draw):
    h = draw(st.integers(1, 300))
    w = draw(st.integers(1, 300))
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32, np.bool_, np.int32]))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        image = rng.random(shape) > 0.5
    elif dtype == np.float32:
        scale = draw(st.sampled_from([1.0, 1000.0, 1e-6]))
        image = (rng.random(shape) * scale - (scale / 2 if draw(st.booleans()) else 0))
        image = image.astype(np.float32)
        if draw(st.booleans()) and image.size:
            image.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 0.0]))
    else:
        low = np.iinfo(dtype).min if draw(st.booleans()) else 0
        image = rng.integers(low, np.iinfo(dtype).max, shape, endpoint=True, dtype=dtype)
    return image


@st.composite
def maps(draw):
    kind = draw(st.sampled_from(["none", "random", "flat", "nan", "tiny", "one"]))
    if kind == "none":
        return None
    h, w = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cam = rng.random((h, w)).astype(np.float32)
    if kind == "flat":
        cam[:] = 0.5
    elif kind == "nan":
        cam[0, 0] = np.nan
    elif kind == "tiny":
        cam *= 1e-12
    elif kind == "one":
        cam = cam[:1, :1]
    return cam


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=frames(), cam=maps(), style_name=st.sampled_from(["matlab", "blend"]),
       layout=st.sampled_from(["side-by-side", "overlay"]),
       threshold=st.sampled_from([0.0, 0.2, 0.9, 1.0]), topk=st.integers(0, 5),
       message=st.sampled_from([None, "", "map unavailable"]))
def test_render_view_never_crashes(image, cam, style_name, layout, threshold, topk, message):
    try:
        bgr = to_bgr8(image)
    except SourceError:
        return
    h, w = image.shape[:2]
    assert bgr.shape == (h, w, 3) and bgr.dtype == np.uint8 and bgr.flags.c_contiguous
    style = OverlayStyle(style=style_name, layout=layout, threshold=threshold, topk=topk)
    top = [(f"class {i}", 1.0 / (i + 2)) for i in range(topk + 1)]
    for frame in (bgr, image):  # render_view converts any image itself, too
        out = render_view(frame, cam, top, style, message)
        width = w if layout == "overlay" else 2 * w + separator_width(h)
        assert out.shape == (h, width, 3) and out.dtype == np.uint8


def _longest_turn(mask: np.ndarray, k: int = 6) -> float:
    """The sharpest turn (radians) of the mask's outline away from the frame's edges: the
    direction change between the chords k pixels behind and k pixels ahead of each point."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    h, w = mask.shape
    worst = 0.0
    for contour in contours:
        p = contour[:, 0, :].astype(np.float64)
        if len(p) < 8 * k:
            continue
        inside = (p[:, 0] > 0) & (p[:, 0] < w - 1) & (p[:, 1] > 0) & (p[:, 1] < h - 1)
        chord = np.roll(p, -k, axis=0) - np.roll(p, k, axis=0)
        angle = np.arctan2(chord[:, 1], chord[:, 0])
        turn = np.abs(np.angle(np.exp(1j * (np.roll(angle, -k) - angle))))
        ok = inside & np.roll(inside, -2 * k) & np.roll(inside, 2 * k)
        if ok.any():
            worst = max(worst, float(turn[ok].max()))
    return worst


def test_upsampling_is_bicubic_and_smooth():
    rng = np.random.default_rng(5)
    size = (640, 480)
    linear_turns, cubic_turns = [], []
    for _ in range(8):
        small = rng.random((7, 9)).astype(np.float32)
        cubic = np.clip(cv2.resize(small, size, interpolation=cv2.INTER_CUBIC), small.min(),
                        small.max())
        ours = upsample_map(small, size)
        # Within 1.5 % of the range of a full bicubic resize, never outside the map's range.
        assert np.abs(ours - cubic).max() < 0.015 * np.ptp(small)
        assert ours.min() >= small.min() and ours.max() <= small.max()
        linear = cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)
        for threshold in (0.3, 0.5, 0.7):
            cut = small.min() + threshold * np.ptp(small)
            linear_turns.append(_longest_turn(linear >= cut))
            cubic_turns.append(_longest_turn(ours >= cut))
    # Bilinear outlines kink where the 7x9 cells meet; bicubic ones bend smoothly.
    assert np.median(cubic_turns) < 0.7 * np.median(linear_turns)
    # The same in the map itself: the slope jumps at the cell edges only when bilinear.
    small = rng.random((7, 9)).astype(np.float32)
    for up, limit in ((cv2.resize(small, size, interpolation=cv2.INTER_LINEAR), None),
                      (upsample_map(small, size), 0.25)):
        jumps = np.abs(np.diff(up, n=2, axis=1)).max() / (np.abs(np.diff(up, axis=1)).max())
        if limit is None:
            linear_jump = jumps
        else:
            assert jumps < limit * linear_jump


def test_a_saliency_sized_map_is_resized_directly():
    big = np.random.default_rng(0).random((224, 299)).astype(np.float32)
    out = upsample_map(big, (640, 480))
    np.testing.assert_allclose(out, cv2.resize(big, (640, 480)), atol=1e-6)
