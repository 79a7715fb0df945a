"""Command line: `camview` (the window), `camview render`, `camview evaluate`,
`camview models`, `camview inspect`, `camview filters`, `camview dream`.

Expected faults (a missing file, a model without weights, a camera that is not there) end in
one line on stderr and exit status 2; only `--debug` shows tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from camview.commands.parser import build_parser
from camview.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CamviewError

log = logging.getLogger("camview")


def _load_window_model(args: argparse.Namespace) -> None:
    """`camview --model FILE`: load the file before the window opens, so an unusable one is
    refused exactly as render refuses it (one line, exit 2) instead of the window falling
    back to another model; the window is handed the loaded model. Built-in names are
    checked already (camview.commands.precheck) and load in the window's background."""
    from camview.commands.args import model_kwargs
    from camview.models import load_model, spec_for

    if args.model is not None and spec_for(args.model) is None:
        args.model = load_model(args.model, **model_kwargs(args))


def _one_line(exc: BaseException) -> str:
    """A message as one line: some carry a library's multi-line text (a command, its log)."""
    return " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())


class _Labels(logging.Formatter):
    """'camview: note: ...' for what camview tells (INFO: a guess it made, a one-time wait),
    'camview: WARNING: ...' for what went wrong but not fatally; errors are printed by main."""

    def format(self, record: logging.LogRecord) -> str:
        label = "note" if record.levelno == logging.INFO else record.levelname
        return f"camview: {label}: {record.getMessage()}"


def _set_up_logging(debug: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Labels())
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])
    logging.getLogger("camview").setLevel(logging.DEBUG if debug else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8, shown as \xNN
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "window")
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    _set_up_logging(debug)
    try:
        if args.command == "window":
            from camview.app.display_check import require_display

            require_display()  # before TensorFlow's import: a missing display is told at once
        from camview.commands.precheck import check_arguments
        from camview.commands.quiet_libraries import quiet_native_logs, quiet_tensorflow

        check_arguments(args)  # bad values and paths: one line in a second, not after TF
        if args.command == "models" and not getattr(args, "imports", None):
            from camview.commands.listing import run_models

            return run_models(args)  # built-ins are listed from their specs: no TensorFlow
        quiet_tensorflow()
        if not debug:
            quiet_native_logs()
        if getattr(args, "imports", None):
            from camview.models.user import import_user_modules

            import_user_modules(args.imports)
        if args.command == "models":
            from camview.commands.listing import run_models

            return run_models(args)
        if args.command in ("inspect", "filters", "dream"):
            from camview.commands.inside import run_dream, run_filters, run_inspect

            run = {"inspect": run_inspect, "filters": run_filters, "dream": run_dream}
            return run[args.command](args)
        if args.command == "render":
            from camview.commands.args import render_request
            from camview.commands.render import render
            from camview.commands.stopping import stop_on_signals

            with stop_on_signals():  # SIGTERM, SIGHUP: outputs finished, as for Ctrl+C
                return render(render_request(args))
        if args.command == "evaluate":
            from camview.commands.evaluate import run_evaluate
            from camview.commands.stopping import stop_on_signals

            with stop_on_signals():
                return run_evaluate(args)
        from camview.app.main import run_window

        _load_window_model(args)
        return run_window(args)
    except CamviewError as exc:
        if debug:
            log.debug("where the error was raised:", exc_info=True)
        print(f"camview: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `camview models | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_OK
    except Exception as exc:  # a bug: say so in one line, with the traceback under --debug
        if debug:
            raise
        log.error("unexpected %s: %s (run with --debug for the traceback)",
                  type(exc).__name__, _one_line(exc))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
