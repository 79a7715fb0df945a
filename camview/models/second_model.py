"""A second model beside the first, loaded with its own options: `evaluate --versus MODEL` and
the window's `--compare-model NAME` both take the first model's per-model options under their
own prefix (--versus-resize, --compare-resize ...). What those options are, and how they
become a load_model call whose advice names the second model's flags, is declared here once
for both (the command line's options are made from SECOND_MODEL_OPTIONS too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from camview.errors import ModelError
from camview.models import CamModel, load_model

#: load_model's keyword arguments a second model takes, each as the first model's --NAME
#: under the second model's prefix: --versus-labels, --compare-resize ...
SECOND_MODEL_OPTIONS: tuple[str, ...] = ("labels", "weights", "preprocess", "resize")

#: The prefixes of the two second models' options: `evaluate --versus-resize`, the window's
#: `--compare-resize` (camview.commands.args makes the flags; the window's loader names them).
VERSUS_PREFIX = "versus"
COMPARE_PREFIX = "compare"

_FIRST_FLAGS = re.compile("--(" + "|".join(SECOND_MODEL_OPTIONS) + ")")


def own_flags(message: str, prefix: str) -> str:
    """`message` with the first model's flags (--weights) named as the second model's
    (--versus-weights): the loaders' advice is written for the first model."""
    return _FIRST_FLAGS.sub(lambda m: f"--{prefix}-{m.group(1)}", message)


def load_second_model(name: str, options: Mapping[str, object], prefix: str,
                      **more: object) -> CamModel:
    """load_model(name) with the second model's `options` (keys of SECOND_MODEL_OPTIONS; the
    values as the first model's flags take them) and `more` (progress, runtime...); a
    ModelError's advice names the `prefix`ed flags."""
    unknown = set(options) - set(SECOND_MODEL_OPTIONS)
    if unknown:  # a programming error, not the user's: the flags are made from the same names
        raise TypeError(f"not a second model's option: {', '.join(sorted(unknown))}")
    try:
        return load_model(name, **options, **more)  # type: ignore[arg-type]
    except ModelError as exc:
        raise ModelError(own_flags(str(exc), prefix)) from None
