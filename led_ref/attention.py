"""LED attention in NumPy: Longformer encoder self-attention and the decoder's dense attention.

Encoder self-attention (spec/SPEC.md#encoder-self-attention) is computed blockwise: with
``c = window // 2`` the queries are split into blocks of ``bs <= c`` rows and block ``b`` only
needs keys ``[b bs - c, b bs + bs + c)``, so scores are ``(blocks, bs, bs + 2c)`` per head and
memory is O(sequence x window). A few blocks of one head are processed at a time, sized to stay
in the CPU cache (spec/DESIGN.md#computation-order-and-speed). Nothing here ever builds a
sequence x sequence matrix.
"""

import math

import numpy as np

from . import scheduling as sched
from . import threads
from .inputs import MaskKind
from .scheduling import linear, parallel_linear, parallel_linears, project_rows

__all__ = [
    "softmax",
    "global_slots",
    "longformer_self_attention",
    "band_to_relative",
    "decoder_attention",
]


def softmax(x, axis=-1):
    """Softmax along ``axis`` (max-subtracted, in the dtype of ``x``)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _softmax_in_place(x):
    """``softmax(x)`` over the last axis, computed in x's own memory: the same operations in the same order
    (bit-identical), without two temporaries of x's size (a decoding step's scores: tens of thousands per head)."""
    m = x.max(axis=-1, keepdims=True)
    np.subtract(x, m, out=x)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


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
    """Overlapping key blocks: x (L, e) -> view (n_blocks, span, e), block b = rows [b bs, b bs + span)."""
    _, e = x.shape
    s0, s1 = x.strides
    return np.lib.stride_tricks.as_strided(x, (n_blocks, span, e), (bs * s0, s0, s1), writeable=False)


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
    return max(1, min(c, sched.QUERY_BLOCK))


def _local_attention_head(h, q, k, v, key_ok, c, gidx, slot_ok, out, probs_band, probs_glob):
    """Banded + global-key attention of one head of one batch row; writes normalised outputs.

    q, k, v: (S, H, hd) views of the projections (q not yet scaled); key_ok: (S_int + 2c,) bool, the keys
    allowed inside the band, padded with c False on each side (S_int = S rounded up to the query block);
    gidx: (x,) positions of the global tokens, whose keys/values (local projections) every row also
    attends to, or None; slot_ok: (x,) bool. out: (S, H, hd) output view, column h written; probs_band
    (H, S, 2c+1) and probs_glob (H, S, x) are written too when not None.

    One head is an independent piece of work (``led_ref.threads``): its own padded copies and score buffer.
    """
    seq, _, hd = q.shape
    dtype = q.dtype
    fill = np.finfo(dtype).min
    bs = query_block_size(c)
    span = bs + 2 * c
    seq_int = key_ok.shape[0] - 2 * c
    nb = seq_int // bs
    # HF divides q by sqrt(hd); rows beyond S are zero and their outputs are dropped
    q_h = np.zeros((seq_int, hd), dtype=dtype)
    np.divide(q[:, h], dtype.type(math.sqrt(hd)), out=q_h[:seq])
    # keys with c zero rows on each side, so block b is rows [b bs, b bs + span); values carry a
    # column of ones so that the weighted-sum GEMM also yields the softmax denominator
    k_pad = np.zeros((seq_int + 2 * c, hd), dtype=dtype)
    k_pad[c : c + seq] = k[:, h]
    v_pad = np.zeros((seq_int + 2 * c, hd + 1), dtype=dtype)
    v_pad[c : c + seq, :hd] = v[:, h]
    v_pad[:, hd] = 1
    key_ok_blocks = np.lib.stride_tricks.as_strided(key_ok, (nb, span), (bs * key_ok.strides[0], key_ok.strides[0]))
    block_has_removed_key: list[bool] = (~np.all(key_ok_blocks, axis=1)).tolist()  # (nb,)
    # the band |i - j| <= c cuts only the first and last bs columns of a block: row r keeps
    # block columns m with r <= m <= r + 2c
    tri = np.arange(bs)
    left_out = tri[None, :] < tri[:, None]  # (bs, bs): columns 0 .. bs-1
    right_out = tri[None, :] > tri[:, None]  # (bs, bs): columns 2c .. 2c + bs - 1

    n_glob = 0 if gidx is None else gidx.shape[0]
    if n_glob:
        k_glob = k_pad[c + gidx]  # (x, hd)
        g_scores = q_h @ k_glob.T  # (S_int, x)
        np.copyto(g_scores, fill, where=~slot_ok)
        row_max = g_scores.max(axis=-1)  # (S_int,)
    else:
        row_max = np.empty(seq_int, dtype=dtype)

    acc = np.empty((seq_int, hd + 1), dtype=dtype)
    qb = q_h.reshape(nb, bs, hd)
    kb = _blocks(k_pad, bs, span, nb)  # (nb, span, hd)
    vb = _blocks(v_pad, bs, span, nb)  # (nb, span, hd + 1)
    step = max(1, min(nb, sched.SCORE_BUDGET_BYTES // (bs * span * dtype.itemsize)))  # blocks per step
    buffer = np.empty((step, bs, span), dtype=dtype)
    for b0 in range(0, nb, step):
        b1 = min(nb, b0 + step)
        rows = slice(b0 * bs, b1 * bs)
        scores = np.matmul(qb[b0:b1], kb[b0:b1].swapaxes(-1, -2), out=buffer[: b1 - b0])  # (n, bs, span)
        np.copyto(scores[:, :, :bs], fill, where=left_out)
        np.copyto(scores[:, :, 2 * c :], fill, where=right_out)
        if any(block_has_removed_key[b0:b1]):
            np.copyto(scores, fill, where=~key_ok_blocks[b0:b1, None, :])
        m = scores.max(axis=-1)  # (n, bs)
        if n_glob:
            np.maximum(m, row_max[rows].reshape(m.shape), out=m)
        row_max[rows] = m.reshape(-1)
        scores -= m[..., None]
        np.exp(scores, out=scores)
        np.matmul(scores, vb[b0:b1], out=acc[rows].reshape(b1 - b0, bs, hd + 1))
        if probs_band is not None:
            probs_band[h, rows.start : min(rows.stop, seq)] = band_to_relative(scores[None], c)[0][
                : max(0, seq - rows.start)
            ]
    if n_glob:
        g_scores -= row_max[:, None]
        np.exp(g_scores, out=g_scores)
        acc += g_scores @ v_pad[c + gidx]  # (S_int, x) @ (x, hd + 1)
    denom = acc[:seq, hd:]
    np.divide(acc[:seq, :hd], denom, out=out[:, h])
    if probs_band is not None:
        probs_band[h] /= denom
        if n_glob:
            np.divide(g_scores[:seq], denom, out=probs_glob[h])


def _global_rows(p, x, gidx, slot_ok, is_masked, n_heads, reassociate=None):
    """Attention of the global tokens to every non-padding token (query/key/value_global).

    x: (B, S, D). Returns output (B, H, x, hd) and probabilities (B, H, x, S); probabilities of
    slots beyond a row's own count are 0 (HF leaves uniform junk there).

    With few global tokens the key_global/value_global projections of all S tokens (4 S D^2
    FLOPs) are never formed: q . (Wk_h h_j + bk_h) = (Wk_h^T q) . h_j + q . bk_h and
    sum_j p_j (Wv_h h_j + bv_h) = Wv_h (sum_j p_j h_j) + bv_h sum_j p_j, which costs 4 S D H x
    (spec/DESIGN.md#computation-order-and-speed). ``reassociate`` None picks the cheaper form.
    """
    bsz, seq, dim = x.shape
    hd = dim // n_heads
    n_glob = gidx.shape[1]
    dtype = x.dtype
    fill = np.finfo(dtype).min
    hidden_glob = x[np.arange(bsz)[:, None], gidx]  # (B, x, D)
    q = _heads(linear(p["query_global"], hidden_glob), n_heads)  # (B, H, x, hd)
    q /= dtype.type(math.sqrt(hd))
    if reassociate is None:
        reassociate = n_heads * n_glob < dim + n_glob
    if reassociate:
        wk = p["key_global"]["weight"].reshape(n_heads, hd, dim)
        qk = (q @ wk).reshape(bsz, n_heads * n_glob, dim)  # (B, H x, D): Wk_h^T q per head and slot
        scores = (qk @ x.swapaxes(-1, -2)).reshape(bsz, n_heads, n_glob, seq)  # (B, H, x, S)
        if p["key_global"].get("bias") is not None:
            scores += q @ p["key_global"]["bias"].reshape(n_heads, hd, 1)  # (B, H, x, 1)
    else:
        k = _heads(linear(p["key_global"], x), n_heads)  # (B, H, S, hd)
        scores = q @ k.swapaxes(-1, -2)  # (B, H, x, S)
    np.copyto(scores, fill, where=is_masked[:, None, None, :])
    probs = softmax(scores)
    probs *= slot_ok[:, None, :, None]
    if reassociate:
        mixed = (probs.reshape(bsz, n_heads * n_glob, seq) @ x).reshape(bsz, n_heads, n_glob, dim)
        out = mixed @ p["value_global"]["weight"].reshape(n_heads, hd, dim).swapaxes(-1, -2)  # (B, H, x, hd)
        if p["value_global"].get("bias") is not None:
            out += probs.sum(axis=-1, keepdims=True) * p["value_global"]["bias"].reshape(n_heads, 1, hd)
        return out, probs
    v = _heads(linear(p["value_global"], x), n_heads)
    return probs @ v, probs


def longformer_self_attention(p, x, mask_kind, window, n_heads, output_attentions=False):
    """LED encoder self-attention before the output projection (spec/SPEC.md#encoder-self-attention).

    p: ``layers[i]["self_attn"]["longformer_self_attn"]``; x: (B, S, D); mask_kind: (B, S) ``MaskKind``
    (led_ref.inputs.merge_masks). Local tokens attend to local tokens with |i - j| <= window/2
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
    is_masked = mask_kind == MaskKind.PADDING
    is_global = mask_kind == MaskKind.GLOBAL
    is_local = mask_kind == MaskKind.LOCAL
    any_global = bool(is_global.any())

    # (B, S, H, hd) views; each head's piece copies its columns into padded buffers
    q, k, v = project_rows((p["query"], p["key"], p["value"]), x.reshape(bsz * seq, dim))
    q, k, v = (t.reshape(bsz, seq, n_heads, hd) for t in (q, k, v))

    bs = query_block_size(c)
    seq_int = -(-seq // bs) * bs  # internal length, a multiple of the block (extra keys are out of range)

    if any_global:
        gidx, slot_ok = global_slots(is_global)
        n_glob = gidx.shape[1]
    else:
        n_glob = 0
    out = np.empty((bsz, seq, n_heads, hd), dtype=dtype)
    local_probs = np.zeros((bsz, n_heads, seq, n_glob + 2 * c + 1), dtype=dtype) if output_attentions else None
    key_ok = np.zeros((bsz, seq_int + 2 * c), bool)
    key_ok[:, c : c + seq] = is_local

    def piece(bh):  # one (batch row, head): independent work for the thread pool
        b, h = bh
        _local_attention_head(
            h,
            q[b],
            k[b],
            v[b],
            key_ok[b],
            c,
            gidx[b] if any_global else None,
            slot_ok[b] if any_global else None,
            out[b],
            None if local_probs is None else local_probs[b, :, :, n_glob:],
            None if local_probs is None else local_probs[b, :, :, :n_glob],
        )

    threads.parallel_map(piece, [(b, h) for b in range(bsz) for h in range(n_heads)])
    # padding rows attend to nothing; global rows are replaced below (HF zeroes their local probs)
    out *= ~is_masked[:, :, None, None]
    if output_attentions:
        local_probs *= is_local[:, None, :, None]

    global_probs = None
    if any_global:
        g_out, g_probs = _global_rows(p, x, gidx, slot_ok, is_masked, n_heads)
        rows, slots = np.nonzero(slot_ok)
        out[rows, gidx[rows, slots]] = g_out[rows, :, slots]
        if output_attentions:
            global_probs = np.ascontiguousarray(g_probs.swapaxes(-1, -2))  # (B, H, S, x)
    return out.reshape(bsz, seq, dim), local_probs, global_probs


def decoder_attention(
    p, hidden, n_heads, key_value_states=None, past_key_value=None, attention_mask=None, output_attentions=False
):
    """HF LEDDecoderAttention (spec/SPEC.md#decoder-attention): dense multi-head attention.

    hidden: (B, T, D). Self-attention when key_value_states is None (past (k, v) are prepended);
    cross-attention otherwise (past (k, v), when given, are reused as is). attention_mask:
    additive (B, 1, T, src) or None. A cross-attention past may hold G rows with B a multiple of G
    (one row per input, shared by its B / G consecutive beams). Returns (output (B, T, D), probs
    (B, H, T, src) or None, present (k, v) each (B or G, H, src, hd)).
    """
    bsz, tgt, dim = hidden.shape
    hd = dim // n_heads
    if key_value_states is None:  # self-attention: q, k, v of the same rows in one parallel call
        q, k_new, v_new = parallel_linears((p["q_proj"], p["k_proj"], p["v_proj"]), hidden)
    else:
        q = parallel_linear(p["q_proj"], hidden)
    q *= hidden.dtype.type(hd**-0.5)  # HF scales after q_proj, bias included
    q = _heads(q, n_heads)  # (B, H, T, hd)
    if key_value_states is not None and past_key_value is not None:
        k, v = past_key_value[0], past_key_value[1]
    elif key_value_states is not None:
        k = _heads(parallel_linear(p["k_proj"], key_value_states), n_heads)
        v = _heads(parallel_linear(p["v_proj"], key_value_states), n_heads)
    else:
        k, v = _heads(k_new, n_heads), _heads(v_new, n_heads)
        if past_key_value is not None:
            k = np.concatenate([past_key_value[0], k], axis=2)
            v = np.concatenate([past_key_value[1], v], axis=2)
    groups = k.shape[0]
    if groups != bsz:
        # A cross-attention cache with one row per input, shared by its r = B / G beams: the r beams' queries
        # become rows of one (r*T)-row product, so each input's keys/values are read once, not once per beam.
        r = bsz // groups
        q = q.reshape(groups, r, n_heads, tgt, hd).swapaxes(1, 2).reshape(groups, n_heads, r * tgt, hd)
        if attention_mask is not None:
            attention_mask = attention_mask.reshape(groups, 1, r * tgt, -1)  # (G, 1, r*T, src)
    rows = q.shape[2]
    key_len = [k.shape[2]] * groups
    if key_value_states is not None and attention_mask is not None:
        # cross-attention: keys after a row's last unmasked one get weight exp(finfo.min - max) = 0, so they are
        # not read (documents of different lengths in one batch); a fully masked row keeps all keys (HF: uniform)
        valid = attention_mask[:, 0, 0, :] == 0  # (B or G, src)
        last = valid.shape[1] - np.argmax(valid[:, ::-1], axis=1)
        key_len = [int(n) if ok else k.shape[2] for n, ok in zip(last, valid.any(axis=1))]
    ctx = np.empty((groups, n_heads, rows, hd), dtype=q.dtype)  # (B, H, T, hd), or (G, H, r*T, hd)
    probs_all = np.empty((groups, n_heads, rows, k.shape[2]), dtype=q.dtype) if output_attentions else None

    # Inputs whose mask is 0 on all their keys (no padding before the last key): adding it changes no score (x + 0
    # is x), so the pass over the scores is skipped (batch-8 decoding: ~1.3M scores a step).
    mask_is_zero = [False] * groups
    if attention_mask is not None and rows <= sched.FEW_QUERY_ROWS:
        mask_is_zero = [not attention_mask[g, :, :, :n].any() for g, n in enumerate(key_len)]

    def few_rows(gs, hs):
        # A decoding step. One query row: one np.einsum call per product over every (row, head) of the slice: numpy's
        # C loop gives each (row, head) the same dot products whatever the slice (no ~20 us of Python per head:
        # 1,152 heads per batch-8 step), and streams these (n, 64) keys/values faster than BLAS's GEMV does
        # (``python -m tools.bench.generation --breakdown``'s cross-attention part). Several query rows (the beams
        # sharing an input's keys): GEMMs over blocks of keys small enough (sched.SMALL_PRODUCT) that OpenBLAS does
        # not pack them, so each key/value is read once for all query rows (one GEMV per query row reads them once
        # per row; unblocked GEMMs pack the keys first). All the slice's (row, head, block) GEMMs are one stacked
        # matmul call (numpy loops in C, not Python: same bits; ``--breakdown`` times the cross-attention of a beam
        # step). The weighted sums then add the per-block partial sums in block order: another summation order than
        # one GEMV over all keys (within the float32 tolerance, tests/unit/test_attention.py).
        n = key_len[gs.start]
        qs, ks, vs = q[gs, hs], k[gs, hs, :n], v[gs, hs, :n]  # (g, h, rows, hd), (g, h, n, hd), (g, h, n, hd)
        gh = qs.shape[:2]
        scores = np.empty(gh + (rows, n), dtype=q.dtype)  # (g, h, rows, n)
        block = max(16, sched.SMALL_PRODUCT // (rows * hd) // 16 * 16)  # keys per GEMM
        full = n // block * block  # keys in whole blocks; the rest is one shorter block
        if rows == 1:
            np.einsum("ghnd,ghrd->ghrn", ks, qs, out=scores)
        else:
            qt = np.ascontiguousarray(qs.swapaxes(-1, -2))  # (g, h, hd, rows)
            if full:  # keys first, the GEMM's own layout: (g, h, nb, block, hd) @ (g, h, 1, hd, rows)
                blocks = np.matmul(ks[:, :, :full].reshape(gh + (-1, block, hd)), qt[:, :, None])
                scores[..., :full] = blocks.reshape(gh + (full, rows)).swapaxes(-1, -2)
            if full < n:
                scores[..., full:] = np.matmul(ks[:, :, full:], qt).swapaxes(-1, -2)
        if attention_mask is not None and not all(mask_is_zero[gs]):
            with np.errstate(over="ignore"):
                scores += attention_mask[gs, :, :, :n]  # (g, 1, rows, n): the same for every head
        probs = _softmax_in_place(scores)
        out = ctx[gs, hs]  # (g, h, rows, hd), a view
        if rows == 1:
            np.einsum("ghrn,ghnd->ghrd", probs, vs, out=out)
        elif not full:
            np.matmul(probs, vs, out=out)
        else:  # (g, h, nb, rows, block) @ (g, h, nb, block, hd): per-block partial sums, added in block order
            parts = np.matmul(
                probs[..., :full].reshape(gh + (rows, -1, block)).swapaxes(2, 3),
                vs[:, :, :full].reshape(gh + (-1, block, hd)),
            )
            np.add.reduce(parts, axis=2, out=out)
            if full < n:
                out += np.matmul(probs[..., full:], vs[:, :, full:])
        if probs_all is not None:
            probs_all[gs, hs, :, :n] = probs
            probs_all[gs, hs, :, n:] = 0

    def one_head(g, h):
        n = key_len[g]
        qh, kh, vh = q[g, h], k[g, h, :n], v[g, h, :n]  # (rows, hd), (src, hd), (src, hd)
        scores = qh @ kh.T  # (T, src), or (r*T, src) when shared
        if attention_mask is not None:
            with np.errstate(over="ignore"):
                scores += attention_mask[g, 0, :, :n]
        probs = softmax(scores)
        np.matmul(probs, vh, out=ctx[g, h])
        if probs_all is not None:
            probs_all[g, h, :, :n] = probs
            probs_all[g, h, :, n:] = 0

    def piece(item):  # (rows, heads): reads those heads' keys/values once (led_ref.threads)
        gs, hs = item
        if rows <= sched.FEW_QUERY_ROWS:
            few_rows(gs, hs)
        else:
            for g in range(gs.start, gs.stop):
                for h in range(hs.start, hs.stop):
                    one_head(g, h)

    if (
        rows <= sched.FEW_QUERY_ROWS
        and len(set(key_len)) == 1
        and groups * n_heads * key_len[0] * hd <= sched.SMALL_ATTENTION
    ):
        # self-attention of a decoding step over a short cache: one piece, a few numpy calls in all
        items = [(slice(0, groups), slice(0, n_heads))]
    else:
        items = sched.head_pieces(groups, n_heads)
    threads.parallel_map(piece, items, caller_first=threads.piece_threads() > 1)
    probs = probs_all
    if groups != bsz:
        ctx = ctx.reshape(groups, n_heads, r, tgt, hd).swapaxes(1, 2).reshape(bsz, n_heads, tgt, hd)
        if probs is not None:
            probs = probs.reshape(groups, n_heads, r, tgt, -1).swapaxes(1, 2).reshape(bsz, n_heads, tgt, -1)
    out = parallel_linear(p["out_proj"], _merge_heads(ctx))
    return out, probs, (k, v)
