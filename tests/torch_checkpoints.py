"""Small real torch checkpoint files written without torch: the pickle protocol torch uses,
with stand-in `torch` modules only while pickling, so the reader is tested on real bytes."""

from __future__ import annotations

import io
import pickle
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest


class _FakeStorageType:
    """Pickled by reference as torch.<name>, as torch.save does with a tensor's storage type."""


def _fake_torch_modules(monkeypatch) -> tuple[types.ModuleType, types.ModuleType]:
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage", "HalfStorage"):
        cls = type(name, (_FakeStorageType,), {"__module__": "torch"})
        setattr(torch, name, cls)

    def _rebuild_tensor_v2(*args):  # only its name is pickled
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch, utils


class View:
    def __init__(self, storage_key: str, array: np.ndarray, offset: int, size, stride) -> None:
        self.storage_key, self.array = storage_key, array
        self.offset, self.size, self.stride = offset, tuple(size), tuple(stride)


def write_zip_checkpoint(path: Path, tensors: dict[str, np.ndarray | View],
                          wrap: str | None = None, root: str = "archive") -> None:
    """A torch >= 1.6 checkpoint: <root>/data.pkl plus one <root>/data/<key> per storage."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        torch, utils = _fake_torch_modules(monkeypatch)
        storage_names = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage",
                         np.dtype("float16"): "HalfStorage"}
        storages: dict[str, np.ndarray] = {}

        class Storage:
            def __init__(self, key: str, flat: np.ndarray) -> None:
                self.key, self.flat = key, flat

        class Tensor:
            def __init__(self, storage, offset, size, stride) -> None:
                self.args = (storage, offset, size, stride)

            def __reduce__(self):
                return (utils._rebuild_tensor_v2, (*self.args, False, OrderedDict()))

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, Storage):
                    kind = getattr(torch, storage_names[obj.flat.dtype])
                    return ("storage", kind, obj.key, "cpu", obj.flat.size)
                return None

        state = OrderedDict()
        for name, value in tensors.items():
            if isinstance(value, View):
                flat = value.array.ravel()
                storages.setdefault(value.storage_key, flat)
                state[name] = Tensor(Storage(value.storage_key, flat), value.offset, value.size,
                                     value.stride)
            else:
                key = str(len(storages))
                contiguous = np.array(value, order="C")  # (ascontiguousarray makes 0-d 1-d)
                flat = contiguous.ravel()
                storages[key] = flat
                strides = tuple(s // value.itemsize for s in contiguous.strides)
                state[name] = Tensor(Storage(key, flat), 0, value.shape, strides)
        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump({wrap: state} if wrap else state)

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{root}/data.pkl", buffer.getvalue())
        archive.writestr(f"{root}/byteorder", "little")
        for key, flat in storages.items():
            archive.writestr(f"{root}/data/{key}", flat.astype(flat.dtype.newbyteorder("<"))
                             .tobytes())
        archive.writestr(f"{root}/version", "3\n")
