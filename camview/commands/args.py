"""Parsed command-line arguments into the core's typed values, for every command alike.

`camview render` and the window read the same style options; keeping the translation here
lets both the CLI and the window's start-up use it without importing each other. The same
holds for a second model's own options (SecondModel: `evaluate --versus-*` and the window's
`--compare-*`), declared, checked and turned into load_second_model's options here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from camview.drawing.overlay import OverlayStyle
from camview.errors import CamviewError, ModelError
from camview.models.second_model import COMPARE_PREFIX, SECOND_MODEL_OPTIONS, VERSUS_PREFIX

#: The command-line options that set an OverlayStyle field of the same name.
STYLE_OPTIONS = ("style", "threshold", "alpha", "colormap", "layout", "topk", "scale")


def style_from_args(args: argparse.Namespace) -> OverlayStyle:
    """The style the command line asks for (options left out keep the defaults), checked now:
    a bad --threshold must fail in a second, not at the first frame."""
    given = {k: getattr(args, k) for k in STYLE_OPTIONS if getattr(args, k, None) is not None}
    try:
        return OverlayStyle(**given).validate()
    except ValueError as exc:
        raise CamviewError(str(exc)) from None


def model_kwargs(args: argparse.Namespace) -> dict:
    """load_model's keyword arguments from the loading options given (window, evaluate)."""
    kwargs = {"weights": args.weights, "labels": args.labels, "read_layer": args.layer,
              "resize": args.resize, "preprocess": args.preprocess,
              "runtime": getattr(args, "runtime", None),
              "input_layout": getattr(args, "input_layout", None)}
    return {k: v for k, v in kwargs.items() if v is not None}


@dataclass(frozen=True)
class SecondModel:
    """A second model a command line names (`evaluate --versus`, the window's
    `--compare-model`) and its own per-model options, --PREFIX-labels, --PREFIX-weights,
    --PREFIX-preprocess and --PREFIX-resize, which mean what the first model's do: the parser
    adds them, the checks read them and the load_model call is made from them through this one
    declaration."""

    flag: str  # the option naming the model: "--versus"
    prefix: str  # its options' prefix: "versus" (--versus-resize)
    metavar: str  # the model in the flag's usage: "--versus MODEL"

    @property
    def dest(self) -> str:
        """The parsed arguments' attribute holding the model's name."""
        return self.flag.lstrip("-").replace("-", "_")

    def option_flag(self, option: str) -> str:
        return f"--{self.prefix}-{option}"

    def option_dest(self, option: str) -> str:
        return f"{self.prefix}_{option}"

    def name(self, args: argparse.Namespace) -> str | None:
        return getattr(args, self.dest, None) or None

    def kwargs(self, args: argparse.Namespace) -> dict[str, str]:
        """The options given for this model, as load_second_model takes them."""
        return {option: value for option in SECOND_MODEL_OPTIONS
                if (value := getattr(args, self.option_dest(option), None)) is not None}


#: --weights values that name no file.
WEIGHT_WORDS = ("imagenet", "none")

VERSUS = SecondModel("--versus", VERSUS_PREFIX, "MODEL")
COMPARE_MODEL = SecondModel("--compare-model", COMPARE_PREFIX, "NAME")
SECOND_MODELS = (VERSUS, COMPARE_MODEL)


def check_second_model(args: argparse.Namespace, second: SecondModel) -> None:
    """A second model's name and its own options (`evaluate --versus`, the window's
    `--compare-model`), by the first model's rules, each fault naming the second model's flag:
    an option without the model, a model name or file that cannot be, weights for a model that
    holds its own or that are not there, a labels file that cannot be read, --preprocess for
    a built-in model (fed the way it was trained)."""
    from camview.labels import read_labels_file
    from camview.models import check_model_name

    name = second.name(args)
    given = second.kwargs(args)
    if name is None:
        if given:
            flag = second.option_flag(next(iter(given)))
            raise CamviewError(f"{flag} is for the {second.flag} model: give {second.flag} "
                               f"{second.metavar} too")
        return
    try:
        spec = check_model_name(name)
    except ModelError as exc:  # said of the second model: the first one may be fine
        raise ModelError(f"{second.flag}: {exc}") from None
    weights = given.get("weights")
    if weights and spec is None:
        raise ModelError(f"{second.option_flag('weights')} is for the built-in models; {name} "
                         "holds its own weights")
    if weights and weights.lower() not in WEIGHT_WORDS and not Path(weights).exists():
        raise ModelError(f"{second.option_flag('weights')} {weights}: no such file or folder "
                         "(or 'imagenet', 'none')")
    if given.get("preprocess") not in (None, "auto") and spec is not None:
        raise ModelError(f"{second.option_flag('preprocess')} is for your own models; "
                         f"{spec.name} is fed the way it was trained ({spec.preprocessing})")
    if "labels" in given:
        try:
            read_labels_file(given["labels"])
        except ModelError as exc:
            raise ModelError(f"{second.option_flag('labels')}: {exc}") from None


#: Options that name a file a command reads (beside its source or set): no output may be
#: written over one of them.
READ_FILE_OPTIONS = ("model", "weights", "labels", "source",
                     *(key for second in SECOND_MODELS for key in (
                         second.dest, second.option_dest("labels"),
                         second.option_dest("weights"))))


def read_files(args: argparse.Namespace) -> tuple[str, ...]:
    """The files and folders named by the options a command reads from."""
    return tuple(str(value) for key in READ_FILE_OPTIONS
                 if isinstance(value := getattr(args, key, None), str))


def method_list(text: str | None) -> list[str] | None:
    """--compare a,b,c as names (None when not given)."""
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def method_options_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The map methods' options given on the command line (their flags are made from
    camview.maps.method_options), by name."""
    from camview.maps import method_options

    return {o.name: value for o in method_options()
            if (value := getattr(args, o.name, None)) is not None}


def render_request(args: argparse.Namespace):
    """`camview render`'s typed request: only the options given override its defaults."""
    from camview.commands.render_request import RenderRequest

    given = {k: getattr(args, k) for k in ("output", "json", "map", "model", "weights", "labels",
                                           "layer", "resize", "preprocess", "runtime",
                                           "input_layout", "method", "target", "frames")
             if getattr(args, k, None) is not None}
    compare = method_list(getattr(args, "compare", None))
    return RenderRequest(source=args.source, style=style_from_args(args),
                         progress=not args.no_progress, compare=compare,
                         metrics=bool(getattr(args, "metrics", False)),
                         sanity=bool(getattr(args, "sanity", False)),
                         method_options=method_options_from_args(args), **given)
