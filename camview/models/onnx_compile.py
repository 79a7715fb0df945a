"""Compiling an ONNX file's graph for OpenVINO: NHWC in, the read tensor (NHWC) and the class
scores out, float32, the batch made dynamic where the graph allows (checked on a probe batch),
else one image a call; OpenVINO's errors said in one line. camview.models.onnx_model builds
its CamModel on what this compiles.
"""

from __future__ import annotations

import numpy as np

from camview.errors import ModelError
from camview.models.onnx_graph import OnnxGraph
from camview.models.onnx_head import TWO_CLASS, Head
from camview.models.runtimes import (
    COMPILE_CONFIG,
    OPENVINO,
    Forward,
    OpenVinoForward,
    Started,
    openvino_device,
)


class FixedBatchForward(Forward):
    """OpenVINO's forward of a graph whose batch stays 1: a batch runs one input at a time.
    On OpenVINO that costs what one batched call does (batching does not pay there:
    runtimes.OpenVinoForward), so the methods that batch their copies (Score-CAM, RISE,
    occlusion) serve such a file too."""

    name = OPENVINO
    batching_pays = False

    def __init__(self, inner: OpenVinoForward) -> None:
        self._inner, self.device = inner, inner.device

    def __call__(self, x: np.ndarray, borrow: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if len(x) == 1:
            return self._inner(x, borrow)
        return self._inner.start(x)()

    def start(self, x: np.ndarray) -> Started:
        """Each input a call of its own, all at once on the streams: the inner model's."""
        return self._inner.start(x)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def openvino_forward(graph: OnnxGraph, head: Head, title: str) -> Forward:
    """The file compiled by OpenVINO for this CPU: NHWC in, [read tensor NHWC, scores] out,
    float32 throughout (runtimes.COMPILE_CONFIG); ModelError when OpenVINO cannot read or
    compile it (an op it does not know)."""
    import openvino

    layout = graph.input_layout()[0]
    try:
        core = openvino.Core()
        model = read_graph(core, graph)
    except Exception as exc:
        raise ModelError(f"model file {graph.path}: OpenVINO cannot run it: "
                         f"{first_line(exc)}") from None
    try:
        scores = output_port(model, graph.scores_tensor)
        outputs = [output_port(model, head.read_tensor), two_class(scores) if graph.binary
                   else scores]
        fixed = openvino.Model(outputs, model.get_parameters(), model.get_friendly_name())
        made_dynamic = not fixed.get_parameters()[0].get_partial_shape()[0].is_dynamic
        if made_dynamic:  # a batch fixed to 1: made dynamic where the graph allows
            dynamic = fixed.clone()
            forward = _batches_right(core, dynamic, layout, head, graph) if make_batch_dynamic(
                dynamic) else None
        elif batch_baked_in(graph):  # a dynamic input whose scores say batch 1: checked
            forward = _batches_right(core, fixed.clone(), layout, head, graph)
        else:
            forward = _compile(core, fixed, layout, head)
        if forward is None:  # the graph bakes its batch in (a Reshape to (1, -1)...)
            forward = FixedBatchForward(_compile(core, fixed, layout, head))
    except ModelError:
        raise
    except Exception as exc:  # OpenVINO's errors are many and long: one line of it
        raise ModelError(f"model file {graph.path}: OpenVINO cannot compile it: "
                         f"{first_line(exc)}") from None
    return forward


def _compile(core, model, layout: str, head: Head) -> OpenVinoForward:
    """NHWC in, the read tensor NHWC out, compiled in float32 for this CPU."""
    import openvino
    from openvino.preprocess import PrePostProcessor

    ppp = PrePostProcessor(model)
    if layout == "NCHW":
        ppp.input().tensor().set_layout(openvino.Layout("NHWC"))
        ppp.input().model().set_layout(openvino.Layout("NCHW"))
    if head.channel_axis == 1:
        ppp.output(0).tensor().set_layout(openvino.Layout("NHWC"))
        ppp.output(0).model().set_layout(openvino.Layout("NCHW"))
    built = ppp.build()
    compiled = core.compile_model(built, "CPU", COMPILE_CONFIG)
    return OpenVinoForward(compiled, openvino_device(), (core, built))


#: The side of the probe input a graph made batch-dynamic is checked on (when its size is).
PROBE_SIDE = 64


def _batches_right(core, model, layout: str, head: Head, graph: OnnxGraph
                   ) -> OpenVinoForward | None:
    """The graph made batch-dynamic, compiled, if two different inputs in one batch give
    each its own scores, as one at a time does; None when they do not (or it fails)."""
    forward = _compile(core, model, layout, head)
    _layout, channels, (_, h, w) = graph.input_layout()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, h or PROBE_SIDE, w or PROBE_SIDE, channels)).astype(np.float32)
    try:
        together = forward(x)[1]
        alone = np.concatenate([forward(x[:1])[1], forward(x[1:])[1]])
    except Exception:
        return None
    if together.shape != alone.shape or not np.allclose(together, alone, rtol=1e-3,
                                                        atol=1e-4):
        return None
    return forward


def batch_baked_in(graph: OnnxGraph) -> bool:
    """Whether the graph's scores have a fixed batch though its input's batch is dynamic:
    torch.onnx.export's dynamo exporter writes that when the example input had a batch of
    1 (torch.export specialises a size-1 dimension, e.g. in torchvision's ViT, which expands
    its class token to the batch), so a batch of 2 fails or mixes the images."""
    shape = graph.shape(graph.output.name)
    return bool(shape) and shape[0] is not None


def read_graph(core, graph: OnnxGraph):
    """OpenVINO's reading of the file, or of a changed copy's graph (written to a temporary
    file: OpenVINO's ONNX reader takes a path)."""
    if not graph.modified:
        return core.read_model(str(graph.path))
    import tempfile

    import onnx

    proto = graph.model
    if graph.extra_outputs:  # kept by OpenVINO only as outputs (OnnxGraph.extra_outputs)
        proto = onnx.ModelProto()
        proto.CopyFrom(graph.model)
        proto.graph.output.extend(onnx.helper.make_tensor_value_info(
            name, onnx.TensorProto.FLOAT, None) for name in graph.extra_outputs)
    with tempfile.TemporaryDirectory(prefix="camview-onnx-") as folder:
        path = f"{folder}/model.onnx"
        onnx.save(proto, path)
        model = core.read_model(path)
        model.get_ordered_ops()  # read whole before the file goes
        return model


def two_class(scores):
    """OpenVINO's one binary logit z (n, 1) as two class scores [-z/2, +z/2] (n, 2), as a
    Keras model's (camview.models.head): one multiply, broadcast."""
    import openvino.opset13 as ops

    return ops.multiply(scores, ops.constant(TWO_CLASS)).output(0)


def output_port(model, tensor: str):
    """The output port of `model` that makes the ONNX tensor named `tensor`."""
    for op in model.get_ordered_ops():
        for port in op.outputs():
            if tensor in port.get_names():
                return port
    raise ModelError(f"OpenVINO's reading of the file has no tensor {tensor!r}")


def make_batch_dynamic(model) -> bool:
    """Make the input's batch dynamic (the file fixes it to 1); whether OpenVINO could."""
    import openvino

    shape = model.get_parameters()[0].get_partial_shape()
    try:
        model.reshape({0: openvino.PartialShape([openvino.Dimension(), *list(shape)[1:]])})
    except Exception:  # a graph that bakes its batch into a Reshape: stays 1
        return False
    return True
