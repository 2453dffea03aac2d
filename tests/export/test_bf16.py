"""bfloat16 on the CPU through OpenVINO (spec/SPEC.md#bfloat16-on-the-cpu): the float32 export run by
``OpenVINOSession`` in real float32 and in bfloat16, against ONNX Runtime and the NumPy reference; the merged
decoder's cached branch after an uncached call; the bad-input rules.

Skipped with the reason where the ``openvino`` extra is missing; the bfloat16 checks also where the CPU has no
native bfloat16 (OpenVINO's CPU capabilities lack BF16)."""

import contextlib
import io

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("openvino", reason="the openvino extra is not installed: pip install 'led-ref[openvino]'")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from led_ref import model as npmodel
from led_ref.export import openvino_session as ovs
from led_ref.export.merged_decoder import MergedBranch
from led_ref.export.onnx_export import NumpySteps
from led_ref.export.ort import OrtLEDForConditionalGeneration, OrtSession
from led_ref.tolerances import TOLERANCE, relative_error
from tests.export.exportlib import make_checkpoint

pytestmark = pytest.mark.export

BF16_WHY = ovs.bf16_missing()
needs_bf16 = pytest.mark.skipif(BF16_WHY is not None, reason=f"no native bfloat16 here: {BF16_WHY}")
BF16_TOL = TOLERANCE["bfloat16"]
WINDOWS = ([4, 8], [2, 6])  # per-layer attention windows of the two exports the property test draws from


def _export(root, name, seed, window):
    from led_ref.app.cli import main

    ckpt, out = str(root / f"{name}-ckpt"), str(root / name)
    config, params = make_checkpoint(ckpt, "lm", seed=seed, attention_window=window)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", ckpt, out]) == 0
    return {"dir": out, "ckpt": ckpt, "config": config, "params": params}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("bf16")
    return [_export(root, f"w{i}", 10 + i, w) for i, w in enumerate(WINDOWS)]


@pytest.fixture(scope="module")
def models(exports):
    """Per export: the NumPy reference (float32) and the export on OpenVINO in bfloat16 (loaded once)."""
    out = []
    for e in exports:
        ref = NumpySteps(npmodel.LEDForConditionalGeneration(e["config"], e["params"]))
        bf16 = None if BF16_WHY else OrtLEDForConditionalGeneration.from_pretrained(e["dir"], precision="bf16")
        out.append((ref, bf16))
    yield out
    out.clear()  # the compiled models and their threads go with the module (gc below)
    import gc

    gc.collect()


def _batch(rng, config, lengths, globals_, padded_row):
    batch, S = len(lengths), max(lengths)
    ids = rng.integers(3, int(config.vocab_size), size=(batch, S)).astype(np.int64)
    mask = np.zeros_like(ids)
    glob = np.zeros_like(ids)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        for p in globals_[i]:
            glob[i, p % n] = 1
    if padded_row is not None:
        mask[padded_row % batch] = 0
        glob[padded_row % batch] = 0
    return ids, mask, glob


# -- float32 through OpenVINO is ONNX Runtime's float32 -------------------------------------------------------------
def test_openvino_float32_matches_onnxruntime_on_all_four_graphs(exports):
    e = exports[0]
    rng = np.random.default_rng(0)
    ids, mask, glob = _batch(rng, e["config"], [19, 7, 12], [[0], [], [3, 5]], None)
    dec = rng.integers(3, 50, size=(3, 4)).astype(np.int64)
    for merged in (True, False):
        ort = OrtLEDForConditionalGeneration.from_pretrained(e["dir"], use_merged=merged)
        ov = OrtLEDForConditionalGeneration.from_pretrained(e["dir"], use_merged=merged, engine="openvino")
        assert ov.encoder.session.get_providers() == ["OpenVINO-CPU-float32"]
        assert ov.encoder.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "f32"
        h, m = ort.encode(ids, mask, glob)
        h2, _ = ov.encode(ids, mask, glob)
        assert relative_error(h2, h) <= TOLERANCE["float32"]
        la, pa = ort.decode(dec[:, :3], h, m)
        lb, pb = ov.decode(dec[:, :3], h, m)
        assert relative_error(lb, la) <= TOLERANCE["float32"]
        la, _ = ort.decode(dec[:, 3:], h, m, pa)
        lb, _ = ov.decode(dec[:, 3:], h, m, pb)
        assert relative_error(lb, la) <= TOLERANCE["float32"]
        kw = dict(attention_mask=mask, global_attention_mask=glob, max_new_tokens=8)
        for beams in (1, 3):
            np.testing.assert_array_equal(
                ort.generate(ids, num_beams=beams, **kw), ov.generate(ids, num_beams=beams, **kw)
            )


# -- bfloat16 against the NumPy reference ----------------------------------------------------------------------------
@needs_bf16
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.integers(0, len(WINDOWS) - 1),
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    globals_=st.lists(st.lists(st.integers(0, 39), max_size=3), min_size=3, max_size=3),
    padded_row=st.one_of(st.none(), st.integers(0, 2)),
    seed=st.integers(0, 2**16),
)
def test_bf16_stays_within_its_tolerance_of_the_reference(models, exports, which, lengths, globals_, padded_row, seed):
    ref, bf16 = models[which]
    config = exports[which]["config"]
    rng = np.random.default_rng(seed)
    ids, mask, glob = _batch(rng, config, lengths, globals_, padded_row)
    h_ref, m = ref.encode(ids, mask, glob)
    h, _ = bf16.encode(ids, mask, glob)
    assert np.isfinite(h).all()  # a fully padded row too
    assert relative_error(h, h_ref) <= BF16_TOL
    # decoder on the reference's encoder states: an uncached call, then two cached steps
    dec = rng.integers(3, int(config.vocab_size), size=(len(lengths), 4)).astype(np.int64)
    l_ref, p_ref = ref.decode(dec[:, :2], h_ref, m)
    logits, past = bf16.decode(dec[:, :2], h_ref, m)
    assert np.isfinite(logits).all() and relative_error(logits, l_ref) <= BF16_TOL
    for t in (2, 3):
        l_ref, p_ref = ref.decode(dec[:, t : t + 1], h_ref, m, p_ref)
        logits, past = bf16.decode(dec[:, t : t + 1], h_ref, m, past)
        assert np.isfinite(logits).all() and relative_error(logits, l_ref) <= BF16_TOL


@needs_bf16
def test_bf16_really_computes_in_bfloat16(exports, models):
    """The compiled precision is bfloat16, and the result differs from float32 (a silent f32 run would not)."""
    e, (ref, bf16) = exports[0], models[0]
    for s in (bf16.encoder, bf16.decoder, bf16.decoder_with_past):
        assert s.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "bf16"
        assert s.session.get_providers() == ["OpenVINO-CPU-bf16"]
    ids, mask, glob = _batch(np.random.default_rng(1), e["config"], [30, 21], [[0], [4]], None)
    err = relative_error(bf16.encode(ids, mask, glob)[0], ref.encode(ids, mask, glob)[0])
    assert TOLERANCE["float32"] < err <= BF16_TOL
    # the key/value cache, self- and cross-attention, stays bfloat16 between steps
    h, m = ref.encode(ids, mask, glob)
    logits, past = bf16.decode(np.full((2, 1), 2, np.int64), h, m)
    _, past = bf16.decode(logits[:, -1:].argmax(-1), h, m, past)
    assert all(isinstance(t, ovs.Bf16Tensor) for layer in past for t in layer)
    assert past[0][0].shape[2] == 2 and past[0][2].shape[2] == ids.shape[1]


class _Float32Past:
    """A step model whose past is handed back as plain float32 arrays after every step (the path before the cache
    was held in bfloat16): the session converts it again on the next step."""

    def __init__(self, model):
        self.model, self.config = model, model.config

    def encode(self, *args):
        return self.model.encode(*args)

    def decode(self, ids, hidden, mask, past_key_values=None):
        logits, past = self.model.decode(ids, hidden, mask, past_key_values)
        return logits, tuple(tuple(np.asarray(t, dtype=np.float32) for t in layer) for layer in past)


@needs_bf16
def test_bf16_cache_held_in_bfloat16_loses_nothing(exports, models):
    """The presents the graph returns are bfloat16 values already, so holding the cache as Bf16Tensor gives the same
    logits, bit for bit, as handing it back in float32; greedy and beam search (whose beam steps reorder the cache
    rows) give the same tokens and scores; the cached steps stay within the bfloat16 tolerance of the uncached
    decoder run on the whole prefix."""
    from led_ref.generation import GenerationConfig, generate

    e, bf16 = exports[0], models[0][1]
    ids, mask, glob = _batch(np.random.default_rng(3), e["config"], [33, 20], [[0], [2]], None)
    h, m = bf16.encode(ids, mask, glob)
    plain = _Float32Past(bf16)
    dec = np.random.default_rng(4).integers(3, int(e["config"].vocab_size), size=(2, 6)).astype(np.int64)
    la, pa = bf16.decode(dec[:, :1], h, m)
    lb, pb = plain.decode(dec[:, :1], h, m)
    for t in range(1, dec.shape[1]):
        la, pa = bf16.decode(dec[:, t : t + 1], h, m, pa)
        lb, pb = plain.decode(dec[:, t : t + 1], h, m, pb)
        np.testing.assert_array_equal(la, lb)
        full, _ = bf16.decode(dec[:, : t + 1], h, m)  # the uncached decoder on the whole prefix
        assert relative_error(la[:, -1], full[:, -1]) <= BF16_TOL, t
    for gc in (
        GenerationConfig(max_new_tokens=8, num_beams=1, decoder_start_token_id=2),
        GenerationConfig(max_new_tokens=8, num_beams=3, num_return_sequences=2, decoder_start_token_id=2),
    ):
        a = generate(bf16, ids, mask, glob, gc, return_dict_in_generate=True, output_scores=True)
        b = generate(plain, ids, mask, glob, gc, return_dict_in_generate=True, output_scores=True)
        np.testing.assert_array_equal(a.sequences, b.sequences)
        for sa, sb in zip(a.scores, b.scores):
            np.testing.assert_array_equal(sa, sb)


@needs_bf16
def test_sessions_warm_up_when_loaded_and_results_do_not_depend_on_it(exports):
    """Each OpenVINO decoder session runs once on its smallest inputs when it is loaded (the CPU plugin packs its
    weights and builds its kernels at the first run), the encoder's does not; the outputs afterwards are those of a
    session loaded without it."""
    e = exports[0]
    path = f"{e['dir']}/decoder_model.onnx"
    calls = []
    warm = ovs.OpenVINOSession(path, "bf16")
    original = ovs.OpenVINOSession.run
    try:
        ovs.OpenVINOSession.run = lambda self, feeds, device_outputs=None: calls.append(feeds) or original(self, feeds)
        cold = ovs.OpenVINOSession(path, "bf16", warm_up=False)
        assert calls == []
        ovs.OpenVINOSession(path, "bf16")
        assert len(calls) == 1 and all(np.shape(v)[0] == 1 for v in calls[0].values())
        ovs.OpenVINOSession(f"{e['dir']}/encoder_model.onnx", "bf16")  # the encoder: not by default
        assert len(calls) == 1
    finally:
        ovs.OpenVINOSession.run = original
    rng = np.random.default_rng(6)
    feeds = {
        "input_ids": rng.integers(3, 50, size=(2, 3)).astype(np.int64),
        "encoder_hidden_states": rng.standard_normal((2, 11, int(e["config"].d_model))).astype(np.float32),
        "encoder_attention_mask": np.ones((2, 11), np.int64),
    }
    a, b = warm.run(feeds), cold.run(feeds)
    for n in warm.output_names:
        np.testing.assert_array_equal(np.asarray(a[n]), np.asarray(b[n]))


@needs_bf16
def test_bf16_validation_on_held_out_inputs_passes_and_can_fail(exports, monkeypatch):
    from led_ref.export import quantize

    metrics = quantize.validate_bf16(exports[0]["dir"], log=lambda s: None)
    assert metrics["encoder_relative_error"] <= quantize.BF16_THRESHOLDS["encoder_relative_error"]
    assert metrics["top1_agreement"] >= quantize.BF16_THRESHOLDS["top1_agreement"] and metrics["positions"] > 30
    # the same check against the float export of other weights (same config) fails
    other = OrtLEDForConditionalGeneration.from_pretrained(exports[1]["dir"])
    bf = OrtLEDForConditionalGeneration.from_pretrained(exports[0]["dir"], precision="bf16")
    bad = quantize.held_out_metrics(bf, other, exports[0]["config"])
    assert bad["logits_cosine"] < quantize.BF16_THRESHOLDS["logits_cosine"]


@pytest.mark.parametrize("precision", ["float32", pytest.param("bf16", marks=needs_bf16)])
def test_merged_decoder_cached_calls_after_a_first_step_match_decoder_with_past(exports, precision):
    """One merged-decoder session: an uncached call, then cached calls, each equal to decoder_with_past fed the
    same past (OpenVINO <= 2026.1 returned wrong logits from the cached branch after an uncached call)."""
    e = exports[0]
    config = e["config"]
    merged = ovs.OpenVINOSession(f"{e['dir']}/decoder_model_merged.onnx", precision)
    first, cached = MergedBranch(merged, False, config), MergedBranch(merged, True, config)
    with_past = ovs.OpenVINOSession(f"{e['dir']}/decoder_with_past_model.onnx", precision)
    ort_past = OrtSession(f"{e['dir']}/decoder_with_past_model.onnx")
    rng = np.random.default_rng(5)
    ids, mask, glob = _batch(rng, config, [17, 9], [[0], []], None)
    hidden = rng.standard_normal((2, ids.shape[1], int(config.d_model))).astype(np.float32)
    out = first.run(
        {"input_ids": np.full((2, 1), 2, np.int64), "encoder_hidden_states": hidden, "encoder_attention_mask": mask}
    )
    past = {n.replace("present.", "past_key_values."): v for n, v in out.items() if n.startswith("present.")}
    tol = TOLERANCE["float32"] if precision == "float32" else BF16_TOL
    for step in range(4):
        feeds = dict(past, input_ids=rng.integers(3, 50, size=(2, 1)).astype(np.int64), encoder_attention_mask=mask)
        a = cached.run(feeds)
        b = with_past.run(feeds)
        c = ort_past.run({k: np.asarray(v) for k, v in feeds.items()})
        np.testing.assert_allclose(a["logits"], b["logits"], rtol=0, atol=1e-5 * max(1, np.abs(b["logits"]).max()))
        assert relative_error(a["logits"], c["logits"]) <= tol, step
        past.update({n.replace("present.", "past_key_values."): v for n, v in a.items() if n.startswith("present.")})


# -- bad input -------------------------------------------------------------------------------------------------------
def test_unknown_precision_and_engine_are_one_line_errors(exports):
    d = exports[0]["dir"]
    with pytest.raises(ValueError, match=r"precision='fp8': expected one of 'float32', 'bf16'"):
        OrtLEDForConditionalGeneration.from_pretrained(d, precision="fp8")
    with pytest.raises(ValueError, match=r"engine='tvm'"):
        OrtLEDForConditionalGeneration.from_pretrained(d, engine="tvm")
    with pytest.raises(ValueError, match=r"precision='bf16' runs on OpenVINO only"):
        OrtLEDForConditionalGeneration.from_pretrained(d, precision="bf16", engine="onnxruntime")
    with pytest.raises(ValueError, match=r"io_binding: ONNX Runtime options"):
        OrtLEDForConditionalGeneration.from_pretrained(d, precision="bf16", io_binding=True)


def test_missing_extra_is_a_one_line_error_naming_the_fix(exports, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(ImportError, match=r"precision='bf16' runs on OpenVINO.*pip install 'led-ref\[openvino\]'"):
        OrtLEDForConditionalGeneration.from_pretrained(exports[0]["dir"], precision="bf16")


class _CoreWithoutBf16:
    """An OpenVINO Core whose CPU reports no BF16 capability (a CPU without AVX512_BF16 / AMX)."""

    def __init__(self):
        import openvino

        self.core = openvino.Core()

    def get_property(self, device, name):
        if name == "OPTIMIZATION_CAPABILITIES":
            return ["FP32", "INT8", "BIN", "EXPORT_IMPORT"]
        return self.core.get_property(device, name)

    def __getattr__(self, name):  # read_model, compile_model: the real core's
        return getattr(self.core, name)


def test_bf16_on_a_cpu_without_bf16_names_the_missing_feature(exports, monkeypatch, capsys):
    path = f"{exports[0]['dir']}/encoder_model.onnx"
    why = r"precision='bf16': this CPU has no native bfloat16.*avx512_bf16"
    with pytest.raises(ovs.UnsupportedCPUError, match=why):
        ovs.OpenVINOSession(path, "bf16", core=_CoreWithoutBf16())
    ovs.OpenVINOSession(path, "float32", core=_CoreWithoutBf16())  # float32 runs there
    # the CLI: one line, before any work
    from led_ref.app.cli import main

    monkeypatch.setattr(ovs, "bf16_missing", lambda core=None: "this CPU has no native bfloat16 (test)")
    rc = main(["generate", "--model", exports[0]["dir"], "--backend", "onnx", "--precision", "bf16", "x.txt"])
    err = capsys.readouterr().err
    assert rc != 0 and "--precision bf16: this CPU has no native bfloat16 (test); use --precision float32" in err


def test_bf16_needs_a_float32_export(exports, tmp_path):
    from led_ref.export.quantize import quantize_dir

    q = str(tmp_path / "int8")
    quantize_dir(exports[0]["dir"], q, log=lambda s: None)
    with pytest.raises(ValueError, match=r"precision='bf16' needs a float32 export, but .* is a int8 graph"):
        ovs.OpenVINOSession(f"{q}/encoder_model.onnx", "bf16")
    from led_ref.app.cli import main

    fp16 = str(tmp_path / "fp16")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", exports[0]["ckpt"], fp16, "--dtype", "float16"]) == 0
    with pytest.raises(ValueError, match=r"needs a float32 export, but .* is a float16 graph"):
        ovs.OpenVINOSession(f"{fp16}/encoder_model.onnx", "bf16")


def test_cli_precision_flags(exports, tmp_path, capsys):
    from led_ref.app.cli import main

    doc = tmp_path / "doc.txt"
    doc.write_text("a short document to summarize")
    rc = main(["generate", "--model", exports[0]["ckpt"], "--precision", "bf16", str(doc)])
    err = capsys.readouterr().err
    assert rc != 0 and "--precision bf16 runs the ONNX export on OpenVINO: add --backend onnx" in err
    with pytest.raises(SystemExit):  # argparse: the choices
        main(["summarize", "--model", exports[0]["ckpt"], "--precision", "fp8", str(doc)])
    assert "argument --precision: invalid choice: 'fp8' (choose from 'float32', 'bf16')" in capsys.readouterr().err


@needs_bf16
def test_verify_checks_a_bf16_deployment_against_its_tolerance(exports, capsys):
    from led_ref.app.cli import main

    e = exports[0]
    rc = main(["verify", "--candidate", f"onnx:{e['dir']}", "--reference", e["ckpt"], "--precision", "bf16"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert f"dtype bfloat16 (tolerance {BF16_TOL:g}" in text


@needs_bf16
@pytest.mark.slow
def test_bench_precision_bf16_adds_the_openvino_rows(tmp_path, capsys):
    import json

    from led_ref.app.cli import main

    out = tmp_path / "b.json"
    rc = main(["bench", "--quick", "--backends", "onnx", "--precision", "bf16", "--no-generate", "--json", str(out)])
    assert rc == 0, capsys.readouterr()
    rows = json.loads(out.read_text())["rows"]
    got = {(r["measurement"], r["backend"]): r["data"] for r in rows}
    for b in ("onnx", "onnx-i8", "ov-f32", "ov-bf16"):
        enc = got[("encoder seconds @ 256 tokens", b)]
        assert enc["seconds"] > 0 and enc["run_peak_rss_bytes"] >= enc["loaded_rss_bytes"] > 0
        assert got[("decode ms/token (128 in, greedy)", b)]["ms_per_token"] > 0
    assert not any("beam" in m for m, _ in got)  # --no-generate
    capsys.readouterr()
    assert main(["bench", "--quick", "--backends", "numpy", "--precision", "bf16"]) == 2
    assert "--precision bf16 adds rows to the onnx backend: keep onnx in --backends" in capsys.readouterr().err
