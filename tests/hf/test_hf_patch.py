"""led_ref.export.hf.patch on HF transformers' own LED classes: patched HF equals unpatched HF (outputs and every
gradient, all four heads, float32 and float64, with and without HF's gradient checkpointing), HF's API kept
(head_mask, output_attentions, save_pretrained, generate, dropout), unpatch restores the original modules, and
the bad-input errors. Needs the hf extra (transformers); skipped without it."""

import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.models.led import modeling_led

from led_ref.export import hf
from led_ref.tolerances import GRADIENT_TOLERANCE, TOLERANCE, relative_error

pytestmark = [pytest.mark.export, pytest.mark.hf]

HEADS = ("LEDModel", "LEDForConditionalGeneration", "LEDForSequenceClassification", "LEDForQuestionAnswering")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Two encoder layers with windows 4 and 8 (HF pads to a multiple of the largest); weights drawn wider than HF's
# 0.02 default so that attention is far from uniform and a wrong key shows.
CONFIG = dict(
    vocab_size=40,
    d_model=16,
    encoder_layers=2,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=24,
    decoder_ffn_dim=20,
    attention_window=[4, 8],
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=64,  # the classification head's decoder reads all of input_ids
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    init_std=0.3,
    num_labels=3,
)
EOS, PAD = 2, 1


def _config(**kw):
    return transformers.LEDConfig(**{**CONFIG, **kw})


def _build(head, dtype=torch.float32, seed=0, **kw):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # 4.46 deprecates LEDForSequenceClassification
        return getattr(transformers, head)(_config(**kw)).to(dtype)


@pytest.fixture(scope="module")
def float64_hf():
    """HF's float64 LED as the float64 goldens run it (spec/GOLDENS.md, the float64 softmax patch): the encoder's
    softmax(..., dtype=torch.float32) keeps float64 (led-ref computes float64 end to end), and 4.46's causal-mask
    helper builds its finfo(float64).min mask in float64 (as written it overflows float32 under torch 2.13)."""

    def softmax(input, dim=None, _stacklevel=3, dtype=None):
        if dtype == torch.float32 and input.dtype == torch.float64:
            dtype = torch.float64
        return torch.nn.functional.softmax(input, dim=dim, dtype=dtype)

    class _Proxy:
        def __init__(self, target, **overrides):
            self._target, self._overrides = target, overrides

        def __getattr__(self, name):
            return self._overrides[name] if name in self._overrides else getattr(self._target, name)

    from transformers.modeling_attn_mask_utils import AttentionMaskConverter

    def causal(input_ids_shape, dtype, device, past_key_values_length=0, sliding_window=None):
        bsz, tgt_len = input_ids_shape
        mask = torch.full((tgt_len, tgt_len), torch.finfo(dtype).min, device=device, dtype=dtype).triu(1)
        past = torch.zeros(tgt_len, past_key_values_length, dtype=dtype, device=device)
        mask = torch.cat([past, mask], -1)
        return mask[None, None].expand(bsz, 1, tgt_len, tgt_len + past_key_values_length)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(modeling_led, "nn", _Proxy(torch.nn, functional=_Proxy(torch.nn.functional, softmax=softmax)))
        mp.setattr(AttentionMaskConverter, "_make_causal_mask", staticmethod(causal))
        yield


@pytest.fixture(scope="module")
def pairs():
    """(unpatched, patched) HF models with the same weights, per (head, dtype name)."""
    out = {}
    for head in HEADS:
        for name, dtype in DTYPES.items():
            model = _build(head, dtype, seed=HEADS.index(head))
            out[head, name] = (model, hf.patch(copy.deepcopy(model)))
    return out


@st.composite
def batches(draw):
    """Lengths around the windows (4 and 8), padding, rows with 0, 1, a few or all tokens global (sometimes a
    global flag on padding, which HF's merge ignores)."""
    B = draw(st.integers(1, 3))
    S = draw(st.sampled_from([1, 2, 3, 4, 5, 7, 8, 9, 11, 15, 16, 17, 23, 24, 25, 31, 33]))
    T = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    ids = rng.integers(3, CONFIG["vocab_size"], (B, S))
    mask = np.ones((B, S), np.int64)
    glob = np.zeros((B, S), np.int64)
    for b in range(B):
        n = S if b == 0 else int(rng.integers(1, S + 1))
        mask[b, n:], ids[b, n:] = 0, PAD
        ids[b, n - 1] = EOS  # one eos per row (sequence classification reads it)
        k = draw(st.sampled_from([0, 1, min(3, n), n]))
        glob[b, rng.choice(n, size=k, replace=False)] = 1
        if n < S and draw(st.booleans()):
            glob[b, S - 1] = 1
    return dict(
        input_ids=torch.from_numpy(ids),
        attention_mask=torch.from_numpy(mask),
        global_attention_mask=torch.from_numpy(glob),
        decoder_input_ids=torch.from_numpy(rng.integers(3, CONFIG["vocab_size"], (B, T))),
        labels=torch.from_numpy(rng.integers(3, CONFIG["vocab_size"], (B, T))),
        cls_labels=torch.from_numpy(rng.integers(0, CONFIG["num_labels"], (B,))),
        positions=torch.from_numpy(rng.integers(0, T, (2, B))),
    )


def _call(model, head, batch, **extra):
    kw = {k: batch[k] for k in ("input_ids", "attention_mask", "global_attention_mask", "decoder_input_ids")}
    if head == "LEDForConditionalGeneration":
        kw["labels"] = batch["labels"]
    elif head == "LEDForSequenceClassification":
        kw["labels"] = batch["cls_labels"]
        del kw["decoder_input_ids"]  # the classifier reads the decoder state at the eos of input_ids
    elif head == "LEDForQuestionAnswering":
        kw["start_positions"], kw["end_positions"] = batch["positions"]
    return model(**kw, use_cache=False, **extra)


def _loss(out, head):
    if head == "LEDModel":  # a fixed weighting of both hidden states
        w_dec = torch.linspace(-1, 1, out.last_hidden_state.numel(), dtype=out.last_hidden_state.dtype)
        w_enc = torch.linspace(1, -1, out.encoder_last_hidden_state.numel(), dtype=out.last_hidden_state.dtype)
        return (out.last_hidden_state.flatten() * w_dec).sum() + (out.encoder_last_hidden_state.flatten() * w_enc).sum()
    return out.loss


def _run(model, head, batch, **extra):
    model.zero_grad(set_to_none=True)
    out = _call(model, head, batch, **extra)
    _loss(out, head).backward()
    tensors = {k: v.detach().numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
    return tensors, grads


def _assert_equal_runs(a, b, dtype_name):
    (out_a, grad_a), (out_b, grad_b) = a, b
    assert sorted(out_a) == sorted(out_b) and sorted(grad_a) == sorted(grad_b)
    for k in out_a:
        assert relative_error(out_b[k], out_a[k]) <= TOLERANCE[dtype_name], k
    errors = {n: relative_error(grad_b[n], grad_a[n]) for n in grad_a}
    worst = max(errors, key=errors.get)
    assert errors[worst] <= GRADIENT_TOLERANCE[dtype_name], (worst, errors[worst])


@settings(max_examples=40, deadline=None)
@given(
    batch=batches(),
    head=st.sampled_from(HEADS),
    dtype_name=st.sampled_from(sorted(DTYPES)),
    mode=st.sampled_from(["train", "eval", "checkpointing"]),
)
def test_patched_equals_unpatched(pairs, float64_hf, batch, head, dtype_name, mode):
    """Outputs (every tensor of HF's output class) and every parameter's gradient of the patched model equal the
    unpatched model's: float32 within 2e-4 / 1e-4, float64 within 1e-9 (HF with its softmax cast lifted)."""
    runs = []
    for model in pairs[head, dtype_name]:
        model.train(mode != "eval")
        if mode == "checkpointing":
            model.gradient_checkpointing_enable()
        try:
            runs.append(_run(model, head, batch))
        finally:
            model.gradient_checkpointing_disable()
    _assert_equal_runs(*runs, dtype_name)


@pytest.mark.parametrize("dtype_name", sorted(DTYPES))
def test_head_mask_and_attentions_as_hf(pairs, float64_hf, dtype_name):
    """head_mask (with its own gradient) on the fast path; output_attentions=True gives HF's encoder attentions and
    global attentions (HF's layer computes that call), and the same hidden states."""
    model, patched = pairs["LEDModel", dtype_name]
    dtype = DTYPES[dtype_name]
    batch = dict(
        input_ids=torch.randint(3, 40, (2, 13)),
        attention_mask=torch.ones(2, 13, dtype=torch.int64),
        global_attention_mask=torch.zeros(2, 13, dtype=torch.int64),
        decoder_input_ids=torch.randint(3, 40, (2, 4)),
    )
    batch["attention_mask"][1, 9:] = 0
    batch["global_attention_mask"][0, [0, 5]] = 1
    runs, head_grads = [], []
    for m in (model, patched):
        m.train()
        head_mask = torch.tensor([[1.0, 0.0], [0.5, 1.0]], dtype=dtype, requires_grad=True)
        runs.append(_run(m, "LEDModel", batch, head_mask=head_mask))
        head_grads.append(head_mask.grad.numpy())
    _assert_equal_runs(*runs, dtype_name)
    assert relative_error(head_grads[1], head_grads[0]) <= GRADIENT_TOLERANCE[dtype_name]
    assert not np.allclose(runs[0][0]["last_hidden_state"], _run(model, "LEDModel", batch)[0]["last_hidden_state"])

    outs = [m.eval()(**batch, output_attentions=True) for m in (model, patched)]
    for key in ("encoder_attentions", "encoder_global_attentions", "decoder_attentions", "cross_attentions"):
        a, b = outs[0][key], outs[1][key]
        assert len(a) == len(b) == (2 if key.startswith("encoder") else 1)
        for x, y in zip(a, b):
            assert x.shape == y.shape and relative_error(y.detach().numpy(), x.detach().numpy()) == 0.0, key
    assert outs[1].encoder_attentions[0].shape == (2, 2, 13, 2 + 4 + 1)  # (B, H, S, x + window + 1), unpadded S


def test_unpatch_restores_the_original_modules():
    """patch keeps the state dict keys, the parameter objects and the module tree's HF leaves; unpatch puts the very
    same layer objects back, holding the same leaves."""
    model = _build("LEDForConditionalGeneration")
    layers = list(model.led.encoder.layers)
    modules = dict(model.named_modules())
    params = [id(p) for p in model.parameters()]
    keys = list(model.state_dict())
    assert hf.patch(model) is model and hf.is_patched(model)
    assert all(isinstance(layer, hf.PatchedEncoderLayer) for layer in model.led.encoder.layers)
    assert list(model.state_dict()) == keys and [id(p) for p in model.parameters()] == params
    patched_modules = dict(model.named_modules())
    for name in ("led.encoder.layers.0.fc1", "led.encoder.layers.1.self_attn.longformer_self_attn.key_global"):
        assert patched_modules[name] is modules[name]
    assert hf.unpatch(model) is model and not hf.is_patched(model)
    assert all(a is b for a, b in zip(model.led.encoder.layers, layers))
    after = dict(model.named_modules())
    assert after.keys() == modules.keys() and all(after[n] is modules[n] for n in modules)
    assert [id(p) for p in model.parameters()] == params


def test_unpatch_keeps_modules_swapped_in_while_patched():
    """A wrapper that replaces a projection while patched (as PEFT does) is still in place after unpatch, and the
    global-token path then projects through it instead of reading its weight."""
    model = hf.patch(_build("LEDModel"))

    class Wrapped(torch.nn.Module):
        def __init__(self, base):
            super().__init__()
            self.base = base

        def forward(self, x):
            return 2 * self.base(x)

    attn = model.encoder.layers[0].self_attn.longformer_self_attn
    wrapped = Wrapped(attn.key_global)
    attn.key_global = wrapped
    ids = torch.randint(3, 40, (1, 9))
    glob = torch.zeros_like(ids)
    glob[0, 0] = 1
    with torch.no_grad():
        patched = model(input_ids=ids, global_attention_mask=glob).encoder_last_hidden_state
        hf.unpatch(model)
        assert model.encoder.layers[0].self_attn.longformer_self_attn.key_global is wrapped
        unpatched = model(input_ids=ids, global_attention_mask=glob).encoder_last_hidden_state
    assert relative_error(patched.numpy(), unpatched.numpy()) <= TOLERANCE["float32"]


def test_save_pretrained_generate_and_dropout(tmp_path):
    """A patched model saves what the unpatched one saves (HF loads it), generates the same tokens, and its dropout
    is active in train() only."""
    model = _build("LEDForConditionalGeneration", dropout=0.3, attention_dropout=0.2, activation_dropout=0.1)
    patched = hf.patch(copy.deepcopy(model))
    patched.save_pretrained(tmp_path)
    loaded = transformers.LEDForConditionalGeneration.from_pretrained(tmp_path)
    for (n, p), (m, q) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert n == m and torch.equal(p, q), n
    ids = torch.randint(3, 40, (2, 11))
    glob = torch.zeros_like(ids)
    glob[:, 0] = 1
    kw = dict(input_ids=ids, global_attention_mask=glob, max_new_tokens=5, num_beams=2, do_sample=False)
    assert torch.equal(model.eval().generate(**kw), patched.eval().generate(**kw))
    with torch.no_grad():
        fw = dict(input_ids=ids, global_attention_mask=glob, labels=ids[:, :4].contiguous())
        e1, e2 = patched.eval()(**fw).loss, patched(**fw).loss
        t1, t2 = patched.train()(**fw).loss, patched(**fw).loss
    assert e1 == e2 and t1 != t2 and t1 != e1


def test_bad_input_errors():
    """One-line errors naming the object: not an HF LED model, patched twice, unpatched when not patched."""
    from led_ref.config import LEDConfig
    from led_ref.export.torch_model import LEDForConditionalGeneration as OurLED

    ours = OurLED(LEDConfig(**{k: v for k, v in CONFIG.items() if k != "num_labels"}))
    for obj in (torch.nn.Linear(2, 2), "model", ours, _build("LEDModel").decoder):
        for fn in (hf.patch, hf.unpatch, hf.is_patched):
            with pytest.raises(
                TypeError,
                match=rf"^led_ref\.export\.hf\.{fn.__name__}: \S*\.{type(obj).__qualname__} "
                "object is not a transformers LED model",
            ) as info:
                fn(obj)
            assert "\n" not in str(info.value)
    model = hf.patch(_build("LEDForQuestionAnswering"))
    for obj in (model, model.led, model.led.encoder):  # patched through any of them
        with pytest.raises(
            ValueError,
            match=rf"^led_ref\.export\.hf\.patch: .*\.{type(obj).__qualname__} object is "
            "already patched$",
        ):
            hf.patch(obj)
    hf.unpatch(model.led.encoder)
    with pytest.raises(
        ValueError,
        match=r"^led_ref\.export\.hf\.unpatch: .*\.LEDForQuestionAnswering object is not "
        "patched$",
    ):
        hf.unpatch(model)


@pytest.fixture
def fresh_checks(monkeypatch):
    """The version checks run again (they are cached per process)."""
    monkeypatch.setattr(hf, "_CHECKED", {})


def test_changed_transformers_is_refused(monkeypatch, fresh_checks):
    """LED code that differs from what the patch reproduces -- a layer signature, a missing attribute, or the same
    signature computing something else -- is a one-line RuntimeError naming the transformers version, and the model
    stays unpatched."""
    version = transformers.__version__
    model = _build("LEDModel")
    original = modeling_led.LEDEncoderLayer.forward

    def other_signature(self, hidden_states, attention_mask, layer_head_mask, extra=None, **kw):
        return original(self, hidden_states, attention_mask, layer_head_mask, **kw)

    def other_math(
        self,
        hidden_states,
        attention_mask,
        layer_head_mask,
        is_index_masked=None,
        is_index_global_attn=None,
        is_global_attn=None,
        output_attentions=False,
    ):
        out = original(
            self, hidden_states, attention_mask, layer_head_mask, is_index_masked, is_index_global_attn, is_global_attn
        )
        return (out[0] * 1.01,) + out[1:]

    for forward, what in ((other_signature, "LEDEncoderLayer.forward takes"), (other_math, "differs from")):
        monkeypatch.setattr(modeling_led.LEDEncoderLayer, "forward", forward)
        with pytest.raises(
            RuntimeError,
            match=rf"^led_ref\.export\.hf: transformers {version} is not supported: "
            rf".*{what}",
        ) as info:
            hf.patch(model)
        assert "\n" not in str(info.value)
        assert not hf.is_patched(model)
        monkeypatch.setattr(modeling_led.LEDEncoderLayer, "forward", original)
        monkeypatch.setattr(hf, "_CHECKED", {})
    del model.encoder.layers[1].fc2
    with pytest.raises(RuntimeError, match=rf"transformers {version} is not supported: .*has no fc2"):
        hf.patch(model)
    assert not hf.is_patched(model)


def test_hf_module_serves_the_hf_shaped_classes():
    """One import for everything HF-shaped: the classes come from their defining modules, unknown names fail."""
    from led_ref.export import hf_models, hf_tokenizers

    assert hf.LEDForConditionalGeneration is hf_models.LEDForConditionalGeneration
    assert hf.LEDConfig is hf_models.LEDConfig
    assert hf.LEDTokenizerFast is hf_tokenizers.LEDTokenizerFast
    assert set(hf.__all__) >= {"patch", "unpatch", "LEDModel", "LEDTokenizer"}
    with pytest.raises(AttributeError, match="LEDForCausalLM"):
        hf.LEDForCausalLM  # noqa: B018 -- the attribute access is what is tested


def test_no_grad_encoder_equals_hf_without_the_square_mask(monkeypatch):
    """Under torch.no_grad() (the inference path: projections into padded buffers, rows written in place) the
    patched encoder's output equals HF's on padded rows with 0, 1 and 3 global tokens; inside it HF's (B, 1, L, L)
    mask is a broadcast view of one row with HF's values, and outside it (the unpatched model) HF's own function
    runs."""
    model = _build("LEDModel").eval()
    patched = hf.patch(copy.deepcopy(model))
    ids = torch.randint(3, CONFIG["vocab_size"], (3, 37), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    glob = torch.zeros_like(ids)
    glob[1, 4] = 1
    glob[2, [0, 9, 36]] = 1
    seen = []
    wrapped = modeling_led._prepare_4d_attention_mask_inverted

    def spy(m, dtype, tgt_len=None):
        out = wrapped(m, dtype, tgt_len)
        seen.append((out.stride()[2], out, wrapped.hf_fn(m, dtype, tgt_len)))
        return out

    monkeypatch.setattr(modeling_led, "_prepare_4d_attention_mask_inverted", spy)
    with torch.no_grad():
        expected = model.encoder(input_ids=ids, attention_mask=mask, global_attention_mask=glob).last_hidden_state
        got = patched.encoder(input_ids=ids, attention_mask=mask, global_attention_mask=glob).last_hidden_state
    assert relative_error(got.numpy(), expected.numpy()) <= TOLERANCE["float32"]
    assert [s for s, _, _ in seen] == [seen[0][1].shape[-1], 0]  # HF's materialized mask, then the broadcast row
    assert all(torch.equal(out, ref) for _, out, ref in seen)
