"""User-facing errors: each carries one line that says what went wrong and what to do.

The CLI prints them without a traceback and exits 2; the window shows them in its status area.
Anything else that escapes is a bug and is logged with its traceback.
"""


class CamviewError(Exception):
    """An expected fault with a one-line message for the user."""


class ModelError(CamviewError):
    """A model cannot be built, loaded or asked for what it cannot do."""


class SourceError(CamviewError):
    """A frame source cannot be opened or stopped delivering."""


class OutputError(CamviewError):
    """An output (image, video, JSON, .npy) cannot be written."""
