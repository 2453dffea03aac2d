"""Read a PyTorch ``pytorch_model.bin`` state dict without torch (NumPy + stdlib only).

The core never imports an optional extra, and unpickling a downloaded file must never run code from
it. A PyTorch checkpoint (``torch.save``, zip format since torch 1.6) is a zip archive::

    <name>/data.pkl         pickle of the state dict; tensors refer to storages by key
    <name>/data/<key>       raw bytes of each storage
    <name>/byteorder        "little" or "big" (absent in old archives: little)

``data.pkl`` is read by a restricted unpickler: ``find_class`` resolves only the globals a state dict
needs (``collections.OrderedDict``, the ``torch._utils._rebuild_*`` tensor builders, the storage
classes, ``torch.<dtype>`` objects, ``torch.Size``) to local NumPy stand-ins; every other global is
refused before anything is called. Each tensor's (storage offset, size, stride) is checked against
its storage before a view is built, and each result is a fresh contiguous array. bfloat16 is
widened to float32 (exact: bf16 is a truncated float32), as the torch-based reader did.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import zipfile

import numpy as np

from .errors import InputFileError
from .safetensors import bf16_bits_to_float32

# torch dtype name -> NumPy dtype ("bfloat16" is read as its uint16 bit pattern, then widened).
_DTYPES = {
    "float32": np.float32,
    "float": np.float32,
    "float64": np.float64,
    "double": np.float64,
    "float16": np.float16,
    "half": np.float16,
    "bfloat16": np.uint16,
    "int64": np.int64,
    "long": np.int64,
    "int32": np.int32,
    "int": np.int32,
    "int16": np.int16,
    "short": np.int16,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
}
_STORAGES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
MAX_NDIM = 32  # NumPy 1.x's limit
# Tensors may share a storage (HF's .bin keeps tied embeddings as up to 4 views of one storage), so
# the arrays returned may exceed the file; past this multiple of the file size it is hostile.
MAX_EXPANSION = 8


class _DType:
    def __init__(self, name: str):
        self.name = name


class _StorageType:
    def __init__(self, name: str, dtype: str):
        self.name, self.dtype = name, dtype


class _Storage:
    """One ``data/<key>`` record: its raw bytes and the element type torch stored them as."""

    def __init__(self, key: str, dtype: str, raw: bytes):
        self.key, self.dtype, self.raw = key, dtype, raw


class _Tensor:
    """What ``_rebuild_tensor*`` returned: checked and materialised by ``_materialise``."""

    def __init__(self, storage, offset, size, stride, dtype=None, metadata=None):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.dtype = dtype if dtype is not None else getattr(storage, "dtype", None)
        self.metadata = metadata


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _Tensor(storage, storage_offset, size, stride, metadata=metadata)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    # v3: an untyped (byte) storage reinterpreted as ``dtype``
    return _Tensor(storage, storage_offset, size, stride, dtype=getattr(dtype, "name", dtype), metadata=metadata)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data  # an nn.Parameter is its tensor here


def _size(dims=()):
    return tuple(dims)


def _allowed():
    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch", "Size"): _size,
        ("torch", "UntypedStorage"): _StorageType("UntypedStorage", "uint8"),
        ("torch.storage", "UntypedStorage"): _StorageType("UntypedStorage", "uint8"),
    }
    for name, dtype in _STORAGES.items():
        table["torch", name] = _StorageType(name, dtype)
    for name in _DTYPES:
        table["torch", name] = _DType(name)
    return table


_ALLOWED = _allowed()


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, path: str, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(io.BytesIO(data))
        self.path, self.archive, self.prefix, self.byteorder = path, archive, prefix, byteorder
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED[module, name]
        except (KeyError, TypeError):
            raise InputFileError(
                f"{self.path}: the pickle refers to the global {module}.{name}, which a state dict of tensors does "
                f"not need; refused (only tensor-rebuilding globals are allowed, no code from a checkpoint runs)"
            ) from None

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, numel)
        if not (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
        ):
            raise InputFileError(
                f"{self.path}: unexpected persistent id {str(pid)[:80]!r}; expected a storage reference"
            )
        _, stype, key, _location, numel = pid
        if key in self.storages:
            return self.storages[key]
        if type(numel) is not int or numel < 0:
            raise InputFileError(f"{self.path}: storage {key!r} has element count {numel!r}; expected an integer >= 0")
        name = f"{self.prefix}data/{key}"
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise InputFileError(f"{self.path}: storage record {name!r} is missing from the archive") from None
        itemsize = np.dtype(_DTYPES[stype.dtype]).itemsize
        if info.file_size != numel * itemsize:
            raise InputFileError(
                f"{self.path}: storage {name!r} holds {info.file_size} bytes; its {numel} "
                f"{stype.dtype} elements need {numel * itemsize}"
            )
        if info.compress_type != zipfile.ZIP_STORED:
            # torch writes records uncompressed; requiring that keeps every read within the file's size
            raise InputFileError(
                f"{self.path}: storage {name!r} is compressed; PyTorch archives store records uncompressed"
            )
        storage = _Storage(key, stype.dtype, self.archive.read(info))
        self.storages[key] = storage
        return storage


def _dims(value, what: str, where: str):
    if not isinstance(value, tuple) or len(value) > MAX_NDIM or any(type(v) is not int or v < 0 for v in value):
        raise InputFileError(f"{where}: {what} {str(value)[:80]} is not a tuple of at most {MAX_NDIM} integers >= 0")
    return value


def _materialise(t: _Tensor, where: str, byteorder: str) -> np.ndarray:
    """A fresh contiguous array for one tensor; every bound checked before any view is built."""
    storage = t.storage
    if not isinstance(storage, _Storage):
        raise InputFileError(f"{where}: the tensor's storage is a {type(storage).__name__}, not a storage record")
    if t.metadata:
        # conj/neg bits would change the values read from the storage
        raise InputFileError(
            f"{where}: tensor metadata {str(t.metadata)[:80]} (conjugate/negative views) is not supported"
        )
    if not isinstance(storage.raw, bytes):
        raise InputFileError(f"{where}: the tensor's storage record is not bytes")
    dtype_name = t.dtype
    if not isinstance(dtype_name, str) or dtype_name not in _DTYPES:
        raise InputFileError(f"{where}: dtype {dtype_name!r} is not supported (allowed: {', '.join(sorted(_DTYPES))})")
    size = _dims(t.size, "size", where)
    stride = _dims(t.stride, "stride", where)
    offset = t.offset
    if len(stride) != len(size):
        raise InputFileError(f"{where}: size {size} and stride {stride} have different lengths")
    if type(offset) is not int or offset < 0:
        raise InputFileError(f"{where}: storage offset {offset!r} is not an integer >= 0")
    dtype = np.dtype(_DTYPES[dtype_name]).newbyteorder("<" if byteorder == "little" else ">")
    if len(storage.raw) % dtype.itemsize:
        raise InputFileError(
            f"{where}: storage of {len(storage.raw)} bytes is not a whole number of {dtype_name} elements"
        )
    length = len(storage.raw) // dtype.itemsize
    numel = math.prod(size)
    if numel == 0:
        if offset > length:
            raise InputFileError(f"{where}: storage offset {offset} is beyond the storage's {length} elements")
        if max(size, default=0) > length + (1 << 20):
            raise InputFileError(
                f"{where}: empty tensor of size {size} has a dimension past its storage's {length} elements"
            )
        try:
            out = np.zeros(size, dtype.newbyteorder("="))
        except ValueError as e:  # the product of the non-zero dimensions past what NumPy can index
            raise InputFileError(f"{where}: empty tensor of size {size} cannot be built ({e})") from None
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= length:
            raise InputFileError(
                f"{where}: tensor of size {size}, stride {stride} at storage offset {offset} reaches "
                f"element {last}, beyond its storage's {length} elements"
            )
        if numel > length:  # stride-0 (expanded) views could otherwise ask for unbounded memory
            raise InputFileError(
                f"{where}: tensor of size {size} has {numel} elements, more than its storage's {length}; "
                f"expanded tensors are not supported"
            )
        base = np.frombuffer(storage.raw, dtype, count=length)
        view = np.lib.stride_tricks.as_strided(
            base[offset:], shape=size, strides=tuple(s * dtype.itemsize for s in stride), writeable=False
        )
        out = np.array(view, dtype.newbyteorder("="), order="C")  # a fresh, writeable copy
    if dtype_name == "bfloat16":
        out = bf16_bits_to_float32(out)  # exact: bf16 is a truncated float32
    return out


def load(path) -> dict[str, np.ndarray]:
    """The state dict of a zip-format ``torch.save`` file as {name: fresh np.ndarray}; bfloat16 as float32.
    Any problem with the file is a ValueError naming it (and the tensor)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] == b"\x80":  # a bare pickle stream: the legacy format starts with a pickled magic number
        raise InputFileError(
            f"{path}: legacy (pre-torch-1.6, non-zip) PyTorch checkpoint; this reader supports the zip "
            f"format only: re-save it with a current torch.save, or convert it to model.safetensors"
        )
    if not head.startswith(b"PK"):
        raise InputFileError(f"{path}: not a PyTorch checkpoint (expected a zip archive written by torch.save)")
    try:
        with zipfile.ZipFile(path) as archive:
            return _load_archive(path, archive)
    except InputFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, ValueError) as e:
        raise InputFileError(f"{path}: damaged PyTorch checkpoint archive ({type(e).__name__}: {e})") from None


def _load_archive(path: str, archive: zipfile.ZipFile) -> dict[str, np.ndarray]:
    pickles = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise InputFileError(f"{path}: expected one '<name>/data.pkl' record in the archive, found {len(pickles)}")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in archive.namelist():
        byteorder = archive.read(prefix + "byteorder")[:16].decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise InputFileError(f"{path}: byteorder record says {byteorder!r}; expected 'little' or 'big'")
    info = archive.getinfo(pickles[0])
    if info.compress_type != zipfile.ZIP_STORED:
        raise InputFileError(f"{path}: {pickles[0]} is compressed; PyTorch archives store records uncompressed")
    unpickler = _Unpickler(archive.read(info), path, archive, prefix, byteorder)
    try:
        state = unpickler.load()
    except InputFileError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        ValueError,
        RecursionError,
        MemoryError,
        OverflowError,
        zipfile.BadZipFile,
    ) as e:  # ValueError: UnicodeDecodeError...
        raise InputFileError(f"{path}: damaged pickle in {pickles[0]} ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict):
        raise InputFileError(f"{path}: expected a state_dict (dict of tensors), got {type(state).__name__}")
    budget = MAX_EXPANSION * max(os.path.getsize(path), 1 << 20)
    out: dict[str, np.ndarray] = {}
    for name, t in state.items():
        if not isinstance(name, str):
            raise InputFileError(f"{path}: state_dict key {str(name)[:80]!r} is not a string")
        if not isinstance(t, _Tensor):
            raise InputFileError(f"{path}: entry {name!r} is a {type(t).__name__}, not a tensor")
        where = f"{path}: tensor {name!r}"
        array = _materialise(t, where, byteorder)
        budget -= array.nbytes
        if budget < 0:
            raise InputFileError(f"{where}: the tensors add up to more than {MAX_EXPANSION}x the file's size; refused")
        out[name] = array
    return out
