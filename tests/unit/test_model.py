"""led_ref.model: API, bad input, losses and properties (spec/SPEC.md#forward-pass).

Exactness against HF is tested in test_model_goldens.py; these tests check the API contract
and properties that must hold for any weights (random, seeded, tiny shapes).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref import model as M
from led_ref import reference
from led_ref.activations import ACT2FN, get_activation
from led_ref.config import LEDConfig
from led_ref.tolerances import TOLERANCE, relative_error
from led_ref.weights import init_params
from tests.testlib import TINY, tiny_model


def make(head="lm", dtype=np.float64, **overrides):
    return tiny_model(head, dtype, seed=3, **overrides)


def base_of(model):
    """An LEDModel sharing the encoder/decoder parameters of a model with a head."""
    keep = ("shared", "encoder", "decoder")
    return M.LEDModel(model.config, {k: v for k, v in model.params.items() if k in keep})


def ids(rng, bsz, length, vocab=40):
    return rng.integers(3, vocab, size=(bsz, length))


# ---------------------------------------------------------------------------------------------- API


def test_output_access_like_hf():
    model = make("lm")
    rng = np.random.default_rng(0)
    out = model(input_ids=ids(rng, 2, 7), decoder_input_ids=ids(rng, 2, 3))
    assert out.logits.shape == (2, 3, 40)
    assert out["logits"] is out.logits
    assert out[0] is out.logits  # loss is None, so logits comes first
    assert out.to_tuple()[0] is out.logits
    assert "loss" not in out.keys() and out.loss is None
    assert len(out.past_key_values) == 2 and len(out.past_key_values[0]) == 4
    assert out.past_key_values[0][0].shape == (2, 2, 3, 8)  # (B, heads, len, head_dim)
    assert out.past_key_values[0][2].shape == (2, 2, 7, 8)
    with pytest.raises(KeyError):
        out["loss"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_end_to_end(dtype):
    model = make("lm", dtype=dtype)
    rng = np.random.default_rng(1)
    out = model(
        input_ids=ids(rng, 1, 5),
        decoder_input_ids=ids(rng, 1, 2),
        output_attentions=True,
        output_hidden_states=True,
        global_attention_mask=np.array([[1, 0, 0, 0, 0]]),
    )
    for value in out.values():
        arrays = (
            [value]
            if isinstance(value, np.ndarray)
            else [a for v in value for a in (v if isinstance(v, tuple) else (v,))]
        )
        for a in arrays:
            assert a.dtype == dtype


def test_save_and_load_roundtrip(tmp_path):
    model = make("lm", dtype=np.float32)
    model.save_pretrained(tmp_path)
    loaded = M.LEDForConditionalGeneration.from_pretrained(tmp_path)
    rng = np.random.default_rng(2)
    kw = dict(input_ids=ids(rng, 2, 6), decoder_input_ids=ids(rng, 2, 4))
    np.testing.assert_array_equal(loaded(**kw).logits, model(**kw).logits)


def test_get_encoder_and_decoder_match_full_call():
    model = make("base")
    rng = np.random.default_rng(3)
    x, y = ids(rng, 2, 9), ids(rng, 2, 4)
    mask = np.ones_like(x)
    mask[1, 6:] = 0
    glob = np.zeros_like(x)
    glob[:, 0] = 1
    full = model(input_ids=x, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=y)
    enc = model.get_encoder()(input_ids=x, attention_mask=mask, global_attention_mask=glob)
    dec = model.get_decoder()(input_ids=y, encoder_hidden_states=enc.last_hidden_state, encoder_attention_mask=mask)
    np.testing.assert_array_equal(enc.last_hidden_state, full.encoder_last_hidden_state)
    np.testing.assert_array_equal(dec.last_hidden_state, full.last_hidden_state)
    again = model(encoder_outputs=(enc.last_hidden_state,), attention_mask=mask, decoder_input_ids=y)
    np.testing.assert_array_equal(again.last_hidden_state, full.last_hidden_state)


def test_incremental_decoding_with_cache_equals_full_pass():
    model = make("lm")
    rng = np.random.default_rng(4)
    x, y = ids(rng, 2, 8), ids(rng, 2, 6)
    mask = np.ones_like(x)
    mask[0, 5:] = 0
    enc = model.get_encoder()(input_ids=x, attention_mask=mask).last_hidden_state
    full = model(encoder_outputs=(enc,), attention_mask=mask, decoder_input_ids=y).logits
    past, steps = None, []
    for t in range(y.shape[1]):
        out = model(
            encoder_outputs=(enc,),
            attention_mask=mask,
            decoder_input_ids=y[:, t : t + 1],
            past_key_values=past,
            use_cache=True,
        )
        past = out.past_key_values
        steps.append(out.logits)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-10, atol=1e-12)
    assert past[0][0].shape[2] == y.shape[1]


def test_cross_cache_shared_by_beams_equals_one_copy_per_beam():
    # generation keeps one cross-attention cache row per input for all its beams (spec/SPEC.md#step-interface)
    model = make("lm")
    rng = np.random.default_rng(5)
    x, beams = ids(rng, 2, 8), 3
    mask = np.ones_like(x)
    mask[1, 6:] = 0
    enc = model.get_encoder()(input_ids=x, attention_mask=mask).last_hidden_state
    first = model(encoder_outputs=(enc,), attention_mask=mask, decoder_input_ids=ids(rng, 2, 2), use_cache=True)
    step = ids(rng, 2 * beams, 1)

    def rep(a):
        return np.repeat(a, beams, axis=0)

    self_only = tuple((rep(k), rep(v), ck, cv) for k, v, ck, cv in first.past_key_values)
    every_row = tuple(tuple(rep(t) for t in layer) for layer in first.past_key_values)
    kw = dict(
        encoder_outputs=(rep(enc),),
        attention_mask=rep(mask),
        decoder_input_ids=step,
        use_cache=True,
        output_attentions=True,
    )
    shared, copied = model(past_key_values=self_only, **kw), model(past_key_values=every_row, **kw)
    np.testing.assert_allclose(shared.logits, copied.logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(shared.cross_attentions[0], copied.cross_attentions[0], rtol=1e-10, atol=1e-12)
    assert shared.past_key_values[0][2].shape[0] == 2 and copied.past_key_values[0][2].shape[0] == 2 * beams
    with pytest.raises(ValueError, match="past_key_values"):  # 4 rows cannot be shared by 6
        model(past_key_values=tuple((k, v, rep(ck)[:4], rep(cv)[:4]) for k, v, ck, cv in self_only), **kw)


def test_default_decoder_inputs_are_shifted_input_ids():
    model = make("base")
    rng = np.random.default_rng(5)
    x = ids(rng, 2, 7)
    a = model(input_ids=x).last_hidden_state
    b = model(input_ids=x, decoder_input_ids=M.shift_tokens_right(x, 1, 2)).last_hidden_state
    np.testing.assert_array_equal(a, b)


def test_shift_tokens_right():
    labels = np.array([[5, 6, -100, 7], [8, -100, -100, -100]])
    np.testing.assert_array_equal(M.shift_tokens_right(labels, 1, 2), [[2, 5, 6, 1], [2, 8, 1, 1]])
    with pytest.raises(ValueError, match="pad_token_id"):
        M.shift_tokens_right(labels, None, 2)


def test_tied_lm_head_and_final_logits_bias():
    model = make("lm")
    assert model.params["lm_head"]["weight"] is model.params["shared"]["weight"]
    rng = np.random.default_rng(6)
    x, y = ids(rng, 1, 5), ids(rng, 1, 3)
    out = model(input_ids=x, decoder_input_ids=y)
    base = base_of(model)(input_ids=x, decoder_input_ids=y).last_hidden_state
    expected = base @ model.params["shared"]["weight"].T + model.params["final_logits_bias"]
    np.testing.assert_allclose(out.logits, expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- losses


def _manual_ce(logits, labels, ignore):
    total, n = 0.0, 0
    for row, lab in zip(logits, labels):
        if lab == ignore:
            continue
        z = row - row.max()
        total += np.log(np.exp(z).sum()) - z[lab]
        n += 1
    return total / n


def test_lm_loss_is_mean_cross_entropy_ignoring_minus_100():
    model = make("lm")
    rng = np.random.default_rng(7)
    x = ids(rng, 2, 6)
    labels = ids(rng, 2, 4)
    labels[0, 2:] = -100
    out = model(input_ids=x, labels=labels)
    assert out.past_key_values is None  # labels switch the cache off, like HF
    expected = _manual_ce(out.logits.reshape(-1, 40), labels.reshape(-1), -100)
    np.testing.assert_allclose(out.loss, expected, rtol=1e-12)
    # decoder inputs came from shift_tokens_right(labels)
    ref = model(input_ids=x, decoder_input_ids=M.shift_tokens_right(labels, 1, 2))
    np.testing.assert_array_equal(ref.logits, out.logits)


def test_qa_loss_clamps_positions_like_hf():
    model = make("qa")
    rng = np.random.default_rng(8)
    x = ids(rng, 3, 6)
    out = model(input_ids=x, start_positions=np.array([1, 50, 0]), end_positions=np.array([[2], [3], [-4]]))
    length = out.start_logits.shape[1]
    # 50 -> clamped to length -> ignored; -4 -> clamped to 0
    s = _manual_ce(out.start_logits, [1, length, 0], length)
    e = _manual_ce(out.end_logits, [2, 3, 0], length)
    np.testing.assert_allclose(out.loss, (s + e) / 2, rtol=1e-12)


def _seq_cls_inputs(rng):
    x = ids(rng, 2, 6)
    x[:, 2] = 2
    x[:, 5] = 2
    return x


def test_seq_cls_pools_last_eos_and_losses():
    rng = np.random.default_rng(9)
    x = _seq_cls_inputs(rng)
    model = make("seq_cls", num_labels=3)
    out = model(input_ids=x, labels=np.array([0, 2]))
    dec = base_of(model)(input_ids=x).last_hidden_state
    head = model.params["classification_head"]
    pooled = dec[:, 5]
    logits = (
        np.tanh(pooled @ head["dense"]["weight"].T + head["dense"]["bias"]) @ head["out_proj"]["weight"].T
        + head["out_proj"]["bias"]
    )
    np.testing.assert_allclose(out.logits, logits, rtol=1e-12)
    np.testing.assert_allclose(out.loss, _manual_ce(logits, [0, 2], -100), rtol=1e-12)
    multi = model(input_ids=x, labels=np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    y = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    bce = np.mean(-(y * np.log(1 / (1 + np.exp(-logits))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-logits)))))
    np.testing.assert_allclose(multi.loss, bce, rtol=1e-10)
    reg = make("seq_cls", num_labels=1)
    out = reg(input_ids=x, labels=np.array([0.5, -1.0]))
    np.testing.assert_allclose(out.loss, np.mean((out.logits[:, 0] - [0.5, -1.0]) ** 2), rtol=1e-12)


def test_seq_cls_rejects_different_eos_counts():
    rng = np.random.default_rng(10)
    x = _seq_cls_inputs(rng)
    x[1, 2] = 5
    with pytest.raises(ValueError, match="same number of <eos>"):
        make("seq_cls")(input_ids=x)


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_ids=np.array([[3, 40]])), r"input_ids.*vocab_size=40"),
        (dict(input_ids=np.array([[3, -1]])), r"input_ids.*-1"),
        (dict(input_ids=np.array([[3.0, 4.0]])), r"input_ids.*integer"),
        (dict(input_ids=np.zeros((0, 4), np.int64)), r"input_ids.*at least one row"),
        (dict(input_ids=np.array([3, 4])), r"input_ids.*shape"),
        (dict(input_ids=[[3, 4], [5]]), r"input_ids must be a rectangular array"),
        (dict(input_ids=np.full((1, 3), 3), attention_mask=[[1, 1], [1]]), r"attention_mask must be a rectangular"),
        (dict(input_ids=np.full((1, 61), 3)), r"max_encoder_position_embeddings=64"),
        (dict(input_ids=np.full((1, 5), 3), attention_mask=np.ones((1, 4))), r"attention_mask.*shape \(1, 5\)"),
        (dict(input_ids=np.full((1, 3), 3), attention_mask=np.array([[1, 2, 1]])), r"attention_mask.*\[0, 1\]"),
        (
            dict(input_ids=np.full((1, 3), 3), global_attention_mask=np.array([[0, 2, 0]])),
            r"global_attention_mask.*\[-1, 0, 1\]",
        ),
        (
            dict(input_ids=np.full((1, 3), 3), decoder_input_ids=np.full((1, 17), 3)),
            r"max_decoder_position_embeddings=16",
        ),
        (
            dict(
                input_ids=np.full((1, 3), 3),
                decoder_input_ids=np.full((1, 2), 3),
                decoder_attention_mask=np.ones((1, 3)),
            ),
            r"decoder_attention_mask.*shape \(1, 2\)",
        ),
        (dict(input_ids=np.full((1, 3), 3), labels=np.array([[3, 41]])), r"labels.*41"),
        (dict(input_ids=np.full((1, 3), 3), inputs_embeds=np.zeros((1, 3, 16))), r"both input_ids and inputs_embeds"),
        (dict(decoder_input_ids=np.full((1, 3), 3)), r"input_ids or inputs_embeds"),
        (dict(inputs_embeds=np.zeros((1, 3, 7)), decoder_input_ids=np.full((1, 2), 3)), r"inputs_embeds.*d_model=16"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make("lm")(**kwargs)


def test_bad_past_key_values():
    model = make("lm")
    with pytest.raises(ValueError, match="past_key_values"):
        model(
            input_ids=np.full((1, 3), 3),
            decoder_input_ids=np.full((1, 1), 3),
            past_key_values=((np.zeros((1, 2, 2, 8)),) * 4,),
        )


# ---------------------------------------------------------------------------------------------- properties


def test_global_mask_minus_one_padding_is_no_attention():
    """The tokenizer pads global_attention_mask with -1: merged with attention_mask 0 it means padding."""
    model = make("base")
    rng = np.random.default_rng(11)
    x = ids(rng, 2, 7)
    mask = np.ones_like(x)
    mask[1, 4:] = 0
    glob = np.zeros_like(x)
    glob[:, 0] = 1
    glob_tok = glob.copy()
    glob_tok[1, 4:] = -1
    a = model(input_ids=x, attention_mask=mask, global_attention_mask=glob)
    b = model(input_ids=x, attention_mask=mask, global_attention_mask=glob_tok)
    np.testing.assert_array_equal(a.last_hidden_state, b.last_hidden_state)


def test_fully_padded_rows_give_no_nan():
    model = make("lm", dtype=np.float32)
    x = np.full((2, 5), 3)
    mask = np.ones_like(x)
    mask[1] = 0  # a whole encoder row of padding
    dmask = np.ones((2, 3), np.int64)
    dmask[1] = 0  # and a whole decoder row
    out = model(
        input_ids=x,
        attention_mask=mask,
        decoder_input_ids=np.full((2, 3), 4),
        decoder_attention_mask=dmask,
        output_attentions=True,
        output_hidden_states=True,
    )
    for a in [
        out.logits,
        *out.encoder_attentions,
        *out.decoder_attentions,
        *out.cross_attentions,
        *out.encoder_hidden_states,
    ]:
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(out.cross_attentions[0][1], 1 / 5, rtol=1e-6)  # fully masked: uniform


@settings(max_examples=25)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**16), st.booleans())
def test_appended_padding_does_not_change_real_positions(length, extra, seed, with_global):
    model = make("base")
    rng = np.random.default_rng(seed)
    x = ids(rng, 1, length)
    y = ids(rng, 1, 3)
    glob = np.zeros_like(x)
    if with_global:
        glob[0, rng.integers(length)] = 1
    a = model(input_ids=x, global_attention_mask=glob, decoder_input_ids=y, output_attentions=True)
    xp = np.concatenate([x, np.full((1, extra), 1)], axis=1)
    mask = np.concatenate([np.ones_like(x), np.zeros((1, extra), np.int64)], axis=1)
    gp = np.concatenate([glob, np.zeros((1, extra), np.int64)], axis=1)
    b = model(input_ids=xp, attention_mask=mask, global_attention_mask=gp, decoder_input_ids=y, output_attentions=True)
    np.testing.assert_allclose(
        b.encoder_last_hidden_state[:, :length], a.encoder_last_hidden_state, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(b.last_hidden_state, a.last_hidden_state, rtol=1e-10, atol=1e-12)
    for la, lb in zip(a.encoder_attentions, b.encoder_attentions):
        np.testing.assert_allclose(lb[:, :, :length], la, rtol=1e-10, atol=1e-13)


def test_internal_pad_to_window_length_does_not_change_outputs():
    """A larger attention window on a layer pads further (max window) but the band is what matters:
    with every window >= the sequence, all windows give the same (full) attention."""
    rng = np.random.default_rng(12)
    x = ids(rng, 2, 7)
    y = ids(rng, 2, 3)
    outs = [
        make("base", attention_window=w)(input_ids=x, decoder_input_ids=y).encoder_last_hidden_state
        for w in (16, 32, [16, 64])
    ]
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------- activations


def _reference_activation(name, x):
    """The plain definitions of led_ref.reference (Python's math, element by element; spec/SPEC.md#activations)."""
    return reference.ACTIVATIONS[name](x)


@pytest.mark.parametrize("name", sorted(ACT2FN))
def test_activation_matches_definition(name):
    x = np.concatenate([np.linspace(-12, 12, 2001), [-1e-3, 0.0, 1e-3, 30.0, -30.0]])
    ref = _reference_activation(name, x)
    got64 = ACT2FN[name](x)
    got32 = ACT2FN[name](x.astype(np.float32))
    assert got64.dtype == np.float64 and got32.dtype == np.float32
    scale = np.maximum(1.0, np.abs(ref))
    assert np.max(np.abs(got64 - ref) / scale) < 1e-13
    assert np.max(np.abs(got32 - ref) / scale) < 2e-6


def test_float32_gelu_across_chunks_and_extremes():
    """The float32 GELU runs in pieces of _GELU_CHUNK elements: a length that is not a multiple, a
    2-D shape, and non-finite or huge inputs (gelu(inf) = inf, gelu(-inf) = 0, NaN stays NaN)."""
    from led_ref import activations

    rng = np.random.default_rng(5)
    x = (rng.standard_normal((3, activations._GELU_CHUNK // 2 + 7)) * 4).astype(np.float32)
    ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64).ravel()])
    got = ACT2FN["gelu"](x)
    assert got.shape == x.shape and got.dtype == np.float32
    assert np.max(np.abs(got.ravel() - ref) / np.maximum(1.0, np.abs(ref))) < 2e-6
    special = np.array([np.inf, -np.inf, 3e38, -3e38, 1e20, -1e20, 0.0], np.float32)
    with np.errstate(over="raise", invalid="raise"):  # no inf * 0, no x^2 overflow inside
        g = ACT2FN["gelu"](special)
    np.testing.assert_array_equal(g, np.array([np.inf, 0, 3e38, 0, 1e20, 0, 0], np.float32))
    assert np.isnan(ACT2FN["gelu"](np.array([1.0, np.nan], np.float32))[1])


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError, match="activation_function 'nope'"):
        get_activation("nope")


def test_encoder_benchmark_runs_at_tiny_shape():
    from led_ref.app.benchmarks.encoder import encoder_seconds
    from tools.bench.encoder import main

    r = encoder_seconds(70, size="tiny")
    assert r["seq_len"] == 70 and r["padded_len"] == 96  # tiny window 32
    assert r["seconds"] > 0 and r["peak_rss_bytes"] > r["weights_bytes"] > 0
    assert main(["--size", "tiny", "--seq-lens", "40", "--in-process"]) == 0


def test_float32_tracks_float64_on_longer_inputs():
    """Same weights in both dtypes, a few hundred tokens, several globals and padding: float32 stays close."""
    cfg = LEDConfig(**{**TINY, "max_encoder_position_embeddings": 512, "attention_window": [32, 64]})
    p64 = init_params(cfg, "lm", seed=5, dtype=np.float64)
    from led_ref.weights import flatten, unflatten

    p32 = unflatten({k: v.astype(np.float32) for k, v in flatten(p64).items()})
    rng = np.random.default_rng(13)
    x = ids(rng, 2, 300)
    mask = np.ones_like(x)
    mask[1, 250:] = 0
    glob = np.zeros_like(x)
    glob[0, [0, 17, 120]] = 1
    glob[1, 0] = 1
    kw = dict(input_ids=x, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=ids(rng, 2, 5))
    a = M.LEDForConditionalGeneration(cfg, p64)(**kw)
    b = M.LEDForConditionalGeneration(cfg, p32)(**kw)
    for got, ref in ((b.logits, a.logits), (b.encoder_last_hidden_state, a.encoder_last_hidden_state)):
        assert got.dtype == np.float32
        assert relative_error(got, ref) < TOLERANCE["float32"] / 10  # well inside the float32 bound


def test_encoder_reports_each_layer_to_its_callback():
    model = make("base", dtype=np.float32, attention_window=4)
    calls = []
    model.encoder_layer_callback = lambda *a: calls.append(a)
    model.get_encoder()(input_ids=np.full((2, 10), 5))
    n = model.config.encoder_layers
    assert calls == [(i, n, 2 * 12) for i in range(n + 1)]  # 10 tokens padded to the window (4) -> 12


def test_long_encoder_inputs_draw_a_layer_progress_bar(monkeypatch, capsys):
    from led_ref.app.progress import LONG_INPUT_TOKENS, EncoderLayerBar

    model = make("base", dtype=np.float32, attention_window=4, max_encoder_position_embeddings=LONG_INPUT_TOKENS)
    model.encoder_layer_callback = EncoderLayerBar()

    def run(n):
        return model.get_encoder()(input_ids=np.full((1, n), 5))

    monkeypatch.setenv("LED_REF_PROGRESS", "1")
    run(LONG_INPUT_TOKENS - 64)
    assert "encoder (" not in capsys.readouterr().err  # short inputs stay quiet
    run(LONG_INPUT_TOKENS)
    assert f"{model.config.encoder_layers}/{model.config.encoder_layers} layers" in capsys.readouterr().err
    monkeypatch.setenv("LED_REF_PROGRESS", "0")
    run(LONG_INPUT_TOKENS)
    assert capsys.readouterr().err == ""


@settings(max_examples=25)
@given(st.integers(1, 2), st.integers(1, 13), st.sampled_from([2, 4, 6]), st.integers(0, 2**16))
def test_encoder_layer_equals_the_plain_reference(bsz, seq, window, seed):
    """The tuned encoder layer (blockwise attention, chunked feed-forward, fast GELU) is led_ref.reference's."""
    model = make("base")
    layer = model.params["encoder"]["layers"][0]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((bsz, seq, TINY["d_model"]))
    kind = rng.choice([0, 1, 1, 2], size=(bsz, seq))
    act = get_activation(TINY["activation_function"])
    got, _, _ = M.encoder_layer(layer, x, kind, window, TINY["encoder_attention_heads"], act)
    ref = reference.encoder_layer(layer, x, kind, window, TINY["encoder_attention_heads"], TINY["activation_function"])
    assert relative_error(got, ref) <= TOLERANCE["float64"]
