"""Decoding logic of led_ref.generation in isolation, over a small fake Seq2SeqStepModel.

The fake's logits depend on the whole decoder prefix (through its self-attention "cache"), on the row's own encoder
output (through its cross "cache") and on the global attention mask, so a wrong cache reorder, a wrong expansion or a
recomputed cross entry changes tokens. HF equality itself is checked against goldens in test_generation_goldens.py.
"""

import json
import math
import types

import numpy as np
import pytest

from led_ref import generation as G
from led_ref.generation import GenerationConfig, generate
from led_ref.generation import config as GC
from led_ref.generation import processors as P
from led_ref.generation import search as S
from tests.testlib import GOLDENS


class FakeStepModel:
    """Deterministic toy encoder-decoder implementing Seq2SeqStepModel (float32, HF legacy past layout)."""

    def __init__(self, vocab=12, d=8, layers=2, seed=0, eos_bias=0.0, scale=3.0, generation_config=None):
        rng = np.random.default_rng(seed)
        cfg = dict(vocab_size=vocab, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
        self.config = types.SimpleNamespace(**cfg, to_dict=lambda: dict(cfg))
        if generation_config is not None:
            self.generation_config = generation_config
        self.E = rng.normal(size=(max(vocab, 16), d))  # encoder inputs use ids < 16 whatever the decoder vocab
        self.P = rng.normal(size=(64, d)) * 0.5
        self.W = rng.normal(size=(d, vocab)) * scale  # decoder vocabulary (logits width)
        self.A = rng.normal(size=(d, d))
        self.bias = np.zeros(vocab)
        self.bias[2] = eos_bias
        self.layers = layers
        self.encode_calls = []
        self.decode_calls = []

    def encode(self, input_ids, attention_mask, global_attention_mask):
        self.encode_calls.append(
            (
                input_ids.copy(),
                attention_mask.copy(),
                None if global_attention_mask is None else global_attention_mask.copy(),
            )
        )
        h = self.E[input_ids] * attention_mask[..., None]
        if global_attention_mask is not None:
            h = h + 0.7 * global_attention_mask[..., None]
        return h.astype(np.float32), attention_mask

    def decode(self, decoder_input_ids, encoder_hidden_states, encoder_attention_mask, past_key_values=None):
        self.decode_calls.append((decoder_input_ids.shape, past_key_values is not None))
        b, t = decoder_input_ids.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        x = self.E[decoder_input_ids] + self.P[past_len : past_len + t]  # (B, T, d)
        if past_key_values is None:
            m = encoder_attention_mask[..., None].astype(np.float64)
            enc = (encoder_hidden_states * m).sum(1) / np.maximum(m.sum(1), 1)  # (B, d)
            cross = enc[:, None, None, :]  # (B, 1, 1, d)
            self_k = x[:, None]  # (B, 1, T, d)
        else:
            cross = past_key_values[0][2]
            self_k = np.concatenate([past_key_values[0][0], x[:, None]], axis=2)
        length = self_k.shape[2]
        cum = np.cumsum(self_k[:, 0], axis=1) / np.arange(1, length + 1)[None, :, None]
        h = np.tanh(self_k[:, 0, -t:] @ self.A + 0.8 * cum[:, -t:] + cross[:, 0])  # (B, T, d)
        logits = (h @ self.W + self.bias).astype(np.float32)
        past = tuple((self_k, self_k * 2.0, cross, cross * 2.0) for _ in range(self.layers))
        return logits, past


INPUT_IDS = np.array([[0, 5, 7, 9, 3, 2], [0, 4, 11, 2, 1, 1], [0, 8, 2, 1, 1, 1]], dtype=np.int64)
MASK = (INPUT_IDS != 1).astype(np.int64)
GLOBAL = np.array([[0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0]], dtype=np.int64)


def run(model=None, **kw):
    model = model or FakeStepModel(eos_bias=1.0)
    return generate(model, INPUT_IDS, MASK, GLOBAL, **kw)


# -- reference pieces written independently of led_ref.generation ------------------------------------------------------
def ref_logprobs(model, prefix_rows, src_rows, src_ids=INPUT_IDS):
    """log_softmax of the fake's next-token logits for each decoder prefix (no cache, float64)."""
    ids = np.asarray(prefix_rows, dtype=np.int64)
    enc, mask = model.encode(src_ids[src_rows], MASK[src_rows], GLOBAL[src_rows])
    logits, _ = model.decode(ids, enc, mask, None)
    z = logits[:, -1].astype(np.float64)
    return z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)


def wilson_hilferty_chi2(df, z=3.29):
    """Upper chi-square quantile (z=3.29: p ~ 0.0005) without scipy."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


# -- greedy ------------------------------------------------------------------------------------------------------------
def test_greedy_is_argmax_chain_with_pad_after_eos():
    model = FakeStepModel(eos_bias=1.0)
    out = run(model, max_new_tokens=8)
    assert out.dtype == np.int64 and out.shape[0] == 3 and out.shape[1] <= 9
    assert (out[:, 0] == 2).all()
    for r in range(3):
        seq = [2]
        while len(seq) < 9:
            tok = int(np.argmax(ref_logprobs(model, [seq], [r])[0]))
            seq.append(tok)
            if tok == 2:
                break
        expected = seq + [1] * (out.shape[1] - len(seq))
        assert out[r].tolist() == expected
    ended = [(row[1:] == 2).any() for row in out]
    assert any(ended), "test model should produce eos for some rows"


@pytest.mark.parametrize(
    "kw",
    [
        dict(max_new_tokens=7),
        dict(max_new_tokens=7, num_beams=3),
        dict(max_new_tokens=7, num_beams=4, num_return_sequences=3, length_penalty=0.5),
        dict(max_new_tokens=7, num_beams=3, early_stopping=True, no_repeat_ngram_size=2),
        dict(max_new_tokens=7, num_beams=3, early_stopping="never", repetition_penalty=1.3),
        dict(max_new_tokens=7, do_sample=True, seed=3, num_return_sequences=2, top_k=5),
        dict(max_new_tokens=7, do_sample=True, seed=3, num_beams=3, num_return_sequences=2),
    ],
)
def test_use_cache_off_gives_identical_tokens(kw):
    a = run(FakeStepModel(eos_bias=1.0), use_cache=True, **kw)
    model = FakeStepModel(eos_bias=1.0)
    b = run(model, use_cache=False, **kw)
    np.testing.assert_array_equal(a, b)
    assert all(not with_past for _, with_past in model.decode_calls)
    assert all(shape[1] >= 1 for shape, _ in model.decode_calls)


def test_cache_encoder_once_cross_not_recomputed_and_single_token_steps():
    model = FakeStepModel(eos_bias=1.0)
    steps = []
    out = run(model, max_new_tokens=6, num_beams=3, step_callback=lambda done, total: steps.append(done))
    assert len(model.encode_calls) == 1
    assert len(model.decode_calls) == len(steps) and steps == list(range(1, len(steps) + 1))
    first_shape, first_past = model.decode_calls[0]
    assert first_shape == (3, 1) and not first_past  # prefill on the unexpanded batch
    for shape, with_past in model.decode_calls[1:]:
        assert shape == (9, 1) and with_past
    assert out.shape[1] <= len(steps) + 1 <= 7


def test_num_beams_1_equals_greedy_default():
    np.testing.assert_array_equal(run(max_new_tokens=6), run(max_new_tokens=6, num_beams=1))


def test_reorder_past_moves_only_self_entries():
    layer = tuple(np.arange(4 * 2 * 3 * 1, dtype=np.float32).reshape(4, 2, 3, 1) + k * 100 for k in range(4))
    out = S._reorder_past((layer,), np.array([3, 3, 0, 1]))
    np.testing.assert_array_equal(out[0][0], layer[0][[3, 3, 0, 1]])
    np.testing.assert_array_equal(out[0][1], layer[1][[3, 3, 0, 1]])
    assert out[0][2] is layer[2] and out[0][3] is layer[3]


# -- beam search: exact search on a tiny vocabulary --------------------------------------------------------------------
def all_sequences(model, src_row, max_new, src_ids, eos=2):
    """Every decoder continuation up to max_new tokens (ending at eos or the length limit) with its log-prob sum."""
    out = []
    frontier = [([2], 0.0)]
    for _ in range(max_new):
        new = []
        lp = ref_logprobs(model, [s for s, _ in frontier], [src_row] * len(frontier), src_ids)
        for (seq, score), row in zip(frontier, lp):
            for tok in range(len(row)):
                item = (seq + [tok], score + row[tok])
                (out if tok == eos else new).append(item)
        frontier = new
    return out + frontier


@pytest.mark.parametrize("length_penalty", [1.0, 2.0, 0.5])
def test_wide_beam_never_stopping_is_exact_search(length_penalty):
    """With enough beams and early_stopping='never' (length_penalty > 0), beam search is exhaustive search."""
    vocab, max_new, keep = 5, 3, 3
    model = FakeStepModel(vocab=vocab, eos_bias=0.5, scale=2.0, seed=4)
    src = np.where(INPUT_IDS == 1, 1, INPUT_IDS % vocab)
    res = generate(
        model,
        src,
        MASK,
        GLOBAL,
        max_new_tokens=max_new,
        num_beams=vocab**max_new,
        num_return_sequences=keep,
        early_stopping="never",
        length_penalty=length_penalty,
        return_dict_in_generate=True,
        output_scores=True,
    )
    for r in range(3):
        cands = all_sequences(model, r, max_new, src)
        ranked = sorted(cands, key=lambda c: -c[1] / (len(c[0]) - 1) ** length_penalty)[:keep]
        for j, (seq, s) in enumerate(ranked):
            got = res.sequences[r * keep + j].tolist()
            assert got[: len(seq)] == seq
            assert all(t == 1 for t in got[len(seq) :])
            assert res.sequences_scores[r * keep + j] == pytest.approx(s / (len(seq) - 1) ** length_penalty, abs=2e-5)


def test_beam_scores_outputs_are_consistent():
    res = run(
        max_new_tokens=6,
        num_beams=3,
        num_return_sequences=2,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
    )
    assert isinstance(res, G.GenerateBeamEncoderDecoderOutput)
    steps = len(res.scores)
    assert len(res.logits) == steps and res.scores[0].shape == (9, 12)
    assert res.sequences_scores.shape == (6,) and res.beam_indices.shape[0] == 6
    # the sequence score is the sum of the chosen tokens' processed log-probs along the beam path / length
    for i in range(6):
        seq, idx = res.sequences[i], res.beam_indices[i]
        n = int((idx >= 0).sum())
        total = sum(res.scores[t][idx[t], seq[t + 1]] for t in range(n))
        assert res.sequences_scores[i] == pytest.approx(total / n, abs=1e-5)
    assert res["sequences"] is res.sequences and res[0] is res.sequences


def test_beam_hypotheses_early_stopping_modes():
    def filled(mode, lp=1.0):
        h = S.BeamHypotheses(2, lp, mode, max_length=10)
        h.add([2, 5], -1.0, None, 1)
        h.add([2, 6, 7], -3.0, None, 2)  # score -1.5 = worst
        return h

    assert filled(True).is_done(-100.0, 3, 1) is True
    # False: bound from the current length: best -2.0 / 2 = -1.0 > -1.5 -> not done; -4.0/2 = -2 -> done
    assert filled(False).is_done(-2.0, 3, 1) is False
    assert filled(False).is_done(-4.0, 3, 1) is True
    # "never", length_penalty > 0: bound from max_length: -4.0 / 9 = -0.44 > -1.5 -> not done
    assert filled("never").is_done(-4.0, 3, 1) is False
    assert filled("never").is_done(-14.0, 3, 1) is True
    # "never", length_penalty <= 0 uses the current length
    assert filled("never", lp=-0.5).is_done(-4.0, 3, 1) == (filled("never", lp=-0.5).worst_score >= -4.0 * 2**0.5)
    h = S.BeamHypotheses(1, 1.0, False, 10)
    assert h.is_done(0.0, 2, 1) is False  # not enough hypotheses yet


# -- score processors: hand-made examples ------------------------------------------------------------------------------
def test_processors_by_hand():
    s = np.array([[1.0, -2.0, 3.0, 0.5, 0.0]], dtype=np.float32)
    ids = np.array([[2, 0, 1, 0]])
    np.testing.assert_allclose(P.repetition_penalty(s, ids, 2.0), [[0.5, -4.0, 1.5, 0.5, 0.0]])
    ids = np.array([[2, 3, 4, 2, 3]])  # bigram (3 -> 4) seen; last token 3 -> ban 4
    assert np.isneginf(P.no_repeat_ngram(s, ids, 2)[0]).tolist() == [False, False, False, False, True]
    ids = np.array([[2, 3, 4, 2, 3], [2, 4, 4, 4, 4]])
    s2 = np.repeat(s, 2, 0)
    # 3-gram: row 0 ends (2, 3), seen (2, 3, 4) -> ban 4; row 1 ends (4, 4): seen (4, 4, 4) -> ban 4
    assert np.isneginf(P.no_repeat_ngram(s2, ids, 3))[:, 4].all()
    out = P.bad_words(s2, ids, [[0], [4, 3], [2]], eos_ids=[2])
    assert np.isneginf(out[:, 0]).all() and not np.isneginf(out[:, 2]).any()  # single eos entry dropped
    assert np.isneginf(out[:, 3]).tolist() == [False, True]  # only row 1 ends with 4
    f = P.force_tokens(s, [3])
    assert f[0, 3] == 0 and np.isneginf(np.delete(f[0], 3)).all()
    np.testing.assert_array_equal(np.isneginf(P.top_k_filter(s, 2)), [[False, True, False, True, True]])
    # top_p 0.6: softmax of [3, 1, 0.5, 0, -2] -> 0.76 for token 2 alone covers it
    np.testing.assert_array_equal(np.isneginf(P.top_p_filter(s, 0.6)), [[True, True, False, True, True]])
    np.testing.assert_array_equal(
        np.isneginf(P.top_p_filter(s, 0.6, min_tokens_to_keep=2))[0], [False, True, False, True, True]
    )


def test_min_length_and_forced_tokens_in_generate():
    out = run(FakeStepModel(eos_bias=4.0), max_new_tokens=6, min_length=5)
    assert not (out[:, 1:4] == 2).any()  # positions 1..4 (lengths 1..4 < 5) cannot be eos
    out = run(FakeStepModel(eos_bias=-5.0), max_new_tokens=5, forced_bos_token_id=7, forced_eos_token_id=2)
    assert (out[:, 1] == 7).all() and (out[:, -1] == 2).all() and out.shape[1] == 6
    out = run(FakeStepModel(eos_bias=4.0), max_new_tokens=6, min_new_tokens=3, num_beams=2)
    assert not (out[:, 1:4] == 2).any()


def test_no_repeat_ngram_holds_in_outputs():
    out = run(FakeStepModel(eos_bias=-3.0), max_new_tokens=12, no_repeat_ngram_size=2, num_beams=2)
    for row in out.tolist():
        bigrams = [tuple(row[i : i + 2]) for i in range(len(row) - 1) if 1 not in row[i : i + 2]]
        assert len(bigrams) == len(set(bigrams))


def test_bad_words_never_generated():
    out = run(FakeStepModel(eos_bias=-3.0), max_new_tokens=10, bad_words_ids=[[5], [7], [9]])
    assert not np.isin(out, [5, 7, 9]).any()


# -- sampling ----------------------------------------------------------------------------------------------------------
def expected_first_token_probs(model, temperature=1.0, top_k=0, top_p=1.0):
    z = ref_logprobs(model, [[2]], [0])[0] / temperature
    keep = np.ones_like(z, dtype=bool)
    if top_k:
        keep &= z >= np.sort(z)[-top_k]
    if top_p < 1.0:
        order = np.argsort(z)  # ascending
        p = np.exp(np.where(keep, z, -np.inf)[order])
        p /= p.sum()
        drop = np.cumsum(p) <= 1 - top_p
        drop[-1] = False
        keep[order[drop]] = False
    p = np.where(keep, np.exp(z - z.max()), 0.0)
    return p / p.sum()


@pytest.mark.parametrize(
    "kw", [dict(), dict(temperature=0.6), dict(top_k=4), dict(top_p=0.8, temperature=1.5), dict(top_k=6, top_p=0.9)]
)
def test_sampling_matches_processed_softmax_chi_square(kw):
    model = FakeStepModel(eos_bias=0.0, scale=1.0, seed=7)
    n = 3000
    ids = np.repeat(INPUT_IDS[:1], n, axis=0)
    params = dict(top_k=0) | kw
    out = generate(
        model,
        ids,
        np.ones_like(ids),
        np.repeat(GLOBAL[:1], n, 0),
        max_new_tokens=1,
        do_sample=True,
        seed=12345,
        **params,
    )
    counts = np.bincount(out[:, 1], minlength=12)
    p = expected_first_token_probs(model, kw.get("temperature", 1.0), params["top_k"], kw.get("top_p", 1.0))
    assert counts[p == 0].sum() == 0, "a filtered token was sampled"
    support = p > 0
    exp = p[support] * n
    chi2 = float(((counts[support] - exp) ** 2 / exp).sum())
    df = int(support.sum()) - 1
    assert df >= 2
    assert chi2 < wilson_hilferty_chi2(df), (chi2, df)


def test_sampling_seed_and_generator_reproducible():
    a = run(do_sample=True, seed=1, max_new_tokens=8, top_k=0)
    b = run(do_sample=True, seed=1, max_new_tokens=8, top_k=0)
    c = run(do_sample=True, generator=np.random.default_rng(1), max_new_tokens=8, top_k=0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    others = [run(do_sample=True, seed=s, max_new_tokens=8, top_k=0) for s in range(2, 6)]
    assert any(not np.array_equal(a, o) for o in others)
    out = run(do_sample=True, seed=1, max_new_tokens=4, num_return_sequences=3)
    assert out.shape[0] == 9


def test_draw_tokens_definition():
    probs = np.array([[0.0, 0.5, 0.0, 0.5]])
    rng = np.random.default_rng(0)
    u = np.random.default_rng(0).random(2)
    got = P.draw_tokens(probs, 2, rng)[0]
    first = 1 if u[0] * 1.0 < 0.5 else 3
    assert got[0] == first and got[1] == ({1, 3} - {first}).pop()


# -- streaming / progress / global attention / defaults ----------------------------------------------------------------
def test_streamer_callback_object_and_iterator():
    seen = []
    out = run(max_new_tokens=6, streamer=seen.append)
    np.testing.assert_array_equal(np.stack(seen, axis=1), out[:, 1:])

    class Streamer:
        def __init__(self):
            self.items, self.ended = [], False

        def put(self, x):
            self.items.append(np.array(x))

        def end(self):
            self.ended = True

    s = Streamer()
    run(max_new_tokens=6, streamer=s)
    assert s.ended and s.items[0].shape == (3, 1) and (s.items[0] == 2).all()
    np.testing.assert_array_equal(np.stack(s.items[1:], axis=1), out[:, 1:])
    streamed = list(G.stream(FakeStepModel(eos_bias=1.0), INPUT_IDS, MASK, GLOBAL, max_new_tokens=6))
    np.testing.assert_array_equal(np.stack(streamed, axis=1), out[:, 1:])
    with pytest.raises(ValueError, match="max_length"):
        list(G.stream(FakeStepModel(), INPUT_IDS, MASK, GLOBAL, max_length=1))


def test_step_callback_progress():
    calls = []
    out = run(max_new_tokens=5, num_beams=2, step_callback=lambda done, total: calls.append((done, total)))
    assert calls[0] == (1, 5) and calls[-1][0] == len(calls) <= 5
    assert out.shape[1] <= 6


def test_global_attention_first_and_inferred_attention_mask():
    model = FakeStepModel()
    generate(model, INPUT_IDS, max_new_tokens=2, global_attention="first")
    ids, mask, glob = model.encode_calls[-1]
    np.testing.assert_array_equal(glob, G.first_token_global_attention_mask(INPUT_IDS))
    assert glob[:, 0].all() and glob[:, 1:].sum() == 0
    np.testing.assert_array_equal(mask, MASK)  # HF: inferred from pad_token_id when pad occurs and pad != eos
    generate(model, INPUT_IDS, max_new_tokens=2)
    assert model.encode_calls[-1][2] is None  # API default is HF's: no global attention
    generate(model, INPUT_IDS, max_new_tokens=2, pad_token_id=2, eos_token_id=2)
    assert model.encode_calls[-1][1].all()  # pad == eos: no inference


def test_defaults_from_generation_config_and_model_config(tmp_path):
    gc = GenerationConfig(
        num_beams=3, max_length=6, length_penalty=2.0, decoder_start_token_id=2, eos_token_id=2, pad_token_id=1
    )
    gc.save_pretrained(tmp_path)
    loaded = GenerationConfig.from_pretrained(tmp_path)
    assert loaded == gc and json.loads((tmp_path / "generation_config.json").read_text())["num_beams"] == 3
    model = FakeStepModel(eos_bias=1.0, generation_config=loaded)
    np.testing.assert_array_equal(
        run(model), run(FakeStepModel(eos_bias=1.0), num_beams=3, max_length=6, length_penalty=2.0)
    )
    # kwargs override the checkpoint's defaults
    assert run(FakeStepModel(eos_bias=-9, generation_config=loaded), max_new_tokens=2).shape == (3, 3)
    # from config.json (no generation_config.json): non-None generation fields are taken
    cfg = {"num_beams": 2, "max_length": 5, "vocab_size": 12, "eos_token_id": 2, "d_model": 8, "top_k": None}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "generation_config.json").unlink()
    g2 = GenerationConfig.for_model(str(tmp_path))
    assert g2.num_beams == 2 and g2.max_length == 5 and g2.top_k == 50 and g2.eos_token_id == 2


# -- bad input ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw,exc,match",
    [
        (dict(max_length=1), ValueError, "max_length"),
        (dict(max_new_tokens=0), ValueError, "max_new_tokens"),
        (dict(max_new_tokens=-3), ValueError, "max_new_tokens"),
        (dict(num_beams=0), ValueError, "num_beams"),
        (dict(num_beams=2, num_return_sequences=3), ValueError, "num_return_sequences"),
        (dict(num_return_sequences=2), ValueError, "num_return_sequences"),
        (dict(min_length=-1), ValueError, "min_length"),
        (dict(no_repeat_ngram_size=-2), ValueError, "no_repeat_ngram_size"),
        (dict(num_beams=2.5), TypeError, "num_beams"),
        (dict(early_stopping="sometimes"), ValueError, "early_stopping"),
        (dict(do_sample=True, temperature=0.0), ValueError, "temperature"),
        (dict(do_sample=True, top_p=1.5), ValueError, "top_p"),
        (dict(repetition_penalty=-1.0), ValueError, "repetition_penalty"),
        (dict(length_penalty=float("nan")), ValueError, "length_penalty"),
        (dict(bad_words_ids=[[99]]), ValueError, "bad_words_ids"),
        (dict(bad_words_ids=[5]), ValueError, "bad_words_ids"),
        (dict(eos_token_id=40), ValueError, "eos_token_id"),
        (dict(forced_bos_token_id=-1), ValueError, "forced_bos_token_id"),
        (dict(num_beam_groups=2, num_beams=4), ValueError, "num_beam_groups"),
        (dict(penalty_alpha=0.6, top_k=4), ValueError, "penalty_alpha"),
        (dict(output_attentions=True), ValueError, "output_attentions"),
        (dict(max_lenght=5), TypeError, "max_lenght"),
        (dict(decoder_input_ids=np.zeros((3, 1), int)), TypeError, "decoder_input_ids"),
        (dict(num_beams=2, streamer=print), ValueError, "streamer"),
        (dict(global_attention="all"), ValueError, "global_attention"),
        (dict(do_sample=True, seed=1, generator=np.random.default_rng(1)), ValueError, "seed"),
        (dict(do_sample=True, generator=7), TypeError, "generator"),
    ],
)
def test_bad_arguments_raise_clear_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        run(FakeStepModel(), **kw)


def test_bad_inputs_raise_clear_errors():
    m = FakeStepModel()
    with pytest.raises(TypeError, match="input_ids"):
        generate(m, INPUT_IDS.astype(float))
    with pytest.raises(ValueError, match="input_ids"):
        generate(m, INPUT_IDS[0])
    with pytest.raises(ValueError, match="input_ids"):
        generate(m, np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="attention_mask"):
        generate(m, INPUT_IDS, MASK[:, :3])
    with pytest.raises(ValueError, match="global_attention"):
        generate(m, INPUT_IDS, MASK, GLOBAL, global_attention="first")
    with pytest.raises(TypeError, match="model"):
        generate(object(), INPUT_IDS)
    with pytest.raises(TypeError, match="generation_config"):
        generate(m, INPUT_IDS, generation_config={"num_beams": 2})


def test_generation_config_fields_and_roundtrip():
    gc = GenerationConfig(num_beams=4, custom_key="kept")
    d = gc.to_dict()
    assert d["num_beams"] == 4 and d["custom_key"] == "kept" and d["max_length"] == 20
    assert GenerationConfig.from_dict(d) == gc
    assert gc.update(top_k=3, nope=1) == {"nope": 1} and gc.top_k == 3
    assert GenerationConfig().to_diff_dict() == {}


def test_fields_and_defaults_are_hf_4_46_3s():
    """Every HF GenerationConfig field is implemented, refused, or inert; the defaults are HF's (goldens meta)."""
    meta = str(GOLDENS / "generation" / "meta.json")
    hf = json.load(open(meta))["hf_generation_config_defaults"]
    ours = dict(GC.SUPPORTED_DEFAULTS, **GC.UNSUPPORTED_DEFAULTS)
    assert not set(GC.SUPPORTED_DEFAULTS) & set(GC.UNSUPPORTED_DEFAULTS)
    assert set(ours) <= set(hf), sorted(set(ours) - set(hf))
    assert set(hf) - set(ours) == set(GC.INERT_FIELDS)
    for name, value in ours.items():
        assert hf[name] == value, (name, hf[name], value)


@pytest.mark.parametrize("seed", range(6))
def test_top_k_equals_a_stable_full_sort(seed):
    """The beam step's candidate selection (chunk-maximum bound, then a sort of the few scores above it) picks what
    a stable descending sort of all scores picks, ties to the lower index, -inf and repeated values included."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        n = int(rng.integers(1, 2000))
        k = int(rng.integers(1, min(n, 24) + 1))
        row = (rng.integers(-4, 4, n) if seed % 2 else rng.standard_normal(n)).astype(np.float32)
        row[rng.integers(0, n, 3)] = -np.inf
        expected = np.argsort(-row, kind="stable")[:k]
        np.testing.assert_array_equal(S._top_k(row, k), expected)


def test_generation_config_declares_every_supported_field():
    """The class-level annotations (what type checkers see) cover exactly the implemented fields."""
    assert set(GenerationConfig.__annotations__) == set(GC.SUPPORTED_DEFAULTS)
