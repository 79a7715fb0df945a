"""A vision transformer in the live window (pytest-qt, offscreen): its map shown on a centre
crop, the methods it cannot use greyed, the compare grid and the frozen frame working."""

from __future__ import annotations

import cv2
import numpy as np
from PyQt6.QtCore import Qt
from vit_models import MARK, SIZE, marked_images, tiny_vit, unit_rgb
from window_host import started_window

from camview.app.saved_settings import Options
from camview.models import CamModel, ResizeMode


def test_a_vit_runs_live_like_a_cnn(qtbot, tmp_path):
    pictures, _, _ = marked_images(2, SIZE, MARK, seed=5)
    photo = str(tmp_path / "marked.png")
    cv2.imwrite(photo, cv2.resize(pictures[1], (160, 96)))
    model = CamModel("vit", tiny_vit(class_token=True, softmax=False, seed=3),
                     labels=["plain", "marked"], input_size=(SIZE, SIZE),
                     resize=ResizeMode.CROP, preprocess=unit_rgb, fixed_input=True)
    win = started_window(qtbot, Options(source=photo, model=model, output_dir=str(tmp_path)))
    try:
        result = win.session.result
        assert result.method_name == "HiResCAM"  # CAM is not defined for it: the fallback
        assert result.map.cam.shape == (6, 6)
        combo = win.panel.method
        enabled = {combo.itemData(r): combo.model().item(r).isEnabled()
                   for r in range(combo.count())}
        assert not enabled["cam"] and enabled["rollout"] and enabled["gradient-rollout"]
        assert "no convolution before pooling" in combo.model().item(
            combo.findData("cam")).toolTip()
        qtbot.waitUntil(lambda: "centre crop" in win.readout.text(), timeout=5000)

        win.session.set_method("rollout")
        qtbot.waitUntil(lambda: win.session.result.method_name == "Attention rollout",
                        timeout=20000)
        overlay = win.raw_view.image
        assert overlay is not None

        win.panel.choose(win.panel.method, "occlusion")  # on demand: on the frozen frame
        qtbot.waitUntil(lambda: win.session.result.method_name == "Occlusion", timeout=30000)
        assert win.session.pipeline.frozen
        assert win.session.result.overlay.shape == win.session.result.frame.image.shape
        qtbot.keyClick(win, Qt.Key.Key_Space)  # live again
        qtbot.waitUntil(lambda: not win.session.pipeline.frozen, timeout=10000)

        qtbot.keyClick(win, Qt.Key.Key_G)  # the compare grid
        qtbot.waitUntil(lambda: win.session.result.compare is not None, timeout=30000)
        assert np.isfinite(win.session.result.map.cam).all()
    finally:
        win.close()


def test_a_vit_as_the_compares_second_model_beside_a_cnn(qtbot, tmp_path):
    """`--compare cam,gradcam --compare-model vit.keras` with a CNN: the ViT's row stands in
    a token method for CAM (it is not defined for it) instead of refusing the compare."""
    from helpers import saved, small_classifier

    pictures, _, _ = marked_images(2, SIZE, MARK, seed=5)
    photo = str(tmp_path / "marked.png")
    cv2.imwrite(photo, cv2.resize(pictures[1], (160, 96)))
    vit = saved(tiny_vit(class_token=False, position=False, softmax=False, seed=3),
                tmp_path / "vit.keras")
    cnn = CamModel("cnn", small_classifier(2), labels=["plain", "marked"], input_size=(48, 48),
                   resize=ResizeMode.SHORTER, preprocess=lambda bgr: bgr.astype(np.float32))
    win = started_window(qtbot, Options(source=photo, model=cnn, output_dir=str(tmp_path),
                                        compare=("cam", "gradcam"), compare_model=vit))
    try:
        qtbot.waitUntil(lambda: win.session.result is not None
                        and len(win.session.result.panels) == 4, timeout=60000)
        titles = [t.split(":")[0] for t, _, _ in win.session.result.panels]
        assert titles == ["cnn CAM", "cnn Grad-CAM", "vit.keras HiResCAM", "vit.keras Grad-CAM"]
    finally:
        win.close()
