"""Layer outputs without a window: tiling a layer's channels, reading them, the live worker,
and the pipeline's layer switch. Real model, real threads, real photos."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from helpers import forward, skimage_bgr

from camview.live import Pipeline
from camview.live.layer_outputs_worker import LayerOutputs
from camview.models.graph import spatial_layers
from camview.network.layer_outputs import (
    grid_size,
    layer_activations,
    normalise_channels,
    tile_channels,
)
from camview.sources import Frame

WAIT_S = 60


@pytest.fixture(scope="module")
def chelsea():
    return Frame(0, 0.0, skimage_bgr("chelsea"))


def test_tiles_are_channels_each_scaled_to_its_own_range():
    acts = np.zeros((7, 9, 20), np.float32)
    acts[:, :, 0] = np.arange(63).reshape(7, 9)  # a ramp
    acts[:, :, 1] = 1000.0 * np.arange(63).reshape(7, 9)  # the same ramp, 1000x stronger
    acts[3, 4, 2] = -5.0  # one cold cell
    norm = normalise_channels(acts)
    np.testing.assert_allclose(norm[:, :, 0], norm[:, :, 1], atol=1e-6)
    assert norm[:, :, 3].max() == 0.0  # a flat channel is dark, not NaN
    assert norm[3, 4, 2] == 0.0 and norm[0, 0, 2] == 1.0
    assert grid_size(16) == (4, 4) and grid_size(20) == (4, 5) and grid_size(3) == (2, 2)

    image = tile_channels(acts, 16, cell=18)
    assert image.dtype == np.uint8 and image.shape == (4 * 16 - 2, 4 * 20 - 2, 3)
    tile0, tile1 = image[:14, :18], image[:14, 20:38]
    np.testing.assert_array_equal(tile0, tile1)  # same pattern, same colours
    assert not np.array_equal(tile0[0, 0], tile0[-1, -1])  # the ramp spans the colormap
    assert (image[14:16, :] == 24).all()  # the gap between rows
    assert tile_channels(acts, 64, cell=18).shape == (4 * 16 - 2, 5 * 20 - 2, 3)  # all 20


def test_layer_activations_of_an_early_and_the_read_layer(lite0, chelsea):
    batch = lite0.prepare(chelsea.image)
    layers = spatial_layers(lite0.keras_model)
    early = layers[2].path
    a = layer_activations(lite0, early, batch)
    last = layer_activations(lite0, lite0.read_layer, batch)
    np.testing.assert_allclose(last, forward(lite0, batch).features, rtol=1e-5, atol=1e-5)
    assert a.shape[:2] > last.shape[:2] and a.shape[2] == layers[2].shape[2]


def test_layer_outputs_worker_only_works_while_enabled(lite0, chelsea):
    views, shown = [], threading.Event()
    worker = LayerOutputs(lambda: chelsea, lambda: lite0,
                          lambda v: (views.append(v), shown.set()), interval=0.05)
    try:
        assert not shown.wait(0.3) and worker.updates == 0  # hidden: no work
        worker.enable(True)
        assert shown.wait(WAIT_S)
        view = views[-1]
        assert view.layer == lite0.read_layer and view.shown == 16 and view.channels == 1280
        assert "channels 1–16 of 1280" in view.caption
        updates = worker.updates
        shown.clear()
        # The same frozen frame is not computed again...
        assert not shown.wait(0.4) and worker.updates == updates
        # ...another layer is, at once.
        early = spatial_layers(lite0.keras_model)[5].path
        worker.show(early, 64)
        assert shown.wait(WAIT_S) and views[-1].layer == early
    finally:
        assert worker.stop(5)


def test_pipeline_reads_another_layer_and_cam_refuses_it(lite0):
    errors, statuses = [], []
    pipe = Pipeline(on_error=lambda m, k: errors.append(m), on_status=statuses.append,
                    method="gradcam")
    try:
        pipe.set_model(lite0)
        pipe.start()
        assert pipe.wait_idle()
        assert pipe.layer == lite0.read_layer
        early = spatial_layers(lite0.keras_model)[-10].path
        pipe.set_layer(early)
        assert pipe.wait_idle()
        assert pipe.layer == early and pipe.config().method.title == "Grad-CAM"
        pipe.set_method("layercam")  # a method switch keeps the layer
        assert pipe.wait_idle()
        assert pipe.layer == early and pipe.method_name == "layercam"
        pipe.set_method("cam")  # CAM cannot: it comes back to the model's layer and says so
        assert pipe.wait_idle()
        assert pipe.method_name == "cam" and pipe.layer == lite0.read_layer
        assert any("reads only" in s for s in statuses)
        pipe.set_layer(early)  # asked for on CAM: refused with CAM's own message
        assert pipe.wait_idle()
        assert pipe.layer == lite0.read_layer
        assert any("CAM reads only the layer before global pooling" in e for e in errors)
    finally:
        pipe.stop()
