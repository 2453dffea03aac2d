"""ONNX Runtime deployment: merged decoder, int8 quantization, batched generation, float16.

One tiny checkpoint is exported once for the module (export is the slow part)."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from led_ref import model as npmodel
from led_ref.export import onnx_export
from led_ref.export.onnx_export import DECODER_MERGED_FILE
from led_ref.export.ort import OrtLEDForConditionalGeneration
from tests.export.exportlib import make_checkpoint

pytestmark = pytest.mark.export


@pytest.fixture(scope="module")
def deploy(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    ckpt, out = str(root / "ckpt"), str(root / "onnx")
    config, params = make_checkpoint(ckpt, "lm", seed=5)
    with open(os.path.join(ckpt, "generation_config.json"), "w") as f:
        json.dump({"decoder_start_token_id": 2, "eos_token_id": 2, "pad_token_id": 1, "bos_token_id": 0}, f)
    onnx_export.export_checkpoint(ckpt, out, log=lambda s: None)
    return {
        "root": root,
        "ckpt": ckpt,
        "out": out,
        "config": config,
        "params": params,
        "numpy": npmodel.LEDForConditionalGeneration(config, params),
    }


def _docs(n, seed=0, lo=3, hi=40):
    rng = np.random.default_rng(seed)
    return [rng.integers(3, 50, size=int(rng.integers(lo, hi))).astype(np.int64) for _ in range(n)]


# -- merged decoder -------------------------------------------------------------------------------------------------
def test_merged_decoder_layout(deploy):
    import onnx
    import onnx.numpy_helper

    path = os.path.join(deploy["out"], DECODER_MERGED_FILE)
    m = onnx.load(path)
    names = [i.name for i in m.graph.input]
    assert "use_cache_branch" in names and "encoder_hidden_states" in names
    n = int(deploy["config"].decoder_layers)
    for i in range(n):
        for kind in ("decoder", "encoder"):
            for kv in ("key", "value"):
                assert f"past_key_values.{i}.{kind}.{kv}" in names
                assert f"present.{i}.{kind}.{kv}" in [o.name for o in m.graph.output]
    assert [node.op_type for node in m.graph.node] == ["If"]
    onnx.checker.check_model(m)

    # weights once: every with-past weight is one of the decoder's, so the merged graph holds exactly the
    # decoder's weight bytes, not the sum of both files'
    def weight_bytes(model):
        return sum(onnx.numpy_helper.to_array(t).nbytes for t in model.graph.initializer)

    dec = weight_bytes(onnx.load(os.path.join(deploy["out"], "decoder_model.onnx")))
    past = weight_bytes(onnx.load(os.path.join(deploy["out"], "decoder_with_past_model.onnx")))
    assert past > 0.8 * dec
    assert weight_bytes(m) == dec


@pytest.mark.parametrize("kwargs", [{}, {"num_beams": 3}, {"num_beams": 2, "num_return_sequences": 2}])
def test_merged_decoder_equals_separate_decoders(deploy, kwargs):
    merged = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"])
    separate = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"], use_merged=False)
    assert merged.decoder.path.endswith(DECODER_MERGED_FILE)
    assert separate.decoder.path.endswith("decoder_model.onnx")
    ids = np.random.default_rng(1).integers(3, 50, size=(3, 21))
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    a = merged.generate(ids, global_attention_mask=glob, max_new_tokens=10, min_new_tokens=10, **kwargs)
    b = separate.generate(ids, global_attention_mask=glob, max_new_tokens=10, min_new_tokens=10, **kwargs)
    np.testing.assert_array_equal(a, b)
    # and the step outputs themselves agree exactly (same kernels, same weights)
    h, mask = merged.encode(ids)
    a = a[: ids.shape[0]]  # any decoder tokens do; one row per document
    la, pa = merged.decode(a[:, :4], h, mask)
    lb, pb = separate.decode(a[:, :4], h, mask)
    np.testing.assert_array_equal(la, lb)
    la, _ = merged.decode(a[:, 4:5], h, mask, pa)
    lb, _ = separate.decode(a[:, 4:5], h, mask, pb)
    np.testing.assert_array_equal(la, lb)


# -- int8 quantization ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def int8(deploy):
    from led_ref.export.quantize import quantize_dir, validate_quantized

    qdir = str(deploy["root"] / "int8")
    res = quantize_dir(deploy["out"], qdir, log=lambda s: None)
    metrics = validate_quantized(qdir, deploy["out"], deploy["config"], log=lambda s: None)
    return {"dir": qdir, "result": res, "metrics": metrics}


def test_int8_export_is_marked_validated_and_loads_with_the_same_class(deploy, int8):
    import onnx

    from led_ref.export.quantize import INT8_THRESHOLDS, QUANT_INFO_FILE, quantization_of

    assert quantization_of(int8["dir"]) == "int8" and quantization_of(deploy["out"]) is None
    with open(os.path.join(int8["dir"], QUANT_INFO_FILE)) as f:
        info = json.load(f)
    assert info["validation"]["passed"] is True
    m = int8["metrics"]
    assert m["encoder_relative_error"] <= INT8_THRESHOLDS["encoder_relative_error"]
    assert m["logits_cosine"] >= INT8_THRESHOLDS["logits_cosine"]
    assert m["top1_agreement"] >= INT8_THRESHOLDS["top1_agreement"]
    assert m["encoder_relative_error"] > 0  # the weights really are quantized
    enc = onnx.load(os.path.join(int8["dir"], "encoder_model.onnx"))
    ops = {n.op_type for n in enc.graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops or "DynamicQuantizeLinear" in ops
    assert {p.key: p.value for p in enc.metadata_props}["led_ref.quantized"] == "int8"
    # every constant weight a MatMul multiplies by is int8, the (H, d, D) global-attention stacks included (only
    # the (H, d, 1) bias columns stay float)
    inits = {t.name: t for t in enc.graph.initializer}
    float_weights = [
        n.input[1]
        for n in enc.graph.node
        if n.op_type == "MatMul" and n.input[1] in inits and min(inits[n.input[1]].dims) > 1
    ]
    assert float_weights == []
    assert any(len(t.dims) == 3 and t.data_type == onnx.TensorProto.INT8 for t in enc.graph.initializer)
    q = OrtLEDForConditionalGeneration.from_pretrained(int8["dir"])
    assert q.decoder.path.endswith(DECODER_MERGED_FILE)
    ids = np.random.default_rng(2).integers(3, 50, size=(2, 17))
    out = q.generate(ids, max_new_tokens=5)
    assert out.shape[0] == 2 and out.min() >= 0


def test_int8_validation_refuses_beyond_thresholds(deploy, int8):
    from led_ref.export.quantize import validate_quantized

    with pytest.raises(ValueError, match="int8 validation failed"):
        validate_quantized(
            int8["dir"],
            deploy["out"],
            deploy["config"],
            thresholds={"encoder_relative_error": 1e-6},
            log=lambda s: None,
        )
    # the float model against itself passes with any thresholds: the check measures the difference
    same = validate_quantized(
        deploy["out"],
        deploy["out"],
        deploy["config"],
        log=lambda s: None,
        thresholds={"encoder_relative_error": 0.0, "logits_cosine": 1 - 1e-9, "top1_agreement": 1.0},
    )
    assert same["encoder_relative_error"] == 0.0


def _one_error_line(err):
    lines = err.strip().splitlines()  # one line, ending with the CLI's "(--debug shows the traceback)" hint
    return len(lines) == 1 and "error:" in lines[0]


def test_quantize_bad_input_is_one_line_naming_the_option(deploy, int8, tmp_path, capsys):
    from led_ref.app.cli import main

    # quantizing an already quantized directory
    assert main(["export", int8["dir"], str(tmp_path / "again"), "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert "--quantize" in err and "already quantized" in err and _one_error_line(err)
    # float16 + int8
    assert main(["export", deploy["ckpt"], str(tmp_path / "x"), "--dtype", "float16", "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert "--quantize" in err and "float16" in err and _one_error_line(err)
    # a CUDA-only option on a machine without CUDA
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        assert main(["export", deploy["ckpt"], str(tmp_path / "y"), "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert "--device cuda" in err and _one_error_line(err)


def test_cli_quantizes_an_existing_export(deploy, tmp_path, capsys):
    from led_ref.app.cli import main
    from led_ref.export.quantize import quantization_of

    out = str(tmp_path / "q")
    assert main(["export", deploy["out"], out, "--quantize", "int8"]) == 0
    assert quantization_of(out) == "int8"
    assert "top1_agreement" in capsys.readouterr().out


# -- batched generation ---------------------------------------------------------------------------------------------
def _pad_batch(docs, pad_id):
    S = max(len(d) for d in docs)
    ids = np.full((len(docs), S), pad_id, np.int64)
    mask = np.zeros((len(docs), S), np.int64)
    for b, d in enumerate(docs):
        ids[b, : len(d)], mask[b, : len(d)] = d, 1
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    return ids, mask, glob


@pytest.mark.parametrize("kwargs", [{}, {"num_beams": 3}])
def test_batched_generate_equals_each_document_alone(deploy, kwargs):
    # float graphs only: dynamic int8 quantizes activations with one scale per tensor, i.e. per batch, so
    # an int8 row depends on its batch neighbours by design (spec/SPEC.md#int8-quantization)
    model = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"])
    pad = int(deploy["config"].pad_token_id)
    docs = _docs(5, seed=7, lo=3, hi=45)  # lengths across several attention windows
    assert len({len(d) for d in docs}) > 1
    ids, mask, glob = _pad_batch(docs, pad)
    batch = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=12, **kwargs)
    for b, d in enumerate(docs):
        alone = model.generate(
            d[None], global_attention_mask=np.eye(1, len(d), dtype=np.int64), max_new_tokens=12, **kwargs
        )[0]
        row = batch[b]
        np.testing.assert_array_equal(row[: len(alone)], alone, err_msg=f"document {b} (length {len(d)})")
        assert (row[len(alone) :] == pad).all()  # the batch only pads after a document has finished


# -- IO binding (float32; float16 in test_fp16.py) ------------------------------------------------------------------
@pytest.mark.parametrize("merged", [True, False])
def test_io_binding_generates_the_same_tokens_float32(deploy, merged):
    from tests.export.exportlib import same_tokens

    plain = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"], use_merged=merged, io_binding=False)
    bound = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"], use_merged=merged, io_binding=True)
    same_tokens(plain, bound)


def test_merged_cached_branch_returns_empty_encoder_presents(deploy):
    # the cached branch must not copy the cross-attention past into its outputs on every step (it is what
    # the caller fed); its encoder presents are zero-length placeholders, as in optimum's merged decoders
    merged = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"])
    ids = np.random.default_rng(3).integers(3, 50, size=(2, 19))
    h, mask = merged.encode(ids)
    _, past = merged.decode(np.full((2, 1), 2, np.int64), h, mask)
    feeds = {"input_ids": np.full((2, 1), 5, np.int64), "encoder_attention_mask": mask}
    for i, layer in enumerate(past):
        for (kind, kv), arr in zip(
            (("decoder", "key"), ("decoder", "value"), ("encoder", "key"), ("encoder", "value")), layer
        ):
            feeds[f"past_key_values.{i}.{kind}.{kv}"] = arr
    out = merged.decoder_with_past.merged.run(
        dict(feeds, use_cache_branch=np.array([True]), encoder_hidden_states=np.zeros((2, 0, h.shape[-1]), np.float32))
    )
    enc = [k for k in out if k.startswith("present.") and ".encoder." in k]
    assert len(enc) == 2 * len(past)
    assert all(out[k].shape == past[0][2].shape[:2] + (0,) + past[0][2].shape[3:] for k in enc)
    assert out["present.0.decoder.key"].shape[2] == past[0][0].shape[2] + 1


# -- benchmark rows (led-ref bench / benchmarks.ort_deploy): they run, in-process, on the tiny export ------------------
def test_bench_row_functions_run_on_float_and_int8(deploy, int8):
    from led_ref.app.benchmarks import generation, ort_deploy

    for d in (deploy["out"], int8["dir"]):
        g = generation.ort_generate(d, seq_len=40, new_tokens=3, num_beams=1, batch=8)
        assert g["steps"] == 3 and g["ms_per_token"] > 0 and len(g["sequences"]) == 8
        for merged in (True, False):
            r = ort_deploy.row_decode(d, "tiny", seq_len=40, batch=8, new_tokens=2, use_merged=merged)
            assert r["ms_per_step"] > 0 and r["tokens_per_s"] > 0
