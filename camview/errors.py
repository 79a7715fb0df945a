"""User-facing errors: each carries one line that says what went wrong and what to do.

The CLI prints them without a traceback and exits 2; the window shows them in its status area.
Anything else that escapes is a bug and is logged with its traceback.
"""


#: camview's exit statuses: done; a bug (one line, --debug for the traceback); bad input, an
#: unusable model or an output that cannot be written (one line naming it).
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CamviewError(Exception):
    """An expected fault with a one-line message for the user.

    The message is written for the command line. Where its advice names command-line flags or
    environment variables, `window_hint` is the same line with advice a window user can follow
    ("choose squeezenet again" instead of "use --weights PATH"); the window shows it instead.
    """

    def __init__(self, message: str = "", *, window_hint: str | None = None) -> None:
        super().__init__(message)
        self.window_hint = window_hint


def for_window(exc: BaseException) -> str:
    """The line the window shows for an error: its window hint, else its message."""
    return getattr(exc, "window_hint", None) or str(exc)


class ModelError(CamviewError):
    """A model cannot be built, loaded or asked for what it cannot do."""


class SourceError(CamviewError):
    """A frame source cannot be opened or stopped delivering."""


class OutputError(CamviewError):
    """An output (image, video, JSON, .npy) cannot be written."""
