"""The map scale option: a class the network does not see stays dark under `fixed` and
`probability`, while `frame` (the reference recipe) stretches it to full heat."""

import numpy as np
import pytest
from helpers import ESPRESSO, skimage_bgr

from camview.drawing.overlay import OverlayStyle, render_view
from camview.drawing.scale import SCALES, MapScale
from camview.maps import make_method


def _coloured_fraction(view: np.ndarray) -> float:
    """Pixels whose channels differ: the matlab style adds colour only where the map is."""
    spread = view.max(axis=2).astype(int) - view.min(axis=2).astype(int)
    return float((spread > 8).mean())


@pytest.mark.parametrize("mode", ["fixed", "probability"])
def test_an_absent_class_is_nearly_black(lite0, mode):
    frame = skimage_bgr("chelsea")
    batch = lite0.prepare(frame)
    cam = make_method("cam", lite0)
    top = cam.explain(batch)
    absent = cam.explain(batch, ESPRESSO)
    assert top.probabilities[top.target] > 0.3 and absent.probabilities[ESPRESSO] < 0.01
    scale = MapScale(mode)
    style = OverlayStyle(layout="overlay", topk=0, scale=mode)
    seen = scale.apply(top.cam, top.probabilities[top.target])
    assert seen.max() > 0.3  # the class it sees is drawn
    assert _coloured_fraction(render_view(frame, seen, [], style, absolute=True)) > 0.05
    dark = scale.apply(absent.cam, absent.probabilities[ESPRESSO])
    assert dark.max() < (0.01 if mode == "probability" else 0.15)
    view = render_view(frame, dark, [], style, absolute=True)
    assert _coloured_fraction(view) < 0.001
    # The reference recipe stretches the same absent class to full heat.
    stretched = render_view(frame, absent.cam, [], OverlayStyle(layout="overlay", topk=0))
    assert _coloured_fraction(stretched) > 0.05


def test_fixed_scale_forgets_slowly_and_resets():
    rng = np.random.default_rng(0)
    strong = rng.random((7, 9)).astype(np.float32) * 10
    weak = strong / 10
    scale = MapScale("fixed", half_life=10)
    assert scale.apply(strong, 1.0).max() == pytest.approx(1.0)
    assert scale.apply(weak, 1.0).max() == pytest.approx(0.1 / 0.5 ** 0.1, rel=1e-3)
    for _ in range(8):
        scale.apply(weak, 1.0)
    assert scale.apply(weak, 1.0).max() == pytest.approx(0.2, rel=1e-3)  # halved
    scale.reset()  # a new method
    assert scale.apply(weak, 1.0).max() == pytest.approx(1.0)
    assert scale.apply(-strong, 1.0).max() == 0.0  # negative evidence is dark


def test_frame_scale_passes_the_raw_map_and_bad_modes_are_refused():
    cam = np.arange(12, dtype=np.float32).reshape(3, 4)
    scale = MapScale()
    assert scale.apply(cam, 0.5) is cam and not scale.absolute
    assert SCALES == ("frame", "fixed", "probability")
    with pytest.raises(ValueError, match="unknown scale"):
        MapScale("log")
    with pytest.raises(ValueError, match="unknown scale"):
        OverlayStyle(scale="log").validate()
    nan = cam.copy()
    nan[0, 0] = np.nan
    assert MapScale("fixed").apply(nan, 0.5) is nan  # drawn as a banner, not as a scale


def test_smoothing_averages_scaled_maps_so_the_fixed_scale_still_dims(lite0):
    """With temporal smoothing on, a weak map after a strong one is drawn dim under `fixed`:
    the scale sees each raw map once, before the moving average."""
    from camview.drawing.explain import describe
    from camview.live import Config, Mailbox
    from camview.live.inference import Inference
    from camview.maps import MapResult

    logits = np.zeros(1000, np.float32)
    strong = np.outer(np.hanning(7), np.hanning(9)).astype(np.float32)
    cfg = Config(lite0, make_method("gradcam", lite0), None, OverlayStyle(scale="fixed"), 0.5, 1)
    inference = Inference(host=None, mailbox=Mailbox())
    scale = MapScale("fixed")
    shown = []
    for cam in (strong, strong / 100):
        explained = describe(lite0, MapResult(cam, logits, 0), topk=3, pinned=False)
        shown.append(inference._smoothed(inference.smoother, explained, cfg, scale))
    assert shown[0].max() == pytest.approx(1.0)
    assert shown[1].max() == pytest.approx(0.5 + 0.5 * 0.01, abs=0.01)  # half the past, dim
