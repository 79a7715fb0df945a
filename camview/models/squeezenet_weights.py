"""Where SqueezeNet 1.1's weights are found, and fetching them once when they are not.

No TensorFlow here: `camview models` and `--help` ask where the weights are without paying
for the import. Looked for in order: --weights PATH, $CAMVIEW_SQUEEZENET, the per-user
folder; when none has them, the two IR files are downloaded once from the pinned public
source (or the mirror in $CAMVIEW_WEIGHTS_URL), checked against their pinned SHA-256 and kept
in the per-user folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from camview.errors import ModelError
from camview.models.download import Progress, RemoteFile, fetch_verified, megabytes

ENV_VAR = "CAMVIEW_SQUEEZENET"
URL_ENV_VAR = "CAMVIEW_WEIGHTS_URL"  # a folder URL holding the two files (a mirror)
XML_NAME = "squeezenet1.1.xml"
BIN_NAME = "squeezenet1.1.bin"
USER_SUBDIR = Path("camview") / "models" / "squeezenet1.1"  # under $XDG_DATA_HOME
SOURCE_REPO = "intel/inference-engine-node"
SOURCE_COMMIT = "52194d07a2c49e2f38cb68c586c9d80165c57afd"
SOURCE_FOLDER = "models/squeezenet1.1/FP16/"
SOURCE_URL = f"https://github.com/{SOURCE_REPO}/tree/{SOURCE_COMMIT}/{SOURCE_FOLDER.rstrip('/')}"
#: The raw files of that commit (not checked from the machine this was written on: offline).
DOWNLOAD_URL = (f"https://raw.githubusercontent.com/{SOURCE_REPO}/{SOURCE_COMMIT}/"
                f"{SOURCE_FOLDER.rstrip('/')}")
#: The two files and their SHA-256, computed from a copy of that commit's files.
FILES = (
    RemoteFile(XML_NAME, "1083564ddfa45f744d0582f6356a963c92704ed881410b071715576ad9915b55",
               75094),
    RemoteFile(BIN_NAME, "b2455b7a6fcff99cdca977396862806ee9136257c29ac094d730c61a9793495f",
               2471022),
)
DOWNLOAD_MB = megabytes(FILES)


def user_model_dir() -> Path:
    """The per-user folder the weights are looked for in ($XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / USER_SUBDIR


def download_url() -> str:
    return os.environ.get(URL_ENV_VAR, "").strip() or DOWNLOAD_URL


def _find_xml(path: Path, what: str) -> Path:
    path = path.expanduser()
    if path.is_dir():
        if (path / XML_NAME).is_file():
            return path / XML_NAME
        xmls = sorted(path.glob("*.xml"))
        if len(xmls) == 1:
            return xmls[0]
        raise ModelError(f"{what}{path}: folder has no {XML_NAME} (with its .bin)")
    if path.suffix.lower() == ".bin":  # the weights half of the pair: use its .xml
        path = path.with_suffix(".xml")
    if not path.is_file():
        raise ModelError(f"{what}{path}: no such file or folder (give {XML_NAME} or the "
                         "folder holding it and its .bin)")
    return path


def local_weights_path(path: str | Path | None = None) -> Path | None:
    """The .xml found without downloading: `path` (the .xml or its folder), else
    $CAMVIEW_SQUEEZENET (same), else the user folder when it holds both files; None when
    nothing is there. A path that is given but wrong is an error, never a silent fallback."""
    if path is not None and str(path) != "":
        return _find_xml(Path(path), "SqueezeNet weights ")
    env = os.environ.get(ENV_VAR, "")
    if env:
        return _find_xml(Path(env), f"${ENV_VAR}=")
    folder = user_model_dir()
    if (folder / XML_NAME).is_file() and (folder / BIN_NAME).is_file():
        return folder / XML_NAME
    return None


def offline_advice() -> str:
    folder = user_model_dir()
    return (f"connect to the internet and retry, set ${URL_ENV_VAR} to a mirror folder holding "
            f"{XML_NAME} and {BIN_NAME}, or copy both files from {SOURCE_URL} into {folder} "
            f"(or give --weights PATH or ${ENV_VAR})")


def resolve_weights_path(path: str | Path | None = None, *, download: bool = True,
                         progress: Progress | None = None) -> Path:
    """The SqueezeNet 1.1 .xml to load (see `local_weights_path`); when there is none, the
    two files are fetched once into `user_model_dir()` (unless download=False)."""
    found = local_weights_path(path)
    if found is not None:
        return found
    folder = user_model_dir()
    # In the window there are no flags to give: say what to do there instead.
    window_hint = (f"SqueezeNet 1.1 weights are not here and could not be downloaded: connect "
                   f"to the internet and choose squeezenet again, or copy {XML_NAME} and "
                   f"{BIN_NAME} into {folder} (from {SOURCE_URL})")
    if not download:
        raise ModelError(f"SqueezeNet 1.1 weights not found (${ENV_VAR} is not set and "
                         f"{folder} has no {XML_NAME}): {offline_advice()}",
                         window_hint=window_hint)
    try:
        fetch_verified(FILES, download_url(), folder, advice=offline_advice(), progress=progress)
    except ModelError as exc:
        raise ModelError(str(exc), window_hint=window_hint) from None
    return folder / XML_NAME
