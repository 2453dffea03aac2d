"""The project's one error metric and one tolerance table (spec/SPEC.md#conformance).

Every comparison of an implementation against the reference -- goldens, the torch graph, ONNX
Runtime, the demo's agreement line, the conformance kit -- uses ``relative_error`` and ``TOLERANCE``.
"""

import numpy as np

__all__ = ["TOLERANCE", "GRADIENT_TOLERANCE", "tolerance", "relative_error", "within_tolerance"]

# Bound on relative_error per compute dtype of the implementation under test. float64: the reference's own
# precision class; float32: summation-order differences over led-large shapes; float16: export --dtype float16
# against the float32 reference (the validation cases and the float16 mask rule's cases, spec/SPEC.md#float16-graphs).
# bfloat16: the float32 export computed in bfloat16 on OpenVINO (precision="bf16"), against the float32 reference
# (spec/SPEC.md#bfloat16-on-the-cpu); NumPy has no bfloat16 dtype, so this row is named by its string.
TOLERANCE = {"float64": 1e-9, "float32": 2e-4, "float16": 2e-2, "bfloat16": 5e-2}

# Bound on relative_error of every parameter's gradient (and the loss) of the torch graph in training mode against
# HF transformers' (spec/goldens/gradients, spec/SPEC.md#training), per compute dtype.
GRADIENT_TOLERANCE = {"float64": 1e-9, "float32": 1e-4}


def tolerance(dtype):
    """The bound for ``dtype`` (a NumPy dtype, type or name such as 'float32', or 'bfloat16'); ValueError for other
    dtypes."""
    if isinstance(dtype, str) and dtype == "bfloat16":
        return TOLERANCE[dtype]
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise ValueError(f"dtype must be one of {sorted(TOLERANCE)}, got {dtype!r}") from None
    if name not in TOLERANCE:
        raise ValueError(f"no tolerance for dtype {name}: expected one of {sorted(TOLERANCE)}")
    return TOLERANCE[name]


def relative_error(actual, reference):
    """``max |actual - reference| / max(1, max |reference|)``, computed in float64.

    Absolute for outputs of magnitude <= 1, relative to the largest reference value otherwise. Shapes must match
    (ValueError); NaN or inf where the reference is finite gives inf.
    """
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        raise ValueError(f"shapes differ: {actual.shape} (actual) vs {reference.shape} (reference)")
    if reference.size == 0:
        return 0.0
    diff = np.abs(actual - reference)
    if not np.all(np.isfinite(diff)):
        return float("inf")
    return float(diff.max() / max(1.0, float(np.abs(reference).max())))


def within_tolerance(actual, reference, dtype):
    """``relative_error(actual, reference) <= tolerance(dtype)``."""
    return relative_error(actual, reference) <= tolerance(dtype)
