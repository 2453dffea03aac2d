"""The oracle side of the conformance kit: reference outputs and the comparison with a candidate's.

Outputs are HF-named (the fields of ``LEDForConditionalGeneration.forward``'s output): ``encoder_last_hidden_state``
(B, S, D), ``logits`` (B, T, V), ``past_key_values`` (per layer: self k, self v, cross k, cross v, each
(B, H, len, hd)), ``encoder_attentions`` / ``encoder_global_attentions`` / ``decoder_attentions`` /
``cross_attentions`` (tuples per layer), ``loss`` (scalar). Comparison uses the project's one error metric and
tolerance table (``led_ref.tolerances``).
"""

from typing import Any

import numpy as np

from ..config import as_config
from ..model import LEDForConditionalGeneration
from ..tolerances import relative_error, tolerance
from ..weights import HEAD_KEYS, PREFIX, flatten, params_from_state_dict

__all__ = [
    "ContractError",
    "MismatchError",
    "hf_state_dict",
    "hf_defined",
    "params_tree",
    "reference_outputs",
    "reference_candidate",
    "build_cache",
    "flatten_outputs",
    "compare_outputs",
    "check_contract",
    "assert_matches_reference",
]

# Names of the forward inputs a candidate receives (HF's keyword arguments).
INPUT_NAMES = (
    "input_ids",
    "attention_mask",
    "global_attention_mask",
    "decoder_input_ids",
    "past_key_values",
    "labels",
    "use_cache",
    "output_attentions",
)


class ContractError(ValueError):
    """The candidate broke the calling contract (missing keys, non-float or non-array outputs, wrong nesting)."""


class MismatchError(AssertionError):
    """Candidate outputs differ from the reference beyond the tolerance; ``report`` lists every offending output
    as ``(name, index, error, bound)`` (index: where the absolute difference is largest, or None)."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------------------------- parameters


def hf_state_dict(params):
    """Parameter tree -> flat dict with the HF names of ``LEDForConditionalGeneration`` (``led.`` prefix on the
    base model's parameters; ``lm_head.weight``, ``final_logits_bias`` without), arrays shared, not copied."""
    return {(k if k in HEAD_KEYS["lm"] else PREFIX + k): v for k, v in flatten(params).items()}


def params_tree(params, config, dtype=None):
    """A parameter tree for ``config`` from a tree or a flat HF-named dict (with or without ``led.``), cast to
    ``dtype`` (default: kept). ValueError naming missing/unexpected keys."""
    if not isinstance(params, dict) or not params:
        raise TypeError(
            f"params must be a parameter tree or a flat HF-named dict of arrays, got {type(params).__name__}"
        )
    if not any(isinstance(v, (dict, list, tuple)) for v in params.values()):
        flat = params
    else:
        flat = flatten(params)
    first = next(iter(flat.values()))
    dtype = np.dtype(first.dtype if dtype is None else dtype)
    return params_from_state_dict(flat, config, "lm", dtype=dtype, source="params")


# ---------------------------------------------------------------------------------------------- reference


def _check_inputs(inputs):
    if not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict of HF forward arguments, got {type(inputs).__name__}")
    unknown = sorted(set(inputs) - set(INPUT_NAMES))
    if unknown:
        raise ValueError(f"inputs: unknown argument(s) {unknown}; expected some of {list(INPUT_NAMES)}")


def _as_dict(output):
    """ModelOutput -> {name: value} without the None fields."""
    return {k: v for k, v in output.items() if v is not None}


def _run(model, inputs):
    _check_inputs(inputs)
    out = _as_dict(model(**inputs))
    if "past_key_values" in out and not inputs.get("use_cache"):
        del out["past_key_values"]  # HF returns a cache by default; the kit compares it only when asked for
    return out


def reference_outputs(config, params, inputs, dtype=np.float64):
    """HF-named outputs of led-ref for ``inputs`` (a dict of HF forward arguments: input_ids, attention_mask,
    global_attention_mask, decoder_input_ids, past_key_values, labels, use_cache, output_attentions).

    ``params``: a parameter tree or a flat HF-named state dict. Computed in ``dtype`` (float64 by default: the
    oracle), with the parameters and any ``past_key_values`` upcast from the candidate's values.
    """
    config = as_config(config)
    model = LEDForConditionalGeneration(config, params_tree(params, config, dtype))
    inputs = dict(inputs)
    if inputs.get("past_key_values") is not None:
        inputs["past_key_values"] = tuple(
            tuple(np.asarray(a, dtype) for a in layer) for layer in inputs["past_key_values"]
        )
    return _run(model, inputs)


def reference_candidate(config, params, inputs):
    """led-ref itself as a ``python:`` candidate (the contract's example): runs in the dtype of ``params``.

    ``led-ref verify --candidate python:led_ref.testing:reference_candidate`` must pass."""
    return _run(LEDForConditionalGeneration(config, params_tree(params, config)), inputs)


def build_cache(config, params, inputs, prefix_ids, dtype):
    """The ``past_key_values`` after decoding ``prefix_ids`` (B, P) for the encoder ``inputs``, in ``dtype``
    (the cache a candidate receives for an incremental step)."""
    model = LEDForConditionalGeneration(config, params_tree(params, config, dtype))
    out = model(**inputs, decoder_input_ids=prefix_ids, use_cache=True)
    return out.past_key_values


# ---------------------------------------------------------------------------------------------- HF's undefined entries


def hf_defined(name, value, num_global_per_row, length):
    """One of HF's encoder attention outputs with its undefined entries replaced by led-ref's defined values
    (spec/SPEC.md, "Undefined entries in HF's outputs"): ``encoder_global_attentions`` cut back to ``length``
    (HF does not unpad it) with the global slots a row does not have set to 0; ``encoder_attentions`` with the
    global-key columns a row does not have set to 0. Other outputs are returned unchanged.

    name: "encoder_global_attentions" or "encoder_attentions" (one layer's array, (B, H, L or L_pad, ...));
    num_global_per_row: (B,) count of tokens with global_attention_mask == 1 and attention_mask == 1.
    """
    value = np.array(value)  # a copy
    if name == "encoder_global_attentions":
        value = value[:, :, :length, :]
        for b, g in enumerate(num_global_per_row):
            value[b, :, :, int(g) :] = 0.0
    elif name == "encoder_attentions":
        most = int(max(num_global_per_row, default=0))
        for b, g in enumerate(num_global_per_row):
            value[b, :, :, int(g) : most] = 0.0
    return value


# ---------------------------------------------------------------------------------------------- comparison


def flatten_outputs(outputs, prefix=""):
    """``{name: array or nested tuples}`` -> ``{"name[i][j]": value}``, in order."""
    flat: dict[str, Any] = {}
    for name, value in outputs.items():
        _flatten_into(flat, f"{prefix}{name}", value)
    return flat


def _flatten_into(flat, name, value):
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            _flatten_into(flat, f"{name}[{i}]", v)
    else:
        flat[name] = value


def _to_array(name, value):
    """A candidate value as a NumPy array (torch tensors and scalars too); ContractError if not numeric."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor: no torch import needed
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise ContractError(f"output {name} must be a float array, got {type(value).__name__} of dtype {arr.dtype}")
    return arr


def check_contract(candidate_outputs, reference_outputs, keys=None, shape_keys=None):
    """ContractError unless the candidate returns every reference key (or ``keys``) as float arrays with the
    reference's nesting, and the reference's shapes for ``shape_keys`` (default: all of ``keys``)."""
    if not isinstance(candidate_outputs, dict):
        raise ContractError(f"must return a dict of HF-named outputs, got {type(candidate_outputs).__name__}")
    keys = [k for k in (keys or reference_outputs) if k in reference_outputs]
    missing = [k for k in keys if candidate_outputs.get(k) is None]
    if missing:
        raise ContractError(f"missing output(s) {missing}; expected keys {keys}")
    ref = flatten_outputs({k: reference_outputs[k] for k in keys})
    got = flatten_outputs({k: candidate_outputs[k] for k in keys})
    shaped = set(flatten_outputs({k: reference_outputs[k] for k in (shape_keys or keys) if k in keys}))
    if set(ref) != set(got):
        diff = sorted(set(ref) ^ set(got))
        raise ContractError(f"output nesting differs from the reference at {diff[:4]} (tuples per layer expected)")
    for name, r in ref.items():
        a = _to_array(name, got[name])
        if a.dtype.kind != "f":
            raise ContractError(f"output {name} must be floating point, got dtype {a.dtype}")
        if name in shaped and a.shape != np.shape(r):
            raise ContractError(f"output {name} has shape {a.shape}, expected {np.shape(r)}")


def compare_outputs(candidate_outputs, reference_outputs, dtype, keys=None):
    """Per flattened output: ``(name, index, error, bound)`` with error = relative_error(candidate, reference)
    (inf for a missing output or a shape difference) and bound = tolerance(dtype). ``keys`` limits the check
    to those top-level outputs (default: every reference output)."""
    bound = tolerance(dtype)
    keys = [k for k in (keys or reference_outputs) if k in reference_outputs]
    ref = flatten_outputs({k: reference_outputs[k] for k in keys})
    got = flatten_outputs({k: candidate_outputs[k] for k in keys if candidate_outputs.get(k) is not None})
    rows: list[tuple[str, Any, float, float]] = []  # index: None, a position tuple or a shape message
    for name, r in ref.items():
        if name not in got:
            rows.append((name, None, float("inf"), bound))
            continue
        try:
            a = _to_array(name, got[name])
        except ContractError:
            rows.append((name, None, float("inf"), bound))
            continue
        r = np.asarray(r)
        if a.shape != r.shape:
            rows.append((name, f"shape {a.shape} != {r.shape}", float("inf"), bound))
            continue
        err = relative_error(a, r)
        index = None
        if r.size and err > 0:
            diff = np.abs(a.astype(np.float64) - r.astype(np.float64))
            diff = np.where(np.isfinite(diff), diff, np.inf)
            index = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), r.shape))
        rows.append((name, index, err, bound))
    return rows


def _describe(name, index, err, bound, candidate, reference):
    where = "" if index is None else (f" at {index}" if isinstance(index, tuple) else f" ({index})")
    values = ""
    if isinstance(index, tuple):
        try:
            c = np.asarray(flatten_outputs(candidate)[name], dtype=np.float64)[index]
            r = np.asarray(flatten_outputs(reference)[name], dtype=np.float64)[index]
            values = f": candidate {float(c):.6g}, reference {float(r):.6g}"
        except (KeyError, IndexError, TypeError, ValueError):
            values = ""
    return f"{name}{where}: error {err:.3e} > tolerance {bound:g}{values}"


def assert_matches_reference(candidate_outputs, reference_outputs, dtype, keys=None):
    """MismatchError (an AssertionError) naming each output, index and error that exceeds ``tolerance(dtype)``
    under ``relative_error``; returns the worst error when everything matches."""
    rows = compare_outputs(candidate_outputs, reference_outputs, dtype, keys)
    bad = [row for row in rows if not row[2] <= row[3]]
    if bad:
        lines = [_describe(n, i, e, b, candidate_outputs, reference_outputs) for n, i, e, b in bad]
        more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
        raise MismatchError("; ".join(lines[:3]) + more, bad)
    return max((row[2] for row in rows), default=0.0)
