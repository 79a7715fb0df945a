"""Bad ONNX files, each refused in one line with exit status 2 (#29): cut short, weights in
a missing external-data file, several inputs, an input or an output that is not what a
classifier has, an op OpenVINO cannot run, a batch fixed above 1; and small hand-written
graphs that load (a batch baked into a Reshape, a batch that cannot be made dynamic)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from camview.cli import main
from camview.maps import make_method
from camview.models import load_model
from camview.models.head import HeadKind


def _graph(nodes, inputs, outputs, inits=(), opset=17, **model):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **model)
    proto.ir_version = 8
    return proto


def _image(name="input", shape=("n", 3, "h", "w"), kind=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, kind, list(shape))


def _conv_net(**changes) -> onnx.ModelProto:
    """A valid one-conv classifier: input -> Conv -> GlobalAveragePool -> Flatten -> Gemm."""
    rng = np.random.default_rng(0)
    inits = [onnx.numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
                                          "w"),
             onnx.numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "fc")]
    nodes = [helper.make_node("Conv", ["input", "w"], ["conv"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["conv"], ["act"]),
             helper.make_node("GlobalAveragePool", ["act"], ["gap"]),
             helper.make_node("Flatten", ["gap"], ["flat"]),
             helper.make_node("Gemm", ["flat", "fc"], ["scores"])]
    args = {"nodes": nodes, "inputs": [_image()],
            "outputs": [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 5])],
            "inits": inits}
    args.update(changes)
    return _graph(**args)


def _refused(path, capsys) -> str:
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("camview: error: ") and err.count("\n") == 1, err
    return err


def test_a_valid_small_graph_loads(tmp_path):
    onnx.save(_conv_net(), str(tmp_path / "ok.onnx"))
    model = load_model(str(tmp_path / "ok.onnx"))
    assert model.head is HeadKind.FC and model.read_layer == "act" and len(model.labels) == 5


def test_a_corrupt_or_truncated_file_is_refused(tmp_path, capsys):
    good = _conv_net().SerializeToString()
    (tmp_path / "cut.onnx").write_bytes(good[: len(good) // 2])
    assert "is not an ONNX model" in _refused(tmp_path / "cut.onnx", capsys)
    (tmp_path / "text.onnx").write_text("not a model at all\n" * 10)
    assert "is not an ONNX model" in _refused(tmp_path / "text.onnx", capsys)


def test_weights_in_a_missing_external_file_are_refused_and_a_present_one_works(tmp_path,
                                                                                  capsys):
    proto = _conv_net()
    onnx.save(proto, str(tmp_path / "ext.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="ext.weights", size_threshold=0)
    assert len(load_model(str(tmp_path / "ext.onnx")).labels) == 5
    (tmp_path / "ext.weights").unlink()
    err = _refused(tmp_path / "ext.onnx", capsys)
    assert "external-data file ext.weights, which is not beside it" in err


def test_several_inputs_are_refused(tmp_path, capsys):
    proto = _conv_net(inputs=[_image(), _image("extra")])
    onnx.save(proto, str(tmp_path / "two.onnx"))
    assert "has 2 inputs ('input', 'extra'); camview needs one image input" in _refused(
        tmp_path / "two.onnx", capsys)


def test_an_input_that_is_not_an_image_is_refused(tmp_path, capsys):
    tokens = _graph([helper.make_node("Gemm", ["input", "fc"], ["scores"])],
                    [_image(shape=("n", 4))],
                    [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 5])],
                    [onnx.numpy_helper.from_array(np.ones((4, 5), np.float32), "fc")])
    onnx.save(tokens, str(tmp_path / "vector.onnx"))
    assert "not an image batch" in _refused(tmp_path / "vector.onnx", capsys)
    onnx.save(_conv_net(inputs=[_image(kind=TensorProto.INT64)]), str(tmp_path / "int.onnx"))
    assert "is int64, not a float32 image" in _refused(tmp_path / "int.onnx", capsys)


def test_a_segmenter_and_a_detector_are_refused_saying_what_they_look_like(tmp_path, capsys):
    seg = _conv_net(nodes=[helper.make_node("Conv", ["input", "w"], ["scores"],
                                            kernel_shape=[3, 3])],
                    outputs=[helper.make_tensor_value_info("scores", TensorProto.FLOAT,
                                                           ["n", 4, "h", "w"])])
    onnx.save(seg, str(tmp_path / "seg.onnx"))
    assert "a map per pixel: a segmenter's" in _refused(tmp_path / "seg.onnx", capsys)
    det = _conv_net(outputs=[helper.make_tensor_value_info("scores", TensorProto.FLOAT,
                                                           ["n", 5]),
                             helper.make_tensor_value_info("act", TensorProto.FLOAT,
                                                           ["n", 4, "h", "w"])])
    onnx.save(det, str(tmp_path / "det.onnx"))
    assert "has 2 outputs" in _refused(tmp_path / "det.onnx", capsys)


def test_an_op_openvino_cannot_run_is_refused(tmp_path, capsys):
    proto = _conv_net()
    relu = proto.graph.node[1]
    relu.op_type, relu.domain = "Sparkle", "com.example"
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(proto, str(tmp_path / "custom.onnx"))
    assert "OpenVINO cannot run it" in _refused(tmp_path / "custom.onnx", capsys)


def test_a_batch_fixed_above_one_is_refused_saying_how_to_export(tmp_path, capsys):
    onnx.save(_conv_net(inputs=[_image(shape=(8, 3, 32, 32))]), str(tmp_path / "b8.onnx"))
    err = _refused(tmp_path / "b8.onnx", capsys)
    assert "batch size is fixed to 8" in err and "dynamic_shapes" in err


def test_a_batch_baked_into_a_reshape_is_made_dynamic_and_checked(tmp_path):
    """A Reshape to (1, -1) where a Flatten would be, batch fixed to 1: OpenVINO makes the
    batch dynamic, and camview checks that a batch gives each image its own scores."""
    proto = _conv_net(inputs=[_image(shape=(1, 3, "h", "w"))])
    flatten = proto.graph.node[3]
    flatten.op_type = "Reshape"
    flatten.input.append("flat_shape")
    proto.graph.initializer.append(onnx.numpy_helper.from_array(np.array([1, -1], np.int64),
                                                                "flat_shape"))
    proto.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(proto, str(tmp_path / "baked.onnx"))
    model = load_model(str(tmp_path / "baked.onnx"))
    x = np.random.default_rng(1).standard_normal((3, 12, 14, 3)).astype(np.float32)
    together = model.forward(x)[1]
    alone = np.concatenate([model.forward(x[i:i + 1])[1] for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_a_batch_that_cannot_be_made_dynamic_runs_one_image_at_a_time(tmp_path):
    """A graph whose fixed batch of 1 is mixed when made dynamic (a mean over the batch
    axis, the identity for one image): the probe batch shows it, the file keeps its batch of
    one, and a batch of inputs runs one at a time, so evaluate's batches and the methods that
    batch their masked copies (Score-CAM) still serve it."""
    proto = _conv_net(inputs=[_image(shape=(1, 3, "h", "w"))])
    proto.graph.node.insert(0, helper.make_node("ReduceMean", ["input"], ["mixed"], axes=[0],
                                                keepdims=1))
    proto.graph.node[1].input[0] = "mixed"
    proto.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(proto, str(tmp_path / "mixing.onnx"))
    model = load_model(str(tmp_path / "mixing.onnx"))
    assert type(model.runtime).__name__ == "FixedBatchForward"
    x = np.random.default_rng(2).standard_normal((3, 12, 14, 3)).astype(np.float32)
    together = model.forward(x)[1]
    alone = np.concatenate([model.forward(x[i:i + 1])[1] for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert not np.allclose(alone[0], alone[1])  # each image its own scores
    result = make_method("scorecam", model).explain(x[:1], 2)
    assert result.target == 2 and result.problem is None


def _reshaped_input(shape) -> onnx.ModelProto:
    """_conv_net whose input first goes through a Reshape to its own shape: the graph does
    not show how its input is laid out."""
    net = _conv_net(inputs=[_image(shape=shape)])
    net.graph.initializer.append(onnx.numpy_helper.from_array(  # 0: each dim as it is
        np.zeros(4, np.int64), "same_shape"))
    net.graph.node.insert(0, helper.make_node("Reshape", ["input", "same_shape"], ["fed"]))
    net.graph.node[1].input[0] = "fed"
    return net


def test_an_ambiguous_input_layout_is_read_from_the_graph_or_given(tmp_path, capsys):
    """(n, 3, h, 3) could be NCHW or NHWC: a convolution reading the input says NCHW, a
    Transpose to NCHW says NHWC; where the graph does not say, one line names --input-layout."""
    onnx.save(_conv_net(inputs=[_image(shape=("n", 3, 8, 3))]), str(tmp_path / "c.onnx"))
    model = load_model(str(tmp_path / "c.onnx"))
    assert (model.layout, model.channels, model.input_size) == ("NCHW", 3, (8, 3))
    nhwc = _conv_net(inputs=[_image(shape=("n", 3, 8, 3))])
    nhwc.graph.node.insert(0, helper.make_node("Transpose", ["input"], ["nchw"],
                                               perm=[0, 3, 1, 2]))
    nhwc.graph.node[1].input[0] = "nchw"
    onnx.save(nhwc, str(tmp_path / "t.onnx"))
    model = load_model(str(tmp_path / "t.onnx"))
    assert (model.layout, model.input_size) == ("NHWC", (3, 8))

    path = tmp_path / "r.onnx"
    onnx.save(_reshaped_input(("n", 3, 8, 3)), str(path))
    err = _refused(path, capsys)
    assert "could be NCHW or NHWC" in err and "--input-layout nchw or --input-layout nhwc" in err
    assert main(["inspect", str(path), "--input-layout", "nchw"]) == 0
    model = load_model(str(path), input_layout="nchw")
    assert (model.layout, model.input_size) == ("NCHW", (8, 3))
    x = np.random.default_rng(1).standard_normal((1, 8, 3, 3)).astype(np.float32)
    plain = load_model(str(tmp_path / "c.onnx"))  # the same weights, read as NCHW
    np.testing.assert_allclose(model.forward(x)[1], plain.forward(x)[1], atol=1e-5)
    capsys.readouterr()


def test_a_dynamic_channel_count_is_read_from_the_first_convolution(tmp_path, capsys):
    onnx.save(_conv_net(inputs=[_image(shape=("n", "c", "h", "w"))]), str(tmp_path / "d.onnx"))
    model = load_model(str(tmp_path / "d.onnx"))
    assert (model.layout, model.channels) == ("NCHW", 3)
    onnx.save(_reshaped_input(("n", "c", 8, 8)), str(tmp_path / "r.onnx"))
    assert "could be NCHW or NHWC" in _refused(tmp_path / "r.onnx", capsys)


def test_layout_is_refused_where_it_does_not_apply(tmp_path, capsys):
    onnx.save(_conv_net(), str(tmp_path / "ok.onnx"))
    assert main(["inspect", str(tmp_path / "ok.onnx"), "--input-layout", "nhwc"]) == 2
    assert ("--input-layout nhwc does not fit its input (?, 3, ?, ?), which the file says is "
            "NCHW") in capsys.readouterr().err
    assert main(["inspect", "efficientnet_lite0", "--input-layout", "nchw"]) == 2
    err = capsys.readouterr().err
    assert "--input-layout is for ONNX models" in err and err.count("\n") == 1
