"""The tests' own Keras models written as ONNX files with the same weights, as a PyTorch
export lays them out (NCHW) or as a Keras export does (NHWC input, a Transpose to NCHW):
the ONNX tests compare camview's maps of the file with the Keras model's.

Written with the `onnx` package's helpers, layer by layer, for the layer types the test
models and EfficientNet-Lite0 use. Keras' own exporter (``model.export(format="onnx")``)
needs tf2onnx, which is not a dependency of camview; and a writer here also makes the NCHW
layout a PyTorch export has. A fixture of the tests, not a converter of the product.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPSET = 17


def keras_to_onnx(model, path: str | Path, *, layout: str = "NCHW", dynamic: bool = True,
                  batch: int | str | None = "batch", pooling: str = "gap",
                  metadata: dict[str, str] | None = None, size: tuple[int, int] = (20, 24),
                  opset: int = OPSET, layer_norm: str = "op") -> Path:
    """Write `model` (a functional Keras classifier) as ONNX at `path`.

    layout: "NCHW" or "NHWC" input. dynamic: height and width left open (else `size`).
    batch: the batch dimension's name (dynamic), or a fixed number. pooling: "gap"
    (GlobalAveragePool + Flatten), "reducemean" (ReduceMean over h, w) or "nhwc" (a
    Transpose to NHWC, then ReduceMean over axes 1, 2). layer_norm: "op" (LayerNormalization)
    or "decomposed" (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add: what
    torch.onnx.export writes below opset 17).
    """
    import keras
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    names: dict[int, str] = {}  # id(keras tensor) -> onnx tensor name

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    h, w = (None, None) if dynamic else size
    dims = {"NCHW": [batch, 3, h, w], "NHWC": [batch, h, w, 3]}[layout]
    dims = [d if d is not None else f"d{i}" for i, d in enumerate(dims)]
    channels = int(model.inputs[0].shape[-1])
    dims[1 if layout == "NCHW" else 3] = channels
    graph_input = helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)
    start = "input"
    if layout == "NHWC":
        start = node("Transpose", ["input"], "input_nchw", perm=[0, 3, 1, 2])
    names[id(model.inputs[0])] = start

    def activation(x: str, name: str, act: str) -> str:
        if act == "linear":
            return x
        if act == "relu":
            return node("Relu", [x], name)
        if act == "softmax":
            return node("Softmax", [x], name, axis=-1)
        if act == "sigmoid":
            return node("Sigmoid", [x], name)
        raise NotImplementedError(act)

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        node_in = layer._inbound_nodes[0]
        ins = [names[id(t)] for t in node_in.input_tensors]
        out = layer.name
        x = ins[0]
        weights = [np.asarray(v, np.float32) for v in layer.get_weights()]
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            k = weights[0]  # (kh, kw, c, mult)
            wt = k.transpose(2, 3, 0, 1).reshape(k.shape[2] * k.shape[3], 1, *k.shape[:2])
            inputs = [x, const(f"{out}.W", wt)]
            if layer.use_bias:
                inputs.append(const(f"{out}.B", weights[1]))
            y = node("Conv", inputs, f"{out}_conv" if layer.activation.__name__ != "linear"
                     else out, group=k.shape[2], strides=list(layer.strides),
                     auto_pad="SAME_UPPER" if layer.padding == "same" else "VALID",
                     kernel_shape=list(k.shape[:2]))
            y = activation(y, out, layer.activation.__name__)
        elif isinstance(layer, keras.layers.Conv2D):
            k = weights[0]  # (kh, kw, in, out)
            inputs = [x, const(f"{out}.W", k.transpose(3, 2, 0, 1))]
            if layer.use_bias:
                inputs.append(const(f"{out}.B", weights[1]))
            act = layer.activation.__name__
            y = node("Conv", inputs, f"{out}_conv" if act != "linear" else out,
                     strides=list(layer.strides), kernel_shape=list(k.shape[:2]),
                     auto_pad="SAME_UPPER" if layer.padding == "same" else "VALID")
            y = activation(y, out, act)
        elif isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = weights
            y = node("BatchNormalization", [x, const(f"{out}.g", gamma), const(f"{out}.b", beta),
                                            const(f"{out}.m", mean), const(f"{out}.v", var)],
                     out, epsilon=float(layer.epsilon))
        elif isinstance(layer, keras.layers.ReLU):
            if layer.max_value is None:
                y = node("Relu", [x], out)
            else:
                y = node("Clip", [x, const(f"{out}.lo", np.float32(0)),
                                  const(f"{out}.hi", np.float32(layer.max_value))], out)
        elif isinstance(layer, keras.layers.Activation):
            y = activation(x, out, layer.activation.__name__)
        elif isinstance(layer, keras.layers.Add):
            y = node("Add", ins, out)
        elif isinstance(layer, keras.layers.ZeroPadding2D):
            (t, b), (left, r) = layer.padding
            y = node("Pad", [x, const(f"{out}.pads", np.array([0, 0, t, left, 0, 0, b, r],
                                                              np.int64))], out)
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            if pooling == "gap":
                y = node("Flatten", [node("GlobalAveragePool", [x], f"{out}_gap")], out)
            elif pooling == "nhwc":  # as tf2onnx leaves Keras' pooling: back to NHWC first
                nhwc = node("Transpose", [x], f"{x}_nhwc", perm=[0, 2, 3, 1])
                y = node("ReduceMean", [nhwc], out, axes=[1, 2], keepdims=0)
            else:
                y = node("ReduceMean", [x], out, axes=[2, 3], keepdims=0)  # opset < 18
        elif isinstance(layer, keras.layers.Dropout):
            y = node("Identity", [x], out)
        elif isinstance(layer, keras.layers.LayerNormalization) and layer_norm == "op":
            y = node("LayerNormalization", [x, const(f"{out}.g", weights[0]),
                                            const(f"{out}.b", weights[1])], out,
                     axis=-1, epsilon=float(layer.epsilon))
        elif isinstance(layer, keras.layers.LayerNormalization):
            mean = node("ReduceMean", [x], f"{out}_mean", axes=[-1], keepdims=1)
            d = node("Sub", [x, mean], f"{out}_d")
            sq = node("Pow", [d, const(f"{out}.two", np.float32(2))], f"{out}_sq")
            var = node("ReduceMean", [sq], f"{out}_var", axes=[-1], keepdims=1)
            var_eps = node("Add", [var, const(f"{out}.eps", np.float32(layer.epsilon))],
                           f"{out}_var_eps")
            n = node("Div", [d, node("Sqrt", [var_eps], f"{out}_std")], f"{out}_n")
            y = node("Add", [node("Mul", [n, const(f"{out}.g", weights[0])], f"{out}_scaled"),
                             const(f"{out}.b", weights[1])], out)
        elif isinstance(layer, keras.layers.Dense):
            act = layer.activation.__name__
            y = node("Gemm", [x, const(f"{out}.W", weights[0]), const(f"{out}.B", weights[1])],
                     f"{out}_logits" if act != "linear" else out)
            y = activation(y, out, act)
        else:
            raise NotImplementedError(type(layer).__name__)
        names[id(layer.output)] = y

    final = names[id(model.outputs[0])]
    classes = int(model.outputs[0].shape[-1])
    graph_output = helper.make_tensor_value_info(final, TensorProto.FLOAT, [batch, classes])
    graph = helper.make_graph(nodes, model.name, [graph_input], [graph_output], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="camview tests")
    proto.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    path = Path(path)
    onnx.save(proto, str(path))
    return path
