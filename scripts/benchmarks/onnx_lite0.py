"""EfficientNet-Lite0 as an ONNX file beside the built-in on OpenVINO (issue #29: an ONNX
model's live maps should cost what the built-in's do, at most 1.1x its forward pass).

The file is the built-in's own Keras graph and weights written as ONNX (NCHW, dynamic batch
and size) by the tests' writer, tests/onnx_writer.py, so the two run the same network."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks.measure import interleaved_median_ms, method_key

ONNX_MAPS = ("cam", "gradcam", "gradcam++", "layercam")
#: The repository's tests folder, where the ONNX writer the tests share lives.
TESTS = Path(__file__).resolve().parents[2] / "tests"


def bench_onnx_lite0(repeats: int) -> dict:
    """Forward pass and closed-form maps of EfficientNet-Lite0 built in (on OpenVINO) and as
    ONNX, interleaved: `*_ms_builtin`, `*_ms_onnx`, and each ONNX map's cost as a ratio to
    the ONNX forward pass (`*_over_forward_onnx`)."""
    from camview.maps import make_method
    from camview.models import load_model
    from camview.sources import DemoSource

    sys.path.insert(0, str(TESTS))
    from onnx_writer import keras_to_onnx

    builtin = load_model("efficientnet_lite0", runtime="openvino")
    with tempfile.TemporaryDirectory() as tmp:
        path = keras_to_onnx(builtin.keras_model, Path(tmp) / "lite0.onnx",
                             metadata={"mean": "127,127,127", "std": "128,128,128"})
        onnx = load_model(str(path))  # compiled by OpenVINO before the file goes
    with DemoSource(size=(640, 480)) as demo:
        batch = builtin.prepare(demo.read().image)
    calls = {"forward_ms_builtin": lambda: builtin.forward(batch),
             "forward_ms_onnx": lambda: onnx.forward(batch)}
    for m in ONNX_MAPS:
        for key, model in (("builtin", builtin), ("onnx", onnx)):
            method = make_method(m, model)
            calls[f"{method_key(m)}_ms_{key}"] = lambda e=method: e.explain(batch)
    row = {"model": "efficientnet_lite0 as ONNX", "input": f"{batch.shape[2]}x{batch.shape[1]}",
           **interleaved_median_ms(calls, repeats, settle=1)}
    for m in ONNX_MAPS:
        row[f"{method_key(m)}_over_forward_onnx"] = (row[f"{method_key(m)}_ms_onnx"]
                                                     / row["forward_ms_onnx"])
    return row


def print_onnx_lite0(row: dict | None) -> None:
    if not row:
        return
    print(f"onnx {row['model']} ({row['input']}): forward {row['forward_ms_onnx']:.1f} ms "
          f"(built-in on OpenVINO {row['forward_ms_builtin']:.1f} ms); " + ", ".join(
              f"{method_key(m)} {row[method_key(m) + '_ms_onnx']:.1f} ms = "
              f"{row[method_key(m) + '_over_forward_onnx']:.2f}x its forward (built-in "
              f"{row[method_key(m) + '_ms_builtin']:.1f} ms)" for m in ONNX_MAPS))
