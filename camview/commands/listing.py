"""`camview models`: the models camview knows by name, the runtimes here and the model files
it reads; and the padded table it and `camview inspect` print."""

from __future__ import annotations

import argparse

from camview.errors import EXIT_OK


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell; the last one is left as long as it is."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  "
              + row[-1])


def run_models(args: argparse.Namespace) -> int:
    """Each built-in model's head, input, resize, preprocessing and whether its weights are
    here; the runtimes this machine has; the model files that work too."""
    from camview.models import DEFAULT_MODEL, list_models
    from camview.models.formats import SUFFIXES_TEXT
    from camview.models.runtimes import runtime_devices

    rows = [(i.name + (" (default)" if i.name == DEFAULT_MODEL else ""), i.head.value,
             f"{i.input_size}x{i.input_size}", i.resize.value, i.preprocessing,
             i.status.summary, i.status.detail) for i in list_models()]
    print_table([("model", "head", "input", "resize", "preprocess", "weights", ""), *rows])
    print(f"\nruntimes (--runtime): {runtime_devices()}")
    print(f"\nAlso: a path to your own {SUFFIXES_TEXT} classifier (--labels FILE for its class "
          "names, --preprocess MODE for how it was fed; `camview inspect FILE` shows what "
          "camview reads from it).")
    return EXIT_OK
