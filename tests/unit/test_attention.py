"""Property tests of the Longformer encoder self-attention (spec/SPEC.md#encoder-self-attention).

The blockwise implementation in led_ref.attention is checked against the dense S x S definition in
led_ref.reference, on random shapes, windows, masks and global sets.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref import attention as A
from led_ref import scheduling
from led_ref.reference import longformer_self_attention as dense_reference


def random_params(rng, dim, dtype=np.float64):
    names = ("query", "key", "value", "query_global", "key_global", "value_global")
    return {
        n: {"weight": rng.standard_normal((dim, dim)).astype(dtype), "bias": rng.standard_normal(dim).astype(dtype)}
        for n in names
    }


@st.composite
def attention_case(draw):
    bsz = draw(st.integers(1, 3))
    seq = draw(st.integers(1, 20))
    n_heads = draw(st.integers(1, 3))
    hd = draw(st.integers(1, 4))
    window = 2 * draw(st.integers(1, 8))
    kind = np.array(draw(st.lists(st.sampled_from([0, 1, 1, 1, 2]), min_size=bsz * seq, max_size=bsz * seq)))
    seed = draw(st.integers(0, 2**16))
    return bsz, seq, n_heads, hd, window, kind.reshape(bsz, seq), seed


@settings(max_examples=150)
@given(attention_case(), st.sampled_from([1, 2, 3, 64, 128]), st.sampled_from([1, 200, 1 << 20]))
def test_blockwise_equals_dense_reference(case, query_block, budget):
    bsz, seq, n_heads, hd, window, kind, seed = case
    rng = np.random.default_rng(seed)
    dim = n_heads * hd
    p = random_params(rng, dim)
    x = rng.standard_normal((bsz, seq, dim))
    saved = scheduling.QUERY_BLOCK, scheduling.SCORE_BUDGET_BYTES
    # neither the block size nor the blocks per step may change anything
    scheduling.QUERY_BLOCK, scheduling.SCORE_BUDGET_BYTES = query_block, budget
    try:
        out, local_probs, global_probs = A.longformer_self_attention(
            p, x, kind, window, n_heads, output_attentions=True
        )
    finally:
        scheduling.QUERY_BLOCK, scheduling.SCORE_BUDGET_BYTES = saved
    ref_out, ref_local, ref_global = dense_reference(p, x, kind, window, n_heads)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-10)

    # local probs: x global-key columns first (slot s = s-th global token of the row), then the band
    c = window // 2
    slots, valid = A.global_slots(kind == 2)
    n_glob = slots.shape[1]
    assert local_probs.shape == (bsz, n_heads, seq, n_glob + window + 1)
    expected = np.zeros_like(local_probs)
    for b in range(bsz):
        for s in range(n_glob):
            if valid[b, s]:
                expected[b, :, :, s] = ref_local[b, :, :, slots[b, s]]
        for i in range(seq):
            for kk in range(window + 1):
                j = i - c + kk
                if 0 <= j < seq and kind[b, j] == 1:
                    expected[b, :, i, n_glob + kk] = ref_local[b, :, i, j]
    np.testing.assert_allclose(local_probs, expected, rtol=1e-10, atol=1e-12)

    if n_glob == 0:
        assert global_probs is None
    else:
        assert global_probs.shape == (bsz, n_heads, seq, n_glob)
        expected = np.zeros_like(global_probs)
        for b in range(bsz):
            for s in range(n_glob):
                if valid[b, s]:
                    expected[b, :, :, s] = ref_global[b, :, slots[b, s], :]
        np.testing.assert_allclose(global_probs, expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=40)
@given(attention_case())
def test_window_covering_sequence_is_full_attention(case):
    bsz, seq, n_heads, hd, _, kind, seed = case
    rng = np.random.default_rng(seed)
    dim = n_heads * hd
    p = random_params(rng, dim)
    x = rng.standard_normal((bsz, seq, dim))
    window = 2 * seq  # every key within reach
    out, _, _ = A.longformer_self_attention(p, x, kind, window, n_heads)
    # full attention: local queries see every non-padding key through the local projections
    q = (x @ p["query"]["weight"].T + p["query"]["bias"]).reshape(bsz, seq, n_heads, hd).transpose(0, 2, 1, 3)
    k = (x @ p["key"]["weight"].T + p["key"]["bias"]).reshape(bsz, seq, n_heads, hd).transpose(0, 2, 1, 3)
    v = (x @ p["value"]["weight"].T + p["value"]["bias"]).reshape(bsz, seq, n_heads, hd).transpose(0, 2, 1, 3)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
    s = np.where((kind != 0)[:, None, None, :], s, -np.inf)
    rows_ok = (kind != 0).any(axis=1)
    s = np.where(rows_ok[:, None, None, None], s, 0.0)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    full = (w @ v).transpose(0, 2, 1, 3).reshape(bsz, seq, dim)
    local = kind == 1
    np.testing.assert_allclose(out[local], full[local], rtol=1e-10, atol=1e-10)


@settings(max_examples=40)
@given(attention_case(), st.integers(1, 12))
def test_appended_padding_keys_change_nothing(case, extra):
    """Padding rows (kind 0) appended at the end, e.g. a larger internal pad-to-window length."""
    bsz, seq, n_heads, hd, window, kind, seed = case
    rng = np.random.default_rng(seed)
    dim = n_heads * hd
    p = random_params(rng, dim)
    x = rng.standard_normal((bsz, seq, dim))
    out, lp, gp = A.longformer_self_attention(p, x, kind, window, n_heads, output_attentions=True)
    x2 = np.concatenate([x, rng.standard_normal((bsz, extra, dim))], axis=1)
    kind2 = np.concatenate([kind, np.zeros((bsz, extra), kind.dtype)], axis=1)
    out2, lp2, gp2 = A.longformer_self_attention(p, x2, kind2, window, n_heads, output_attentions=True)
    np.testing.assert_allclose(out2[:, :seq], out, rtol=1e-12, atol=1e-12)
    assert np.all(out2[:, seq:] == 0)  # padding rows are zero
    np.testing.assert_allclose(lp2[:, :, :seq], lp, rtol=1e-12, atol=1e-13)
    if gp is not None:
        np.testing.assert_allclose(gp2[:, :, :seq], gp, rtol=1e-12, atol=1e-13)
        assert np.all(gp2[:, :, seq:] == 0)


def test_fully_masked_rows_are_zero_and_finite():
    rng = np.random.default_rng(0)
    p = random_params(rng, 8, np.float32)
    x = rng.standard_normal((2, 9, 8)).astype(np.float32)
    kind = np.zeros((2, 9), np.int64)
    kind[1, :4] = [2, 1, 1, 2]
    out, lp, gp = A.longformer_self_attention(p, x, kind, 4, 2, output_attentions=True)
    assert out.dtype == np.float32 and lp.dtype == np.float32 and gp.dtype == np.float32
    assert np.all(out[0] == 0) and np.all(lp[0] == 0) and np.all(gp[0] == 0)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(lp)) and np.all(np.isfinite(gp))
    assert np.all(out[1, 4:] == 0)
    assert np.any(out[1, :4] != 0)


@pytest.mark.parametrize("c, bs", [(3, 3), (3, 1), (4, 2)])
def test_band_to_relative_layout(c, bs):
    nb, span = 4, bs + 2 * c
    block = np.arange(nb * bs * span, dtype=float).reshape(1, nb, bs, span)
    rel = A.band_to_relative(block, c)
    assert rel.shape == (1, nb * bs, 2 * c + 1)
    for i in range(nb * bs):
        b, r = divmod(i, bs)
        for k in range(2 * c + 1):
            # column k is key i - c + k, which sits at block column (i - c + k) - (b bs - c) = k + r
            assert rel[0, i, k] == block[0, b, r, k + r]


def test_working_set_is_bounded(monkeypatch):
    """Blocks per step shrink to the score budget; results do not depend on the step size."""
    rng = np.random.default_rng(1)
    p = random_params(rng, 12)
    x = rng.standard_normal((1, 40, 12))
    kind = np.ones((1, 40), np.int64)
    kind[0, 5] = 2
    full, _, _ = A.longformer_self_attention(p, x, kind, 8, 4)
    monkeypatch.setattr(scheduling, "SCORE_BUDGET_BYTES", 1)  # one block of one head at a time
    grouped, _, _ = A.longformer_self_attention(p, x, kind, 8, 4)
    np.testing.assert_allclose(grouped, full, rtol=1e-13, atol=1e-13)


@settings(max_examples=60)
@given(attention_case(), st.booleans())
def test_global_rows_reassociated_equals_projected(case, with_bias):
    """The global rows without the key_global/value_global projections of every token (Wk^T q
    against the hidden states, Wv applied after the weighted sum) equal the projected form."""
    bsz, seq, n_heads, hd, _, kind, seed = case
    if not (kind == 2).any():
        kind = kind.copy()
        kind[0, seed % seq] = 2
    rng = np.random.default_rng(seed)
    dim = n_heads * hd
    p = random_params(rng, dim)
    if not with_bias:
        for name in ("key_global", "value_global"):
            p[name]["bias"] = None
    x = rng.standard_normal((bsz, seq, dim))
    gidx, ok = A.global_slots(kind == 2)
    args = (p, x, gidx, ok, kind == 0, n_heads)
    out_r, probs_r = A._global_rows(*args, reassociate=True)
    out_p, probs_p = A._global_rows(*args, reassociate=False)
    np.testing.assert_allclose(probs_r, probs_p, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(out_r, out_p, rtol=1e-11, atol=1e-11)
    assert np.all(out_r.swapaxes(1, 2)[~ok] == 0) and np.all(probs_r.swapaxes(1, 2)[~ok] == 0)  # empty slots
    # and the projected form is the spec's definition
    _, _, ref_global = dense_reference(
        {
            **p,
            **{
                n: {"weight": p[n]["weight"], "bias": p[n]["bias"] if p[n]["bias"] is not None else np.zeros(dim)}
                for n in ("key_global", "value_global")
            },
        },
        x,
        kind,
        2,
        n_heads,
    )
    for b, s in zip(*np.nonzero(ok)):
        np.testing.assert_allclose(probs_r[b, :, s], ref_global[b, :, gidx[b, s]], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decoder_attention_fully_masked_row_is_uniform(dtype):
    rng = np.random.default_rng(2)
    dim, heads = 8, 2
    p = {
        n: {"weight": rng.standard_normal((dim, dim)).astype(dtype), "bias": rng.standard_normal(dim).astype(dtype)}
        for n in ("q_proj", "k_proj", "v_proj", "out_proj")
    }
    h = rng.standard_normal((1, 3, dim)).astype(dtype)
    kv = rng.standard_normal((1, 5, dim)).astype(dtype)
    mask = np.full((1, 1, 3, 5), np.finfo(dtype).min, dtype)
    out, probs, _ = A.decoder_attention(p, h, heads, key_value_states=kv, attention_mask=mask, output_attentions=True)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(probs, np.full_like(probs, 0.2), rtol=1e-6)


def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_linearly_with_sequence_length():
    """O(S x window) memory: 4x the tokens must cost about 4x the memory, not 16x (no S x S matrix)."""
    rng = np.random.default_rng(3)
    p = random_params(rng, 16, np.float32)
    peaks = []
    for seq in (2048, 8192):
        x = rng.standard_normal((1, seq, 16)).astype(np.float32)
        kind = np.ones((1, seq), np.int64)
        kind[0, :3] = 2
        peaks.append(_peak_bytes(lambda x=x, kind=kind: A.longformer_self_attention(p, x, kind, 64, 4)))
    assert peaks[1] < 5 * peaks[0], peaks
    # and in absolute terms: far below one dense (heads, S, S) float32 score matrix at 8192 tokens
    assert peaks[1] < 4 * 8192 * 8192 * 4 / 20, peaks


def _per_head_products(p, hidden, n_heads, k, v, mask):
    """A decoding step's cross-attention the plain way: for every (row, head, query row) one product for the scores
    and one for the weighted sum (np.einsum, the kernel of led_ref's one-row step), over the keys up to the row's last
    unmasked one. Returns (output, probs) with probs zero past each row's keys."""
    bsz, tgt, dim = hidden.shape
    hd = dim // n_heads
    q = scheduling.parallel_linear(p["q_proj"], hidden)
    q *= hidden.dtype.type(hd**-0.5)
    q = q.reshape(bsz, tgt, n_heads, hd).transpose(0, 2, 1, 3)
    r = bsz // k.shape[0]
    ctx = np.empty((bsz, n_heads, tgt, hd), hidden.dtype)
    probs_all = np.zeros((bsz, n_heads, tgt, k.shape[2]), hidden.dtype)
    for b in range(bsz):
        g = b // r
        valid = mask[b, 0, 0] == 0
        n = k.shape[2] - int(np.argmax(valid[::-1])) if valid.any() else k.shape[2]
        for h in range(n_heads):
            scores = np.empty((tgt, n), hidden.dtype)
            for i in range(tgt):
                np.einsum("nd,d->n", k[g, h, :n], q[b, h, i], out=scores[i])
            with np.errstate(over="ignore"):
                scores += mask[b, 0, :, :n]
            probs = A.softmax(scores)
            for i in range(tgt):
                np.einsum("n,nd->d", probs[i], v[g, h, :n], out=ctx[b, h, i])
            probs_all[b, h, :, :n] = probs
    out = scheduling.parallel_linear(p["out_proj"], ctx.transpose(0, 2, 1, 3).reshape(bsz, tgt, dim))
    return out, probs_all


@pytest.mark.parametrize("groups, beams, tgt", [(1, 1, 1), (3, 1, 1), (2, 4, 1), (1, 3, 2)])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_decoding_step_attention_equals_per_head_products(groups, beams, tgt, n_threads, restore_policy, monkeypatch):
    """A decoding step's attention against one product per (row, head, query row), with inputs of different lengths
    (masked tails, a masked key inside) and beams sharing one cross-attention cache row, on 1 and 3 threads.

    One query row per input (greedy, batch, self-attention): the heads stacked into one einsum call per piece give
    every head the products of one einsum per head, so output and probabilities are bit-identical. Several query
    rows (beams sharing an input's keys): block GEMMs and per-block partial sums (here blocks of 64 keys, so several
    blocks and a shorter last one) sum in another order: within the float32 tolerance (led_ref.tolerances)."""
    from led_ref import threads
    from led_ref.tolerances import TOLERANCE, relative_error

    threads.set_num_threads(n_threads)
    rng = np.random.default_rng(groups * 10 + beams)
    dim, heads, src = 48, 4, 700
    rows = beams * tgt
    monkeypatch.setattr(scheduling, "SMALL_PRODUCT", rows * (dim // heads) * 64)  # 64 keys per block
    p = {
        n: {
            "weight": rng.standard_normal((dim, dim)).astype(np.float32),
            "bias": rng.standard_normal(dim).astype(np.float32),
        }
        for n in ("q_proj", "k_proj", "v_proj", "out_proj")
    }
    bsz = groups * beams
    hidden = rng.standard_normal((bsz, tgt, dim)).astype(np.float32)
    k, v = (rng.standard_normal((groups, heads, src, dim // heads)).astype(np.float32) for _ in range(2))
    mask = np.zeros((bsz, 1, tgt, src), np.float32)
    for b in range(bsz):
        mask[b, ..., src - 100 * (b // beams) :] = np.finfo(np.float32).min  # input g has src - 100 g keys
    mask[-1, ..., 5] = np.finfo(np.float32).min  # and a masked key before the last one
    out, probs, _ = A.decoder_attention(
        p,
        hidden,
        heads,
        key_value_states=np.zeros((bsz, src, dim), np.float32),
        past_key_value=(k, v),
        attention_mask=mask,
        output_attentions=True,
    )
    exp_out, exp_probs = _per_head_products(p, hidden, heads, k, v, mask)
    if rows == 1:
        np.testing.assert_array_equal(probs, exp_probs)
        np.testing.assert_array_equal(out, exp_out)
    else:
        np.testing.assert_array_equal(probs == 0, exp_probs == 0)  # the same keys take part
        assert relative_error(probs, exp_probs) <= TOLERANCE["float32"]
        assert relative_error(out, exp_out) <= TOLERANCE["float32"]


@pytest.mark.parametrize("tgt", [1, 2])
def test_decoding_step_self_attention_with_a_padded_row(tgt):
    """Self-attention of a step over a cache (one piece for all rows and heads): a row whose mask hides some cached
    positions gets them hidden, the other rows are unaffected -- as one product per (row, head, query row)."""
    rng = np.random.default_rng(tgt)
    dim, heads, past, bsz = 32, 4, 9, 3
    p = {
        n: {
            "weight": rng.standard_normal((dim, dim)).astype(np.float32),
            "bias": rng.standard_normal(dim).astype(np.float32),
        }
        for n in ("q_proj", "k_proj", "v_proj", "out_proj")
    }
    hidden = rng.standard_normal((bsz, tgt, dim)).astype(np.float32)
    pk, pv = (rng.standard_normal((bsz, heads, past, dim // heads)).astype(np.float32) for _ in range(2))
    mask = np.zeros((bsz, 1, tgt, past + tgt), np.float32)
    mask[1, ..., :4] = np.finfo(np.float32).min  # row 1: its first 4 positions are padding
    out, probs, (k, v) = A.decoder_attention(
        p, hidden, heads, past_key_value=(pk, pv), attention_mask=mask, output_attentions=True
    )
    exp_out, exp_probs = _per_head_products(p, hidden, heads, k, v, mask)
    assert np.all(probs[1, :, :, :4] == 0) and np.all(probs[0] > 0)
    if tgt == 1:
        np.testing.assert_array_equal(probs, exp_probs)
        np.testing.assert_array_equal(out, exp_out)
    else:
        from led_ref.tolerances import TOLERANCE, relative_error

        assert relative_error(out, exp_out) <= TOLERANCE["float32"]


def _decoder_attention_params(rng, dim):
    return {
        n: {"weight": rng.standard_normal((dim, dim)), "bias": rng.standard_normal(dim)}
        for n in ("q_proj", "k_proj", "v_proj", "out_proj")
    }


@st.composite
def decoder_attention_case(draw):
    """A decoder self- or cross-attention call: shapes, a cache, HF's additive masks, beams sharing cross rows."""
    groups, beams = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    n_heads, hd = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    tgt = draw(st.integers(1, 4))
    cross = draw(st.booleans())
    keys = draw(st.integers(1, 40))  # encoder length (cross) or cached positions + 1 (self)
    bsz = groups * beams

    def zero_ones(shape):
        return np.array(
            draw(st.lists(st.sampled_from([0, 1, 1]), min_size=math.prod(shape), max_size=math.prod(shape)))
        )

    if cross:  # an input's beams share its encoder states and mask (generate() repeats them)
        past = draw(st.sampled_from(["none", "rows", "shared"]))
        mask = (
            np.repeat(zero_ones((groups, keys)).reshape(groups, keys), beams, axis=0) if draw(st.booleans()) else None
        )
    else:
        past = draw(st.sampled_from(["none", "rows"]))
        mask = zero_ones((bsz, keys + tgt - 1)).reshape(bsz, -1) if draw(st.booleans()) else None
    return groups, beams, n_heads, hd, tgt, cross, keys, past, mask, draw(st.integers(0, 2**16))


@settings(max_examples=150)
@given(
    decoder_attention_case(),
    st.sampled_from([0, scheduling.FEW_QUERY_ROWS]),
    st.sampled_from([1, scheduling.SMALL_PRODUCT]),
    st.sampled_from([1, 3]),
)
def test_decoder_attention_equals_dense_reference(case, few_rows, small_product, n_threads):
    """led_ref.attention.decoder_attention (stacked step GEMVs, block GEMMs over keys, keys past a row's last
    unmasked one skipped, shared cross rows read once for their beams, thread pieces) is the plain dense
    attention of led_ref.reference, for self-attention over a cache and cross-attention with and without one."""
    from led_ref import reference, threads

    groups, beams, n_heads, hd, tgt, cross, keys, past, mask, seed = case
    rng = np.random.default_rng(seed)
    dim, bsz = n_heads * hd, groups * beams
    p = _decoder_attention_params(rng, dim)
    hidden = rng.standard_normal((bsz, tgt, dim))
    encoder_states = np.repeat(rng.standard_normal((groups, keys, dim)), beams, axis=0) if cross else None
    past_kv = None
    if cross and past != "none":
        k, v = (rng.standard_normal((groups, n_heads, keys, hd)) for _ in range(2))
        past_kv = (k, v) if past == "shared" else (np.repeat(k, beams, axis=0), np.repeat(v, beams, axis=0))
    elif not cross and past == "rows" and keys > 1:
        past_kv = tuple(rng.standard_normal((bsz, n_heads, keys - 1, hd)) for _ in range(2))
    if cross:
        bias = reference.cross_attention_bias(mask, tgt)
    else:
        cached = 0 if past_kv is None else keys - 1
        dmask = None if mask is None else mask[:, : cached + tgt]
        bias = reference.causal_self_attention_bias(bsz, tgt, cached, dmask)

    saved = scheduling.FEW_QUERY_ROWS, scheduling.SMALL_PRODUCT
    scheduling.FEW_QUERY_ROWS, scheduling.SMALL_PRODUCT = few_rows, small_product
    threads.set_num_threads(n_threads)
    try:
        out, probs, present = A.decoder_attention(
            p,
            hidden,
            n_heads,
            key_value_states=encoder_states,
            past_key_value=past_kv,
            attention_mask=None if bias is None else np.ascontiguousarray(bias),
            output_attentions=True,
        )
    finally:
        scheduling.FEW_QUERY_ROWS, scheduling.SMALL_PRODUCT = saved
        threads.set_num_threads(None)
    ref_out, ref_probs, ref_present = reference.decoder_attention(p, hidden, n_heads, encoder_states, past_kv, bias)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(probs, ref_probs, rtol=1e-10, atol=1e-12)
    for got, ref in zip(present, ref_present):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(probs))
