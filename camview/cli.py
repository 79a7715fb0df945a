"""Command line: `camview` (the window), `camview render`, `camview evaluate`, `camview models`.

Expected faults (a missing file, a model without weights, a camera that is not there) end in
one line on stderr and exit status 2; only `--debug` shows tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from camview.errors import CamviewError

log = logging.getLogger("camview")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _quiet_tensorflow() -> None:
    """Import TensorFlow without its C++ start-up chatter, which is noise for a user.

    TF_CPP_MIN_LOG_LEVEL silences most of it, but TensorFlow 2.21 still prints the oneDNN
    notice through absl before logging is set up, so stderr is closed for the import itself.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tf.get_logger().setLevel(logging.ERROR)


def _quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own messages off stderr unless --debug.

    They print straight to the terminal ("moov atom not found", "overread 8", a WARN per
    failed open), several lines for one cut video; camview reports each such fault itself, in
    one line that names the file. The FFmpeg level is read when FFmpeg is first used.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as for every other bad input
        self.exit(EXIT_USAGE, f"camview: {message} (see camview --help)\n")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    from camview.models import DEFAULT_MODEL

    p.add_argument("--model", default=None,
                   help=f"model name (default {DEFAULT_MODEL}; see `camview models`) or a "
                        ".keras/.h5 file")
    p.add_argument("--weights", default=None,
                   help="weights: a file or folder (SqueezeNet: the .xml or its folder), "
                        "'imagenet' (keras.applications, downloaded once) or 'none' (random)")
    p.add_argument("--labels", default=None, help="labels file for your own model, one a line")
    p.add_argument("--layer", default=None, help="layer to read maps from (default: the last "
                                                 "spatial activation before global pooling)")
    p.add_argument("--resize", choices=["squash", "shorter"], default=None,
                   help="squash to the input size, or shorter side to it keeping the aspect "
                        "ratio (default per model, see README)")
    p.add_argument("--method", default=None, help="cam, gradcam or gradcam++ (default cam; "
                                                   "gradient-only nets such as vgg16 need gradcam)")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")


def _add_style_options(p: argparse.ArgumentParser) -> None:
    # Defaults are None so the window can tell a given option from a saved setting; the
    # values used when neither says anything are OverlayStyle's.
    p.add_argument("--style", choices=["matlab", "blend"], default=None,
                   help="matlab: the reference CAMshow recipe; blend: colour map over the frame")
    p.add_argument("--layout", choices=["side-by-side", "overlay"], default=None,
                   help="side-by-side (default): raw | overlay; overlay: the overlay only")
    p.add_argument("--topk", type=int, default=None, help="labels drawn (default 3)")
    p.add_argument("--threshold", type=float, default=None,
                   help="map values under this (0..1) are not coloured (default 0.2)")
    p.add_argument("--alpha", type=float, default=None, help="blend opacity (default 0.5)")
    p.add_argument("--colormap", default=None, help="jet (default), turbo, inferno or viridis")


def _add_evaluate_parser(sub) -> None:
    from camview.evaluate import DEFAULT_BATCH, DEFAULT_MAX_MISTAKES

    p = sub.add_parser("evaluate", help="classify a labelled set; rank and explain its mistakes")
    p.add_argument("dataset", help="a folder with one subfolder per class, or a CSV of "
                                   "path,label rows (paths relative to the CSV)")
    p.add_argument("--json", default=None, help="write accuracy, confusions and each image's "
                                                "top-5")
    p.add_argument("--report", default=None, metavar="PATH.html",
                   help="write an HTML report: the mistakes, most confident first, with the "
                        "maps of the predicted and the true class")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                   help=f"images per network call (default {DEFAULT_BATCH})")
    p.add_argument("--max-mistakes", type=int, default=DEFAULT_MAX_MISTAKES,
                   help=f"mistakes shown in the report (default {DEFAULT_MAX_MISTAKES})")
    p.add_argument("--no-cache", action="store_true",
                   help="classify every image again (results are otherwise cached per model "
                        "and file, in $CAMVIEW_CACHE_DIR or ~/.cache/camview)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_model_options(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="camview", description="Live class activation maps of ImageNet CNNs: "
                     "a camera, video or image beside where the network looks.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    window = sub.add_parser("window", help="the live window (the default command)")
    window.add_argument("--source", default=None,
                        help="camera index, video, image, folder or 'demo' (default: camera 0, "
                             "else the bundled demo)")
    window.add_argument("--record", default=None, metavar="PATH.mp4",
                        help="start recording the composed view at once")
    window.add_argument("--target", default=None, help="class to map (label or index); "
                                                       "default each frame's top-1")
    _add_model_options(window)
    _add_style_options(window)

    render = sub.add_parser("render", help="render maps of every frame of a source to files")
    render.add_argument("source", help="camera index (e.g. 0), video, image, folder or 'demo'")
    render.add_argument("-o", "--output", default=None,
                        help="an image (.png/.jpg), a folder, or a video (.mp4/.avi/.mkv)")
    render.add_argument("--json", default=None, help="write top-5, target and peak per frame")
    render.add_argument("--map", default=None, help="write the raw maps as float32 .npy")
    render.add_argument("--target", default=None, help="class to map (label or index); "
                                                       "default each frame's top-1")
    render.add_argument("--frames", type=int, default=None,
                        help="stop after N frames (cameras and the demo run until Ctrl+C "
                             "otherwise; the demo defaults to 150)")
    render.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_model_options(render)
    _add_style_options(render)

    _add_evaluate_parser(sub)

    models = sub.add_parser("models", help="list the models, their weights and head kinds")
    models.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _cmd_models(args: argparse.Namespace) -> int:
    from camview.models import DEFAULT_MODEL, list_models

    rows = [(i.name + (" (default)" if i.name == DEFAULT_MODEL else ""), i.head.value,
             f"{i.input_size}x{i.input_size}", i.resize.value, i.weights) for i in list_models()]
    header = ("model", "head", "input", "resize", "weights")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(4)]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    print("\nAlso: a path to your own .keras/.h5 classifier (--labels FILE for its class names).")
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    """A message as one line: some carry a library's multi-line text (a command, its log)."""
    return " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "window")
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["window", *argv])
    debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="camview: %(levelname)s: %(message)s")
    _quiet_tensorflow()
    if not debug:
        _quiet_native_logs()
    try:
        if args.command == "models":
            return _cmd_models(args)
        if args.command == "render":
            from camview.render import run_render

            return run_render(args)
        if args.command == "evaluate":
            from camview.evaluate import run_evaluate

            return run_evaluate(args)
        from camview.app.main import run_window

        return run_window(args)
    except CamviewError as exc:
        if debug:
            log.debug("where the error was raised:", exc_info=True)
        print(f"camview: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so in one line, with the traceback under --debug
        if debug:
            raise
        log.error("unexpected %s: %s (run with --debug for the traceback)",
                  type(exc).__name__, _one_line(exc))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
