"""`camview` (the window): options, the Qt application, Ctrl+C, exit status."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from camview.commands.args import (
    COMPARE_MODEL,
    STYLE_OPTIONS,
    method_list,
    model_kwargs,
    style_from_args,
)
from camview.errors import EXIT_OK, CamviewError, SourceError
from camview.maps import DEFAULT_METHOD
from camview.sources import is_demo

#: The signals that close the window as its close button does.
CLOSE_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM")
                      if hasattr(signal, name))


def options_from_args(args: argparse.Namespace):
    """Window options from the parsed `camview window` arguments."""
    from camview.app.saved_settings import Options
    from camview.models import DEFAULT_MODEL

    style = style_from_args(args)
    source = args.source
    if source is not None:
        text = str(source).strip()
        if not text.isdigit() and not is_demo(text) and not Path(text).expanduser().exists():
            raise SourceError(f"{text}: no such file or folder")
    labelled_set = getattr(args, "set", None)
    if labelled_set is not None and not Path(labelled_set).expanduser().exists():
        raise SourceError(f"labelled set {labelled_set}: no such folder or file")
    loading = model_kwargs(args)
    given = {k for k in (*STYLE_OPTIONS, "method", "model", "output_dir", "runtime")
             if getattr(args, k, None) is not None}
    if set(loading) - {"runtime"}:  # --weights/--labels/--layer/--resize are for the model
        given.add("model")  # given or the default, never for a saved one
    compare = method_list(getattr(args, "compare", None))
    return Options(source=source, record=args.record, labelled_set=labelled_set,
                   model=args.model or DEFAULT_MODEL, model_kwargs=loading,
                   method=args.method or DEFAULT_METHOD,
                   target=args.target, style=style, output_dir=args.output_dir, given=given,
                   runtime=getattr(args, "runtime", None) or "auto",
                   compare=None if compare is None else tuple(compare),
                   compare_model=COMPARE_MODEL.name(args),
                   compare_kwargs=COMPARE_MODEL.kwargs(args))


def opened_settings(args: argparse.Namespace):
    """The saved settings, forgotten first with --reset-settings."""
    from camview.app.saved_settings import open_settings

    settings = open_settings()
    if getattr(args, "reset_settings", False):
        settings.clear()
        settings.sync()
    return settings


def run_window(args: argparse.Namespace) -> int:
    """Show the window until it is closed (or Ctrl+C in the terminal); 0 on a clean exit."""
    # camview.cli has checked for a display already (require_display): Qt aborts without one.
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from camview.app.leaving import default_signals_in_forks, leave
    from camview.app.saved_settings import options_with_settings
    from camview.app.window import MainWindow
    from camview.commands.args import check_second_model, read_files
    from camview.drawing.output_files import check_writable
    from camview.maps import method_class
    from camview.models.whole_folder import stop_conversions

    options = options_from_args(args)
    method_class(options.method)  # an unknown method: one line, exit 2, before any window
    if options.compare is not None:  # likewise an unknown or slow method to compare
        from camview.live import CompareSpec

        if CompareSpec.of(options.compare) is None:
            raise CamviewError("--compare needs method names separated by commas")
    # --compare-model and its own options, as `camview` checked them before TensorFlow (a
    # caller of run_window may not have): a model file or a labels file that cannot be, one line.
    check_second_model(args, COMPARE_MODEL)
    if options.record:
        check_writable(options.record, inputs=read_files(args))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName("camview")
    app.setApplicationName("camview")
    settings = opened_settings(args)
    window = MainWindow(options_with_settings(options, settings), settings)

    # Ctrl+C and SIGTERM (`kill`, a session logging out): Qt's loop runs C++ code, so Python
    # only sees the signal when some Python runs; a timer makes sure it does, and the handler
    # closes the window the normal way (SIGTERM used to kill it mid-conversion, leaving the
    # conversion's staging folder in the cache).
    default_signals_in_forks()
    window.closing.connect(stop_conversions)  # the process ends with the window
    previous = {sig: signal.signal(sig, lambda *_: QTimer.singleShot(0, window.close))
                for sig in CLOSE_SIGNALS}
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
    try:
        window.show()
        window.start()
        app.exec()
    finally:
        heartbeat.stop()
        window.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # A model may still be loading or converting on the loader thread: see camview.app.leaving
    return leave(EXIT_OK)
