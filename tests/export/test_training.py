"""Training in the torch graph (spec/SPEC.md#training): every parameter's gradient equals HF transformers 4.46.3's
(spec/goldens/gradients, made by spec/make_gradient_goldens.py), with and without gradient checkpointing, plus
property tests (checkpointing on == off, train() at dropout 0 == eval(), dropout really active, HF-style API)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref.config import LEDConfig
from led_ref.export.torch_model import (
    LEDForConditionalGeneration,
    LEDForQuestionAnswering,
    LEDForSequenceClassification,
    LEDModel,
)
from led_ref.tolerances import GRADIENT_TOLERANCE, relative_error
from led_ref.weights import init_params, save_checkpoint
from tests.testlib import GOLDENS

pytestmark = pytest.mark.export

GRAD_ROOT = GOLDENS / "gradients"
CASES = sorted(p.name for p in GRAD_ROOT.iterdir() if p.is_dir())
CLASSES = {
    "base": LEDModel,
    "lm": LEDForConditionalGeneration,
    "seq_cls": LEDForSequenceClassification,
    "qa": LEDForQuestionAnswering,
}
DTYPES = {"fp32": torch.float32, "fp64": torch.float64}


def _kwargs(inputs, dtype):
    return {
        k: (torch.from_numpy(v).to(dtype) if v.dtype.kind == "f" else torch.from_numpy(v))
        for k, v in inputs.items()
        if not k.startswith("loss_weights.")
    }


def _loss(out, inputs, dtype):
    """The golden's scalar: HF's loss, or for LEDModel a fixed weighted sum of both hidden states."""
    if "loss_weights.decoder" in inputs:
        w_dec = torch.from_numpy(inputs["loss_weights.decoder"]).to(dtype)
        w_enc = torch.from_numpy(inputs["loss_weights.encoder"]).to(dtype)
        return (out.last_hidden_state * w_dec).sum() + (out.encoder_last_hidden_state * w_enc).sum()
    return out.loss


def _grads(model, inputs, dtype):
    model.zero_grad(set_to_none=True)
    loss = _loss(model(**_kwargs(inputs, dtype), use_cache=False), inputs, dtype)
    loss.backward()
    return float(loss.detach()), {n: p.grad.detach().numpy() for n, p in model.named_parameters()}


def test_gradient_goldens_cover_the_issue():
    """Every head, 0/1/many global tokens in a row, padding, float32 and float64, both checkpointing settings."""
    heads, globals_seen, padded = set(), set(), False
    for case in CASES:
        d = GRAD_ROOT / case
        meta = json.loads((d / "meta.json").read_text())
        heads.add(meta["head"])
        inputs = dict(np.load(d / "inputs.npz"))
        g = inputs["global_attention_mask"] * inputs["attention_mask"]
        globals_seen |= {min(int(n), 2) for n in g.sum(1)}
        padded |= bool((inputs["attention_mask"] == 0).any())
        for suffix in DTYPES:
            keys = set(np.load(d / f"grads_{suffix}.npz").files)
            assert {"loss", "checkpointing.loss"} <= keys
            assert {"grad." + n for n in meta["parameters"]} <= keys
            assert {"checkpointing.grad." + n for n in meta["parameters"]} <= keys
    assert heads == set(CLASSES) and globals_seen == {0, 1, 2} and padded


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
@pytest.mark.parametrize("suffix", list(DTYPES))
@pytest.mark.parametrize("case", CASES)
def test_gradients_equal_hf(case, suffix, checkpointing):
    d = GRAD_ROOT / case
    meta = json.loads((d / "meta.json").read_text())
    inputs = dict(np.load(d / "inputs.npz"))
    golden = dict(np.load(d / f"grads_{suffix}.npz"))
    dtype = DTYPES[suffix]
    model = CLASSES[meta["head"]].from_pretrained(str(d), dtype=dtype)
    assert [n for n, _ in model.named_parameters()] == meta["parameters"]  # HF's names, HF's order
    model.train()
    if checkpointing:
        model.gradient_checkpointing_enable()
        assert model.is_gradient_checkpointing
    loss, grads = _grads(model, inputs, dtype)
    prefix = "checkpointing." if checkpointing else ""
    tol = GRADIENT_TOLERANCE[str(dtype).replace("torch.", "")]
    assert relative_error(loss, golden[prefix + "loss"]) <= tol
    errors = {n: relative_error(g, golden[prefix + "grad." + n]) for n, g in grads.items()}
    worst = max(errors, key=errors.get)
    assert errors[worst] <= tol, (worst, errors[worst])


# -- property tests on a tiny random model --------------------------------------------------------------------------
TINY = dict(
    vocab_size=40,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=24,
    decoder_ffn_dim=24,
    attention_window=[4, 8],
    max_encoder_position_embeddings=48,
    max_decoder_position_embeddings=24,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_train")
    config = LEDConfig(**TINY, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    save_checkpoint(d, config, init_params(config, "lm", seed=3, dtype=np.float64), "lm")
    return str(d)


@st.composite
def batches(draw):
    B = draw(st.integers(1, 3))
    S = draw(st.integers(2, 20))
    T = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    ids = rng.integers(3, TINY["vocab_size"], (B, S))
    mask = np.ones((B, S), np.int64)
    glob = np.zeros((B, S), np.int64)
    for b in range(B):
        n = int(rng.integers(1, S + 1))
        mask[b, n:], ids[b, n:] = 0, 1
        k = draw(st.sampled_from([0, 1, min(3, n), n]))
        glob[b, rng.choice(n, size=k, replace=False)] = 1
    labels = rng.integers(3, TINY["vocab_size"], (B, T))
    labels[rng.random((B, T)) < 0.3] = -100
    labels[:, 0] = 5  # at least one target per row
    return {
        k: torch.from_numpy(v.astype(np.int64))
        for k, v in dict(input_ids=ids, attention_mask=mask, global_attention_mask=glob, labels=labels).items()
    }


@settings(max_examples=8, deadline=None)
@given(batch=batches())
def test_checkpointing_and_train_mode_do_not_change_gradients(tiny_dir, batch):
    """float64, dropout 0: checkpointing on == off, and train() == eval() (loss and every gradient)."""
    results = []
    for mode, ckpt in (("eval", False), ("train", False), ("train", True)):
        model = LEDForConditionalGeneration.from_pretrained(tiny_dir, dtype=torch.float64)
        getattr(model, mode)()
        if ckpt:
            model.gradient_checkpointing_enable()
        out = model(**batch, use_cache=False)
        out.loss.backward()
        results.append((out.loss.item(), {n: p.grad.numpy().copy() for n, p in model.named_parameters()}))
    (l0, g0) = results[0]
    for loss, grads in results[1:]:
        assert relative_error(loss, l0) <= GRADIENT_TOLERANCE["float64"]
        for n in g0:
            assert relative_error(grads[n], g0[n]) <= GRADIENT_TOLERANCE["float64"], n


def _dropout_dir(tmp_path, **dropouts):
    config = LEDConfig(**TINY, **dropouts)
    save_checkpoint(tmp_path, config, init_params(config, "lm", seed=4), "lm")
    return str(tmp_path)


@pytest.mark.parametrize("field", ["dropout", "attention_dropout", "activation_dropout"])
def test_each_dropout_is_active_in_train_only(tmp_path, field):
    """With one dropout p > 0: train() outputs vary between calls and differ from eval(); eval() is deterministic;
    under checkpointing the recomputation replays the same dropout mask (gradients equal a plain run's)."""
    model = LEDForConditionalGeneration.from_pretrained(_dropout_dir(tmp_path, **{field: 0.5}))
    ids = torch.randint(3, 40, (2, 12))
    glob = torch.zeros_like(ids)
    glob[:, 0] = 1
    kw = dict(input_ids=ids, global_attention_mask=glob, labels=torch.randint(3, 40, (2, 5)))
    with torch.no_grad():
        e1, e2 = model.eval()(**kw).loss, model(**kw).loss
        t1, t2 = model.train()(**kw).loss, model(**kw).loss
    assert e1 == e2 and t1 != t2 and t1 != e1
    grads = []
    for ckpt in (False, True):
        model.zero_grad()
        if ckpt:
            model.gradient_checkpointing_enable()
        torch.manual_seed(7)
        model(**kw).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for n in grads[0]:
        assert torch.allclose(grads[0][n], grads[1][n], rtol=1e-5, atol=1e-6), n


def test_training_api_like_hf(tiny_dir, tmp_path):
    """from_pretrained/save_pretrained round trip (HF layout), return_dict=False tuples, use_cache, bad input."""
    model = LEDForConditionalGeneration.from_pretrained(tiny_dir)
    assert not model.training and all(p.requires_grad for p in model.parameters())
    assert next(model.parameters()).dtype == torch.float32
    ids = torch.randint(3, 40, (2, 9))
    out = model(input_ids=ids, decoder_input_ids=ids[:, :4], use_cache=True)
    assert out.loss is None and out.logits.shape == (2, 4, 40) and len(out.past_key_values) == 2
    assert model(input_ids=ids, labels=ids[:, :3], use_cache=True).past_key_values is None  # HF: labels -> no cache
    loss, logits = model(input_ids=ids, labels=ids[:, :3], return_dict=False)[:2]
    assert loss.dim() == 0 and logits.shape == (2, 3, 40)
    model.save_pretrained(tmp_path)
    again = LEDForConditionalGeneration.from_pretrained(str(tmp_path))
    for (n, p), (m, q) in zip(model.named_parameters(), again.named_parameters()):
        assert n == m and torch.equal(p, q)
    with pytest.raises(ValueError, match="labels"):
        model(input_ids=ids, labels=torch.full((2, 3), 40))
    with pytest.raises(ValueError, match="input_ids"):
        model(input_ids=torch.full((1, 3), 99))
    with pytest.raises(TypeError, match="input_ids"):
        model(input_ids=ids.float())
    with pytest.raises(ValueError, match="max_encoder_position_embeddings"):
        model(input_ids=torch.randint(3, 40, (1, 49)))
    with pytest.raises(TypeError, match="dtype"):
        LEDForConditionalGeneration.from_pretrained(tiny_dir, dtype=torch.int64)
    with pytest.raises(TypeError, match="torch_dtype"):
        LEDForConditionalGeneration.from_pretrained(tiny_dir, torch_dtype="nonsense")
