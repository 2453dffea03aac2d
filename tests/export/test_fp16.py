"""float16 export: the mask rule (spec/SPEC.md#float16-graphs), its validation on ONNX Runtime CPU, IO
binding (spec/SPEC.md#io-binding) and the float16 / CUDA bad-input rules.

Every float16 check also runs against the naive mask (float16 ``finfo.min`` added to float16 scores, HF's float32
recipe applied to a float16 graph) to show that it fails there."""

import contextlib
import io
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from led_ref import model as npmodel
from led_ref.config import LEDConfig
from led_ref.errors import CheckFailedError
from led_ref.export import onnx_export
from led_ref.export import torch_model as tm
from led_ref.export.onnx_export import NumpySteps
from led_ref.export.ort import OrtLEDForConditionalGeneration
from led_ref.tolerances import TOLERANCE, relative_error
from tests.export.exportlib import (
    make_checkpoint,
    same_tokens,
)
from tests.testlib import TINY_EXPORT

pytestmark = pytest.mark.export

FP16_TOL = TOLERANCE["float16"]


def _naive(monkeypatch):
    """The naive float16 mask: finfo(float16).min added to float16 scores, softmax in float16, LayerNorm in float16."""

    def mask_bias(masked, dtype):
        return torch.zeros_like(masked, dtype=dtype).masked_fill(masked, torch.finfo(dtype).min)

    monkeypatch.setattr(tm, "mask_bias", mask_bias)
    monkeypatch.setattr(tm, "attention_probs", lambda scores, bias: torch.softmax(scores + bias, -1))


def _stress_inputs(config, scale, seed=0):
    """Row 0 ordinary, row 1 fully padded: every key of its attention masked."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, int(config.vocab_size), size=(2, 11)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1] = 0
    glob = np.zeros_like(ids)
    glob[0, 0] = 1
    dec = rng.integers(3, int(config.vocab_size), size=(2, 3)).astype(np.int64)
    return ids, mask, glob, dec, scale


# -- the rule, on the torch graph (no export: fast) ------------------------------------------------------------------
def test_attention_probs_is_finite_for_overflowed_scores_and_fully_masked_rows():
    scores = torch.tensor(
        [[-60000.0, 1.0, 3.0], [-float("inf"), float("inf"), -65504.0], [-3e4, -3e4, -3e4]], dtype=torch.float16
    )
    masked = torch.tensor([[False, True, False], [False, False, True], [True, True, True]])
    p = tm.attention_probs(scores, tm.mask_bias(masked, scores.dtype))
    assert p.dtype == torch.float16 and bool(torch.isfinite(p).all())
    np.testing.assert_allclose(p.float().sum(-1).numpy(), 1.0, atol=1e-3)
    assert float(p[0, 1]) == 0.0  # masked
    np.testing.assert_allclose(p[2].float().numpy(), 1 / 3, atol=1e-3)  # fully masked: uniform, as the reference
    assert tm.mask_bias(masked, torch.float16).dtype == torch.float32  # never float16's finfo.min
    # the naive float16 mask: score + finfo(float16).min overflows to -inf, a fully masked row becomes NaN
    naive = torch.softmax(scores + torch.zeros_like(scores).masked_fill(masked, torch.finfo(torch.float16).min), -1)
    assert not bool(torch.isfinite(naive[2]).any())


@pytest.mark.parametrize("naive", [False, True])
def test_float16_torch_graph_with_fully_masked_row_and_large_states(naive, monkeypatch):
    """Fully padded row + that row's encoder states x1000 (cross-attention scores in the hundreds): within the
    float16 tolerance of the float32 NumPy reference with the rule; the naive mask fails the same check."""
    from led_ref.weights import init_params

    if naive:
        _naive(monkeypatch)
    config = LEDConfig(**TINY_EXPORT)
    params = init_params(config, "lm", seed=4)
    ref = NumpySteps(npmodel.LEDForConditionalGeneration(config, params))
    model = tm.build_torch_model(config, params, "lm", torch.float32).half().eval()
    ids, mask, glob, dec, scale = _stress_inputs(config, 1000.0)
    h_ref, _ = ref.encode(ids, mask, glob)
    hidden = np.array(h_ref, np.float32)
    hidden[1] *= scale
    with torch.no_grad():
        h, _ = model.led.decoder(torch.from_numpy(dec), torch.from_numpy(hidden).half(), torch.from_numpy(mask))
        logits = model.logits(h).float().numpy()
    err = relative_error(logits, ref.decode(dec, hidden, mask)[0])
    if naive:
        assert not err <= FP16_TOL  # wrong or NaN: the test can fail
    else:
        assert err <= FP16_TOL


# -- ONNX float16 export on ONNX Runtime CPU ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fp16(tmp_path_factory):
    from led_ref.app.cli import main

    root = tmp_path_factory.mktemp("fp16")
    ckpt, out = str(root / "ckpt"), str(root / "onnx")
    config, params = make_checkpoint(ckpt, "lm", seed=6)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(["export", ckpt, out, "--dtype", "float16"])
    return {
        "root": root,
        "ckpt": ckpt,
        "out": out,
        "config": config,
        "params": params,
        "rc": rc,
        "stdout": printed.getvalue(),
    }


def test_cli_float16_export_reports_the_float16_check(fp16):
    import onnx

    assert fp16["rc"] == 0
    lines = fp16["stdout"].splitlines()
    checks = [ln for ln in lines if ln.startswith("validate: float16: ")]
    assert len(checks) == 3 and any("fully padded row" in ln for ln in checks)
    assert f"tolerance {FP16_TOL:g} (fp16)" in fp16["stdout"]
    m = onnx.load(os.path.join(fp16["out"], "decoder_model_merged.onnx"))
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta["led_ref.fp16"] == "1"
    types = {o.name: o.type.tensor_type.elem_type for o in m.graph.output}
    assert types["logits"] == onnx.TensorProto.FLOAT  # logits: float32 in every export
    assert types["present.0.decoder.key"] == onnx.TensorProto.FLOAT16
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in m.graph.initializer)


def test_float16_check_passes_with_the_rule(fp16):
    model = OrtLEDForConditionalGeneration.from_pretrained(fp16["out"])  # a float16 directory on the CPU: works
    ref = NumpySteps(npmodel.LEDForConditionalGeneration(fp16["config"], fp16["params"]))
    errors = onnx_export.float16_checks(model, ref, fp16["config"], scale=1000.0)
    assert len(errors) == 3 and max(errors.values()) <= FP16_TOL, errors
    h, mask = model.encode(np.array([[5, 6, 7, 8]]))
    logits, past = model.decode(np.array([[2]]), h, mask)
    assert h.dtype == np.float16 and logits.dtype == np.float32 and past[0][0].dtype == np.float16


def test_float16_export_with_the_naive_mask_is_refused(fp16, monkeypatch, tmp_path):
    _naive(monkeypatch)
    with pytest.raises(CheckFailedError, match="validation failed"):
        onnx_export.export_checkpoint(fp16["ckpt"], str(tmp_path / "naive"), fp16=True, log=lambda s: None)


# -- IO binding -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("merged", [True, False])
def test_io_binding_generates_the_same_tokens_float16(fp16, merged):
    plain = OrtLEDForConditionalGeneration.from_pretrained(fp16["out"], use_merged=merged, io_binding=False)
    bound = OrtLEDForConditionalGeneration.from_pretrained(fp16["out"], use_merged=merged, io_binding=True)
    same_tokens(plain, bound)


def test_io_binding_is_on_by_default_only_on_cuda(fp16):
    m = OrtLEDForConditionalGeneration.from_pretrained(fp16["out"], providers=["CPUExecutionProvider"])
    assert m.io_binding is False


# -- bad input ------------------------------------------------------------------------------------------------------
def _one_error_line(err):
    lines = err.strip().splitlines()
    return len(lines) == 1 and "error:" in lines[0]


def test_quantizing_a_float16_directory_fails_naming_the_file(fp16, tmp_path, capsys):
    from led_ref.app.cli import main

    assert main(["export", fp16["out"], str(tmp_path / "q"), "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert "float16" in err and "--quantize" in err and ".onnx" in err and _one_error_line(err)


def test_float16_with_int8_is_one_line_naming_both_options(fp16, tmp_path, capsys):
    from led_ref.app.cli import main

    assert main(["export", fp16["ckpt"], str(tmp_path / "x"), "--dtype", "float16", "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert "--quantize int8" in err and "--dtype float16" in err and _one_error_line(err)
    assert not os.path.exists(tmp_path / "x")  # refused before anything is written


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this machine has CUDA")
def test_cuda_options_on_a_machine_without_cuda(fp16, tmp_path, capsys):
    from led_ref.app.cli import main
    from tools import gpu_check

    assert main(["export", fp16["ckpt"], str(tmp_path / "y"), "--dtype", "float16", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda" in err and _one_error_line(err)
    assert not os.path.exists(tmp_path / "y")
    with pytest.raises(ValueError, match="CUDAExecutionProvider"):
        OrtLEDForConditionalGeneration.from_pretrained(fp16["out"], providers=["CUDAExecutionProvider"])
    assert gpu_check.main(["--skip-timing"]) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "CUDAExecutionProvider" in err and "onnxruntime-gpu" in err


@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(tmp_path, capsys):
    """The GPU check's own logic, on CPUExecutionProvider at a tiny shape (~25 s): every check passes and the
    figures are written."""
    import json

    from tools import gpu_check

    path = tmp_path / "g.json"
    assert (
        gpu_check.main(
            [
                "--cpu",
                "--shape",
                "tiny",
                "--seq-lens",
                "64,100",
                "--new-tokens",
                "3",
                "--repeat",
                "1",
                "--json",
                str(path),
            ]
        )
        == 0
    )
    rows = json.loads(path.read_text())["checks"]
    assert all(r["ok"] for r in rows) and len(rows) == 18
    assert any("ms_per_token" in r for r in rows) and any(r.get("tokens") == 100 for r in rows)
    assert "PASS" in capsys.readouterr().out
