"""Faults the command line shows by itself, found before TensorFlow is imported.

Importing TensorFlow takes 7-9 s on a small machine; a wrong --method, a missing source or
--threshold 1.5 must not wait for it. Everything here reads only the arguments and the
files they name (a model file's container, a labels file, a dataset folder), never a
network, so each mistake is one line in well under a second. The commands check the same
things again where they do the work, so a Python caller of render() is just as safe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from camview.commands.args import COMPARE_MODEL, WEIGHT_WORDS, check_second_model
from camview.errors import ModelError, SourceError


def check_arguments(args: argparse.Namespace) -> None:
    """Raise the CamviewError a command would raise later, for what needs no model."""
    command = args.command
    for path in getattr(args, "imports", None) or []:
        if not Path(path).is_file():
            raise ModelError(f"--import {path}: no such file")
    if command == "models":
        return
    if getattr(args, "mean", None) is not None or getattr(args, "std", None) is not None:
        from camview.models.preprocess import mean_std_mode

        # One mode string from here on: every place that passes --preprocess passes it.
        args.preprocess = mean_std_mode(args.mean, args.std, args.preprocess)
    labels = _check_model_options(args)
    _say_onnx_runtime(args)
    if command == "inspect":
        return
    if getattr(args, "method", None) is not None:
        from camview.maps import method_class

        method_class(args.method)
    if command == "render":
        _check_render(args)
    elif command == "evaluate":
        from camview.commands.evaluate import check_request

        check_request(args)
    elif command == "window":
        _check_window(args)
    target = getattr(args, "target", None)
    if target is not None:
        _check_target(args, target, labels)


def _say_onnx_runtime(args: argparse.Namespace) -> None:
    """--runtime tensorflow with an ONNX model: one line saying it runs on OpenVINO anyway."""
    if getattr(args, "runtime", None) != "tensorflow":
        return
    from camview.models.formats import format_of

    for name in (getattr(args, k, None) for k in ("model", "versus", "compare_model")):
        found = format_of(name) if isinstance(name, str) else None
        if found is not None and found.model_class is not None:  # not a Keras graph
            import logging

            from camview.models.onnx_model import RUNS_ON_OPENVINO

            logging.getLogger(__name__).info("%s: %s", name, RUNS_ON_OPENVINO)


def _check_model_options(args: argparse.Namespace) -> list[str] | None:
    """--model, --weights and --labels: the names known, the files there; the labels read."""
    from camview.labels import read_labels_file
    from camview.models import DEFAULT_MODEL, check_model_name, spec_for

    name = getattr(args, "model", None) or DEFAULT_MODEL
    check_model_name(name)
    weights = getattr(args, "weights", None)
    if weights and spec_for(name) is None:  # it was silently ignored
        raise ModelError(f"--weights is for the built-in models; {name} holds its own weights")
    if weights and weights.lower() not in WEIGHT_WORDS and not Path(weights).exists():
        raise ModelError(f"--weights {weights}: no such file or folder (or 'imagenet', "
                         "'none')")
    labels = getattr(args, "labels", None)
    return read_labels_file(labels) if labels else None


def _check_source(spec: str | int) -> None:
    """A missing file or folder, or a camera index with no device: named, at once."""
    from camview.sources import CameraSource, ImageSource, VideoSource, open_source
    from camview.sources.images import check_file

    source = open_source(spec, opened=False)
    if isinstance(source, CameraSource):
        source.check_present()
    elif isinstance(source, ImageSource | VideoSource):  # an empty file: now, not after TF
        check_file(source.path, "image" if isinstance(source, ImageSource) else "video")


def _check_render(args: argparse.Namespace) -> None:
    from camview.commands.args import render_request
    from camview.commands.render_request import check_outputs, check_request, method_names
    from camview.maps import method_class

    request = render_request(args)
    check_request(request)
    for name in method_names(request):
        method_class(name)
    _check_source(request.source)
    check_outputs(request)


def _check_window(args: argparse.Namespace) -> None:
    from camview.commands.args import read_files, style_from_args
    from camview.drawing.output_files import check_writable
    from camview.sources import open_source

    style_from_args(args)
    check_second_model(args, COMPARE_MODEL)
    if args.source is not None:  # a camera is the window's to retry, not refused here
        open_source(args.source, opened=False)
    if args.set is not None and not Path(args.set).expanduser().exists():
        raise SourceError(f"labelled set {args.set}: no such folder or file")
    if args.record:
        check_writable(args.record, inputs=read_files(args))


def _check_target(args: argparse.Namespace, target: str, labels: list[str] | None) -> None:
    """--target against the class names when they are known without the model: a labels
    file, or a built-in model's ImageNet classes."""
    from camview.labels import class_names_for, find_class, imagenet_labels
    from camview.models import DEFAULT_MODEL, spec_for

    name = getattr(args, "model", None) or DEFAULT_MODEL
    if labels is None and spec_for(name) is not None:
        labels = list(imagenet_labels())
    if labels is not None:
        find_class(class_names_for(labels), target, name)

