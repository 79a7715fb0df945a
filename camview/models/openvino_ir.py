"""A small reader for OpenVINO IR v10/v11 (.xml graph + .bin weights), without OpenVINO.

camview only needs the constants of a few convolutional networks and enough of the graph to
tell which constant belongs to which layer, so this reads the .xml with the standard library
and the .bin with numpy; installing the OpenVINO runtime for that would be a heavy dependency.
Every fault is a `ModelError` with one line naming the file.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camview.errors import ModelError

SUPPORTED_IR_VERSIONS = (10, 11)

# IR element types numpy can read directly (little-endian, as the .bin is written).
_DTYPES: dict[str, np.dtype] = {
    "f16": np.dtype("<f2"),
    "f32": np.dtype("<f4"),
    "f64": np.dtype("<f8"),
    "i8": np.dtype("i1"),
    "i16": np.dtype("<i2"),
    "i32": np.dtype("<i4"),
    "i64": np.dtype("<i8"),
    "u8": np.dtype("u1"),
    "u16": np.dtype("<u2"),
    "u32": np.dtype("<u4"),
    "u64": np.dtype("<u8"),
    "boolean": np.dtype("u1"),
}

# Layers that only change how a weight is stored (IR v11 keeps compressed f16 weights behind a
# Convert to f32); they are followed back to the Const.
_STORAGE_LAYERS = ("Convert",)


@dataclass(frozen=True)
class Port:
    id: int
    shape: tuple[int, ...]  # -1 for a dynamic dimension
    precision: str = ""


@dataclass(frozen=True)
class Layer:
    id: int
    name: str
    type: str
    version: str
    data: dict[str, str]
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]

    def ints(self, key: str, default: tuple[int, ...] = ()) -> tuple[int, ...]:
        """A comma-separated integer attribute of <data> ('2,2' -> (2, 2))."""
        text = self.data.get(key, "").strip()
        if not text:
            return default
        return tuple(int(v) for v in text.split(","))


@dataclass(frozen=True)
class Edge:
    from_layer: int
    from_port: int
    to_layer: int
    to_port: int


@dataclass(frozen=True)
class ConvParams:
    """One Convolution with its weights (OIHW float32) and the bias added right after it."""

    weights: np.ndarray
    bias: np.ndarray | None
    strides: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    dilations: tuple[int, ...]
    layer: str = ""  # the IR name of the Convolution itself ('conv1/WithoutBiases')


@dataclass
class IRModel:
    """A parsed IR: layers by id, edges, and lazy access to the Const blobs."""

    xml_path: Path
    bin_path: Path
    name: str
    version: int
    layers: dict[int, Layer]
    edges: list[Edge]
    _blob: bytes = field(repr=False, default=b"")
    _into: dict[tuple[int, int], tuple[int, int]] = field(repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._into = {(e.to_layer, e.to_port): (e.from_layer, e.from_port) for e in self.edges}

    # -- graph ---------------------------------------------------------------------------
    def by_type(self, type_: str) -> list[Layer]:
        return [layer for layer in self.layers.values() if layer.type == type_]

    def by_name(self, name: str) -> Layer:
        for layer in self.layers.values():
            if layer.name == name:
                return layer
        raise ModelError(f"{self.xml_path}: no layer named {name!r}")

    def producer(self, layer: Layer, input_index: int = 0) -> Layer:
        """The layer feeding the `input_index`-th input port of `layer`."""
        if input_index >= len(layer.inputs):
            raise ModelError(f"{self.xml_path}: layer {layer.name!r} has no input "
                             f"#{input_index}")
        key = (layer.id, layer.inputs[input_index].id)
        if key not in self._into:
            raise ModelError(f"{self.xml_path}: input {input_index} of layer {layer.name!r} "
                             "is not connected")
        return self.layers[self._into[key][0]]

    def consumers(self, layer: Layer) -> list[Layer]:
        """The layers fed by any output of `layer`, in edge order."""
        return [self.layers[e.to_layer] for e in self.edges if e.from_layer == layer.id]

    # -- constants -----------------------------------------------------------------------
    def constant(self, layer: Layer) -> np.ndarray:
        """The value of a Const layer (or of the Const behind a Convert), as stored."""
        while layer.type in _STORAGE_LAYERS:
            layer = self.producer(layer, 0)
        if layer.type != "Const":
            raise ModelError(f"{self.xml_path}: layer {layer.name!r} is a {layer.type}, "
                             "not a constant")
        element_type = layer.data.get("element_type", "")
        dtype = _DTYPES.get(element_type)
        if dtype is None:
            raise ModelError(f"{self.xml_path}: constant {layer.name!r} has element type "
                             f"{element_type!r}, which camview cannot read "
                             f"(supported: {', '.join(_DTYPES)})")
        offset, size = int(layer.data["offset"]), int(layer.data["size"])
        shape = _const_shape(layer)
        if size != math.prod(shape) * dtype.itemsize:
            raise ModelError(f"{self.xml_path}: constant {layer.name!r} has {size} bytes but "
                             f"shape {shape} of {element_type} needs "
                             f"{math.prod(shape) * dtype.itemsize}")
        array = np.frombuffer(self._blob, dtype=dtype, count=math.prod(shape), offset=offset)
        return array.reshape(shape).copy()

    def input_constant(self, layer: Layer, input_index: int) -> np.ndarray | None:
        """The constant feeding an input of `layer`, or None when that input is computed."""
        source = self.producer(layer, input_index)
        while source.type in _STORAGE_LAYERS:
            source = self.producer(source, 0)
        return self.constant(source) if source.type == "Const" else None

    def convolutions(self) -> dict[str, ConvParams]:
        """Every Convolution with its weights and bias, keyed by its output's name.

        The Model Optimizer splits a framework convolution into a Convolution named
        '<name>/WithoutBiases' and an Add named '<name>' of a per-channel Const; the key is
        that Add's name, i.e. the original framework layer name ('conv1',
        'fire2/squeeze1x1'). The bias is found through the edges, not by file order.
        """
        result: dict[str, ConvParams] = {}
        for conv in self.by_type("Convolution"):
            weights = self.input_constant(conv, 1)
            if weights is None or weights.ndim != 4:
                raise ModelError(f"{self.xml_path}: convolution {conv.name!r} has no constant "
                                 "4-D (OIHW) weights")
            name, bias = conv.name.removesuffix("/WithoutBiases"), None
            users = self.consumers(conv)
            if len(users) == 1 and users[0].type == "Add":
                add = users[0]
                other = 1 if self.producer(add, 0).id == conv.id else 0
                value = self.input_constant(add, other)
                if value is not None and value.size == weights.shape[0] and (
                        value.ndim == 1 or value.shape[1] == weights.shape[0]):
                    name, bias = add.name, value.reshape(-1).astype(np.float32)
            if name in result:
                raise ModelError(f"{self.xml_path}: two convolutions are named {name!r}")
            result[name] = ConvParams(
                weights=weights.astype(np.float32),
                bias=bias,
                strides=conv.ints("strides", (1, 1)),
                pads_begin=conv.ints("pads_begin", (0, 0)),
                pads_end=conv.ints("pads_end", (0, 0)),
                dilations=conv.ints("dilations", (1, 1)),
                layer=conv.name,
            )
        return result


def _const_shape(layer: Layer) -> tuple[int, ...]:
    text = layer.data.get("shape", "").strip()
    if text:
        return tuple(int(v) for v in text.split(","))
    if layer.outputs:  # a scalar has shape="" and an output port without <dim>
        return layer.outputs[0].shape
    return ()


def _dims(port: ET.Element) -> tuple[int, ...]:
    dims = []
    for dim in port.findall("dim"):
        text = (dim.text or "").strip()
        dims.append(int(text) if text.lstrip("-").isdigit() else -1)
    return tuple(dims)


def _ports(element: ET.Element | None) -> tuple[Port, ...]:
    if element is None:
        return ()
    return tuple(Port(int(p.get("id", "0")), _dims(p), p.get("precision", ""))
                 for p in element.findall("port"))


def read_ir(path: str | Path) -> IRModel:
    """Parse `path` (the .xml; the .bin beside it has the same stem) and check the blobs fit.

    Checked here, so a broken download fails at load rather than mid-build: both files exist,
    the .xml is an IR of a supported version, and every Const lies inside the .bin.
    """
    xml_path = Path(path)
    bin_path = xml_path.with_suffix(".bin")
    if not xml_path.is_file():
        raise ModelError(f"{xml_path}: no such file (an OpenVINO IR is a .xml and a .bin)")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise ModelError(f"{xml_path}: not an XML file ({exc})") from None
    except OSError as exc:
        raise ModelError(f"{xml_path}: cannot be read ({exc.strerror or exc})") from None
    if root.tag != "net" or root.find("layers") is None or root.find("edges") is None:
        raise ModelError(f"{xml_path}: not an OpenVINO IR (expected <net> with <layers> and "
                         f"<edges>, found <{root.tag}>)")
    try:
        version = int(root.get("version", ""))
    except ValueError:
        version = 0
    if version not in SUPPORTED_IR_VERSIONS:
        raise ModelError(f"{xml_path}: IR version {root.get('version')!r} is not supported "
                         f"(camview reads IR v{' and v'.join(map(str, SUPPORTED_IR_VERSIONS))})")

    try:
        layers: dict[int, Layer] = {}
        for el in root.find("layers").findall("layer"):
            data = el.find("data")
            layer = Layer(
                id=int(el.get("id", "")),
                name=el.get("name", ""),
                type=el.get("type", ""),
                version=el.get("version", ""),
                data=dict(data.attrib) if data is not None else {},
                inputs=_ports(el.find("input")),
                outputs=_ports(el.find("output")),
            )
            layers[layer.id] = layer
        edges = [Edge(int(e.get("from-layer", "")), int(e.get("from-port", "")),
                      int(e.get("to-layer", "")), int(e.get("to-port", "")))
                 for e in root.find("edges").findall("edge")]
    except ValueError as exc:
        raise ModelError(f"{xml_path}: malformed IR ({exc})") from None
    for edge in edges:
        if edge.from_layer not in layers or edge.to_layer not in layers:
            raise ModelError(f"{xml_path}: malformed IR (an edge names a missing layer)")

    if not bin_path.is_file():
        raise ModelError(f"{xml_path}: its weights {bin_path.name} are missing "
                         "(an OpenVINO IR is a .xml and a .bin side by side)")
    try:
        blob = bin_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{bin_path}: cannot be read ({exc.strerror or exc})") from None
    for layer in layers.values():
        if layer.type != "Const":
            continue
        try:
            end = int(layer.data["offset"]) + int(layer.data["size"])
        except (KeyError, ValueError):
            raise ModelError(f"{xml_path}: constant {layer.name!r} has no valid offset/size"
                             ) from None
        if end > len(blob):
            raise ModelError(f"{bin_path}: .bin does not match its .xml ({len(blob)} bytes, "
                             f"but constant {layer.name!r} ends at byte {end}); "
                             "download both files again")
    return IRModel(xml_path, bin_path, root.get("name", xml_path.stem), version, layers, edges,
                   blob)
