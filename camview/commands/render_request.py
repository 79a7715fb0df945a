"""`camview render`'s request: what to render and where, and the checks made from it alone,
before any source or model opens (a bad output path fails in a second, not after minutes)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from camview.drawing.output_files import check_writable, input_overwritten
from camview.drawing.overlay import OverlayStyle
from camview.errors import CamviewError, OutputError
from camview.maps import (
    CAM,
    DEFAULT_METHOD,
    Method,
    check_options,
    fallback_method,
    make_method,
    method_class,
)
from camview.models import DEFAULT_MODEL, CamModel, known_head

log = logging.getLogger(__name__)


@dataclass
class RenderRequest:
    """What `camview render` is asked to do; Python callers build one and call render().

    `source`: a camera index, a video, an image, a folder or "demo". At least one of
    `output` (an image, a folder or a video), `json` and `map` says what to write.

    `method_options`: the methods' options by name, as each method declares them
    (camview.maps.method_options; the command line's --patch, --samples...), e.g.
    ``RenderRequest("demo", json="x.json", method="occlusion",
    method_options={"patch": 32, "stride": 16})``. Each is checked against its declaration;
    one none of the rendered methods takes is an error; None values are left out.
    """

    source: str | int
    output: str | None = None
    json: str | None = None
    map: str | None = None
    model: str = DEFAULT_MODEL
    weights: str | None = None
    labels: str | None = None
    layer: str | None = None
    resize: str | None = None
    preprocess: str = "auto"  # how frames become network input (camview.models.preprocess)
    runtime: str | None = None  # the forward runtime (camview.models.runtimes); None: default
    input_layout: str | None = None  # nchw or nhwc: an ambiguous ONNX input's layout
    method: str = DEFAULT_METHOD
    compare: list[str] | None = None  # several methods in one titled grid (the first is `method`'s
    #                                   place in the JSON and the maps)
    method_options: dict[str, object] = field(default_factory=dict)  # see above
    metrics: bool = False  # deletion/insertion scores per frame (camview.checks.faithfulness)
    sanity: bool = False  # one image: cascading randomisation of the model (camview.checks.sanity)
    target: str | int | None = None  # a label or a class index; None: each frame's top-1
    frames: int | None = None  # stop after this many; None: the whole source
    style: OverlayStyle = field(default_factory=OverlayStyle)
    progress: bool = True  # a progress bar when stderr is a terminal


def request_inputs(request: RenderRequest) -> tuple[str, ...]:
    """Every file and folder the render reads: no output may be written over one."""
    return tuple(str(p) for p in (request.source, request.model, request.weights,
                                  request.labels) if p is not None)


def check_outputs(request: RenderRequest) -> None:
    """-o, --json and --map: none of them an input or each other, --json and --map files that
    can be written (-o's kind, image, folder or video, is the sink's to check)."""
    given = [(flag, path) for flag, path in (("-o", request.output), ("--json", request.json),
                                              ("--map", request.map)) if path]
    for i, (flag, path) in enumerate(given):
        for other_flag, other in given[:i]:
            if Path(path).resolve() == Path(other).resolve():
                raise OutputError(f"{flag} and {other_flag} are both {path}: give two names")
    if request.output:
        overwritten = input_overwritten(Path(request.output), request_inputs(request))
        if overwritten:
            raise OutputError(overwritten)
    for out in (request.json, request.map):
        if out:
            check_writable(out, inputs=request_inputs(request), folder=False)


def check_request(request: RenderRequest) -> None:
    """Faults found from the arguments alone, before a model is loaded (seconds)."""
    request.style.validate()
    if request.frames is not None and request.frames < 1:
        raise CamviewError(f"--frames must be at least 1, not {request.frames}")
    if not (request.output or request.json or request.map):
        # All the work and nothing to show for it: say so before any source or model opens.
        raise OutputError("nothing to write: give -o, --json or --map")
    names = method_names(request)
    for name in names:
        if method_class(name) is CAM:
            CAM.check_head(request.model, known_head(request.model))
    check_options(names, request.method_options)


def method_names(request: RenderRequest) -> list[str]:
    """The methods to render: the compared ones, else the one."""
    if request.compare is not None:
        names = [n.strip() for n in request.compare if n.strip()]
        if not names:
            raise CamviewError("--compare needs method names separated by commas")
        return names
    return [request.method]


def make_methods(request: RenderRequest, model: CamModel) -> list[Method]:
    """The methods to render with their options; an option none of them takes is an error,
    not silently ignored (camview.maps.check_options)."""
    names = method_names(request)
    if (request.compare is None and method_class(names[0]) is CAM
            and model.transformer is not None and CAM.applies_to(model) is not None):
        # CAM, the default, is not defined for this ViT: its recommended method, as the window
        # does, said in a note (the JSON's "method" names the one used).
        names = [fallback_method(model)]
        log.info("CAM is not defined for %s (%s): using %s", model.name, CAM.applies_to(model),
                 method_class(names[0]).title)
    options = check_options(names, request.method_options)
    # The model already reads --layer (load_model read_layer=): the methods read its layer.
    return [make_method(name, model, None, **options) for name in names]
