"""Read and write the safetensors format in NumPy (no safetensors/torch dependency).

Layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
N bytes of UTF-8 JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}`` padded with spaces to a multiple of 8, then the data buffer; offsets are relative
to the buffer, tensors are C-order little-endian and tile the buffer exactly. A malformed file
gets a ValueError naming the file and the problem; nothing is read past the end of the file and
no allocation exceeds the file's size. See ``spec/SPEC.md#safetensors``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

# The reference implementation refuses headers above 100 MB; so do we.
MAX_HEADER_SIZE = 100_000_000

# safetensors dtype name -> little-endian NumPy dtype. BF16 has no NumPy dtype: it is read as
# uint16 bits and widened to float32 exactly (bf16 is the top half of a float32).
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAME_OF = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.int16): "I16",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint64): "U64",
    np.dtype(np.uint32): "U32",
    np.dtype(np.uint16): "U16",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
}


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32, exactly: the bits become the high half."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def float32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even like torch; NaN stays NaN."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    return np.where(nan, ((u >> 16) | np.uint32(0x0040)).astype(np.uint16), rounded)


def _fail(path, msg):
    raise ValueError(f"{path}: not a valid safetensors file: {msg}")


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r} in header")
        out[k] = v
    return out


def read_header(path) -> tuple[dict[str, dict], dict[str, str], int]:
    """Parse and validate the header of ``path``.

    Returns ``(entries, metadata, data_start)``: entries maps tensor name -> {"dtype", "shape",
    "data_offsets"} (validated), metadata is ``__metadata__`` (or {}), data_start the byte
    offset of the data buffer in the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"safetensors file not found: {path}")
    size = os.path.getsize(path)
    if size < 8:
        _fail(path, f"file is {size} bytes, shorter than the 8-byte header length")
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > MAX_HEADER_SIZE:
            _fail(path, f"header length {n} exceeds the {MAX_HEADER_SIZE}-byte limit")
        if n > size - 8:
            _fail(path, f"header length {n} runs past the end of the file ({size} bytes)")
        raw = f.read(n)
    try:
        text = raw.decode("utf-8")
        if not text.startswith("{"):
            raise ValueError("header does not start with '{'")
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        _fail(path, f"header is not valid JSON ({type(e).__name__}: {e})")
    if not isinstance(header, dict):
        _fail(path, "header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        _fail(path, "__metadata__ must map strings to strings")
    buffer_len = size - 8 - n
    entries = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            _fail(path, f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPES:
            _fail(path, f"tensor {name!r}: unsupported dtype {dtype!r} (supported: {', '.join(DTYPES)})")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            _fail(path, f"tensor {name!r}: shape must be a list of non-negative ints, got {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            _fail(path, f"tensor {name!r}: data_offsets must be two ints, got {offsets!r}")
        if len(shape) > 32:  # NumPy 1.x's NPY_MAXDIMS
            _fail(path, f"tensor {name!r}: shape has {len(shape)} dimensions, at most 32 are allowed")
        # NumPy cannot even describe an array whose non-zero dimensions multiply past 2**63 bytes
        # (a zero dimension makes the data empty, so the byte count alone would let it through).
        nonzero = math.prod(d for d in shape if d) * DTYPES[dtype].itemsize
        if nonzero >= 2**63:
            _fail(
                path,
                f"tensor {name!r}: shape {shape} is too large: its non-zero dimensions multiply to "
                f"{nonzero} bytes, above NumPy's limit of 2**63",
            )
        begin, end = offsets
        if not 0 <= begin <= end <= buffer_len:
            _fail(path, f"tensor {name!r}: data_offsets {offsets} outside the {buffer_len}-byte data buffer")
        nbytes = math.prod(shape) * DTYPES[dtype].itemsize
        if end - begin != nbytes:
            _fail(path, f"tensor {name!r}: data_offsets span {end - begin} bytes but {dtype}{shape} needs {nbytes}")
        entries[name] = {"dtype": dtype, "shape": tuple(shape), "data_offsets": (begin, end)}
    # Like the reference reader: tensors tile the buffer with no overlap, gap or trailing bytes.
    position = 0
    for name, info in sorted(entries.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        if begin != position:
            what = "overlaps the previous tensor" if begin < position else "leaves a gap before it"
            _fail(path, f"tensor {name!r}: data_offsets {[begin, end]} {what} (expected begin {position})")
        position = end
    if position != buffer_len:
        _fail(path, f"data buffer is {buffer_len} bytes but the tensors cover {position}")
    return entries, dict(metadata), 8 + n


def load_metadata(path) -> dict[str, str]:
    """The ``__metadata__`` string map of a safetensors file ({} when absent)."""
    return read_header(path)[1]


def load_file(path, names=None) -> dict[str, np.ndarray]:
    """Read every tensor (or only ``names``) of a safetensors file into NumPy arrays.

    Arrays are native-endian copies. BF16 tensors come back as float32 (exact); every other
    dtype keeps its dtype. A name in ``names`` that is not in the file is a KeyError.
    """
    entries, _, data_start = read_header(path)
    if names is not None:
        missing = [n for n in names if n not in entries]
        if missing:
            raise KeyError(f"{os.fspath(path)}: no tensor named {', '.join(map(repr, missing))}")
        entries = {n: entries[n] for n in names}
    out = {}
    with open(path, "rb") as f:
        for name, info in entries.items():
            begin, end = info["data_offsets"]
            dtype = DTYPES[info["dtype"]]
            f.seek(data_start + begin)
            count = (end - begin) // dtype.itemsize
            data = np.fromfile(f, dtype=dtype, count=count) if count else np.empty(0, dtype)
            if data.size != count:  # the file shrank since the header was validated
                _fail(path, f"tensor {name!r}: file ended inside its data")
            data = data.reshape(info["shape"])
            if info["dtype"] == "BF16":
                data = bf16_bits_to_float32(data)
            else:
                data = data.astype(dtype.newbyteorder("="), copy=False)
            out[name] = data
    return out


def save_file(tensors: Mapping[str, np.ndarray], path, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` (name -> NumPy array) as a safetensors file, like the reference writer.

    The header JSON is padded with spaces to a multiple of 8 bytes; tensors are laid out by
    decreasing item size, then name, so every tensor is aligned to its item size.
    """
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise TypeError("metadata must map str to str")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved and cannot be a tensor name")
        if not isinstance(value, np.ndarray):
            raise TypeError(f"tensor {name!r}: expected a numpy.ndarray, got {type(value).__name__}")
        dtype = value.dtype.newbyteorder("=") if value.dtype.byteorder in "<>" else value.dtype
        if dtype not in _NAME_OF:
            raise TypeError(
                f"tensor {name!r}: dtype {value.dtype} cannot be stored "
                f"(supported: {', '.join(str(d) for d in _NAME_OF)})"
            )
        arrays[name] = value
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name in order:
        a = arrays[name]
        nbytes = a.size * a.dtype.itemsize
        header[name] = {
            "dtype": _NAME_OF[a.dtype.newbyteorder("=")],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for name in order:
            a = arrays[name]
            f.write(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())
