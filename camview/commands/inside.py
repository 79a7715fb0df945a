"""`camview inspect`, `camview filters` and `camview dream`: the command-line side of the
inside-the-network tools (load, run, write, say what was done)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from camview.commands.args import read_files
from camview.drawing.output_files import atomic_file, check_writable
from camview.drawing.writers import write_image
from camview.errors import EXIT_OK, CamviewError, ModelError, OutputError
from camview.models.base import CamModel


def parse_frame(text: str) -> tuple[int, int]:
    """'640x480' (width x height) -> (h, w); CamviewError in one line otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CamviewError(f"--frame takes WIDTHxHEIGHT such as 640x480, not {text!r}") from None
    if w < 1 or h < 1:
        raise CamviewError(f"--frame must be at least 1x1, not {text!r}")
    return h, w


def write_json(path: str | Path, doc: dict) -> None:
    try:
        with atomic_file(path) as f:
            f.write(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def print_layers(model: CamModel, frame: tuple[int, int], json_path: str | None) -> None:
    """`camview inspect --layers`: the whole summary, and its JSON when asked (its path
    checked by the caller before the model loaded)."""
    from camview.network.summary import summarise, summary_lines

    summary = summarise(model, frame)
    print("\n".join(summary_lines(summary)))
    if json_path:
        write_json(json_path, summary.to_json())


def _load(args: argparse.Namespace) -> CamModel:
    """The model with its loading options; --layer here names a layer to look at, not the
    layer maps are read from, so it is not passed on."""
    from camview.models import DEFAULT_MODEL, load_model

    kwargs = {"weights": args.weights, "labels": args.labels, "preprocess": args.preprocess,
              "input_layout": args.input_layout}
    return load_model(args.model or DEFAULT_MODEL,
                      **{k: v for k, v in kwargs.items() if v is not None})


def run_filters(args: argparse.Namespace) -> int:
    """Write the kernels of one convolution as a grid picture (and the weights as .npy)."""
    from camview.network.filters import filter_grid, kernels

    if int(args.max) != args.max or args.max < 1:
        raise CamviewError(f"--max must be a whole number >= 1, not {args.max}")
    check_writable(args.output, inputs=read_files(args))
    if args.npy:
        check_writable(args.npy, inputs=read_files(args))
    model = _load(args)
    k = kernels(model, args.layer)
    write_image(args.output, filter_grid(k, args.max))
    if args.npy:
        try:
            with atomic_file(args.npy, "wb") as f:  # a file, not a name: np.save adds ".npy"
                np.save(f, k.kernel)
        except OSError as exc:
            raise OutputError(f"cannot write {args.npy}: {exc.strerror or exc}") from None
    shown = min(args.max, k.tiles.shape[0])
    print(f"{k.describe(shown)}; written to {args.output}"
          + (f", weights {k.kernel.shape} to {args.npy}" if args.npy else ""))
    return EXIT_OK


def run_dream(args: argparse.Namespace) -> int:
    """Grow a picture for one class (or channel), write it, read it back and classify it."""
    from camview.commands.progress import Progress
    from camview.network.dream import (
        channel_objective,
        check_settings,
        class_objective,
        class_probabilities,
        dream,
    )

    by_channel = args.layer is not None or args.channel is not None
    if args.target is not None and by_channel:
        raise CamviewError("give --target CLASS, or --layer L --channel K, not both")
    if args.target is None and (args.layer is None or args.channel is None):
        raise CamviewError("what to excite: --target CLASS, or --layer L --channel K "
                           "(a layer `camview inspect` lists and one of its channels)")
    check_settings(args.steps, args.size)
    if not args.output.lower().endswith(".png"):
        raise CamviewError(f"{args.output}: dream writes a .png (8-bit, lossless), so the "
                           "probability read back is the picture's own")
    check_writable(args.output, inputs=read_files(args))
    if args.json:
        check_writable(args.json, inputs=read_files(args))
    model = _load(args)
    if not model.can_backward:
        raise ModelError(f"dream climbs a gradient to the input; {model.name} is an ONNX "
                         "model run by OpenVINO, which has no backward pass")
    if args.target is not None:
        objective = class_objective(model, args.target)
    else:
        from camview.models.graph import resolve_layer

        layer = "/".join(resolve_layer(model.keras_model, args.layer, model.name))
        objective = channel_objective(model, layer, args.channel)
    print(f"dream: {objective.describe(model)}, {args.steps} steps at {args.size} px "
          "(Ctrl+C stops; nothing is written before the end)", flush=True)
    bar = Progress(args.steps, not args.no_progress, unit="steps")
    result = dream(model, objective, steps=args.steps, size=args.size,
                   progress=lambda done, total: bar.update(done))
    bar.finish(args.steps)
    write_image(args.output, result.image)
    back = cv2.imread(args.output, cv2.IMREAD_COLOR)
    if back is None:
        raise OutputError(f"cannot read back {args.output}")
    probs = class_probabilities(model, back)
    doc = {"model": model.name, "preprocess": model.preprocess_name,
           "steps": result.steps, "size": args.size, "time_s": round(result.seconds, 3),
           "score": result.score}
    if objective.layer is None:
        t = objective.target
        doc["target"] = {"index": t, "label": model.labels[t],
                         "prob": float(probs[t])}
        said = (f"{model.short_label(t)}: probability {probs[t]:.3f} for the written PNG read "
                "back")
    else:
        doc["layer"], doc["channel"] = objective.layer, objective.channel
        said = f"channel {objective.channel} of {objective.layer}: mean activation " \
               f"{result.score:.3g}"
    top = int(np.argmax(probs))
    doc["top"] = {"index": top, "label": model.labels[top], "prob": float(probs[top])}
    if args.json:
        write_json(args.json, doc)
    print(f"{said} (top-1 {model.short_label(top)} {probs[top]:.3f}); {result.steps} steps "
          f"in {result.seconds:.1f} s; written to {args.output}")
    return EXIT_OK


def _token_note(model, path: str, shape: tuple) -> str:
    """For a vision transformer's token layer: the grid maps read it as, and which block's
    normalised input it is."""
    found = model.transformer
    if found is None or path not in found.token_layers:
        return ""
    from camview.network.summary import shape_text

    note = f" tokens, read as {shape_text(shape)}"
    if path in found.blocks:
        note += f" (block {found.blocks.index(path) + 1}'s input)"
    return note


def run_inspect(args: argparse.Namespace) -> int:
    """`camview inspect`: what camview understood of a model; a built-in is built without
    weights (no download)."""
    from camview.commands.listing import print_table
    from camview.models import load_model, spec_for
    from camview.models.formats import format_of
    from camview.models.preprocess import CHANNELS
    from camview.network.summary import head_line, shape_text, summarise

    frame = parse_frame(args.frame)
    if args.json and not args.layers:
        raise CamviewError("--json goes with --layers (the summary it writes)")
    if args.json:
        check_writable(args.json, inputs=read_files(args))
    spec = spec_for(args.model)
    weights = args.weights or ("none" if spec else None)
    # Random weights convert anew each time: the runtime is checked when it is asked for.
    found = format_of(args.model)
    onnx = found is not None and found.model_class is not None  # runs on OpenVINO only
    model = load_model(args.model, weights=weights, labels=args.labels,
                       preprocess=args.preprocess, input_layout=args.input_layout,
                       runtime=args.runtime or ("auto" if onnx else "tensorflow"))
    h, w = model.input_size
    size = ("fixed size" if model.fixed_input
            else f"any size (frames resized with {model.resize.value})")
    guess = " (a guess: --preprocess MODE to change)" if model.preprocess_note else ""
    binary = " (one binary output, shown as [negative, positive])" if model.binary else ""
    rows = [("model", model.name + (f" (weights: {spec.weights_status().summary})"
                                    if spec else "")),
            ("input", f"{w}x{h}, {model.channels} channel(s), fed {CHANNELS[model.channels]}, "
                      f"{size}"),
            ("preprocess", f"{model.preprocess_name}: {model.preprocess_why}{guess}"),
            *([("tokens", model.transformer.describe())] if model.transformer else []),
            ("read layer", f"{model.read_layer} ({head_line(model)})"),
            ("classes", f"{len(model.labels)}{binary}; names: {model.labels_source}"),
            ("runtime", model.runtime.describe() + (f" ({model.runtime_note})"
                                                    if model.runtime_note else "")
             + ("" if args.runtime or onnx else " (not checked: --runtime auto or openvino checks "
                                        "whether OpenVINO converts it; the window, render "
                                        "and evaluate use auto)"))]
    print_table([(k + ":", v) for k, v in rows])
    if args.layers:
        print()
        print_layers(model, frame, args.json)
        return EXIT_OK
    layers = model.spatial_layers()
    shapes = {row.path: row.shape for row in summarise(model, frame).rows}
    fed = "x".join(str(d) for d in model.network_size(frame))
    print(f"\nlayers for --layer (gradient methods), {len(layers)}: name, output shape (h x w "
          f"x c) for a {frame[1]}x{frame[0]} frame fed at {fed}")
    print_table([("  " + info.path, shape_text(shapes.get(info.path))
                  + _token_note(model, info.path, info.shape)) for info in layers])
    return EXIT_OK
