"""Conformance: led_ref's forward pass against HF transformers' outputs (spec/SPEC.md#conformance).

Every case in spec/goldens/model/ is run in float32 (vs transformers 4.46.3) and float64 (vs the
float64 goldens, encoder softmax kept in float64), comparing every output array HF returned.
Undefined HF entries are set to led-ref's defined values first (spec/goldens/model/README.md).
"""

import json
import os

import numpy as np
import pytest

import led_ref.model as M
from led_ref.testing import hf_defined
from led_ref.tolerances import TOLERANCE, relative_error
from tests.testlib import GOLDENS as _G

GOLDENS = str(_G / "model")
CASES = (
    sorted(d for d in os.listdir(GOLDENS) if os.path.isdir(os.path.join(GOLDENS, d))) if os.path.isdir(GOLDENS) else []
)
CLASSES = {
    "LEDModel": M.LEDModel,
    "LEDForConditionalGeneration": M.LEDForConditionalGeneration,
    "LEDForSequenceClassification": M.LEDForSequenceClassification,
    "LEDForQuestionAnswering": M.LEDForQuestionAnswering,
}
TOL = {"fp32": TOLERANCE["float32"], "fp64": TOLERANCE["float64"]}
DTYPE = {"fp32": np.float32, "fp64": np.float64}


def load_case(case, precision):
    """(model, kwargs, reference dict, meta) of a golden case, or None when that precision has no file."""
    path = os.path.join(GOLDENS, case)
    with open(os.path.join(path, "meta.json")) as f:
        meta = json.load(f)
    out_file = meta["outputs"][precision].get("file")
    if not out_file:
        return None
    dtype = DTYPE[precision]
    model = CLASSES[meta["hf_class"]].from_pretrained(path, dtype=dtype)
    kwargs, past = {}, {}
    with np.load(os.path.join(path, "inputs.npz")) as npz:
        for key in npz.files:
            arr = npz[key]
            if np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(dtype)
            if key.startswith("past_key_values."):
                _, layer, item = key.split(".")
                past.setdefault(int(layer), {})[int(item)] = arr
            elif key == "encoder_outputs.0":
                kwargs["encoder_outputs"] = (arr,)
            else:
                kwargs[key] = arr
    if past:
        kwargs["past_key_values"] = tuple(tuple(past[layer][i] for i in sorted(past[layer])) for layer in sorted(past))
    for key, value in meta["call_kwargs"].items():
        if key != "return_dict":
            kwargs[key] = value
    with np.load(os.path.join(path, out_file)) as npz:
        ref = {k: npz[k] for k in npz.files}
    return model, kwargs, ref, meta


def flatten_output(out):
    """Output dataclass -> {"field" | "field.i" | "field.i.j": array}, HF's golden key layout."""
    flat = {}
    for name, value in out.items():
        if isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                if isinstance(item, (tuple, list)):
                    for j, sub in enumerate(item):
                        flat[f"{name}.{i}.{j}"] = np.asarray(sub)
                elif item is not None:
                    flat[f"{name}.{i}"] = np.asarray(item)
        else:
            flat[name] = np.asarray(value)
    return flat


def defined_reference(key, ref, meta, got_shape):
    """Reference with HF's undefined entries replaced by led-ref's defined values (README rules 1-3)."""
    shapes = meta["shapes"]
    per_row = shapes.get("num_global_per_row", [])
    kind = key.split(".")[0]
    return hf_defined(kind, np.asarray(ref, dtype=np.float64), per_row, got_shape[2] if len(got_shape) > 2 else 0)


def case_errors(case, precision):
    """{output key: relative max error}; asserts the same set of keys and shapes as HF."""
    loaded = load_case(case, precision)
    if loaded is None:
        return None
    model, kwargs, ref, meta = loaded
    got = flatten_output(model(**kwargs))
    assert sorted(got) == sorted(ref), (
        f"output keys differ: only ours {sorted(set(got) - set(ref))}, only HF {sorted(set(ref) - set(got))}"
    )
    errors = {}
    for key in sorted(ref):
        g = got[key]
        r = defined_reference(key, ref[key], meta, g.shape)
        assert g.shape == r.shape, f"{key}: shape {g.shape} != HF {r.shape}"
        assert g.dtype == DTYPE[precision], f"{key}: dtype {g.dtype}"
        assert np.all(np.isfinite(g)), f"{key}: non-finite values"
        errors[key] = relative_error(g, r)
    return errors


@pytest.mark.parametrize("precision", ["fp32", "fp64"])
@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, precision):
    errors = case_errors(case, precision)
    if errors is None:
        pytest.skip(f"{case}: no {precision} golden (see its meta.json)")
    worst = max(errors, key=errors.get)
    bad = {k: v for k, v in errors.items() if v > TOL[precision]}
    assert not bad, f"{case} {precision}: errors above {TOL[precision]}: {bad}"
    assert errors[worst] <= TOL[precision]


def test_goldens_present():
    assert len(CASES) >= 8, f"expected the model goldens in {GOLDENS}"


if __name__ == "__main__":  # print the measured errors per case (for the report)
    for case in CASES:
        for precision in ("fp32", "fp64"):
            errs = case_errors(case, precision)
            if errs is None:
                print(f"{case:32s} {precision}: no golden")
                continue
            worst = max(errs, key=errs.get)
            print(f"{case:32s} {precision}: max rel err {errs[worst]:.3e} ({worst}), {len(errs)} arrays")
