"""export/: torch graph == NumPy reference, dynamic ONNX export, ONNX Runtime backend (spec/SPEC.md#onnx-export).

Each tiny checkpoint is exported once per module (export is the slow part); hypothesis then draws
batch sizes, lengths (shorter than a window, not multiples of it) and global positions (none, one,
many, all; different per row) that differ from the shapes used while exporting.
"""

import json
import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref import model as npmodel
from led_ref.activations import ACT2FN
from led_ref.config import LEDConfig
from led_ref.export import onnx_export
from led_ref.export.onnx_export import NumpySteps
from led_ref.export.ort import OrtLEDForConditionalGeneration, OrtLEDModel, OrtSession
from led_ref.export.torch_model import build_torch_model
from led_ref.heads import get_head
from led_ref.testing.strategies import encoder_inputs as encoder_strategy
from led_ref.tolerances import TOLERANCE
from led_ref.tolerances import relative_error as rel_err
from led_ref.weights import init_params

pytestmark = pytest.mark.export

from tests.export.exportlib import make_checkpoint
from tests.testlib import GOLDENS as _G
from tests.testlib import TINY_EXPORT

GOLDENS = str(_G / "model")

TINY = TINY_EXPORT


def encoder_inputs(max_len=40, max_batch=4):
    """(input_ids, attention_mask, global_attention_mask) for TINY from led_ref.testing's strategy (lengths around
    the windows, right padding, 0/1/many/all/non-prefix global tokens per row), lengths up to ``max_len``."""
    lengths_of = LEDConfig(**{**TINY, "max_encoder_position_embeddings": max_len})
    return encoder_strategy(lengths_of, max_batch=max_batch).map(
        lambda d: (d["input_ids"], d["attention_mask"], d["global_attention_mask"])
    )


@pytest.fixture(scope="module")
def lm_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_lm")
    ckpt, out = str(root / "ckpt"), str(root / "onnx")
    config, params = make_checkpoint(ckpt, "lm")
    with open(os.path.join(ckpt, "generation_config.json"), "w") as f:
        json.dump({"decoder_start_token_id": 2, "eos_token_id": 2, "pad_token_id": 1, "bos_token_id": 0}, f)
    logs = []
    result = onnx_export.export_checkpoint(ckpt, out, log=logs.append)
    return {
        "ckpt": ckpt,
        "out": out,
        "config": config,
        "params": params,
        "result": result,
        "logs": logs,
        "ort": OrtLEDForConditionalGeneration.from_pretrained(out),
        "numpy": npmodel.LEDForConditionalGeneration(config, params),
    }


@pytest.fixture(scope="module")
def torch_models():
    config = LEDConfig(**TINY)
    out = {}
    for dtype, np_dtype in ((torch.float64, np.float64), (torch.float32, np.float32)):
        params = init_params(config, "lm", seed=3, dtype=np_dtype)
        out[np_dtype] = (
            build_torch_model(config, params, "lm", dtype),
            npmodel.LEDForConditionalGeneration(config, params),
        )
    return out


# -- torch module == NumPy ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("np_dtype,tol", [(np.float64, TOLERANCE["float64"]), (np.float32, TOLERANCE["float32"])])
@settings(max_examples=15)
@given(inputs=encoder_inputs(), dec_len=st.integers(1, 4))
def test_torch_module_matches_numpy(torch_models, np_dtype, tol, inputs, dec_len):
    tmodel, nmodel = torch_models[np_dtype]
    ids, mask, glob = inputs
    ref = NumpySteps(nmodel)
    h_ref, _ = ref.encode(ids, mask, glob)
    with torch.no_grad():
        h = tmodel.led.encoder(*(torch.from_numpy(a) for a in inputs))
    assert h.numpy().dtype == np_dtype
    assert rel_err(h.numpy(), h_ref) <= tol
    dec = np.random.default_rng(dec_len).integers(3, 50, size=(ids.shape[0], dec_len)).astype(np.int64)
    lg_ref, past_ref = ref.decode(dec, h_ref, mask)
    with torch.no_grad():
        hd, present = tmodel.led.decoder(torch.from_numpy(dec), torch.from_numpy(h_ref), torch.from_numpy(mask))
        assert rel_err(tmodel.logits(hd).numpy(), lg_ref) <= tol
        for layer, layer_ref in zip(present, past_ref):
            for a, r in zip(layer, layer_ref):
                assert rel_err(a.numpy(), r) <= tol
        nxt = torch.tensor(dec[:, :1])
        past = [tuple(torch.from_numpy(np.ascontiguousarray(t)) for t in layer) for layer in past_ref]
        hs, _ = tmodel.led.decoder(nxt, None, torch.from_numpy(mask), past)
    lg_step, _ = ref.decode(dec[:, :1], h_ref, mask, past_ref)
    assert rel_err(tmodel.logits(hs).numpy(), lg_step) <= tol


def _golden_cases():
    if not os.path.isdir(GOLDENS):
        return []
    return sorted(c for c in os.listdir(GOLDENS) if os.path.isfile(os.path.join(GOLDENS, c, "meta.json")))


@pytest.mark.parametrize("case", _golden_cases())
def test_torch_module_matches_hf_goldens(case):
    """The torch graph against HF's own outputs.

    led_ref.tolerances: float64 where HF float64 goldens exist, float32.
    """
    from led_ref.weights import load_checkpoint

    d = os.path.join(GOLDENS, case)
    meta = json.load(open(os.path.join(d, "meta.json")))
    inputs = dict(np.load(os.path.join(d, "inputs.npz")))
    if "input_ids" not in inputs:
        pytest.skip("case does not run the encoder from input_ids")
    head = meta["head"]
    checked = 0
    for suffix, np_dtype, tdtype in (("fp64", np.float64, torch.float64), ("fp32", np.float32, torch.float32)):
        tol = TOLERANCE[np.dtype(np_dtype).name]
        path = os.path.join(d, f"outputs_{suffix}.npz")
        if not os.path.isfile(path):
            continue
        out = dict(np.load(path))
        config, params = load_checkpoint(d, head, dtype=np_dtype)
        model = build_torch_model(config, params, head, tdtype)
        ids = torch.from_numpy(inputs["input_ids"])
        mask = torch.from_numpy(inputs.get("attention_mask", np.ones_like(inputs["input_ids"])))
        glob = torch.from_numpy(inputs.get("global_attention_mask", np.zeros_like(inputs["input_ids"])))
        led = model if head == "base" else model.led
        with torch.no_grad():
            enc = led.encoder(ids, mask, glob).numpy()
            key = "encoder_last_hidden_state" if "encoder_last_hidden_state" in out else None
            if key:
                assert rel_err(enc, out[key]) <= tol, (suffix, key)
                checked += 1
            plain = "decoder_input_ids" not in inputs and "decoder_attention_mask" not in inputs
            if plain and head == "qa":
                start, end = model.export_forward(ids, mask, glob)
                assert rel_err(start.numpy(), out["start_logits"]) <= tol
                assert rel_err(end.numpy(), out["end_logits"]) <= tol
                checked += 1
            if plain and head == "seq_cls":
                assert rel_err(model.export_forward(ids, mask, glob).numpy(), out["logits"]) <= tol
                checked += 1
    if not checked:
        pytest.skip("no comparable output in this golden case")


# -- the export -----------------------------------------------------------------------------------------------------
def test_export_layout_and_validation(lm_export):
    out = lm_export["out"]
    for name in (
        "encoder_model.onnx",
        "decoder_model.onnx",
        "decoder_with_past_model.onnx",
        "config.json",
        "generation_config.json",
    ):
        assert os.path.isfile(os.path.join(out, name)), name
    errors = lm_export["result"]["errors"]
    assert errors and max(errors.values()) <= TOLERANCE["float32"]
    assert any("max error" in line for line in lm_export["logs"])


def test_onnx_checker_names_and_dynamic_axes(lm_export):
    out, L = lm_export["out"], TINY["decoder_layers"]
    expect = {
        "encoder_model.onnx": (["input_ids", "attention_mask", "global_attention_mask"], ["last_hidden_state"]),
        "decoder_model.onnx": (
            ["input_ids", "encoder_hidden_states", "encoder_attention_mask"],
            ["logits"]
            + [f"present.{i}.{k}.{v}" for i in range(L) for k in ("decoder", "encoder") for v in ("key", "value")],
        ),
        "decoder_with_past_model.onnx": (
            ["input_ids", "encoder_attention_mask"]
            + [
                f"past_key_values.{i}.{k}.{v}"
                for i in range(L)
                for k in ("decoder", "encoder")
                for v in ("key", "value")
            ],
            ["logits"] + [f"present.{i}.decoder.{v}" for i in range(L) for v in ("key", "value")],
        ),
    }
    for name, (inputs, outputs) in expect.items():
        m = onnx.load(os.path.join(out, name))
        onnx.checker.check_model(m, full_check=True)
        assert [i.name for i in m.graph.input] == inputs, name
        assert [o.name for o in m.graph.output] == outputs, name
        ops = {n.op_type for n in m.graph.node}
        assert not ops & {"NonZero", "Loop", "If"}, (name, ops & {"NonZero", "Loop", "If"})
        for value in list(m.graph.input) + list(m.graph.output):
            dims = value.type.tensor_type.shape.dim
            assert dims[0].dim_param, (name, value.name, "batch axis is not dynamic")
            if value.name != "input_ids" or name != "decoder_with_past_model.onnx":
                seq_axis = 2 if value.name.startswith(("present", "past")) else 1
                assert dims[seq_axis].dim_param, (name, value.name, "sequence axis is not dynamic")


@settings(max_examples=30)
@given(inputs=encoder_inputs(max_len=40))
def test_onnx_encoder_matches_numpy(lm_export, inputs):
    ids, mask, glob = inputs
    h_ref, _ = NumpySteps(lm_export["numpy"]).encode(ids, mask, glob)
    h, _ = lm_export["ort"].encode(ids, mask, glob)
    assert rel_err(h, h_ref) <= TOLERANCE["float32"]


@settings(max_examples=15)
@given(inputs=encoder_inputs(max_len=30), dec_len=st.integers(1, 5), steps=st.integers(1, 3))
def test_onnx_decoder_with_cache_matches_numpy(lm_export, inputs, dec_len, steps):
    ids, mask, glob = inputs
    ref, ort_model = NumpySteps(lm_export["numpy"]), lm_export["ort"]
    h, _ = ref.encode(ids, mask, glob)
    dec = np.random.default_rng(dec_len).integers(3, 50, size=(ids.shape[0], dec_len)).astype(np.int64)
    lg_ref, past_ref = ref.decode(dec, h, mask)
    lg, past = ort_model.decode(dec, h, mask)
    assert rel_err(lg, lg_ref) <= TOLERANCE["float32"]
    for _ in range(steps):  # ORT's own cache, fed back step after step
        nxt = np.argmax(lg_ref[:, -1:], -1).astype(np.int64)
        lg_ref, past_ref = ref.decode(nxt, h, mask, past_ref)
        lg, past = ort_model.decode(nxt, h, mask, past)
        assert rel_err(lg, lg_ref) <= TOLERANCE["float32"]
        assert past[0][0].shape == past_ref[0][0].shape


def test_zero_one_and_all_global_tokens(lm_export):
    """x = max #global = 0 (empty slot tensors), 1, and every token, in one graph."""
    ref, ort_model = NumpySteps(lm_export["numpy"]), lm_export["ort"]
    ids = np.random.default_rng(0).integers(3, 50, size=(2, 13)).astype(np.int64)
    mask = np.ones_like(ids)
    for glob in (np.zeros_like(ids), np.eye(2, 13, dtype=np.int64), np.ones_like(ids)):
        h_ref, _ = ref.encode(ids, mask, glob)
        h, _ = ort_model.encode(ids, mask, glob)
        assert rel_err(h, h_ref) <= TOLERANCE["float32"]
    # many global tokens: x H >= D + x, so the graph takes its direct (not reassociated) global rows
    ids30 = np.random.default_rng(1).integers(3, 50, size=(2, 30)).astype(np.int64)
    glob30 = np.ones_like(ids30)
    glob30[1, ::3] = 0
    h_ref, _ = ref.encode(ids30, np.ones_like(ids30), glob30)
    h, _ = ort_model.encode(ids30, np.ones_like(ids30), glob30)
    assert rel_err(h, h_ref) <= TOLERANCE["float32"]
    # a global flag on a padding token is no global token (HF merges the masks)
    mask[1, 7:] = 0
    glob = np.zeros_like(ids)
    glob[1, 9] = 1
    h_ref, _ = ref.encode(ids, mask, glob)
    h, _ = ort_model.encode(ids, mask, glob)
    assert rel_err(h, h_ref) <= TOLERANCE["float32"]


@pytest.mark.parametrize("kwargs", [dict(num_beams=1), dict(num_beams=3), dict(num_beams=2, num_return_sequences=2)])
def test_ort_generate_equals_numpy_generate(lm_export, kwargs):
    rng = np.random.default_rng(7)
    ids = rng.integers(3, 50, size=(2, 11)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 8:] = 0
    common = dict(max_new_tokens=8, global_attention="first", **kwargs)
    ref = lm_export["numpy"].generate(ids, attention_mask=mask, **common)
    got = lm_export["ort"].generate(ids, attention_mask=mask, **common)
    assert got.dtype == np.int64 and got.shape == ref.shape and got.shape[1] > 1
    np.testing.assert_array_equal(got, ref)


# -- heads and fp16 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["seq_cls", "qa"])
def test_head_export_matches_numpy(tmp_path, head):
    ckpt, out = str(tmp_path / "ckpt"), str(tmp_path / "onnx")
    config, params = make_checkpoint(ckpt, head, seed=5, num_labels=3 if head == "seq_cls" else 2)
    result = onnx_export.export_checkpoint(ckpt, out, log=lambda s: None)
    assert [os.path.basename(f) for f in result["files"]] == ["model.onnx"]
    onnx.checker.check_model(onnx.load(os.path.join(out, "model.onnx")))
    ort_model = OrtLEDModel.from_pretrained(out)
    ref_model = onnx_export.numpy_reference(config, params, head)
    ids = np.random.default_rng(1).integers(3, 50, size=(3, 21)).astype(np.int64)
    ids[:, -1] = config.eos_token_id
    glob = np.zeros_like(ids)
    glob[0, 0], glob[2, :5] = 1, 1
    got = ort_model(ids, None, glob)
    ref = ref_model(input_ids=ids, attention_mask=np.ones_like(ids), global_attention_mask=glob)
    for name in get_head(head).onnx_outputs:
        assert rel_err(got[name], getattr(ref, name)) <= TOLERANCE["float32"], name
    if head == "seq_cls":
        assert got["logits"].shape == (3, 3)
        bad = ids.copy()
        bad[0, -1] = 5
        with pytest.raises(ValueError, match="eos"):
            ort_model(bad)


@pytest.mark.slow
def test_fp16_export_within_stated_tolerance(tmp_path):
    ckpt, out = str(tmp_path / "ckpt"), str(tmp_path / "onnx")
    make_checkpoint(ckpt, "lm", seed=2)
    result = onnx_export.export_checkpoint(ckpt, out, fp16=True, log=lambda s: None)
    assert max(result["errors"].values()) <= TOLERANCE["float16"]
    m = OrtLEDForConditionalGeneration.from_pretrained(out)
    h, mask = m.encode(np.array([[5, 6, 7]]))
    assert h.dtype == np.float16
    logits, past = m.decode(np.array([[2]]), h, mask)
    assert logits.dtype == np.float32 and past[0][0].dtype == np.float16
    assert m.generate(np.array([[5, 6, 7]]), max_new_tokens=3, num_beams=2).shape[0] == 1


# -- bad input ------------------------------------------------------------------------------------------------------
def test_missing_files_are_named(lm_export, tmp_path):
    broken = str(tmp_path / "broken")
    shutil.copytree(lm_export["out"], broken)
    os.remove(os.path.join(broken, "decoder_with_past_model.onnx"))
    OrtLEDForConditionalGeneration.from_pretrained(broken)  # the merged decoder replaces both decoder files
    with pytest.raises(FileNotFoundError, match="decoder_with_past_model.onnx"):
        OrtLEDForConditionalGeneration.from_pretrained(broken, use_merged=False)
    os.remove(os.path.join(broken, "decoder_model_merged.onnx"))
    with pytest.raises(FileNotFoundError, match="decoder_with_past_model.onnx"):
        OrtLEDForConditionalGeneration.from_pretrained(broken)
    os.remove(os.path.join(broken, "config.json"))
    with pytest.raises(FileNotFoundError, match="config.json"):
        OrtLEDForConditionalGeneration.from_pretrained(broken)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        OrtLEDForConditionalGeneration.from_pretrained(str(tmp_path / "nowhere"))


def test_onnx_file_from_another_model_is_rejected(lm_export, tmp_path):
    other = str(tmp_path / "other")
    shutil.copytree(lm_export["out"], other)
    cfg = json.load(open(os.path.join(other, "config.json")))
    cfg["d_model"], cfg["encoder_ffn_dim"] = 32, 48  # the .onnx files no longer match this config
    json.dump(cfg, open(os.path.join(other, "config.json"), "w"))
    with pytest.raises(ValueError, match="encoder_model.onnx belongs to another model"):
        OrtLEDForConditionalGeneration.from_pretrained(other)


def test_wrong_inputs_are_named(lm_export):
    m = lm_export["ort"]
    ids = np.array([[5, 6, 7, 8]], np.int64)
    with pytest.raises(TypeError, match="input_ids"):
        m.encode(ids.astype(np.float32))
    with pytest.raises(ValueError, match="input_ids"):
        m.encode(ids[0])
    with pytest.raises(ValueError, match="attention_mask"):
        m.encode(ids, np.ones((1, 3), np.int64))
    with pytest.raises(ValueError, match="vocab_size"):
        m.encode(ids + 100)
    sess = m.encoder
    good = {"input_ids": ids, "attention_mask": np.ones_like(ids), "global_attention_mask": np.zeros_like(ids)}
    with pytest.raises(TypeError, match="'attention_mask'.*int32"):
        sess.run({**good, "attention_mask": good["attention_mask"].astype(np.int32)})
    with pytest.raises(ValueError, match="'global_attention_mask' has rank 1"):
        sess.run({**good, "global_attention_mask": good["global_attention_mask"][0]})
    with pytest.raises(ValueError, match="missing input.*input_ids"):
        sess.run({k: v for k, v in good.items() if k != "input_ids"})
    with pytest.raises(ValueError, match="unexpected input.*token_type_ids"):
        sess.run({**good, "token_type_ids": ids})
    h, mask = m.encode(ids)
    with pytest.raises(ValueError, match="past_key_values"):
        m.decode(ids[:, :1], h, mask, past_key_values=((h,),))
    with pytest.raises(ValueError, match="max_decoder_position_embeddings"):
        m.decode(np.full((1, TINY["max_decoder_position_embeddings"] + 1), 5), h, mask)
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        m.decode(ids[:, :1], h[:, :2], mask)
    assert isinstance(sess, OrtSession)


def test_cli_export(lm_export, tmp_path, capsys):
    from led_ref.app.cli import main

    out = str(tmp_path / "cli_out")
    assert main(["export", lm_export["ckpt"], out, "--no-validate", "--opset", "17"]) == 0
    assert os.path.isfile(os.path.join(out, "decoder_with_past_model.onnx"))
    assert "validation skipped" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "missing"), out]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "not a directory" in err
    assert main(["export", lm_export["ckpt"], out, "--opset", "9", "--no-validate"]) == 2
    assert "opset" in capsys.readouterr().err


# -- one set of input checks for every backend (led_ref.inputs) ------------------------------------------------------
_IDS = np.array([[5, 6, 7, 8], [9, 10, 11, 12]], np.int64)
_BAD_INPUTS = {  # case: (inputs replacing the good ones, what the message must name)
    "attention_mask value 2": (dict(attention_mask=np.array([[1, 1, 2, 1], [1, 1, 1, 1]])), "attention_mask"),
    "-1 in attention_mask": (dict(attention_mask=np.array([[1, 1, 1, -1], [1, 1, 1, 1]])), "attention_mask"),
    "global_attention_mask value 5": (
        dict(global_attention_mask=np.array([[5, 0, 0, 0], [0, 0, 0, 0]])),
        "global_attention_mask",
    ),
    "attention_mask of another shape": (dict(attention_mask=np.ones((2, 3), np.int64)), "attention_mask"),
    "attention_mask of rank 1": (dict(attention_mask=np.ones(4, np.int64)), "attention_mask"),
    "input_ids of rank 1": (dict(input_ids=_IDS[0]), "input_ids"),
    "input_ids of rank 3": (dict(input_ids=_IDS[None]), "input_ids"),
    "id past the vocabulary": (dict(input_ids=_IDS + 40), "vocab_size=50"),
    "negative id": (dict(input_ids=-_IDS), "input_ids"),
    "float input_ids": (dict(input_ids=_IDS.astype(np.float32)), "input_ids"),
    "bool input_ids": (dict(input_ids=_IDS > 6), "input_ids"),
    "float attention_mask holding 0.5": (dict(attention_mask=np.full((2, 4), 0.5)), "attention_mask"),
    "empty input_ids": (dict(input_ids=np.zeros((2, 0), np.int64)), "input_ids"),
    "input longer than the positions": (
        dict(input_ids=np.full((1, 65), 5, np.int64)),
        "max_encoder_position_embeddings=64",
    ),
}


def _error(call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("case", sorted(_BAD_INPUTS))
def test_same_bad_input_same_error_on_every_backend(lm_export, case):
    """NumPy model, generate() on NumPy, generate() on ONNX Runtime and the ORT encoder: one check, one message."""
    bad, named = _BAD_INPUTS[case]
    kw = {"input_ids": _IDS, **bad}
    numpy_model, ort_model = lm_export["numpy"], lm_export["ort"]
    ids, mask, glob = kw["input_ids"], kw.get("attention_mask"), kw.get("global_attention_mask")
    errors = {
        "numpy model": _error(lambda: numpy_model(**kw)),
        "numpy generate": _error(lambda: numpy_model.generate(ids, mask, glob, max_new_tokens=2)),
        "ort generate": _error(lambda: ort_model.generate(ids, mask, glob, max_new_tokens=2)),
        "ort encode": _error(lambda: ort_model.encode(ids, mask, glob)),
    }
    assert len(set(errors.values())) == 1, errors
    exc, message = errors["numpy model"]
    assert named in message, message


# -- every activation of the core has a torch graph (led_ref.activations is the one table) --------------------------
def test_torch_graph_has_every_core_activation():
    from led_ref.export.torch_model import ACTIVATIONS

    assert set(ACTIVATIONS) == set(ACT2FN)
    x64 = np.concatenate([np.linspace(-12, 12, 401), [0.0, 30.0, -30.0]])
    for name, fn in ACTIVATIONS.items():
        got = fn(torch.from_numpy(x64)).numpy()
        assert rel_err(got, ACT2FN[name](x64)) <= TOLERANCE["float64"], name


@pytest.mark.parametrize("activation", sorted(ACT2FN))
def test_torch_module_matches_numpy_for_every_activation(activation):
    config = LEDConfig(**{**TINY, "activation_function": activation})
    params = init_params(config, "lm", seed=4, dtype=np.float64)
    tmodel = build_torch_model(config, params, "lm", torch.float64)
    nmodel = npmodel.LEDForConditionalGeneration(config, params)
    ids, mask, glob = onnx_export.dummy_inputs(2, 11, [1, 0], vocab=TINY["vocab_size"], pad_row=1)
    h_ref, _ = NumpySteps(nmodel).encode(ids, mask, glob)
    with torch.no_grad():
        h = tmodel.led.encoder(*(torch.from_numpy(a) for a in (ids, mask, glob)))
    assert rel_err(h.numpy(), h_ref) <= TOLERANCE["float64"]


def test_export_refuses_an_activation_without_torch_graph_up_front(tmp_path, monkeypatch):
    from led_ref.export import torch_model

    ckpt, out = tmp_path / "ckpt", tmp_path / "onnx"
    make_checkpoint(str(ckpt), "lm", activation_function="mish")
    monkeypatch.delitem(torch_model.ACTIVATIONS, "mish")
    with pytest.raises(ValueError, match=r"^activation_function 'mish' has no torch graph[^\n]*$"):
        onnx_export.export_checkpoint(str(ckpt), str(out), log=lambda s: None)
    assert not out.exists()  # refused before anything was written


@pytest.mark.slow
@pytest.mark.parametrize("activation", sorted(ACT2FN))
def test_export_validates_for_every_activation(tmp_path, activation):
    ckpt, out = str(tmp_path / "ckpt"), str(tmp_path / "onnx")
    make_checkpoint(ckpt, "lm", seed=6, activation_function=activation)
    result = onnx_export.export_checkpoint(ckpt, out, log=lambda s: None)
    assert result["errors"] and max(result["errors"].values()) <= TOLERANCE["float32"]


# -- the torch graph computes led_ref.inputs' rules ------------------------------------------------------------------
def test_torch_graph_follows_the_input_rules(torch_models):
    from led_ref import inputs
    from led_ref.export.torch_model import position_ids

    tmodel, _ = torch_models[np.float32]
    window = max(TINY["attention_window"])
    for layer in tmodel.led.encoder.layers:
        attn = layer.self_attn.longformer_self_attn
        for length in range(1, 3 * window + 2):
            assert int(attn.padded_length(torch.tensor(length))) == inputs.padded_length(length, window), length
    for length, past in ((1, 0), (7, 0), (1, 5), (3, 9)):
        got = position_ids(torch.zeros(length, dtype=torch.int64), past).numpy()
        np.testing.assert_array_equal(got, inputs.position_ids(length, past))
    labels = np.array([[5, -100, 7, 8], [-100, 9, -100, 2]])
    np.testing.assert_array_equal(
        tmodel.led.shift_tokens_right(torch.from_numpy(labels)).numpy(),
        inputs.shift_tokens_right(labels, TINY.get("pad_token_id", 1), 2),
    )
    att = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    glob = np.array([[1, 0, 0, 1, -1], [0, 1, 0, 0, 1]])
    np.testing.assert_array_equal(
        inputs.merge_masks(torch.from_numpy(att), torch.from_numpy(glob)).numpy(), inputs.merge_masks(att, glob)
    )
    np.testing.assert_array_equal(inputs.merge_masks(att, glob), [[2, 1, 1, 0, 0], [1, 2, 1, 1, 2]])
