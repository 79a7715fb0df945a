"""The container check of camview.models.formats' ONNX entry: the file is whole ONNX the
checker accepts and its external-data files are there, said in one line before the graph
is read (camview.models.onnx_graph) or anything is compiled.
"""

from __future__ import annotations

from pathlib import Path

from camview.errors import ModelError
from camview.models.onnx_graph import _first_line


def _external_files(model, folder: Path) -> list[tuple[str, Path, int]]:
    """(tensor, file, bytes needed) of every initializer kept in an external-data file."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    out = []
    for tensor in model.graph.initializer:
        if uses_external_data(tensor):
            info = ExternalDataInfo(tensor)
            end = (info.offset or 0) + (info.length or 0)
            out.append((tensor.name, folder / info.location, end))
    return out


def check_onnx(path: Path) -> None:
    """The container: an ONNX protobuf the checker accepts, whose external-data files (a
    large model's weights beside it) are all there and long enough; ModelError otherwise.
    Reads the graph only (not the external weights): a second for a large model."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends: the file is not whole
        raise ModelError(f"model file {path} is not an ONNX model (damaged or cut short: "
                         f"{_first_line(exc)})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ModelError(f"model file {path} is not an ONNX model (no graph in it: damaged "
                         "or cut short)")
    for name, file, end in _external_files(model, path.parent):
        if not file.is_file():
            raise ModelError(f"model file {path} keeps its weights ({name!r} and others) in "
                             f"the external-data file {file.name}, which is not beside it: "
                             "copy it next to the .onnx")
        if end and file.stat().st_size < end:
            raise ModelError(f"model file {path}: its external-data file {file.name} is cut "
                             f"short ({file.stat().st_size} bytes, {name!r} ends at {end})")
    try:  # given the path, the checker finds external data beside the file, not in cwd
        onnx.checker.check_model(str(path))
    except Exception as exc:  # onnx.checker.ValidationError, or a protobuf fault
        raise ModelError(f"model file {path} is not a valid ONNX model: "
                         f"{_first_line(exc)}") from None
