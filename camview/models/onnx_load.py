"""The loader of camview.models.formats' ONNX entry: the graph read and checked, its input
size and how frames are fed to it.

ONNX carries no preprocessing. An exporter may write it in the file's ``metadata_props``
(keys holding ``mean`` and ``std``, e.g. ``mean``/``std`` or ``norm_mean``/``norm_std``, as
numbers on the 0..1 RGB scale, or on 0..255 when any exceeds 1); without them camview feeds
the convention of torchvision and timm, where most ONNX classifiers come from (RGB, /255,
ImageNet mean and std: ``--preprocess torch``), and says it assumed so.
"""

from __future__ import annotations

import logging
from pathlib import Path

from camview.errors import ModelError
from camview.models.onnx_graph import OnnxGraph
from camview.models.onnx_idioms import make_plain
from camview.models.preprocess import (
    AUTO,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
    mean_std,
    named,
    parse_triple,
)

log = logging.getLogger(__name__)

#: A network taking any size is fed this shorter side unless its graph says a size.
DEFAULT_SIDE = 224


def metadata_mean_std(graph: OnnxGraph) -> tuple[tuple, tuple, str] | None:
    """(mean, std, the keys read) from the file's metadata, on the 0..1 scale, or None."""
    meta = {k.lower(): (k, v) for k, v in graph.metadata.items()}
    mean_key = next((k for k in meta if "mean" in k), None)
    std_key = next((k for k in meta if "std" in k), None)
    if mean_key is None or std_key is None:
        return None
    try:
        mean = parse_triple(meta[mean_key][1], meta[mean_key][0])
        std = parse_triple(meta[std_key][1], meta[std_key][0])
    except ModelError as exc:
        raise ModelError(f"model file {graph.path}: its metadata {exc}") from None
    if max(map(abs, mean + std)) > 1.5:  # written on the 0..255 scale (123.675, ...)
        mean, std = tuple(v / 255 for v in mean), tuple(v / 255 for v in std)
    return mean, std, f"{meta[mean_key][0]!r}/{meta[std_key][0]!r}"


def choose_preprocessing(graph: OnnxGraph, mode: str | None, channels: int) -> Preprocessing:
    """--preprocess MODE, else the file's metadata, else the torchvision convention (said)."""
    if mode is not None and mode.lower() != AUTO:
        return named(mode, channels)
    found = metadata_mean_std(graph)
    if found is not None:
        mean, std, keys = found
        return mean_std(mean, std, channels, why=f"the file's metadata {keys}")
    note = (f"{graph.path.name}: the file does not say how its input is scaled; camview "
            "feeds torchvision's and timm's convention, RGB 0..1 then ImageNet mean/std "
            "(--preprocess, or --mean/--std R,G,B on the 0..1 scale, to change)")
    log.info("%s", note)
    return mean_std(IMAGENET_MEAN if channels == 3 else (0.5,),
                    IMAGENET_STD if channels == 3 else (0.5,), channels,
                    why="assumed: torchvision's and timm's convention", note=note)


def load_onnx(path: str | Path, preprocess: str | None = None, layout: str | None = None):
    """The file's graph (an OnnxGraph, for camview.models.onnx_model.OnnxCamModel), its
    input size, its Preprocessing and whether that size is fixed. The container was checked
    already (camview.models.formats). `layout`: --input-layout, for an ambiguous input."""
    graph = OnnxGraph.read(Path(path), layout)
    make_plain(graph)  # torch exporters' long-hand identities (camview.models.onnx_idioms)
    _layout, channels, (_batch, h, w) = graph.input_layout()
    graph.class_count()  # the output is class scores, or one line saying what it is
    chosen = choose_preprocessing(graph, preprocess, channels)
    fixed = h is not None and w is not None
    return graph, (h or DEFAULT_SIDE, w or DEFAULT_SIDE), chosen, fixed
