"""The command line's grammar: every command's options, declared once here and read by
`camview.cli` (which parses and dispatches), the docs test and the installed-package check.
Options that several commands share are added by one function each; a method's options come
from its declaration (camview.maps.options), a model file's help from the format registry.

No prefix abbreviations (`--layer` is never taken for `--layers`) and one-line errors.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from camview.errors import EXIT_USAGE

if TYPE_CHECKING:
    from camview.commands.args import SecondModel


class _Parser(argparse.ArgumentParser):
    """One-line errors, and no prefix abbreviations: `inspect M --layer X` was taken as
    `--layers`, so an option is only ever its whole name."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, exit 2, as for every other bad input
        self.exit(EXIT_USAGE, f"camview: {message} (see camview --help)\n")


def _add_loading_options(p: argparse.ArgumentParser) -> None:
    """What it takes to load a model: shared by the window, render and inspect."""
    from camview.models.preprocess import MODES, help_text

    p.add_argument("--weights", default=None,
                   help="weights: a file or folder (SqueezeNet: the .xml or its folder), "
                        "'imagenet' (keras.applications, downloaded once) or 'none' (random)")
    p.add_argument("--labels", default=None, help="labels file for your own model, one a line "
                                                  "(a binary model: two, first = output < 0.5)")
    p.add_argument("--preprocess", choices=MODES, default=None, metavar="MODE",
                   help=help_text())
    p.add_argument("--mean", default=None, metavar="R,G,B",
                   help="your own model's input mean on the 0..1 RGB scale, as torchvision "
                        "writes it (frames are fed (RGB/255 - mean) / std; default ImageNet's)")
    p.add_argument("--std", default=None, metavar="R,G,B",
                   help="your own model's input standard deviation on the 0..1 RGB scale "
                        "(with --mean; default ImageNet's)")
    p.add_argument("--import", dest="imports", action="append", default=None,
                   metavar="FILE.py", help="run this Python file first (it registers the "
                   "custom layers your model uses); may be repeated")
    p.add_argument("--input-layout", choices=["nchw", "nhwc"], default=None,
                   help="an ONNX model's input layout, where its graph leaves it ambiguous "
                        "(default: read from the file)")
    from camview.models.runtimes import RUNTIMES

    p.add_argument("--runtime", choices=RUNTIMES, default=None,
                   help="forward pass: openvino (faster on a CPU), tensorflow, or auto "
                        "(default: openvino when the model converts and matches TensorFlow, "
                        "else tensorflow; see README, Runtime)")


def _add_second_model_options(p: argparse.ArgumentParser | argparse._ArgumentGroup,
                              second: SecondModel, whose: str, labels_note: str = "") -> None:
    """A second model's own --PREFIX-labels/-weights/-preprocess/-resize (`whose`: the model
    in the help's words), taking what the first model's options take: one declaration for
    `evaluate --versus` and the window's `--compare-model`, one flag per SECOND_MODEL_OPTIONS
    name (the names load_second_model takes)."""
    from camview.models import ResizeMode
    from camview.models.preprocess import MODES
    from camview.models.second_model import SECOND_MODEL_OPTIONS

    declared = {
        "labels": dict(metavar="FILE", help=f"labels file for {whose}{labels_note}"),
        "weights": dict(metavar="PATH", help=f"weights for {whose} (as --weights)"),
        "preprocess": dict(choices=MODES, metavar="MODE",
                           help=f"how {whose} is fed (as --preprocess)"),
        "resize": dict(choices=[m.value for m in ResizeMode],
                       help=f"how frames are resized for {whose} (as --resize: a CNN beside "
                            "a ViT fed its centre crop)"),
    }
    for option in SECOND_MODEL_OPTIONS:
        p.add_argument(second.option_flag(option), default=None, **declared[option])


def _add_model_options(p: argparse.ArgumentParser) -> None:
    from camview.maps import METHODS
    from camview.models import DEFAULT_MODEL, ResizeMode
    from camview.models.formats import MODEL_HELP

    p.add_argument("--model", default=None, help=f"{MODEL_HELP} (default {DEFAULT_MODEL})")
    _add_loading_options(p)
    p.add_argument("--layer", default=None, help="layer to read maps from (default: the last "
                   "spatial activation before global pooling; Grad-CAM and Grad-CAM++ take "
                   "any layer `camview inspect` lists, as base/layer inside a nested base)")
    p.add_argument("--resize", choices=[m.value for m in ResizeMode], default=None,
                   help="squash to the input size, shorter side to it keeping the aspect "
                        "ratio, or crop the centre as timm evaluates (the map is drawn on "
                        "that centre; default per model, see README)")
    p.add_argument("--method", default=None,
                   help=f"{', '.join(METHODS)} (default cam; gradient-only nets such as vgg16 "
                        "need another; see README, Methods)")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")


def _add_model_argument(p: argparse.ArgumentParser) -> None:
    """The model a network command looks at: optional, the built-in one by default."""
    from camview.models import DEFAULT_MODEL
    from camview.models.formats import MODEL_HELP

    p.add_argument("model", nargs="?", default=DEFAULT_MODEL,
                   help=f"{MODEL_HELP} (default {DEFAULT_MODEL})")


def _add_method_options(p: argparse.ArgumentParser) -> None:
    """A flag per map method option (--patch, --samples...), made from the methods'
    declarations (camview.maps.method_options); values are range-checked with the request."""
    from camview.maps import method_options, option_takers

    for option in method_options():
        takers = ", ".join(m.name for m in option_takers(option.name))
        limits = "" if option.choices else f", from {option.low:g} to {option.high:g}"
        p.add_argument(option.flag, type=option.type, choices=option.choices, default=None,
                       metavar=option.metavar,
                       help=f"{takers}: {option.help} (default {option.default}{limits})"
                       .replace("%", "%%"))


def _add_style_options(p: argparse.ArgumentParser) -> None:
    from camview.drawing.overlay import COLORMAPS, LAYOUTS, STYLES, OverlayStyle
    from camview.drawing.scale import SCALE_HELP, SCALES

    default = OverlayStyle()
    # Defaults are None so the window can tell a given option from a saved setting; the
    # values used when neither says anything are OverlayStyle's.
    p.add_argument("--style", choices=STYLES, default=None,
                   help="matlab: the reference CAMshow recipe; blend: colour map over the frame "
                        f"(default {default.style})")
    p.add_argument("--layout", choices=LAYOUTS, default=None,
                   help="side-by-side: raw | overlay; overlay: the overlay only "
                        f"(default {default.layout})")
    p.add_argument("--topk", type=int, default=None,
                   help=f"labels drawn (default {default.topk}; at most what fits in half the "
                        "picture)")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"map values under this (0..1) are not coloured (default "
                        f"{default.threshold})")
    p.add_argument("--alpha", type=float, default=None,
                   help=f"blend opacity (default {default.alpha})")
    p.add_argument("--colormap", default=None,
                   help=f"{', '.join(COLORMAPS)} (default {default.colormap})")
    p.add_argument("--scale", choices=SCALES, default=None,
                   help="what full heat means: " + "; ".join(
                       f"{name}: {text}" for name, text in SCALE_HELP.items()) +
                        f" (default {default.scale})")


def _add_window_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--source", default=None,
                   help="camera index, video, image, folder or 'demo' (default: camera 0, "
                        "else the bundled demo)")
    p.add_argument("--record", default=None, metavar="PATH.mp4",
                   help="start recording the composed view at once")
    p.add_argument("--set", default=None, metavar="DATASET",
                   help="open a labelled set at start (a folder with one subfolder per class, "
                        "or a CSV of path,label rows): its mistakes, with the maps of the "
                        "predicted and the true class side by side")
    p.add_argument("--output-dir", default=None, metavar="FOLDER",
                   help="folder for recordings and snapshots (default ~/Videos/camview and "
                        "~/Pictures/camview, or the XDG folders; the window's Settings menu "
                        "changes it too)")
    p.add_argument("--reset-settings", action="store_true",
                   help="forget the window's saved settings and start with the defaults")
    p.add_argument("--target", default=None, help="class to map (label or index); "
                                                  "default each frame's top-1")
    p.add_argument("--compare", default=None, metavar="A,B,C",
                   help="start with the live compare view: a titled grid of the frame through "
                        "these live methods (e.g. cam,gradcam,layercam)")
    from camview.commands.args import COMPARE_MODEL

    p.add_argument(COMPARE_MODEL.flag, default=None, metavar=COMPARE_MODEL.metavar,
                   help="add a row to the compare grid: the same methods (or the method "
                        "shown) for this model on the same frame (a built-in, e.g. "
                        "squeezenet, or a model file, e.g. your PyTorch net as .onnx)")
    _add_second_model_options(p, COMPARE_MODEL, "the --compare-model model")
    _add_model_options(p)
    _add_style_options(p)


def _window_options_help() -> str:
    """The window's options, for the top-level help: `camview --source x.mp4` is the window,
    so `camview --help` lists what it takes, not only the subcommands."""
    p = argparse.ArgumentParser(prog="camview", usage=argparse.SUPPRESS, add_help=False)
    _add_window_options(p.add_argument_group(
        "window options (camview [window] [options], the default command)"))
    return p.format_help()


USAGE = """camview [window] [options]
       camview render SOURCE [-o OUTPUT] [--json PATH] [--map PATH.npy] [options]
       camview evaluate DATASET [--json PATH] [--report PATH.html] [options]
       camview models
       camview inspect [MODEL] [--labels FILE] [--layers [--json PATH]]
       camview filters [MODEL] [--layer L] -o filters.png [--npy kernels.npy] [--max N]
       camview dream [MODEL] --target CLASS -o out.png [--json PATH] [--steps N] [--size PX]"""


def _add_evaluate_parser(sub) -> None:
    from camview.sets.classify import DEFAULT_BATCH
    from camview.sets.counts import DEFAULT_MAX_MISTAKES
    from camview.sets.on_ray import RAY_LOCAL

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
    p.add_argument("--resume", action="store_true",
                   help="skip the images a stopped run already did (kept per image in the "
                        "cache folder, by model, options and file) and say how many")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--ray", nargs="?", const=RAY_LOCAL, default=None, metavar="ADDRESS",
                   help="spread the pass over a Ray cluster (HEAD:PORT of `ray start --head`; "
                        "alone: a local Ray started for the run); needs camview[ray]")
    p.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="Ray workers, each holding the model once (default: as many as the "
                        "cluster's CPUs, or GPUs, allow)")
    p.add_argument("--ray-cpus", type=float, default=1.0, metavar="C",
                   help="CPUs each Ray worker reserves (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, metavar="G",
                   help="GPUs each Ray worker reserves (default 0; 1 puts a worker on each "
                        "GPU, 0.5 two)")
    p.add_argument("--metrics", default=None, metavar="M1,M2",
                   help="score these methods' maps on every image (top-1 class): deletion and "
                        "insertion AUC, Average Drop, Increase in Confidence, against a random "
                        "map; means with 95 %% intervals in --json, a ranking in --report")
    p.add_argument("--no-views", action="store_true",
                   help="classification only: no embedding scatter and no per-class maps "
                        "(where each class looks)")
    from camview.commands.args import VERSUS
    from camview.models.formats import FILE_PHRASE

    p.add_argument(VERSUS.flag, default=None, metavar=VERSUS.metavar,
                   help=f"a second model run on the same set, a built-in name or {FILE_PHRASE}: "
                        "both accuracies, agreement, and where one is right and the other wrong")
    _add_second_model_options(p, VERSUS, "the --versus model",
                              labels_note=" (classes are matched by name)")
    _add_model_options(p)


def build_parser() -> argparse.ArgumentParser:

    parser = _Parser(prog="camview", usage=USAGE, epilog=_window_options_help(),
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Live class activation maps of ImageNet CNNs: a camera, video "
                                 "or image\nbeside where the network looks.")
    from camview import __version__

    parser.add_argument("--version", action="version", version=f"camview {__version__}")
    # prog: the subcommands' own usage starts "camview render", not with USAGE's three lines.
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, title="commands",
                                prog="camview")

    window = sub.add_parser("window", help="the live window (the default command)")
    _add_window_options(window)

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
    render.add_argument("--compare", default=None, metavar="A,B,C",
                        help="a titled grid of the frame through several methods")
    render.add_argument("--metrics", action="store_true",
                        help="deletion/insertion scores per method in --json (slow)")
    render.add_argument("--sanity", action="store_true",
                        help="one image: randomise the network top-down in 5 steps and say "
                             "whether each method's map changes (JSON, a figure beside -o)")
    _add_method_options(render)
    _add_model_options(render)
    _add_style_options(render)

    _add_evaluate_parser(sub)

    models = sub.add_parser("models", help="list the models, their weights and head kinds")
    models.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    inspect = sub.add_parser("inspect", help="what camview understands of a model: input, "
                             "preprocessing, read layer, head, layers for --layer, classes")
    _add_model_argument(inspect)
    _add_loading_options(inspect)
    inspect.add_argument("--layers", action="store_true",
                         help="every layer (also inside a nested base): type, output shape at "
                              "the size camview feeds, parameters; the totals")
    inspect.add_argument("--json", default=None, metavar="PATH",
                         help="with --layers: write the summary as JSON")
    inspect.add_argument("--frame", default="640x480", metavar="WxH",
                         help="frame size the shapes are worked out for (default 640x480)")
    inspect.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    _add_network_parsers(sub)
    return parser


def _add_network_parsers(sub) -> None:
    """`camview filters` and `camview dream`: inside the network (camview.network)."""
    from camview.network.dream import DEFAULT_SIZE, DEFAULT_STEPS
    from camview.network.filters import DEFAULT_MAX

    filters = sub.add_parser("filters", help="a convolution's kernels as a picture (the first "
                                             "one's in colour)")
    _add_model_argument(filters)
    filters.add_argument("--layer", default=None,
                         help="the convolution (default the first; base/layer inside a nested "
                              "base)")
    filters.add_argument("-o", "--output", required=True, help="the picture (.png)")
    filters.add_argument("--npy", default=None, help="also write the layer's whole kernel as "
                                                     "float32 .npy, as Keras stores it")
    filters.add_argument("--max", type=int, default=DEFAULT_MAX,
                         help=f"kernels shown at most (default {DEFAULT_MAX})")
    _add_loading_options(filters)
    filters.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")

    dream = sub.add_parser("dream", help="a picture grown to excite one class (activation "
                                         "maximisation)")
    _add_model_argument(dream)
    dream.add_argument("--target", default=None, help="the class (label, synonym or index)")
    dream.add_argument("--layer", default=None,
                       help="with --channel: excite one channel of this layer instead")
    dream.add_argument("--channel", type=int, default=None, help="the channel of --layer")
    dream.add_argument("-o", "--output", required=True, help="the picture (.png)")
    dream.add_argument("--json", default=None, metavar="PATH",
                       help="write target, steps, time and the probability of the PNG read "
                            "back")
    dream.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                       help=f"gradient steps in all octaves (default {DEFAULT_STEPS})")
    dream.add_argument("--size", type=int, default=DEFAULT_SIZE,
                       help=f"picture side in pixels (default {DEFAULT_SIZE})")
    dream.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_loading_options(dream)
    dream.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
