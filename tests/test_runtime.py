"""The OpenVINO forward runtime and the maps computed from it without a backward pass.

Every map the fast path gives is checked against the TensorFlow path's own map of the same
input (forward and backward in one compiled call), for both built-in models with real
weights, a fine-tuned binary model with a nested base and a grayscale model; the closed-form
gradient is checked against GradientTape's.
"""

from __future__ import annotations

import json

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import REPO, skimage_bgr

from camview.checks.faithfulness import score_map
from camview.cli import main
from camview.errors import ModelError
from camview.maps import METHODS, GradCAM, make_method
from camview.maps.closed_form import closed_form_gradient, uses_closed_form
from camview.maps.shared_pass import explain_shared
from camview.models import CamModel, HeadKind, ResizeMode, load_model
from camview.models.graph import spatial_layers
from camview.models.runtimes import OPENVINO, OPTIMISING, TENSORFLOW
from camview.sets.batches import batch_logits, call_size

SIZE = 32
FRAME = cv2.resize(skimage_bgr("chelsea"), (320, 240), interpolation=cv2.INTER_AREA)
#: Methods whose map is `from_arrays` of the read layer: all of them take the fast path.
FAST = [name for name, cls in METHODS.items() if cls.shares_pass]


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))


def _tutorial(folder) -> str:
    """The transfer-learning tutorial's shape (tests/test_own_models.py): preprocess_input
    inside, a nested MobileNetV2 base, GAP, Dropout, one logit."""
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), include_top=False,
                                          weights=None, alpha=0.35, name="base")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    x = base(x, training=False)
    x = keras.layers.Dropout(0.2)(keras.layers.GlobalAveragePooling2D()(x))
    path = str(folder / "pets.keras")
    keras.Model(inputs, keras.layers.Dense(1, name="logit")(x)).save(path)
    return path


def _mnist(folder) -> str:
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="c2")(x)
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    path = str(folder / "mnist.keras")
    keras.Model(inputs, out).save(path)
    return path


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    return {"tutorial": load_model(_tutorial(folder), runtime=TENSORFLOW),
            "mnist": load_model(_mnist(folder), runtime=TENSORFLOW), "folder": folder}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache folder for this file's conversions (tens of seconds each, once)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _one_cache(private_settings, shared_cache, monkeypatch):
    monkeypatch.setenv("CAMVIEW_CACHE_DIR", str(shared_cache))


def on_openvino_once(model: CamModel, cache) -> CamModel:
    """`model` with its OpenVINO runtime built (then switching is instant), left on
    TensorFlow, as the other test files expect the session's models."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAMVIEW_CACHE_DIR", str(cache))
        model.use_runtime(OPENVINO)
    model.use_runtime(TENSORFLOW)
    return model


@pytest.fixture(scope="module", params=["lite0", "squeezenet", "tutorial", "mnist"])
def model(request, own, shared_cache):
    name = request.param
    cam_model = own[name] if name in own else request.getfixturevalue(name)
    yield on_openvino_once(cam_model, shared_cache)
    cam_model.use_runtime(TENSORFLOW)


def both(model: CamModel, compute):
    """compute() on TensorFlow, then on OpenVINO."""
    model.use_runtime(TENSORFLOW)
    reference = compute()
    model.use_runtime(OPENVINO)
    try:
        return reference, compute()
    finally:
        model.use_runtime(TENSORFLOW)


def test_reciprocam_runs_its_forward_pass_there_with_the_same_map(model):
    """Recipro-CAM's forward pass on OpenVINO (and for these heads, all of it: the head alone
    in numpy), never the read pass (it has no from_arrays rule)."""
    x = model.prepare(FRAME)
    method = make_method("reciprocam", model)
    reference, fast = both(model, lambda: method.explain(x, 1))
    model.use_runtime(OPENVINO)
    assert method.runs_on_forward_runtime() and not uses_closed_form(method)
    model.use_runtime(TENSORFLOW)
    assert fast.target == reference.target == 1
    assert relative(fast.logits, reference.logits) <= 1e-4
    assert relative(fast.cam, reference.cam) <= 1e-4
    spread = np.ptp(reference.cam)  # and as drawn: the probabilities differ little
    assert np.max(np.abs(fast.cam - reference.cam)) <= 1e-3 * spread


def test_closed_form_gradient_is_the_tapes(lite0, squeezenet):
    for m in (lite0, squeezenet):
        x = m.prepare(FRAME)
        with tf.GradientTape() as tape:
            features, logits = m.feature_model(x, training=False)
            tape.watch(features)
            score = logits[0, 281]
        want = tape.gradient(score, features)[0].numpy()
        got = closed_form_gradient(m, features[0].numpy(), 281)
        assert m.head in (HeadKind.FC, HeadKind.DIRECT)
        assert relative(got, want) <= 1e-5


@pytest.mark.parametrize("target", [None, 1])
def test_every_fast_map_equals_the_tensorflow_map(model, target):
    x = model.prepare(FRAME)
    methods = {name: make_method(name, model) for name in FAST}
    reference, fast = both(model, lambda: {n: m.explain(x, target) for n, m in methods.items()})
    model.use_runtime(OPENVINO)
    assert all(uses_closed_form(m) for m in methods.values())  # not TensorFlow again
    model.use_runtime(TENSORFLOW)
    if model.head is HeadKind.DIRECT:  # the rules were given the class's channel alone
        channels = []

        class Recorded(GradCAM):
            def from_arrays(self, features, grads, score, c):
                channels.append((features.shape[-1], grads.shape[-1], c))
                return super().from_arrays(features, grads, score, c)

        for runtime in (TENSORFLOW, OPENVINO):
            model.use_runtime(runtime)
            Recorded(model).explain(x, target)
        model.use_runtime(TENSORFLOW)
        assert channels == [(1, 1, 0), (1, 1, 0)]
    for name in FAST:
        assert fast[name].target == reference[name].target, name
        assert relative(fast[name].logits, reference[name].logits) <= 1e-4, name
        assert relative(fast[name].cam, reference[name].cam) <= 1e-4, name


def test_the_shared_compare_pass_equals_tensorflows(model):
    x = model.prepare(FRAME)
    methods = [make_method(n, model) for n in ("cam", "gradcam", "layercam", "eigencam")]
    reference, fast = both(model, lambda: explain_shared(model, methods, x, None))
    assert len(fast) == len(methods)
    for method in methods:
        assert relative(fast[method].cam, reference[method].cam) <= 1e-4, method.name


def test_openvino_computes_in_float32(model):
    """On a CPU with AMX or AVX-512 bf16 OpenVINO's own default is bfloat16, whose scores
    are about 1 % of their range off TensorFlow's (SqueezeNet on a Xeon, measured)."""
    import openvino

    model.use_runtime(OPENVINO)
    try:
        compiled = model.runtime._compiled
        assert compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.f32
    finally:
        model.use_runtime(TENSORFLOW)


def test_evaluate_batches_on_the_runtime(model):
    x = np.concatenate([model.prepare(FRAME), model.prepare(FRAME[:, ::-1]),
                        model.prepare(FRAME[::-1])])
    reference, fast = both(model, lambda: batch_logits(model)(x))
    assert fast.shape == reference.shape == (3, len(model.labels))
    assert relative(fast, reference) <= 1e-4


def test_evaluate_calls_openvino_one_input_at_a_time(model):
    """Batching gains nothing on OpenVINO here, so evaluate pads no call there: every call
    is of one input (still one size per shape), a batch's inputs run at once on the
    throughput streams, and its scores are those of each input called alone."""
    shape = model.prepare(FRAME).shape[1:]
    assert call_size(model, shape, 16) > 1  # TensorFlow: full calls, padded
    x = np.concatenate([model.prepare(FRAME), model.prepare(FRAME[:, ::-1])])
    model.use_runtime(OPENVINO)
    try:
        assert call_size(model, shape, 16) == 1
        alone = np.concatenate([batch_logits(model)(row[None]) for row in x])
        assert relative(alone, batch_logits(model)(x)) <= 1e-6
    finally:
        model.use_runtime(TENSORFLOW)


def test_evaluate_on_openvino_gives_each_images_own_call_in_set_order(lite0, shared_cache,
                                                                     tmp_path):
    """evaluate's pass on OpenVINO overlaps a batch's network call with the previous batch's
    results and starts partial batches when the network would wait: still every image once,
    in set order, with the scores of its own call and bitwise the same features, map and
    scores whatever images shared its batch; closing the pass early leaves no thread."""
    import threading

    from camview.sets.batches import network_input
    from camview.sets.classify import classify_set
    from camview.sets.dataset import open_labelled_set, write_demo_set
    from camview.sources.images import load_image

    on_openvino_once(lite0, shared_cache)
    images = open_labelled_set(write_demo_set(tmp_path / "set", 14, long_side=120),
                               lite0.labels).images
    lite0.use_runtime(OPENVINO)
    try:
        runs = [list(classify_set(lite0, subset, batch_size=batch, views=True))
                for subset, batch in ((images, 3), (images[::-1], 4), (images[5:], 16))]
        assert [r.index for r in runs[0]] == list(range(len(images)))
        assert [r.path for r in runs[0]] == [i.path for i in images]
        first = {r.path: r for r in runs[0]}
        for r in runs[1] + runs[2]:
            o = first[r.path]
            assert r.top == o.top and r.true_prob == o.true_prob, r.path
            assert np.array_equal(r.views.features, o.views.features), r.path
            assert np.array_equal(r.views.where, o.views.where), r.path
        for item, r in zip(images[:4], runs[0], strict=False):
            x = network_input(lite0, load_image(item.path)[0])
            alone = lite0.forward(x[None])[1][0]
            probs = np.exp(alone - alone.max()) / np.exp(alone - alone.max()).sum()
            assert abs(float(probs[item.label]) - r.true_prob) <= 1e-5
        passing = classify_set(lite0, images, batch_size=2, views=True)
        next(passing)
        passing.close()  # with a batch's calls started: waited for, their requests kept
        assert not [t for t in threading.enumerate() if t.name.startswith("camview-evaluate")]
        again = list(classify_set(lite0, images[:5], batch_size=2, views=True))
        assert [r.top for r in again] == [r.top for r in runs[0][:5]]
    finally:
        lite0.use_runtime(TENSORFLOW)


def test_openvino_runs_two_started_batches_at_once(lite0, shared_cache):
    """Forward.start: a batch's calls run on OpenVINO's streams while the caller goes on,
    another batch may start before the first is read, and each gives what its inputs give
    called alone, whichever is read first."""
    on_openvino_once(lite0, shared_cache)
    x = np.concatenate([lite0.prepare(FRAME), lite0.prepare(FRAME[:, ::-1]),
                        lite0.prepare(FRAME[::-1])])
    lite0.use_runtime(OPENVINO)
    try:
        forward = lite0.runtime
        alone = [forward(row[None]) for row in x]
        first, second = forward.start(x), forward.start(x[::-1])
        features2, scores2 = second()
        features1, scores1 = first()
        for i, (features, scores) in enumerate(alone):
            assert relative(scores1[i], scores[0]) <= 1e-6
            assert relative(features1[i], features[0]) <= 1e-6
            assert relative(scores2[len(x) - 1 - i], scores[0]) <= 1e-6
            assert relative(features2[len(x) - 1 - i], features[0]) <= 1e-6
    finally:
        lite0.use_runtime(TENSORFLOW)


def test_maps_that_need_a_true_backward_stay_on_tensorflow(model):
    earlier = next(layer.path for layer in spatial_layers(model.keras_model)
                   if layer.path != model.read_layer)
    model.use_runtime(OPENVINO)
    try:
        assert uses_closed_form(make_method("gradcam", model))
        assert not uses_closed_form(make_method("gradcam", model, earlier))
        assert not uses_closed_form(make_method("saliency", model))
        result = make_method("gradcam", model, earlier).explain(model.prepare(FRAME))
        assert result.cam.ndim == 2 and np.isfinite(result.cam).all()
    finally:
        model.use_runtime(TENSORFLOW)


def test_perturbation_maps_and_scores_on_openvino_equal_tensorflows(lite0, shared_cache):
    on_openvino_once(lite0, shared_cache)
    x = lite0.prepare(FRAME)
    score_cam = make_method("scorecam", lite0, max_channels=8)
    occlusion = make_method("occlusion", lite0, patch=96, stride=96)

    def compute():
        cam = score_cam.explain(x)
        faithful = score_map(lite0, x, cam.cam, cam.target, steps=4)
        return cam, occlusion.explain(x), faithful

    (s_ref, o_ref, f_ref), (s_fast, o_fast, f_fast) = both(lite0, compute)
    assert relative(s_fast.cam, s_ref.cam) <= 1e-4
    assert np.max(np.abs(o_fast.cam - o_ref.cam)) <= 1e-4
    assert np.max(np.abs(f_fast.deletion - f_ref.deletion)) <= 1e-4
    assert np.max(np.abs(f_fast.insertion - f_ref.insertion)) <= 1e-4


class _HostNumpy(keras.layers.Layer):
    """A layer that runs numpy on the host (tf.numpy_function): TensorFlow runs it, a graph
    converter cannot."""

    def call(self, x):
        out = tf.numpy_function(lambda a: (a * 1.0).astype(np.float32), [x], tf.float32)
        return tf.ensure_shape(out, x.shape)

    def compute_output_shape(self, shape):
        return shape


def _unconvertible() -> CamModel:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(_HostNumpy()(inputs))
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x))
    return CamModel("host-numpy", keras.Model(inputs, out), labels=["a", "b", "c"],
                    input_size=(SIZE, SIZE), resize=ResizeMode.SQUASH,
                    preprocess=lambda img: img.astype(np.float32) / 255.0)


def test_auto_falls_back_to_tensorflow_saying_why_and_openvino_refuses(caplog):
    model = _unconvertible()
    with pytest.raises(ModelError, match="OpenVINO"):
        model.use_runtime(OPENVINO)
    forward = model.use_runtime("auto")
    assert forward.name == TENSORFLOW
    assert "OpenVINO is not used" in model.runtime_note and "TensorFlow" in model.runtime_note
    assert "\n" not in model.runtime_note
    # ... and the maps still come, from TensorFlow.
    assert make_method("gradcam", model).explain(model.prepare(FRAME)).cam.shape == (30, 30)


def test_a_second_load_reads_the_cached_conversion(own, tmp_path, monkeypatch):
    monkeypatch.setenv("CAMVIEW_CACHE_DIR", str(tmp_path / "cache"))
    # OpenVINO's converter reports to its telemetry unless opted out (or CI=true): camview's
    # conversion must not, nor write its client id into the home folder.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.delenv("CI", raising=False)
    path = str(own["folder"] / "mnist.keras")
    said: list[str] = []
    first = load_model(path, runtime=OPENVINO, progress=said.append)
    assert first.runtime.name == OPENVINO and first.runtime_note is None
    assert len(said) == 1 and OPTIMISING in said[0]
    assert not list((tmp_path / "home").iterdir())
    second = load_model(path, runtime=OPENVINO, progress=said.append)
    assert len(said) == 1  # nothing converted again
    assert second.runtime.name == OPENVINO
    x = first.prepare(FRAME)
    assert np.array_equal(first.forward(x)[1], second.forward(x)[1])
    # auto reads the same conversion, times both runtimes and keeps the faster one.
    auto = load_model(path, runtime="auto", progress=said.append)
    assert len(said) == 1
    timed = auto.runtime_race_ms
    assert set(timed) == {OPENVINO, TENSORFLOW} and min(timed.values()) > 0
    if timed[OPENVINO] < timed[TENSORFLOW]:
        assert auto.runtime.name == OPENVINO and auto.runtime_note is None
    else:
        assert auto.runtime.name == TENSORFLOW
        assert "against TensorFlow's" in auto.runtime_note


def test_openvino_reports_nothing_to_its_telemetry(tmp_path):
    """`import openvino` sends an event to OpenVINO's telemetry unless opted out (or CI=true)
    and writes a client id under ~/intel: camview's processes do neither."""
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom camview.cli import main\nassert main(['models']) == 0\n"
            "from openvino.tools.ovc import telemetry_utils\n"
            "assert telemetry_utils.tm.__name__.endswith('telemetry_stub'), telemetry_utils.tm\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**env, "PYTHONPATH": str(REPO),
                                            "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "openvino" in done.stdout and not list(tmp_path.iterdir())


def test_render_and_inspect_take_the_runtime(own, tmp_path, capsys):
    path = str(own["folder"] / "mnist.keras")
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), FRAME)
    maps = {}
    for runtime in (TENSORFLOW, OPENVINO):
        out = tmp_path / runtime
        assert main(["render", str(image), "-o", str(out) + ".png", "--model", path,
                     "--method", "gradcam++", "--runtime", runtime, "--json",
                     str(out) + ".json", "--map", str(out) + ".npy"]) == 0
        maps[runtime] = np.load(str(out) + ".npy")
        top = json.loads((tmp_path / f"{runtime}.json").read_text())["frames"][0]["top"]
        maps[runtime + " top"] = [t["index"] for t in top]
    assert maps["tensorflow top"] == maps["openvino top"]
    assert relative(maps[OPENVINO], maps[TENSORFLOW]) <= 1e-4
    capsys.readouterr()
    assert main(["inspect", path, "--runtime", "openvino"]) == 0
    assert "runtime:     openvino on CPU" in capsys.readouterr().out


def test_the_live_pipeline_switches_runtime_without_stopping(lite0, shared_cache):
    """scripts/soak.py with runtime switches: maps keep coming on either runtime, the
    pipeline's threads end."""
    import importlib.util

    from camview.sources import write_demo_video

    on_openvino_once(lite0, shared_cache)
    spec = importlib.util.spec_from_file_location(
        "soak", REPO / "scripts" / "soak.py")
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    video = write_demo_video(shared_cache.parent / "loop.avi", seconds=2.0)
    try:
        report = soak.soak(str(video), model=lite0, method="gradcam", seconds=12.0, warmup=3.0,
                           sample=1.0, switch_runtime_every=4.0)
    finally:
        lite0.use_runtime(TENSORFLOW)
    assert report["runtime_switches"] >= 2
    assert report["runtimes_used"][:3] == [TENSORFLOW, OPENVINO, TENSORFLOW]
    assert report["stalled_windows"] == 0, report["samples"]
    assert report["stopped_cleanly"] and report["leaked_threads"] == []
    assert report["errors"] == []
