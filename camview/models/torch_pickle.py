"""Read the tensors of a PyTorch checkpoint with only ``pickle`` and ``numpy``.

camview ships a model as a PyTorch ``.pth`` but must not depend on torch (a large install that
the viewer never runs). A checkpoint is a pickle whose tensors point at raw storages kept
beside it; this module unpickles it with a whitelist of the few torch names a state dict uses
(any other global is refused, never imported or called) and turns each tensor into an array.

Both on-disk formats are read:

- legacy (torch < 1.6, or ``_use_new_zipfile_serialization=False``): a magic number, the
  protocol version and system info, each pickled, then the pickled object, the list of storage
  keys and the raw storages in that order, each after an 8-byte little-endian element count;
- zip (torch >= 1.6): ``<root>/data.pkl`` plus one member ``<root>/data/<key>`` per storage.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from camview.errors import ModelError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch storage class name -> numpy dtype of its elements (bfloat16 is kept as raw uint16 and
# widened to float32 when the tensor is built).
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co.: only its element type matters here."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """A flat storage; its data is filled in when its bytes are read (after the pickle in the
    legacy format)."""

    def __init__(self, storage_type: _StorageType, key: str, numel: int) -> None:
        self.storage_type = storage_type
        self.key = key
        self.numel = numel
        self.data: np.ndarray | None = None


class _Tensor:
    """A tensor whose storage may not be read yet: ``_rebuild_tensor_v2``'s arguments."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)

    def to_numpy(self) -> np.ndarray:
        flat = self.storage.data
        if flat is None:
            raise ValueError(f"storage {self.storage.key} was never read")
        if len(self.size) != len(self.stride) or self.offset < 0 or min(self.stride, default=0) < 0:
            raise ValueError("a tensor with an invalid size, stride or offset")
        extent = 0 if 0 in self.size else 1 + sum(
            (n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
        if self.offset + extent > flat.size:
            raise ValueError(f"a tensor reaches past the end of storage {self.storage.key}")
        array = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.size,
            strides=[s * flat.itemsize for s in self.stride], writeable=False)
        array = np.array(array, copy=True)
        if self.storage.storage_type.name == "BFloat16Storage":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None) -> _Tensor:
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None) -> _Tensor:
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None,
                                  state=None) -> _Tensor:
    return data


_ALLOWED_FUNCTIONS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("collections", "OrderedDict"): OrderedDict,
}


class _Refused(Exception):
    """A pickle asked for a global outside the whitelist."""


class _Unpickler(pickle.Unpickler):
    """Resolves only the whitelisted names; storages come through ``persistent_load``."""

    def __init__(self, file, storage_loader) -> None:
        super().__init__(file)
        self._storage_loader = storage_loader

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return _ALLOWED_FUNCTIONS[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        return self._storage_loader(pid)


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy header pickles, which hold only numbers, strings and dicts."""

    def find_class(self, module: str, name: str) -> Any:
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise ValueError("unexpected persistent id")


def _plain_load(stream: io.BytesIO) -> Any:
    return _PlainUnpickler(stream).load()


def _as_str(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _legacy_load(data: bytes) -> Any:
    stream = io.BytesIO(data)
    magic = _plain_load(stream)
    if magic != _LEGACY_MAGIC:
        raise ValueError("no torch magic number")
    protocol = _plain_load(stream)
    if protocol != _LEGACY_PROTOCOL:
        raise ValueError(f"unsupported legacy protocol version {protocol}")
    sys_info = _plain_load(stream)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
        raise ValueError("big-endian checkpoints are not supported")

    storages: dict[str, _Storage] = {}
    views: list[tuple[_Storage, _Storage, int, int]] = []

    def load_storage(pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or _as_str(pid[0]) != "storage":
            raise ValueError(f"unexpected persistent id {pid!r:.60}")
        storage_type, root_key, _location, numel, view_metadata = pid[1:6]
        root_key = _as_str(root_key)
        if not isinstance(storage_type, _StorageType):
            raise ValueError("a storage of unknown type")
        if root_key not in storages:
            storages[root_key] = _Storage(storage_type, root_key, int(numel))
        root = storages[root_key]
        if view_metadata is None:
            return root
        view_key, view_offset, view_size = view_metadata
        view = _Storage(storage_type, _as_str(view_key), int(view_size))
        views.append((view, root, int(view_offset), int(view_size)))
        return view

    obj = _Unpickler(stream, load_storage).load()
    keys = _plain_load(stream)
    for key in keys:
        key = _as_str(key)
        storage = storages.get(key)
        if storage is None:
            raise ValueError(f"storage {key} is listed but not used")
        header = stream.read(8)
        if len(header) != 8:
            raise EOFError
        (count,) = struct.unpack("<q", header)
        nbytes = count * storage.storage_type.dtype.itemsize
        raw = stream.read(nbytes)
        if count < 0 or len(raw) != nbytes or count < storage.numel:
            raise EOFError
        storage.data = np.frombuffer(raw, dtype=storage.storage_type.dtype)
    for view, root, offset, size in views:
        if root.data is None:
            raise ValueError(f"storage {root.key} was never read")
        view.data = root.data[offset:offset + size]
    return obj


def _zip_load(archive: zipfile.ZipFile) -> Any:
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ValueError("a zip file without one <root>/data.pkl: not a torch checkpoint")
    root = pickles[0].rsplit("/", 1)[0]
    byteorder = f"{root}/byteorder"
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
        raise ValueError("big-endian checkpoints are not supported")
    storages: dict[str, _Storage] = {}

    def load_storage(pid: Any) -> Any:
        if not isinstance(pid, tuple) or len(pid) < 5 or _as_str(pid[0]) != "storage":
            raise ValueError(f"unexpected persistent id {pid!r:.60}")
        storage_type, key, _location, numel = pid[1:5]
        key = _as_str(key)
        if not isinstance(storage_type, _StorageType):
            raise ValueError("a storage of unknown type")
        if key not in storages:
            storage = _Storage(storage_type, key, int(numel))
            raw = archive.read(f"{root}/data/{key}")
            usable = len(raw) - len(raw) % storage_type.dtype.itemsize
            storage.data = np.frombuffer(raw[:usable], dtype=storage_type.dtype)
            if storage.data.size < storage.numel:
                raise EOFError
            storages[key] = storage
        return storages[key]

    with archive.open(pickles[0]) as stream:
        return _Unpickler(io.BytesIO(stream.read()), load_storage).load()


def _to_arrays(obj: Any) -> Any:
    if isinstance(obj, _Tensor):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return {k: _to_arrays(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_arrays(v) for v in obj)
    return obj


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The ``name -> array`` state dict of the checkpoint at `path` (legacy or zip format).

    A checkpoint saved as ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped. Raises
    ModelError, naming the file, if it cannot be read, is not a torch checkpoint, is cut short,
    or asks for a pickle global other than the few a plain state dict needs.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"model file {path}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise ModelError(f"model file {path} is empty; download it again")
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                obj = _zip_load(archive)
        elif data.startswith(b"PK\x03\x04"):
            raise EOFError("a zip file without its directory")
        else:
            obj = _legacy_load(data)
        obj = _to_arrays(obj)
    except _Refused as exc:
        raise ModelError(f"model file {path}: refusing to load, it asks for the Python object "
                         f"{exc} (only plain PyTorch state dicts are read)") from None
    except pickle.UnpicklingError as exc:
        if "truncated" not in str(exc):
            raise ModelError(f"model file {path} is not a readable PyTorch checkpoint "
                             f"({str(exc)[:120]})") from None
        raise ModelError(f"model file {path} is truncated; download it again") from None
    except (EOFError, struct.error, zipfile.BadZipFile) as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise ModelError(f"model file {path} is truncated or corrupt{detail}; download it "
                         "again") from None
    except (ValueError, TypeError, KeyError, IndexError,
            AttributeError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        detail = str(exc) if type(exc) is ValueError else f"{type(exc).__name__}: {exc}"
        raise ModelError(f"model file {path} is not a readable PyTorch checkpoint "
                         f"({detail[:120]})") from None

    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict):
        raise ModelError(f"model file {path} holds a {type(obj).__name__}, not a state dict")
    state = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if not state:
        raise ModelError(f"model file {path} holds no tensors")
    return state
