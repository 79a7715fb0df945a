"""ONNX files written by real exporters: tiny torchvision and timm classifiers exported by
torch.onnx.export, both its TorchScript exporter and its dynamo one (tests/data/onnx_exports,
made by scripts/make_onnx_fixtures.py where torch is installed; CI has no torch). Each is
loaded as a user's file is: its layout, read tensor, head and (for a ViT) tokens are found
from the graph; its scores equal torch's and OpenVINO's plain run of the file; its head read
from the file gives those scores; every method it serves maps a photo; the exporters'
idioms (the dynamo exporter's long-hand identity, the TorchScript exporter's shared
weights, a LayerNorm as nine elementary ops, a batch baked into the graph) are handled."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import DEMO, REPO

from camview.errors import ModelError
from camview.maps import make_method
from camview.maps.base import served_methods
from camview.models import load_model
from camview.models.head import HeadKind
from camview.models.onnx_graph import OnnxGraph
from camview.models.onnx_idioms import identity_gather_source, make_plain
from camview.models.onnx_vit import attention_softmaxes

FOLDER = REPO / "tests" / "data" / "onnx_exports"
EXPORTERS = ("legacy", "dynamo")
#: (network, its head kind, the channels of its read tensor) for the CNNs
CNNS = {"resnet_timm": (HeadKind.FC, 16), "mobilenetv3_torchvision": (HeadKind.GRADIENT_ONLY, 96),
        "convnext_torchvision": (HeadKind.NORM_FC, 16),
        "efficientnet_torchvision": (HeadKind.FC, 32)}
#: (network, its front tokens, its pooling) for the ViTs: 4x4 patches of 8x8 px, 2 blocks
VITS = {"vit_torchvision": (1, "class token"), "vit_timm": (1, "class token"),
        "vit_timm_reg_avg": (3, "average")}
#: Files camview refuses (a ViT taking any size): not in FILES
ANY_SIZE = ("vit_timm_any_size_legacy", "vit_timm_any_size_dynamo")
FILES = sorted(p.stem for p in FOLDER.glob("*.onnx") if p.stem not in ANY_SIZE)
#: Options that keep the slow methods quick on these tiny networks.
QUICK = {"scorecam": {"max_channels": 0}, "occlusion": {"patch": 8, "stride": 8},
         "rise": {"masks": 32}}


def network(file: str) -> str:
    return max((name for name in [*CNNS, *VITS] if file.startswith(name + "_")), key=len)


@pytest.fixture(scope="module")
def expected():
    with np.load(FOLDER / "expected.npz") as found:
        return dict(found)


@pytest.fixture(scope="module")
def models():
    """Each file loaded once, as `camview --model FILE` loads it."""
    return {file: load_model(str(FOLDER / f"{file}.onnx"), labels=None) for file in FILES}


@pytest.fixture(scope="module")
def photo():
    return cv2.imread(str(DEMO / "chelsea.jpg"))


def test_every_network_and_exporter_is_there():
    """The fixtures cover each network through both exporters (a guard against a script
    run that silently wrote fewer files)."""
    for name in [*CNNS, *VITS]:
        exporters = EXPORTERS if name != "vit_timm_reg_avg" else ("dynamo",)
        for exporter in exporters:
            path = FOLDER / f"{name}_{exporter}.onnx"
            assert path.is_file() and path.stat().st_size < 300_000, path


@pytest.mark.parametrize("file", FILES)
def test_layout_read_tensor_and_head_are_found(models, file):
    model = models[file]
    assert model.layout == "NCHW" and model.channels == 3
    name = network(file)
    if name in CNNS:
        kind, channels = CNNS[name]
        assert model.transformer is None and not model.fixed_input  # dynamic height, width
        assert model.head is kind, (file, model.head)
        shape = model.graph.shape(model.read_layer)
        assert shape[1] == channels and model.graph.channel_axis(model.read_layer) == 1
        node = model.graph.producers[model.read_layer]  # the block's last activation or sum
        assert node.op_type in ("Relu", "HardSwish", "Add", "Mul", "Sigmoid"), node.op_type
    else:
        prefix, pooling = VITS[name]
        found = model.transformer
        assert model.fixed_input and model.input_size == (32, 32)
        assert (found.grid.tokens, found.grid.grid, found.grid.prefix, found.grid.patch) == (
            16 + prefix, (4, 4), prefix, (8, 8))
        assert len(found.blocks) == 2 and len(found.attention) == 2
        assert found.pooling == pooling and found.dim == 16
        assert model.read_layer == found.blocks[-1] + ":grid"
        assert model.head is HeadKind.GRADIENT_ONLY


def plain_openvino(path, x_nchw: np.ndarray) -> np.ndarray:
    """The file compiled by OpenVINO as it stands, run on NCHW inputs one at a time, in
    float32 (OpenVINO's default on a CPU with bfloat16 units computes in bfloat16: 1e-2 off)."""
    import openvino

    compiled = openvino.Core().compile_model(str(path), "CPU",
                                             {"INFERENCE_PRECISION_HINT": "f32"})
    return np.concatenate([np.array(compiled(x[None])[0]) for x in x_nchw])


@pytest.mark.parametrize("file", FILES)
def test_scores_equal_torchs_and_openvinos_plain_run(models, expected, file):
    model = models[file]
    x = expected["cnn" if network(file) in CNNS else "vit"].astype(np.float32)
    nhwc = x.transpose(0, 2, 3, 1)
    if file.endswith("_batch1"):  # one image a call
        logits = np.concatenate([model.forward(nhwc[i:i + 1])[1] for i in range(len(x))])
    else:
        features, logits = model.forward(nhwc)
        assert len(features) == 2 and np.isfinite(features).all()
    np.testing.assert_allclose(logits, expected[file], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, plain_openvino(FOLDER / f"{file}.onnx", x),
                               rtol=1e-5, atol=1e-5)
    assert np.ptp(logits[0]) > 1e-3  # the scores differ by class: the maps can too


@pytest.mark.parametrize("file", [f for f in FILES if network(f) in CNNS])
def test_a_closed_form_head_read_from_the_file_gives_its_scores(models, expected, file):
    """fc: scores = mean(features) @ W + b; norm-fc: LayerNorm(mean(features)) * gamma +
    beta, then @ W + b. The bias cancels between the two inputs' scores."""
    model = models[file]
    if model.head is HeadKind.GRADIENT_ONLY:
        return
    x = expected["cnn"].astype(np.float32).transpose(0, 2, 3, 1)
    features, logits = model.forward(x)
    pooled = features.mean(axis=(1, 2))
    if model.head is HeadKind.NORM_FC:
        head = model.norm_head
        mean, var = pooled.mean(1, keepdims=True), pooled.var(1, keepdims=True)
        pooled = (pooled - mean) / np.sqrt(var + head.epsilon) * head.gamma + head.beta
        weights = head.weights
    else:
        weights = model.dense.numpy()
    ours = pooled @ weights
    np.testing.assert_allclose(ours[0] - ours[1], logits[0] - logits[1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("file", [f for f in FILES if not f.endswith("_batch1")])
def test_every_served_method_maps_a_photo(models, photo, file):
    model = models[file]
    small = cv2.resize(photo, (80, 64), interpolation=cv2.INTER_AREA)
    batch = model.prepare(small) if model.fixed_input else np.ascontiguousarray(
        model.preprocess(small)[None], np.float32)
    served = served_methods(model)
    assert "reciprocam" in served and "eigencam" in served
    assert ("rollout" in served) == (network(file) in VITS)
    assert ("cam" in served) == (model.head is HeadKind.FC)
    for name in served:
        result = make_method(name, model, **QUICK.get(name, {})).explain(batch)
        cam = result.cam
        assert cam.ndim == 2 and np.isfinite(cam).all(), (file, name)
        assert np.ptp(cam) > 0, (file, name)  # not one value all over


@pytest.mark.parametrize("file", [f for f in FILES if network(f) in VITS])
def test_a_vits_attention_comes_out_of_its_graph(models, expected, file):
    model = models[file]
    x = expected["vit"].astype(np.float32).transpose(0, 2, 3, 1)[:1]
    scores, attention = model.attention_probabilities(x)
    tokens = model.transformer.grid.tokens
    assert [a.shape for a in attention] == [(1, 2, tokens, tokens)] * 2
    np.testing.assert_allclose(np.sum(attention[0], axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(scores, expected[file][:1], rtol=1e-4, atol=1e-4)


def test_a_batch_baked_into_the_graph_is_found_and_taken_one_image_at_a_time(models, photo):
    """The dynamo exporter, given an example batch of 1, keeps the input's batch dynamic
    but bakes 1 into a ViT's graph: camview checks a batch of two, finds it wrong, and runs
    the file (and the parts of it the methods cut out) one image a call, so every method
    it serves still maps, those that batch their copies too."""
    model = models["vit_torchvision_dynamo_batch1"]
    assert model.one_at_a_time and not models["vit_torchvision_dynamo"].one_at_a_time
    batch = model.prepare(photo)
    for name in ("rollout", "reciprocam", "eigencam", "rise", "scorecam"):
        cam = make_method(name, model, **QUICK.get(name, {})).explain(batch).cam
        assert np.isfinite(cam).all() and np.ptp(cam) > 0, name


def test_the_dynamo_exporters_long_hand_identity_is_made_plain():
    """torchvision's ConvNeXt through the dynamo exporter: its pooled map goes through
    Reshape(-1) and a Gather of indices computed from the batch size; that Gather, its
    indices checked to be 0, 1, 2, ..., becomes an Identity (and the TorchScript export,
    without it, is left alone). Indices that reorder the channels are not rewritten."""
    dynamo = OnnxGraph.read(FOLDER / "convnext_torchvision_dynamo.onnx")
    gathers = [n for n in dynamo.model.graph.node if identity_gather_source(dynamo, n)]
    assert len(gathers) == 1
    reordered = OnnxGraph.read(FOLDER / "convnext_torchvision_dynamo.onnx")
    _reverse_a_channel_index(reordered, gathers[0])
    assert make_plain(reordered) == 0 and not reordered.modified
    assert make_plain(dynamo) == 1 and dynamo.modified
    assert dynamo.producers[gathers[0].output[0]].op_type == "Identity"
    legacy = OnnxGraph.read(FOLDER / "convnext_torchvision_legacy.onnx")
    assert make_plain(legacy) == 0 and not legacy.modified


def _reverse_a_channel_index(graph: OnnxGraph, gather) -> None:
    """Reverse the constant of 16 channel offsets the Gather's indices are made from."""
    from onnx import numpy_helper

    todo, seen = [gather.input[1]], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        value = graph.constant(name)
        if value is not None and value.size == 16:
            reversed_ = value.reshape(-1)[::-1].reshape(value.shape).copy()
            graph.initializers[name].CopyFrom(numpy_helper.from_array(reversed_, name))
            return
        node = graph.producers.get(name)
        if node is not None:
            todo.extend(node.input)
    raise AssertionError("no channel offsets in the index computation")


def test_the_torchscript_exporters_shared_weights_are_read_through_its_identities(models):
    """The TorchScript exporter keeps one copy of equal weights and names the others by
    Identity nodes: the ConvNeXt head's LayerNorm gamma is one, read as the weight it is."""
    model = models["convnext_torchvision_legacy"]
    graph = model.graph
    norm = next(n for n in graph.model.graph.node if n.op_type == "LayerNormalization"
                and graph.rank(n.input[0]) == 4 and graph.shape(n.input[0])[1:3] == (1, 1))
    assert graph.producers[norm.input[1]].op_type == "Identity"
    np.testing.assert_array_equal(model.norm_head.gamma, graph.constant(norm.input[1]))


def test_a_layer_norm_as_elementary_ops_is_a_norm_fc_head(models, expected):
    """torch.onnx.export below opset 17 writes LayerNorm as ReduceMean, Sub, Pow (by a scalar
    Constant node), ReduceMean, Add, Sqrt, Div, Mul, Add: the same head as opset 17's."""
    old, new = models["convnext_torchvision_legacy_opset14"], models["convnext_torchvision_legacy"]
    ops = {n.op_type for n in old.graph.model.graph.node}
    assert "LayerNormalization" not in ops and {"Pow", "Sqrt", "ReduceMean"} <= ops
    assert old.head is HeadKind.NORM_FC
    np.testing.assert_allclose(old.norm_head.gamma, new.norm_head.gamma)
    np.testing.assert_allclose(old.norm_head.epsilon, new.norm_head.epsilon, rtol=1e-6)
    x = expected["cnn"].astype(np.float32).transpose(0, 2, 3, 1)[:1]
    for name in ("gradcam", "hirescam"):
        ours, theirs = (make_method(name, m).explain(x).cam for m in (old, new))
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("file", ANY_SIZE)
def test_a_vit_taking_any_size_is_refused_in_one_line_saying_how_to_export_it(file):
    """timm's dynamic_img_size ViT exported with a dynamic height and width: its token count
    is unknown (dynamo) or only the traced size's (TorchScript), so no grid can be read."""
    with pytest.raises(ModelError) as refused:
        load_model(str(FOLDER / f"{file}.onnx"), labels=None)
    line = str(refused.value)
    assert "\n" not in line and "takes any input size" in line
    assert "dynamic_shapes=({0: 'batch'},)" in line


def test_attention_is_a_square_softmax_that_weighs_values_by_a_matmul():
    """A square softmax read by something other than a MatMul (MobileViT-v2's separable
    attention over 4 pixels of 4 patches is square at a 64x64 input) is not a ViT block."""
    graph = OnnxGraph.read(FOLDER / "vit_timm_legacy.onnx")
    first, second = attention_softmaxes(graph)
    matmul = next(n for n in graph.consumers[first] if n.op_type == "MatMul")
    matmul.op_type = "Mul"
    graph.__dict__.pop("consumers")
    assert attention_softmaxes(graph) == [second]


def test_randomising_a_weight_named_through_an_identity_keeps_the_weights_name():
    """The sanity check randomises a layer's weights in place; one the layer reads through
    the TorchScript exporter's Identity alias is the shared initializer itself, which must
    keep its own name (renamed to the alias, the graph would lose its input)."""
    from camview.models.onnx_graph import GraphLayer

    graph = OnnxGraph.read(FOLDER / "convnext_torchvision_legacy.onnx")
    alias = next(n for n in graph.model.graph.node if n.op_type == "Identity")
    source, name = alias.input[0], alias.output[0]
    before = graph.constant(source).copy()
    graph.randomise(GraphLayer("head norm", 0, (name,)), np.random.default_rng(0))
    names = {t.name for t in graph.model.graph.initializer}
    assert source in names and name not in names
    assert not np.array_equal(graph.constant(source), before)


def test_inspect_layers_counts_each_learnt_weight_once(models, capsys):
    """camview inspect --layers on a TorchScript export: its Identity aliases of shared
    weights are no layers and add nothing, nor do torch's int64 shapes and axes; the total
    is the file's float initializers, each once."""
    from camview.cli import main

    graph = models["convnext_torchvision_legacy"].graph
    floats = sum(int(np.prod(t.dims)) for t in graph.model.graph.initializer
                 if t.data_type == 1)
    assert main(["inspect", str(FOLDER / "convnext_torchvision_legacy.onnx"), "--layers"]) == 0
    out = capsys.readouterr().out
    assert f"total params: {floats:,} " in out and " Identity " not in out
    assert floats < 5106  # torch's count: the exporter shares equal weights
