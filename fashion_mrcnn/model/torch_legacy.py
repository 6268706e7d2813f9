"""Read a PyTorch state_dict saved in the legacy (pre-zip, torch < 1.6) format, without torch.

The legacy file is a run of pickles followed by raw storage bytes:

1. the magic number ``0x1950A86A20F9469CFC6C``;
2. the protocol version ``1001``;
3. a dict of system information (``little_endian``, ``type_sizes``);
4. the object itself (here an ``OrderedDict`` of name -> tensor). Each tensor is pickled as a
   call to ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
   backward_hooks)``; its storage is a *persistent id*, the tuple ``("storage", storage_type,
   key, location, numel, view_metadata)``;
5. the list of storage keys, in the order their bytes follow;
6. for each key: an 8-byte little-endian element count, then ``count * itemsize`` bytes.

:func:`read_state_dict` reads that with :class:`RestrictedUnpickler`, which resolves only the
globals such a file needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and
the typed ``torch.*Storage`` classes, mapped to numpy dtypes) and refuses every other global,
so reading a file cannot run code from it. Tensors come back as numpy arrays with their shape,
strides and storage offset applied (a tensor may be a non-contiguous view of its storage).
"""

from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path

import numpy as np

from fashion_mrcnn.errors import WeightsError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
#: torch typed storage class name -> numpy dtype (little-endian).
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _StorageType:
    """Stands for a ``torch.*Storage`` class inside the pickle: just its numpy dtype."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class _Storage:
    """One storage: dtype, element count, and (once the trailing bytes are read) its data."""

    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype = dtype
        self.numel = numel
        self.data: np.ndarray | None = None


class _PendingTensor:
    """A tensor whose storage bytes come after the pickle: materialised by :meth:`array`."""

    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)

    def array(self, name: str) -> np.ndarray:
        data = self.storage.data
        if self.size and min(self.size) == 0:
            return np.zeros(self.size, self.storage.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if data is None or self.offset < 0 or last >= data.size:
            raise WeightsError(
                f"tensor {name!r}: shape {self.size} / stride {self.stride} at offset "
                f"{self.offset} reaches past its storage of {self.storage.numel} elements"
            )
        if not self.size:  # a 0-d tensor (e.g. BatchNorm's num_batches_tracked)
            return np.array(data[self.offset])
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, hooks=None, metadata=None
):
    if not isinstance(storage, _Storage):
        raise WeightsError(f"_rebuild_tensor_v2 got {type(storage).__name__}, not a storage")
    return _PendingTensor(storage, storage_offset, size, stride)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a legacy torch state_dict; any global but the allowed ones is an error.

    ``storages``: dict filled with key -> :class:`_Storage` as persistent ids are met.
    """

    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise WeightsError(
            f"refusing to unpickle global {module}.{name}: a legacy torch state_dict needs only "
            "collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.*Storage"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise WeightsError(f"unsupported persistent id {pid!r} (expected a storage tuple)")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise WeightsError(f"storage {key!r} has unknown type {storage_type!r}")
        if view_metadata is not None:
            raise WeightsError(f"storage {key!r} is a storage view, which is not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


def _load_plain(f, what: str):
    """One of the plain header pickles: builtins only (no globals at all)."""

    class _NoGlobals(pickle.Unpickler):
        def find_class(self, module, name):
            raise WeightsError(f"{what}: unexpected global {module}.{name} in the file header")

    return _NoGlobals(f).load()


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a legacy-format torch ``state_dict`` file as ``{name: np.ndarray}``.

    Keeps the file's key order. Raises WeightsError (naming ``path``) for a zip-format file, a
    wrong magic number or protocol, a big-endian file, a disallowed global, or truncated data.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(b"PK"):
            raise WeightsError(f"{path}: a zip-format torch file; only the legacy format is read")
        f.seek(0)
        try:
            magic = _load_plain(f, str(path))
            if magic != MAGIC_NUMBER:
                raise WeightsError(f"{path}: not a legacy torch file (magic number {magic!r})")
            version = _load_plain(f, str(path))
            if version != PROTOCOL_VERSION:
                raise WeightsError(f"{path}: unsupported torch protocol version {version!r}")
            sys_info = _load_plain(f, str(path))
            if not (isinstance(sys_info, dict) and sys_info.get("little_endian", False)):
                raise WeightsError(f"{path}: only little-endian files are supported")
            storages: dict = {}
            obj = RestrictedUnpickler(f, storages).load()
            keys = _load_plain(f, str(path))
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
            raise WeightsError(f"{path}: not a readable legacy torch file: {exc}") from exc
        for key in keys:
            if key not in storages:
                raise WeightsError(f"{path}: storage key {key!r} is listed but never used")
            storage = storages[key]
            header = f.read(8)
            if len(header) != 8:
                raise WeightsError(f"{path}: truncated before the data of storage {key!r}")
            (count,) = struct.unpack("<q", header)
            if count != storage.numel:
                raise WeightsError(
                    f"{path}: storage {key!r} holds {count} elements, the pickle said "
                    f"{storage.numel}"
                )
            nbytes = count * storage.dtype.itemsize
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise WeightsError(
                    f"{path}: storage {key!r} is truncated ({len(raw)} of {nbytes} bytes)"
                )
            storage.data = np.frombuffer(raw, storage.dtype)
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: holds a {type(obj).__name__}, not a state_dict")
    out = {}
    for name, value in obj.items():
        if not isinstance(value, _PendingTensor):
            raise WeightsError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor")
        out[str(name)] = value.array(f"{path}:{name}")
    return out
