"""A labelled set of images in the layouts people already have.

- A folder with one subfolder per class, the layout of Keras' ``image_dataset_from_directory``
  and torchvision's ``ImageFolder`` (images may sit deeper inside a class folder);
- a CSV of ``path,label`` rows, paths relative to the CSV, with or without a header row.

A class is named by any of the model's labels (case-insensitive, any of an ImageNet label's
comma-separated synonyms, ``_`` for a space), by an ImageNet WordNet id (``n02123045``) when
the model's classes are ImageNet's, or, in a CSV only, by its class index. A class name that
matches nothing is one warning line with the closest labels, and its images are skipped, not
guessed. Only paths are read here: images are decoded while the set is evaluated, so a set of
any size costs a few bytes per image.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from camview.errors import SourceError
from camview.labels import ClassNames, class_names_for
from camview.sources import natural_key
from camview.sources.images import IMAGE_SUFFIXES, shrink

if TYPE_CHECKING:
    from camview.models import CamModel

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One image of the set and the index of its true class."""

    path: Path
    label: int


@dataclass
class LabelledSet:
    """The images of a set in dataset order, and the warnings met while reading it."""

    name: str  # as the user gave it
    images: list[LabelledImage]
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def open_labelled_set(spec: str | Path, labels: Sequence[str]) -> LabelledSet:
    """The set at `spec` (a class-folder tree or a .csv), its classes matched to `labels`.

    Raises SourceError (one line) when there is no such folder or file, or nothing in it can
    be used; problems with single folders or rows are warnings in the result.
    """
    path = Path(spec)
    names = class_names_for(labels)
    if path.is_file() and path.suffix.lower() == ".csv":
        found = _read_csv(path, names, str(spec))
    elif path.is_dir():
        found = _read_folders(path, names, str(spec))
    elif path.exists():
        raise SourceError(f"dataset {spec}: give a folder with one subfolder per class, or a "
                          ".csv of path,label rows")
    else:
        raise SourceError(f"dataset {spec}: no such folder or file")
    for message in found.warnings:
        log.warning("%s", message)
    if not found.images:
        raise SourceError(f"dataset {spec}: no labelled images found (a folder needs one "
                          "subfolder per class named after one of the model's labels, or "
                          "--labels FILE naming the model's classes; a CSV needs path,label "
                          "rows)")
    return found


def keras_class_names(spec: str | Path, classes: int) -> list[str] | None:
    """A class-folder set's folder names in sorted order when there are exactly `classes` of
    them, else None. Keras' ``image_dataset_from_directory`` numbers classes so (class i is
    the i-th folder name, sorted), so a model trained on such a set and saved without
    label names is labelled by this set's own folders."""
    path = Path(spec)
    if not path.is_dir():
        return None
    try:
        folders = sorted(p.name for p in path.iterdir()
                         if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return None
    return folders if len(folders) == classes else None


def name_classes_from_folders(model: CamModel, spec: str | Path,
                              labels_flag: str = "--labels") -> str | None:
    """A model saved without label names, on a class-folder set with one folder per class:
    the folders' sorted names become its labels, as Keras' image_dataset_from_directory
    numbered them when it was trained. Returns the one line that says so (a convention the
    user should know was applied), None when nothing was named. The command and the window
    share this, so both follow one rule; `labels_flag` is the option that names this model's
    classes otherwise (--versus-labels for evaluate's second model)."""
    if model.labels_named:
        return None
    names = keras_class_names(spec, len(model.labels))
    if names is None:
        return None
    model.name_classes(names, f"the set's {len(names)} class folders, sorted (Keras' "
                              "image_dataset_from_directory order)")
    return (f"{model.name} has no label names: its {len(names)} classes are named after the "
            f"set's folders in sorted order, as Keras' image_dataset_from_directory numbers "
            f"them ({', '.join(names[:6])}{', …' if len(names) > 6 else ''}); {labels_flag} FILE "
            "to name them otherwise")


def looks_like_labelled_set(spec: str | Path, labels: Sequence[str]) -> bool:
    """Whether a path dropped on the window is a labelled set rather than a plain source: a
    .csv, or a folder most of whose subfolders are named after classes. A folder of images
    without such subfolders is a folder source. Only names are read (a drop must be quick)."""
    path = Path(spec)
    if path.is_file():
        return path.suffix.lower() == ".csv"
    try:
        folders = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return False
    names = class_names_for(labels)
    matched = sum(1 for p in folders if names.find(p.name) is not None)
    return matched > 0 and 2 * matched >= len(folders)


def listed_files(spec: str | Path) -> list[Path]:
    """The files a .csv set names (first column, header and all, unchecked): cheap, for
    refusing an output that would overwrite one before the set is read. A folder: none (its
    images are under it)."""
    path = Path(spec)
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [path.parent / row[0].strip() for row in csv.reader(f)
                    if row and row[0].strip()]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []  # the set's reader says what is wrong with it


def _images_under(folder: Path) -> list[Path]:
    """Image files anywhere under `folder`, in natural order of their relative paths."""
    try:
        files = [p for p in folder.rglob("*") if is_image_file(p) and p.is_file()]
    except OSError as exc:
        raise SourceError(f"folder {folder}: cannot be listed ({exc.strerror or exc})") from None
    return sorted(files, key=lambda p: natural_key(p.relative_to(folder).as_posix()))


def _read_folders(root: Path, names: ClassNames, name: str) -> LabelledSet:
    found = LabelledSet(name, [])
    try:
        entries = sorted(root.iterdir(), key=lambda p: natural_key(p.name))
    except OSError as exc:
        raise SourceError(f"dataset {name}: cannot be listed ({exc.strerror or exc})") from None
    loose = sum(1 for p in entries if p.is_file() and is_image_file(p))
    if loose:
        found.warnings.append(f"{name}: {loose} image{'s' if loose != 1 else ''} directly in "
                              "the dataset folder skipped (an image's class is its subfolder)")
    for folder in entries:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        files = _images_under(folder)
        index = names.find(folder.name)
        if index is None:
            found.warnings.append(names.no_match("folder", folder.name, len(files)))
            continue
        if not files:  # a class the set means to have, with nothing in it: said, not silent
            found.warnings.append(f"{name}: class folder {folder.name} holds no images "
                                  f"({', '.join(e[1:] for e in IMAGE_SUFFIXES)})")
        found.images.extend(LabelledImage(p, index) for p in files)
    return found


def _read_csv(path: Path, names: ClassNames, name: str) -> LabelledSet:
    found = LabelledSet(name, [])
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f), 1)
                    if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"dataset {name}: cannot be read as a CSV ({exc})") from None
    base = path.parent
    unknown: Counter[str] = Counter()
    malformed: list[int] = []
    for position, (line, row) in enumerate(rows):
        if len(row) < 2 or not row[0].strip():
            malformed.append(line)
            continue
        file, label = row[0].strip(), row[1].strip()
        index = names.find(label, allow_index=True)
        if index is None:
            # A first row naming no class and no file is a header ("path,label").
            if position == 0 and not (base / file).exists():
                continue
            unknown[label] += 1
            continue
        found.images.append(LabelledImage(base / file, index))
    if malformed:
        shown = ", ".join(str(n) for n in malformed[:5]) + (", ..." if len(malformed) > 5 else "")
        found.warnings.append(f"{name}: {len(malformed)} row(s) without path,label skipped "
                              f"(line {shown})")
    for label, count in unknown.items():
        found.warnings.append(names.no_match(f"{name}: label", label, count))
    return found


#: The class of each bundled demo photo (camview/resources/demo/SOURCES.md), as a folder name.
DEMO_CLASSES = {"chelsea": "tabby", "coffee": "espresso", "rocket": "missile",
                "astronaut": "space_shuttle", "camera": "tripod"}


#: Width / height of the crops write_demo_set makes: 1:1, 4:3, 3:2, 16:9 and their portraits.
PHOTO_ASPECTS = (1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3)


def write_demo_set(folder: str | Path, count: int, *, long_side: int | None = None,
                   seed: int = 0, flat: bool = False) -> Path:
    """A labelled set of `count` images made from the demo photos: random crops (60-100 % of
    the photo, in one of the aspect ratios cameras and phones produce, landscape or portrait)
    and mirror flips, optionally shrunk to `long_side`. For benchmarks, stress runs and tests;
    real photos, so real mistakes.

    Returns the set: `folder` with one subfolder per class, or with `flat` every image in
    `folder` itself (what `camview render` reads) and the set `folder/labels.csv`.
    """
    import cv2
    import numpy as np

    from camview.sources import demo_photos
    from camview.sources.images import decode_image

    rng = np.random.default_rng(seed)
    photos = [(DEMO_CLASSES[name], decode_image(data)[0]) for name, data in demo_photos()
              if name in DEMO_CLASSES]
    if not photos:
        raise SourceError("the demo photos are missing from this installation")
    folder = Path(folder)
    rows = []
    for n in range(count):
        label, photo = photos[n % len(photos)]
        h, w = photo.shape[:2]
        aspect = PHOTO_ASPECTS[int(rng.integers(len(PHOTO_ASPECTS)))]  # width / height
        scale = rng.uniform(0.6, 1.0)
        ch = int(min(h, w / aspect) * scale)
        cw = int(ch * aspect)
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        image = photo[y:y + ch, x:x + cw]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        if long_side:
            image = shrink(image, long_side)
        name = f"{label}_{n:05d}.jpg" if flat else f"{label}/{label}_{n:05d}.jpg"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows.append(f"{name},{label}\n")
    if not flat:
        return folder
    (folder / "labels.csv").write_text("path,label\n" + "".join(rows), encoding="utf-8")
    return folder / "labels.csv"
