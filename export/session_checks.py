"""Checks shared by the engines' sessions (``OrtSession``, ``OpenVINOSession``): a missing graph file, a graph's
led-ref metadata, the feeds of a run; and how a tensor an engine holds reads as NumPy."""

import os

import numpy as np


def missing_file_error(path):
    """The error for a graph file that is not there: names it and the export command."""
    return FileNotFoundError(
        f"{path} not found; export the checkpoint first: python -m led_ref export MODEL_DIR "
        f"{os.path.dirname(path) or '.'}"
    )


def check_graph_metadata(path, meta, expect_fingerprint=None, expect_file=None):
    """A graph's led-ref metadata against the config beside it (fingerprint) and the role it is loaded for."""
    if expect_fingerprint is not None:
        got = meta.get("led_ref.fingerprint")
        if got is None:
            raise ValueError(
                f"{path} was not written by led-ref's exporter (no led_ref.fingerprint metadata); "
                "re-export with python -m led_ref export"
            )
        if got != expect_fingerprint:
            raise ValueError(
                f"{path} belongs to another model: its config fingerprint {got} does not match "
                f"config.json beside it ({expect_fingerprint}); re-export into a fresh directory"
            )
    if expect_file is not None and meta.get("led_ref.file") not in (None, expect_file):
        raise ValueError(f"{path} holds the {meta.get('led_ref.file')!r} graph, expected {expect_file!r}")


def check_feeds(name, specs, dtypes, feeds, held=()):
    """``feeds`` checked against a graph's inputs (``specs`` {name: NodeArg-like with .type and .shape}, ``dtypes``
    {name: NumPy dtype}): names, dtypes, ranks and static sizes; an error names the file and the tensor. Returns
    {name: C-contiguous array, or the feed itself when it is one of the ``held`` tensor types}."""
    unknown = sorted(set(feeds) - set(specs))
    if unknown:
        raise ValueError(f"{name}: unexpected input(s) {unknown}; the graph takes {sorted(specs)}")
    missing = sorted(set(specs) - set(feeds))
    if missing:
        raise ValueError(f"{name}: missing input(s) {missing}")
    checked = {}
    for n, value in feeds.items():
        spec = specs[n]
        arr = value if isinstance(value, held) else np.asarray(value)
        want = dtypes[n]
        if arr.dtype != want:
            raise TypeError(f"{name}: input {n!r} has dtype {arr.dtype}, expected {np.dtype(want).name} ({spec.type})")
        if arr.ndim != len(spec.shape):
            raise ValueError(
                f"{name}: input {n!r} has rank {arr.ndim} (shape {arr.shape}), expected rank "
                f"{len(spec.shape)} {tuple(spec.shape)}"
            )
        for axis, (got, dim) in enumerate(zip(arr.shape, spec.shape)):
            if isinstance(dim, int) and got != dim:
                raise ValueError(f"{name}: input {n!r} has size {got} on axis {axis}, expected {dim}")
        checked[n] = arr if isinstance(arr, held) else np.ascontiguousarray(arr)
    return checked


class HostView:
    """How a tensor held by an engine (OpenVINO's Bf16Tensor, ONNX Runtime's DeviceTensor) reads as NumPy: through
    its ``numpy()`` copy."""

    __slots__ = ()

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __getitem__(self, idx):
        return self.numpy()[idx]

    def __len__(self):
        return self.shape[0]
