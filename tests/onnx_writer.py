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


def vit_to_onnx(model, path: str | Path, *, opset: int = OPSET,
                layer_norm: str = "op") -> Path:
    """Write a tests.vit_models.tiny_vit Keras model as ONNX at `path`, laid out as
    torchvision's and timm's exports are: NCHW input (batch dynamic, size fixed), the patch
    embedding a Conv with stride = kernel flattened to (batch, tokens, dim), the class token
    Expanded and Concatenated in front, the position embedding Added, then per block
    LayerNormalization, q/k/v MatMuls, Softmax over (batch, heads, t, t), the output MatMul,
    Add, LayerNormalization, the MLP with GELU in its Erf form, Add; the head reads the
    class token (Gather) or averages the tokens (ReduceMean) into a Gemm. layer_norm: "op"
    or "decomposed" (the elementary ops torch writes below opset 17, as keras_to_onnx)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    count = [0]

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        count[0] += 1
        output = output or f"{op.lower()}_{count[0]}"
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def weights(name: str) -> list[np.ndarray]:
        return [np.asarray(v, np.float32) for v in model.get_layer(name).get_weights()]

    def linear(x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        return node("Add", [node("MatMul", [x, const(f"{name}.W", w)]),
                            const(f"{name}.B", b)], name)

    size = int(model.inputs[0].shape[1])
    kernel, bias = weights("patch_embed")
    patch, dim = kernel.shape[0], kernel.shape[3]
    x = node("Conv", ["input", const("patch_embed.W", kernel.transpose(3, 2, 0, 1)),
                      const("patch_embed.B", bias)], "patch_embed",
             kernel_shape=[patch, patch], strides=[patch, patch])
    x = node("Reshape", [x, const("flat.shape", np.array([0, dim, -1], np.int64))])
    x = node("Transpose", [x], "patches", perm=[0, 2, 1])
    names = {layer.name for layer in model.layers}
    if "tokens" in names:
        layer = model.get_layer("tokens")
        if layer.class_token:
            cls = np.asarray(layer.cls, np.float32)
            batch = node("Unsqueeze", [node("Gather", [node("Shape", [x]),
                                                       const("zero", np.int64(0))]),
                                       const("axis0", np.array([0], np.int64))])
            shape = node("Concat", [batch, const("cls.rest", np.array([1, dim], np.int64))],
                         axis=0)
            x = node("Concat", [node("Expand", [const("cls", cls), shape]), x], "with_cls",
                     axis=1)
        x = node("Add", [x, const("position", np.asarray(layer.position, np.float32))],
                 "tokens")
    def norm(t: str, layer_name: str) -> str:
        g, beta = weights(layer_name)
        eps = float(model.get_layer(layer_name).epsilon)
        if layer_norm == "op":
            return node("LayerNormalization", [t, const(f"{layer_name}.g", g),
                                               const(f"{layer_name}.b", beta)], layer_name,
                        axis=-1, epsilon=eps)
        d = node("Sub", [t, node("ReduceMean", [t], axes=[-1], keepdims=1)])
        var = node("ReduceMean", [node("Pow", [d, const(f"{layer_name}.two", np.float32(2))])],
                   axes=[-1], keepdims=1)
        std = node("Sqrt", [node("Add", [var, const(f"{layer_name}.eps", np.float32(eps))])])
        scaled = node("Mul", [node("Div", [d, std]), const(f"{layer_name}.g", g)])
        return node("Add", [scaled, const(f"{layer_name}.b", beta)], layer_name)

    def project(h: str, w: np.ndarray, bias: np.ndarray, name: str, perm: list[int]) -> str:
        """(batch, t, dim) -> (batch, heads, t, key_dim) permuted by `perm`."""
        heads, key_dim = bias.shape
        t = linear(h, w.reshape(dim, heads * key_dim), bias.reshape(-1), name)
        split = const(f"{name}.split", np.array([0, 0, heads, key_dim], np.int64))
        return node("Transpose", [node("Reshape", [t, split])], perm=perm)

    b = 1
    while f"block{b}_norm1" in names:
        h = norm(x, f"block{b}_norm1")
        attention = model.get_layer(f"block{b}_attention")
        qw, qb, kw, kb, vw, vb, ow, ob = [np.asarray(w, np.float32)
                                          for w in attention.get_weights()]
        heads, key_dim = qb.shape
        q = project(h, qw, qb, f"block{b}_q", [0, 2, 1, 3])
        k = project(h, kw, kb, f"block{b}_k", [0, 2, 3, 1])
        v = project(h, vw, vb, f"block{b}_v", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k]),
                              const(f"block{b}.scale", np.float32(1 / np.sqrt(key_dim)))])
        probs = node("Softmax", [scores], f"block{b}_attention_probs", axis=-1)
        o = node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        o = node("Reshape", [o, const(f"block{b}.merge",
                                      np.array([0, 0, heads * key_dim], np.int64))])
        x = node("Add", [x, linear(o, ow.reshape(heads * key_dim, dim), ob,
                                   f"block{b}_attention")], f"block{b}_add1")
        h = norm(x, f"block{b}_norm2")
        h = linear(h, *weights(f"block{b}_mlp1"), f"block{b}_mlp1_linear")
        erf = node("Erf", [node("Div", [h, const(f"block{b}.sqrt2", np.float32(np.sqrt(2)))])])
        h = node("Mul", [node("Mul", [h, node("Add", [erf, const(f"block{b}.one",
                                                               np.float32(1))])]),
                         const(f"block{b}.half", np.float32(0.5))], f"block{b}_mlp1")
        h = linear(h, *weights(f"block{b}_mlp2"), f"block{b}_mlp2")
        x = node("Add", [x, h], f"block{b}_add2")
        b += 1
    x = norm(x, "final_norm")
    if "average" in names:
        x = node("ReduceMean", [x], "average", axes=[1], keepdims=0)
    else:
        x = node("Gather", [x, const("first", np.int64(0))], "class_token", axis=1)
    w, bias = weights("predictions")
    out = node("Gemm", [x, const("predictions.W", w), const("predictions.B", bias)],
               "predictions")
    classes = w.shape[1]
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", classes])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="camview tests")
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    path = Path(path)
    onnx.save(proto, str(path))
    return path
