"""Write legacy-format (pre-zip) torch state_dict files by hand, without torch, for the tests of
``model.torch_legacy`` and ``model.efficientnet_lite``: the header pickles, the object pickle
with persistent-id storages (written opcode by opcode), the key list and the raw storages."""

from __future__ import annotations

import pickle
import struct

import numpy as np

from fashion_mrcnn.model.torch_legacy import MAGIC_NUMBER, PROTOCOL_VERSION


def op(value) -> bytes:
    """The protocol-2 opcodes that push ``value`` (no PROTO header, no STOP)."""
    return pickle.dumps(value, protocol=2)[2:-1]


def _tensor_pickle(entries, inject: bytes = b"") -> bytes:
    """An ``OrderedDict`` of ``torch._utils._rebuild_tensor_v2`` calls, one per entry
    ``(name, storage_class, key, numel, offset, shape, stride)``, the storage a persistent id."""
    out = [b"\x80\x02ccollections\nOrderedDict\n)R("]
    for name, storage_class, key, numel, offset, shape, stride in entries:
        pid = (
            b"("
            + op("storage")
            + f"ctorch\n{storage_class}\n".encode()
            + op(key)
            + op("cpu")
            + op(numel)
            + b"Nt"
        )
        out.append(op(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"Q")
        out.append(op(offset) + op(tuple(shape)) + op(tuple(stride)))
        out.append(b"\x89ccollections\nOrderedDict\n)RtR")  # requires_grad False, no hooks
    out.append(inject + b"u.")
    return b"".join(out)


def write_legacy(path, tensors, magic=MAGIC_NUMBER, inject=b"", truncate=0):
    """Write ``tensors`` = ``{name: (storage 1-D array, offset, shape, stride)}`` as torch's
    legacy ``torch.save`` would: header pickles, object pickle, key list, raw storages."""
    classes = {np.dtype("<f4"): "FloatStorage", np.dtype("<i8"): "LongStorage"}
    entries, keys, blobs = [], [], []
    for i, (name, (storage, offset, shape, stride)) in enumerate(tensors.items()):
        key = str(7000 + i)
        entries.append((name, classes[storage.dtype], key, storage.size, offset, shape, stride))
        keys.append(key)
        blobs.append(struct.pack("<q", storage.size) + storage.tobytes())
    info = {
        "protocol_version": PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    data = b"".join(
        [
            pickle.dumps(magic, protocol=2),
            pickle.dumps(PROTOCOL_VERSION, protocol=2),
            pickle.dumps(info, protocol=2),
            _tensor_pickle(entries, inject),
            pickle.dumps(keys, protocol=2),
            *blobs,
        ]
    )
    path.write_bytes(data[: len(data) - truncate])
    return path


def write_contiguous(path, arrays):
    """Write ``{name: np.ndarray}`` (float32 or int64), each C-contiguous in its own storage."""
    tensors = {}
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        stride = tuple(s // arr.itemsize for s in arr.strides)
        tensors[name] = (arr.ravel(), 0, arr.shape, stride)
    return write_legacy(path, tensors)
