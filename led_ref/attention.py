"""LED attention in NumPy: Longformer encoder self-attention and the decoder's dense attention.

Encoder self-attention (spec/SPEC.md#encoder-self-attention) is computed blockwise: with
``c = window // 2`` the queries are split into blocks of ``bs <= c`` rows and block ``b`` only
needs keys ``[b bs - c, b bs + bs + c)``, so scores are ``(heads, blocks, bs, bs + 2c)`` and
memory is O(sequence x window). Heads are processed in groups so the working set stays bounded.
Nothing here ever builds a sequence x sequence matrix.
"""

import math

import numpy as np

__all__ = [
    "linear",
    "softmax",
    "global_slots",
    "longformer_self_attention",
    "band_to_relative",
    "decoder_attention",
]

# Bytes of (heads, blocks, bs, bs + 2c) scores processed at once per batch row; bounds the working set.
SCORE_BUDGET_BYTES = 96 * 2**20
# Largest query block: 128 rows against 128 + 2c keys wastes 11% at c = 512 (3c keys: 33%).
QUERY_BLOCK = 128


def linear(p, x):
    """HF nn.Linear: ``x @ W.T + b`` with W of shape (out, in)."""
    y = x @ p["weight"].T
    if p.get("bias") is not None:
        y += p["bias"]
    return y


def softmax(x, axis=-1):
    """Softmax along ``axis`` (max-subtracted, in the dtype of ``x``)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _heads(x, n_heads):
    """(B, S, D) -> (B, H, S, hd), contiguous."""
    b, s, d = x.shape
    return np.ascontiguousarray(x.reshape(b, s, n_heads, d // n_heads).transpose(0, 2, 1, 3))


def _merge_heads(x):
    """(B, H, S, hd) -> (B, S, H * hd)."""
    b, h, s, hd = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, h * hd)


def global_slots(is_global):
    """Per batch row, the positions of its global tokens in order, padded to the batch maximum.

    is_global: (B, S) bool. Returns ``(index, valid)``, both (B, x) with x = max count; slots
    beyond a row's own count have index 0 and valid False.
    """
    counts = is_global.sum(axis=1)
    n_slots = int(counts.max()) if is_global.size else 0
    index = np.zeros((is_global.shape[0], n_slots), dtype=np.intp)
    valid = np.arange(n_slots)[None, :] < counts[:, None]  # (B, x)
    rows, cols = np.nonzero(is_global)  # row-major: ascending position within each row
    index[valid] = cols
    return index, valid


def _blocks(x, bs, span, n_blocks):
    """Overlapping key blocks: x (h, L, hd) -> view (h, n_blocks, span, hd), block b = rows [b bs, b bs + span)."""
    h, _, hd = x.shape
    s0, s1, s2 = x.strides
    return np.lib.stride_tricks.as_strided(x, (h, n_blocks, span, hd), (s0, bs * s1, s1, s2), writeable=False)


def band_to_relative(block_probs, c):
    """(h, nb, bs, bs + 2c) block layout -> (h, nb * bs, 2c + 1) HF band layout (column k <-> key i - c + k).

    Row r of block b is query i = b bs + r; block column m is key b bs - c + m, so the relative
    column k = j - i + c is m - r: a skew, done with strides on a contiguous copy.
    """
    bp = np.ascontiguousarray(block_probs)
    h, nb, bs, _ = bp.shape
    s0, s1, s2, s3 = bp.strides
    rel = np.lib.stride_tricks.as_strided(bp, (h, nb, bs, 2 * c + 1), (s0, s1, s2 + s3, s3), writeable=False)
    return rel.reshape(h, nb * bs, 2 * c + 1)


def query_block_size(c):
    """Queries per block: block b needs keys [b bs - c, b bs + bs + c), so bs + 2c scores per row
    of which 2c + 1 can be in the band; a smaller bs wastes less, a larger one makes bigger GEMMs."""
    return max(1, min(c, QUERY_BLOCK))


def _local_attention_row(q, k, v, is_local, c, kg, vg, slot_ok, want_probs):
    """Banded + global-key attention for one batch row.

    q, k, v: (H, S, hd) with S a multiple of the query block size (q already scaled); is_local:
    (S,) bool, the keys that may be attended inside the band; kg, vg: (H, x, hd) keys/values of
    the global tokens (local projections) or None; slot_ok: (x,) bool. Returns the output
    (H, S, hd) and, if want_probs, (H, S, x) global-column and (H, S, 2c+1) band probabilities.
    """
    n_heads, seq, hd = q.shape
    dtype = q.dtype
    fill = np.finfo(dtype).min
    bs = query_block_size(c)
    span = bs + 2 * c
    nb = seq // bs
    n_glob = 0 if kg is None else kg.shape[1]
    pad = np.zeros((n_heads, c, hd), dtype=dtype)
    k_blocks_src = np.concatenate([pad, k, pad], axis=1)  # (H, S + 2c, hd)
    v_blocks_src = np.concatenate([pad, v, pad], axis=1)
    key_ok = np.concatenate([np.zeros(c, bool), is_local, np.zeros(c, bool)])  # (S + 2c,)
    key_ok_blocks = np.lib.stride_tricks.as_strided(key_ok, (nb, span), (bs * key_ok.strides[0], key_ok.strides[0]))
    r = np.arange(bs)[:, None]
    m = np.arange(span)[None, :]
    in_band = (m >= r) & (m <= r + 2 * c)  # (bs, span): |i - j| <= c
    blocked = ~(in_band[None, :, :] & key_ok_blocks[:, None, :])  # (nb, bs, span)

    out = np.empty((n_heads, seq, hd), dtype=dtype)
    probs_glob = np.empty((n_heads, seq, n_glob), dtype=dtype) if want_probs else None
    probs_band = np.empty((n_heads, seq, 2 * c + 1), dtype=dtype) if want_probs else None
    per_head = seq * (span + n_glob) * dtype.itemsize
    group = max(1, min(n_heads, SCORE_BUDGET_BYTES // max(per_head, 1)))
    # one scores buffer reused by every head group: no fresh pages to fault in per group
    buffer = np.empty((group, nb, bs, span), dtype=dtype)
    for h0 in range(0, n_heads, group):
        hs = slice(h0, min(n_heads, h0 + group))
        hn = hs.stop - hs.start
        qb = q[hs].reshape(hn, nb, bs, hd)
        kb = _blocks(k_blocks_src[hs], bs, span, nb)  # (hn, nb, span, hd)
        vb = _blocks(v_blocks_src[hs], bs, span, nb)
        scores = np.matmul(qb, kb.swapaxes(-1, -2), out=buffer[:hn])  # (hn, nb, bs, span)
        np.copyto(scores, fill, where=blocked[None])
        row_max = scores.max(axis=-1)  # (hn, nb, bs)
        if n_glob:
            g_scores = (q[hs] @ kg[hs].swapaxes(-1, -2)).reshape(hn, nb, bs, n_glob)
            np.copyto(g_scores, fill, where=~slot_ok)
            np.maximum(row_max, g_scores.max(axis=-1), out=row_max)
        scores -= row_max[..., None]
        np.exp(scores, out=scores)
        denom = scores.sum(axis=-1)
        ctx = scores @ vb  # (hn, nb, bs, hd)
        if n_glob:
            g_scores -= row_max[..., None]
            np.exp(g_scores, out=g_scores)
            denom += g_scores.sum(axis=-1)
            ctx += g_scores @ vg[hs][:, None]
        ctx /= denom[..., None]
        out[hs] = ctx.reshape(hn, seq, hd)
        if want_probs:
            scores /= denom[..., None]
            probs_band[hs] = band_to_relative(scores, c)
            if n_glob:
                g_scores /= denom[..., None]
                probs_glob[hs] = g_scores.reshape(hn, seq, n_glob)
    return out, probs_glob, probs_band


def _global_rows(p, x, gidx, slot_ok, is_masked, n_heads):
    """Attention of the global tokens to every non-padding token (query/key/value_global).

    x: (B, S, D). Returns output (B, H, x, hd) and probabilities (B, H, x, S); probabilities of
    slots beyond a row's own count are 0 (HF leaves uniform junk there).
    """
    bsz, seq, dim = x.shape
    hd = dim // n_heads
    dtype = x.dtype
    fill = np.finfo(dtype).min
    hidden_glob = x[np.arange(bsz)[:, None], gidx]  # (B, x, D)
    q = _heads(linear(p["query_global"], hidden_glob), n_heads)  # (B, H, x, hd)
    q /= dtype.type(math.sqrt(hd))
    k = _heads(linear(p["key_global"], x), n_heads)  # (B, H, S, hd)
    v = _heads(linear(p["value_global"], x), n_heads)
    scores = q @ k.swapaxes(-1, -2)  # (B, H, x, S)
    np.copyto(scores, fill, where=is_masked[:, None, None, :])
    probs = softmax(scores)
    probs *= slot_ok[:, None, :, None]
    return probs @ v, probs


def longformer_self_attention(p, x, mask_kind, window, n_heads, output_attentions=False):
    """LED encoder self-attention before the output projection (spec/SPEC.md#encoder-self-attention).

    p: ``layers[i]["self_attn"]["longformer_self_attn"]``; x: (B, S, D); mask_kind: (B, S) with
    0 = padding, 1 = local, 2 = global. Local tokens attend to local tokens with |i - j| <= window/2
    plus all global tokens (through the *local* key/value projections); global tokens attend
    to all non-padding tokens through the ``*_global`` projections; padding rows are zero.

    Returns ``(out (B, S, D), local_probs, global_probs)``; the probabilities are None unless
    output_attentions: local (B, H, S, x + window + 1) with the x global columns first,
    global (B, H, S, x) (None when no row has a global token).
    """
    bsz, seq, dim = x.shape
    hd = dim // n_heads
    c = window // 2
    dtype = x.dtype
    is_masked = mask_kind == 0
    is_global = mask_kind == 2
    is_local = mask_kind == 1
    any_global = bool(is_global.any())

    q = _heads(linear(p["query"], x), n_heads)  # (B, H, S, hd)
    q /= dtype.type(math.sqrt(hd))
    k = _heads(linear(p["key"], x), n_heads)
    v = _heads(linear(p["value"], x), n_heads)

    bs = query_block_size(c)
    seq_int = -(-seq // bs) * bs  # internal length, a multiple of the block (extra keys are out of range)
    if seq_int != seq:
        extra = ((0, 0), (0, 0), (0, seq_int - seq), (0, 0))
        q, k, v = (np.pad(t, extra) for t in (q, k, v))
        is_local_int = np.pad(is_local, ((0, 0), (0, seq_int - seq)))
    else:
        is_local_int = is_local

    if any_global:
        gidx, slot_ok = global_slots(is_global)
        n_glob = gidx.shape[1]
    else:
        n_glob = 0
    out = np.empty((bsz, n_heads, seq, hd), dtype=dtype)
    local_probs = np.zeros((bsz, n_heads, seq, n_glob + 2 * c + 1), dtype=dtype) if output_attentions else None
    for b in range(bsz):
        kg = vg = ok = None
        if any_global:
            kg = k[b][:, gidx[b]]  # (H, x, hd)
            vg = v[b][:, gidx[b]]
            ok = slot_ok[b]
        o, pg, pb = _local_attention_row(q[b], k[b], v[b], is_local_int[b], c, kg, vg, ok, output_attentions)
        out[b] = o[:, :seq]
        if output_attentions:
            local_probs[b, :, :, n_glob:] = pb[:, :seq]
            if n_glob:
                local_probs[b, :, :, :n_glob] = pg[:, :seq]
    # padding rows attend to nothing; global rows are replaced below (HF zeroes their local probs)
    out *= ~is_masked[:, None, :, None]
    if output_attentions:
        local_probs *= is_local[:, None, :, None]

    global_probs = None
    if any_global:
        g_out, g_probs = _global_rows(p, x, gidx, slot_ok, is_masked, n_heads)
        rows, slots = np.nonzero(slot_ok)
        out[rows, :, gidx[rows, slots]] = g_out[rows, :, slots]
        if output_attentions:
            global_probs = np.ascontiguousarray(g_probs.swapaxes(-1, -2))  # (B, H, S, x)
    return _merge_heads(out), local_probs, global_probs


def decoder_attention(p, hidden, n_heads, key_value_states=None, past_key_value=None, attention_mask=None,
                      output_attentions=False):
    """HF LEDDecoderAttention (spec/SPEC.md#decoder-attention): dense multi-head attention.

    hidden: (B, T, D). Self-attention when key_value_states is None (past (k, v) are prepended);
    cross-attention otherwise (past (k, v), when given, are reused as is). attention_mask:
    additive (B, 1, T, src) or None. Returns (output (B, T, D), probs (B, H, T, src) or None,
    present (k, v) each (B, H, src, hd)).
    """
    bsz, tgt, dim = hidden.shape
    hd = dim // n_heads
    q = linear(p["q_proj"], hidden)
    q *= hidden.dtype.type(hd**-0.5)  # HF scales after q_proj, bias included
    q = _heads(q, n_heads)  # (B, H, T, hd)
    if key_value_states is not None and past_key_value is not None:
        k, v = past_key_value[0], past_key_value[1]
    elif key_value_states is not None:
        k = _heads(linear(p["k_proj"], key_value_states), n_heads)
        v = _heads(linear(p["v_proj"], key_value_states), n_heads)
    else:
        k = _heads(linear(p["k_proj"], hidden), n_heads)
        v = _heads(linear(p["v_proj"], hidden), n_heads)
        if past_key_value is not None:
            k = np.concatenate([past_key_value[0], k], axis=2)
            v = np.concatenate([past_key_value[1], v], axis=2)
    scores = q @ k.swapaxes(-1, -2)  # (B, H, T, src)
    if attention_mask is not None:
        with np.errstate(over="ignore"):
            scores += attention_mask
    probs = softmax(scores)
    out = linear(p["out_proj"], _merge_heads(probs @ v))
    return out, (probs if output_attentions else None), (k, v)
