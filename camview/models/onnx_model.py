"""A CamModel over an ONNX file, run by OpenVINO, which reads ONNX directly.

OpenVINO runs the file's graph with the read tensor added as an output beside the class
scores (before a final softmax), the input taken NHWC and the read tensor given NHWC
whatever the file's layout, so everything downstream sees what a Keras model gives:
(n, h, w, channels) in, ((n, h', w', k), (n, classes)) out. The batch is made dynamic when
the file fixes it to 1 (the perturbation methods, evaluate and the set views batch).

There is no backward pass: a model of this class serves the methods that need forward
passes only (Method.forward_only): CAM and the gradient family through the head's closed
form (camview.maps.closed_form), Eigen-CAM and the perturbation methods. The ONNX graph
itself is read by camview.models.onnx_graph and compiled by camview.models.onnx_compile (a
vision transformer's tokens by camview.models.onnx_vit: it also serves rollout, from its
attention Softmax outputs made extra outputs, and ViT-Recipro-CAM, from its last block and
head cut out of the graph);
why not convert it to TensorFlow: the one maintained converter (onnx2tf) takes minutes,
exposes no inner layer and fails on common networks (issue #29), and a converter of our own
is not a road to take.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import numpy as np

from camview.errors import ModelError
from camview.models.base import CamModel, Preprocess, ResizeMode
from camview.models.graph import LayerInfo
from camview.models.head import ConstantWeights, HeadKind, NormHead
from camview.models.onnx_compile import (
    FixedBatchForward,
    first_line,
    make_batch_dynamic,
    openvino_forward,
    output_port,
    read_graph,
)
from camview.models.onnx_graph import OnnxGraph
from camview.models.onnx_head import TWO_CLASS, find_head
from camview.models.onnx_vit import GRID_SUFFIX, find_vit, norm_input, vit_head
from camview.models.runtimes import (
    COMPILE_CONFIG,
    OPENVINO,
    TENSORFLOW,
    Forward,
    Say,
    check_runtime,
)

log = logging.getLogger(__name__)

#: What --runtime tensorflow gets for an ONNX model.
RUNS_ON_OPENVINO = "ONNX models run on OpenVINO, not TensorFlow (--runtime tensorflow ignored)"
class OnnxCamModel(CamModel):
    """A CamModel over an OnnxGraph (camview.models.onnx_load), forward passes on OpenVINO,
    no backward (module docstring)."""

    can_backward = False
    keras_model = None

    def __init__(
        self,
        name: str,
        graph: OnnxGraph,
        *,
        labels: Sequence[str],
        input_size: tuple[int, int],
        resize: ResizeMode,
        preprocess: Preprocess,
        read_layer: str | None = None,
        fixed_input: bool = False,
        source: str = "",
        labels_source: str = "",
        quiet: bool = False,
    ) -> None:
        """As CamModel, over an OnnxGraph; `quiet`: no line saying what was read (a copy)."""
        self._init_common(name, labels, input_size, resize, preprocess, fixed_input, source,
                          labels_source)
        self.graph = graph
        self.layout, self.channels, _ = graph.input_layout()
        self.transformer = find_vit(graph, name)
        head = (find_head(graph, read_layer) if self.transformer is None
                else vit_head(graph, self.transformer, read_layer))
        self.read_layer = head.read_tensor
        self.default_layer = head.default_tensor
        self.head = head.kind
        self.binary = graph.binary  # one logit, shown as two classes
        self.dense = ConstantWeights(head.weights) if head.kind is HeadKind.FC else None
        self.norm_head = (NormHead(head.weights, *head.norm)
                          if head.kind is HeadKind.NORM_FC else None)
        self._check_outputs(graph.class_count())
        self.onnx_forward = openvino_forward(graph, head, name)
        self._forward = self.onnx_forward
        self.runtime_requested = OPENVINO
        size = ("any size" if not fixed_input
                else f"{input_size[1]}x{input_size[0]} only")
        say = log.debug if quiet else log.info
        say("%s: ONNX %s input, %d channel%s, %s; maps from %r, head %s; preprocess %s",
            name, self.layout, self.channels, "s" if self.channels > 1 else "", size,
            self.read_layer, self.head.value, self.preprocess_name)

    def copy(self, graph: OnnxGraph | None = None) -> OnnxCamModel:
        """This model over `graph` (default: a copy of its own), compiled anew: the sanity
        check changes a copy's weights, which OpenVINO bakes into what it compiles."""
        return OnnxCamModel(f"{self.name} (copy)" if graph is None else self.name,
                            graph or self.graph.copy(), labels=self.labels,
                            input_size=self.input_size, resize=self.resize,
                            preprocess=self.preprocess, read_layer=self.read_layer,
                            fixed_input=self.fixed_input, source=self.source,
                            labels_source=self.labels_source, quiet=True)

    @staticmethod
    def classes_of(network: OnnxGraph) -> int:
        return network.class_count()

    # -- what only a Keras graph has: refused in one line --------------------------------
    def _no_backward(self, what: str) -> ModelError:
        return ModelError(f"{self.name} is an ONNX model run by OpenVINO, which has no "
                          f"backward pass: {what} needs TensorFlow's")

    @property
    def feature_model(self):
        raise self._no_backward("this")

    @property
    def tensorflow_forward(self):
        raise self._no_backward("TensorFlow's forward pass")

    def features_at(self, layer: str):
        raise self._no_backward(f"reading layer {layer!r} after loading (load it with "
                                f"--layer {layer})")

    def head_scores(self, features: np.ndarray) -> np.ndarray:
        """The scores (n, classes) the head gives for read-layer activations (n, h, w, k):
        the graph from the read tensor to the scores, cut out with onnx.utils.Extractor and
        compiled by OpenVINO once (NHWC in, as forward gives them)."""
        run = self.compiled.get(("head scores", self.read_layer))
        if run is None:
            run = self.compiled[("head scores", self.read_layer)] = self._head_model()
        return self._rows(run, features)[0]

    @property
    def one_at_a_time(self) -> bool:
        """Whether the graph takes one image a call (its batch baked in: FixedBatchForward);
        then the parts cut out of it are run one row at a time too."""
        return isinstance(self.onnx_forward, FixedBatchForward)

    def _rows(self, run, x: np.ndarray) -> list[np.ndarray]:
        """The outputs of the compiled `run` on inputs x (n, ...): in one call, or row by
        row, concatenated, for a graph that takes one image a call."""
        x = np.ascontiguousarray(x, np.float32)
        request = run.create_infer_request()
        if not self.one_at_a_time or len(x) == 1:
            out = request.infer({0: x})
            return [np.array(out[i]) for i in range(len(out))]
        rows = [self._rows(run, x[i:i + 1]) for i in range(len(x))]
        return [np.concatenate(parts) for parts in zip(*rows, strict=True)]

    def _head_model(self):
        import tempfile

        import onnx
        import openvino
        from onnx import TensorProto, helper, numpy_helper
        from openvino.preprocess import PrePostProcessor

        graph, read = self.graph, self.read_layer
        try:
            source = onnx.ModelProto()
            source.CopyFrom(graph.model)
            with contextlib.suppress(Exception):  # the Extractor finds tensors by value_info
                source = onnx.shape_inference.infer_shapes(source)
            known = {v.name for v in [*source.graph.value_info, *source.graph.input,
                                      *source.graph.output]}
            for name in (read, graph.scores_tensor):
                if name not in known:
                    source.graph.value_info.append(helper.make_tensor_value_info(
                        name, TensorProto.FLOAT, None))
            head = onnx.utils.Extractor(source).extract_model([read], [graph.scores_tensor])
        except Exception as exc:
            raise ModelError(f"{self.name}: its head cannot be run on its own from "
                             f"{read!r}: {first_line(exc)}") from None
        if any(i.name != read for i in head.graph.input
               if i.name not in {t.name for t in head.graph.initializer}):
            raise ModelError(f"{self.name}: its head reads more than {read!r}, so it cannot "
                             "be run on that tensor alone")
        axis = graph.channel_axis(read)
        k = (graph.shape(read) or (None,) * 4)[axis]
        dims = ["n", k, "h", "w"] if axis == 1 else ["n", "h", "w", k]
        head.graph.input[0].CopyFrom(helper.make_tensor_value_info(read, TensorProto.FLOAT,
                                                                   dims))
        if graph.binary:  # the logit as two classes, as the whole graph's forward gives it
            head.graph.initializer.append(numpy_helper.from_array(TWO_CLASS, "two_class"))
            head.graph.node.append(helper.make_node(
                "Mul", [graph.scores_tensor, "two_class"], ["two_class_scores"]))
            head.graph.output[0].CopyFrom(helper.make_tensor_value_info(
                "two_class_scores", TensorProto.FLOAT, ["n", 2]))
        core = openvino.Core()
        with tempfile.TemporaryDirectory(prefix="camview-onnx-head-") as folder:
            onnx.save(head, f"{folder}/head.onnx")
            model = core.read_model(f"{folder}/head.onnx")
            model.get_ordered_ops()
        if axis == 1:
            ppp = PrePostProcessor(model)
            ppp.input().tensor().set_layout(openvino.Layout("NHWC"))
            ppp.input().model().set_layout(openvino.Layout("NCHW"))
            model = ppp.build()
        return core.compile_model(model, "CPU", COMPILE_CONFIG)

    def attention_probabilities(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """A vision transformer's scores (n, classes) and every block's attention
        probabilities (n, heads, t, t) for inputs (n, h, w, c): the graph run by OpenVINO
        with its attention Softmax outputs as extra outputs (compiled once)."""
        if self.transformer is None:
            raise ModelError(f"{self.name} has no attention: attention maps are for vision "
                             "transformers")
        out = self._run_with_outputs(x, self.transformer.attention)
        return out[0], out[1:]

    @property
    def block_input(self) -> str:
        """A vision transformer's tokens entering its last block (batch, t, dim): the input
        of the LayerNormalization the read tensor is folded from (the residual stream)."""
        return norm_input(self.graph, self.transformer.blocks[-1])

    def token_pass(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A vision transformer's scores (n, classes) and the tokens entering its last block
        (n, t, dim) for inputs (n, h, w, c): what ViT-Recipro-CAM masks."""
        scores, tokens = self._run_with_outputs(x, (self.block_input,))
        return scores, tokens

    def _run_with_outputs(self, x: np.ndarray, names: Sequence[str]) -> list[np.ndarray]:
        """[scores, *the tensors `names`] of the graph run by OpenVINO on inputs (n, h, w, c),
        the graph with those as its outputs compiled once."""
        key = ("outputs", tuple(names))
        run = self.compiled.get(key)
        if run is None:
            run = self.compiled[key] = self._outputs_model(names)
        return self._rows(run, x)

    def _outputs_model(self, names: Sequence[str]):
        import openvino
        from openvino.preprocess import PrePostProcessor

        core = openvino.Core()
        model = read_graph(core, self.graph)
        outputs = [output_port(model, name) for name in (self.graph.scores_tensor, *names)]
        model = openvino.Model(outputs, model.get_parameters(), model.get_friendly_name())
        shape = model.get_parameters()[0].get_partial_shape()
        if not shape[0].is_dynamic:
            make_batch_dynamic(model)
        if self.layout == "NCHW":
            ppp = PrePostProcessor(model)
            ppp.input().tensor().set_layout(openvino.Layout("NHWC"))
            ppp.input().model().set_layout(openvino.Layout("NCHW"))
            model = ppp.build()
        return core.compile_model(model, "CPU", COMPILE_CONFIG)

    def token_head_scores(self, tokens: np.ndarray) -> np.ndarray:
        """The scores (n, classes) a vision transformer gives for tokens (n, t, dim) entering
        its last block: the graph from there (the last block, the final norm, the head) cut
        out with onnx.utils.Extractor and compiled by OpenVINO once."""
        key = ("token head", self.block_input)
        run = self.compiled.get(key)
        if run is None:
            run = self.compiled[key] = self._token_head_model()
        return self._rows(run, tokens)[0]

    def _token_head_model(self):
        import tempfile

        import onnx
        import openvino
        from onnx import TensorProto, helper

        start, found = self.block_input, self.transformer
        try:
            source = onnx.ModelProto()
            source.CopyFrom(self.graph.model)
            with contextlib.suppress(Exception):  # the Extractor finds tensors by value_info
                source = onnx.shape_inference.infer_shapes(source)
            known = {v.name for v in [*source.graph.value_info, *source.graph.input,
                                      *source.graph.output]}
            for name in (start, self.graph.scores_tensor):
                if name not in known:
                    source.graph.value_info.append(helper.make_tensor_value_info(
                        name, TensorProto.FLOAT, None))
            head = onnx.utils.Extractor(source).extract_model([start],
                                                              [self.graph.scores_tensor])
        except Exception as exc:
            raise ModelError(f"{self.name}: its last block and head cannot be run on their "
                             f"own from {start!r}: {first_line(exc)}") from None
        weights = {t.name for t in head.graph.initializer}
        if any(i.name != start for i in head.graph.input if i.name not in weights):
            raise ModelError(f"{self.name}: its last block and head read more than {start!r}, "
                             "so they cannot be run on the masked tokens alone")
        head.graph.input[0].CopyFrom(helper.make_tensor_value_info(
            start, TensorProto.FLOAT, ["n", found.grid.tokens, found.dim]))
        core = openvino.Core()
        with tempfile.TemporaryDirectory(prefix="camview-onnx-head-") as folder:
            onnx.save(head, f"{folder}/head.onnx")
            model = core.read_model(f"{folder}/head.onnx")
            model.get_ordered_ops()
        return core.compile_model(model, "CPU", COMPILE_CONFIG)

    def forward_at(self, layer: str) -> Forward:
        """OpenVINO's forward pass with `layer`'s tensor as the activations (NHWC): the
        window's layer outputs, without reloading the model."""
        head = (find_head(self.graph, layer) if self.transformer is None
                else vit_head(self.graph, self.transformer, layer))
        return openvino_forward(self.graph, head, self.name)

    def spatial_layers(self) -> list[LayerInfo]:
        """The graph's rank-4 tensors (what --layer takes), (h, w, c) as inferred from the
        file (None for a dynamic size); for a vision transformer, each block's normalised
        input tokens folded into the grid (camview.models.onnx_vit)."""
        if self.transformer is not None:
            found = self.transformer
            return [LayerInfo(block + GRID_SUFFIX, (*found.grid.grid, found.dim))
                    for block in found.blocks]
        out = []
        for name in self.graph.spatial_tensors():
            shape = self.graph.shape(name)
            axis = self.graph.channel_axis(name)
            h, w = [d for i, d in enumerate(shape[1:], 1) if i != axis]
            out.append(LayerInfo(name, (h, w, shape[axis])))
        return out

    def tensor_shapes(self, hw: tuple[int, int]) -> dict[str, tuple]:
        """Every tensor's shape without the batch for an input of size hw, as OpenVINO works
        it out (rank-4 tensors as (h, w, c)): `camview inspect --layers`."""
        import openvino

        model = read_graph(openvino.Core(), self.graph)
        h, w = hw
        dims = [1, self.channels, h, w] if self.layout == "NCHW" else [1, h, w, self.channels]
        model.reshape({0: openvino.PartialShape(dims)})
        found: dict[str, tuple] = {}
        for op in model.get_ordered_ops():
            for port in op.outputs():
                shape = port.get_partial_shape()
                if shape.rank.is_dynamic or shape.is_dynamic:
                    continue
                raw = tuple(int(d.get_length()) for d in shape)
                for name in port.get_names():
                    axis = self.graph.channel_axis(name) if len(raw) == 4 else 0
                    found[name] = ((*[d for i, d in enumerate(raw[1:], 1) if i != axis],
                                    raw[axis]) if len(raw) == 4 else raw[1:])
        return found

    # -- runtime: always OpenVINO --------------------------------------------------------
    def runtime_for(self, requested: str, say: Say | None = None) -> Forward:
        check_runtime(requested)
        return self.onnx_forward

    def use_runtime(self, requested: str, say: Say | None = None) -> Forward:
        """Always OpenVINO; asked for TensorFlow, the model says so in its runtime note (the
        command line says it once for --runtime tensorflow: commands.precheck)."""
        if check_runtime(requested) == TENSORFLOW and self.runtime_note is None:
            self.runtime_note = f"{self.name}: {RUNS_ON_OPENVINO}"
        return self.onnx_forward

    def runtime_ready(self, requested: str) -> bool:
        return True
