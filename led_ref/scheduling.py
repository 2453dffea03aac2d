"""How the NumPy reference cuts its matrix products into pieces for BLAS and for led_ref's threads.

The math of a linear layer is :func:`linear` (``x @ W.T + b``). Everything else here decides only how that
product, and the attention's score blocks, are cut: which sizes reach BLAS, and which pieces go to the pool of
``led_ref.threads``. Results never depend on the cut: every output element is computed by one BLAS call over the
same operands whichever thread runs its piece (tests/unit/test_threads.py keeps results bit-identical across
thread counts; tests/unit/test_attention.py keeps the tuned attention equal to ``led_ref.reference``).

The sizes below are tuning constants for OpenBLAS (the BLAS that NumPy's wheels bundle) on x86-64. The
commands that show their effect: ``led-ref bench`` (encoder GFLOP/s against the measured GEMM peak) and
``python -m tools.bench.generation --breakdown`` (a decoding step's time and bytes by part).
"""

from __future__ import annotations

import numpy as np

from . import threads

__all__ = [
    "SCORE_BUDGET_BYTES",
    "QUERY_BLOCK",
    "PROJECTION_ROWS",
    "COLUMN_PIECE",
    "FEATURE_ALIGN",
    "FEW_ROWS",
    "SMALL_PRODUCT",
    "FEW_QUERY_ROWS",
    "SMALL_ATTENTION",
    "linear",
    "project_rows",
    "parallel_linear",
    "parallel_linears",
    "feature_slices",
    "head_pieces",
    "callers_piece",
]

# Bytes of attention scores computed per step (one or more (bs, bs + 2c) blocks of one head): small enough that
# masking, max, exp and the second GEMM find them in the L2 cache.
SCORE_BUDGET_BYTES = 1 << 20
# Largest query block of the sliding window. Larger blocks compute more of the band than needed (128 rows against
# 128 + 2c keys is 12% extra at c = 512) but make fewer, larger GEMMs, which run faster per multiply-add and need
# fewer BLAS calls (spec/DESIGN.md#computation-order-and-speed).
QUERY_BLOCK = 128
# Rows per projection chunk: big enough for full-speed GEMMs, small enough to give each thread several chunks, so
# that a thread which loses its core for a while delays only its own chunk.
PROJECTION_ROWS = 256
# Weights per output-feature slice when few rows are projected (decoding): about 1 MB of float32, so reading a
# slice outlasts the pool's hand-over cost per piece (tens of microseconds).
COLUMN_PIECE = 1 << 18
# Output features per aligned group when a few-row product is split over threads (see feature_slices).
FEATURE_ALIGN = 64
# Up to this many rows (a decoding step: beams x batch) a product is split by output features, not by rows.
FEW_ROWS = 64
# Multiply-adds per GEMM call below which OpenBLAS computes without packing its operands. A product above it packs
# the whole weight first, which costs more than reading the weight once; blocks of at most this size avoid that.
SMALL_PRODUCT = 4 * 768 * 256
# Query rows per cross-attention head (beams x new tokens) up to which a decoding step's attention reads each
# key/value once for all its query rows (stacked GEMVs or small key blocks, see led_ref.attention).
FEW_QUERY_ROWS = 8
# Cached keys (rows x heads x positions x head size) up to which a decoding step's attention is one piece on the
# calling thread: handing a short self-attention cache to the pool costs more than its GEMVs; cross-attention over
# thousands of positions goes to the pool.
SMALL_ATTENTION = 1 << 20


def linear(p, x):
    """HF nn.Linear: ``x @ W.T + b`` with W of shape (out, in). The product every function below splits."""
    y = x @ p["weight"].T
    if p.get("bias") is not None:
        y += p["bias"]
    return y


def project_rows(ps, x, rows_per_chunk=None):
    """``[linear(p, x) for p in ps]`` for a 2-D x (N, D), in row chunks spread over led_ref's threads.

    Each chunk runs every projection on its rows while they are in cache. Returns the list of (N, out) arrays.
    """
    n = x.shape[0]
    outs = [np.empty((n, p["weight"].shape[0]), dtype=x.dtype) for p in ps]

    def chunk(rows):
        for p, o in zip(ps, outs):
            o[rows] = linear(p, x[rows])

    threads.parallel_rows(chunk, n, rows_per_chunk or PROJECTION_ROWS)
    return outs


def few_rows_product(x, w, b, out, cols):
    """``out[:, cols] = x @ w[cols].T + b[cols]`` for a few rows x (M, K), reading the weight slice once.

    One row: one GEMV over the slice (no packing). Several rows: the slice as a stack of blocks of ``blk`` output
    features, (nb, blk, K) @ (K, M) in one matmul call (NumPy loops over the blocks in C). Each block's GEMM stays
    under SMALL_PRODUCT, so OpenBLAS never packs the weight, and the whole slice is a few Python calls, so the
    pool's threads rarely wait for the GIL. Every output feature is one dot product over K computed by one BLAS
    call, whichever thread runs its slice: logits do not depend on the thread count.
    """
    m, k = x.shape
    if m == 1:
        np.matmul(w[cols], x[0], out=out[0, cols])
    else:
        blk = max(16, SMALL_PRODUCT // (m * k) // 16 * 16)
        c0, n = cols.start, cols.stop - cols.start
        nb = n // blk
        if nb:
            part = np.matmul(w[c0 : c0 + nb * blk].reshape(nb, blk, k), x.T)  # (nb, blk, M)
            out[:, c0 : c0 + nb * blk] = part.reshape(nb * blk, m).T
        if nb * blk < n:  # the last, shorter block
            out[:, c0 + nb * blk : cols.stop] = np.matmul(w[c0 + nb * blk : cols.stop], x.T).T
    if b is not None:
        out[:, cols] += b[cols]


def parallel_linear(p, x):
    """``linear(p, x)`` with the work spread over led_ref's threads.

    Many rows (encoder-sized inputs): row chunks. Few rows (decoding, where reading the weight is the cost): slices
    of the output features, each read once by one thread (:func:`few_rows_product`);
    ``threads.region(decoding=True)`` decides whether the slices go to the pool or one call uses BLAS's threads.
    """
    return parallel_linears((p,), x)[0]


def parallel_linears(ps, x):
    """``[parallel_linear(p, x) for p in ps]``; for few rows all the weights' slices are one parallel call.

    A decoding step's self-attention q/k/v: one hand-over to the pool instead of three, the same products.
    """
    lead, dim = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, dim)
    if x2.shape[0] > FEW_ROWS:
        if threads.get_num_threads() == 1:
            return [linear(p, x) for p in ps]
        return [o.reshape(*lead, -1) for o in project_rows(ps, x2)]
    x2 = np.ascontiguousarray(x2)
    outs = [np.empty((x2.shape[0], p["weight"].shape[0]), dtype=x.dtype) for p in ps]
    with threads.region(decoding=True):
        n_threads, use = threads.get_num_threads(), threads.piece_threads()
        items = []
        for p, out in zip(ps, outs):
            w = p["weight"]
            pieces = 1 if n_threads == 1 else min(4 * n_threads, max(n_threads, w.size // COLUMN_PIECE))
            items += [(w, p.get("bias"), out, cols) for cols in feature_slices(w.shape[0], pieces)]
        if use > 1:
            items = callers_piece(items, use)
        # few_rows_product is looked up at call time, so a test can observe each piece
        threads.parallel_map(lambda item: few_rows_product(x2, *item), items, caller_first=use > 1)
    return [o.reshape(*lead, -1) for o in outs]


def head_pieces(groups, n_heads):
    """(input rows, heads) pieces of a decoding step's attention: ~two pieces per thread overall, one input per
    piece. One input (greedy, beams) on several threads: item 0 is the caller's one long piece, ~1 / threads of the
    heads, and the rest small ones (``threads.parallel_map(caller_first=True)``)."""
    n_pieces = max(1, -(-2 * threads.get_num_threads() // groups))
    use = threads.piece_threads()
    if groups == 1 and use > 1 and n_pieces > 2:
        first = max(1, n_heads // use)
        rest = threads.split(n_heads - first, n_pieces - 1)
        return [(slice(0, 1), slice(0, first))] + [(slice(0, 1), slice(first + s.start, first + s.stop)) for s in rest]
    return [(slice(g, g + 1), hs) for g in range(groups) for hs in threads.split(n_heads, n_pieces)]


def callers_piece(items, n_threads):
    """``items`` of (weight, bias, out, feature slice) with the first weight's leading slices merged into item 0,
    about ``1 / n_threads`` of all the weights' features: the calling thread's one long product
    (``threads.parallel_map(caller_first=True)``), the rest left in small pieces for the pool's workers. The merged
    slice keeps the slices' aligned boundaries (``feature_slices``)."""
    target = sum((cols.stop - cols.start) * w.shape[1] for w, _, _, cols in items) / n_threads
    w0, b0, out0, first = items[0]
    k, stop = 1, first.stop
    while k < len(items) and items[k][0] is w0 and items[k][2] is out0 and (stop - first.start) * w0.shape[1] < target:
        stop = items[k][3].stop
        k += 1
    return [(w0, b0, out0, slice(first.start, stop))] + items[k:]


def feature_slices(n, pieces):
    """About ``pieces`` slices of range(n) whose boundaries are multiples of FEATURE_ALIGN.

    BLAS's GEMV kernels compute output features in groups, and a group cut by a slice boundary is summed by another
    code path; aligned slices give every feature the same sums as one whole GEMV (or OpenBLAS's own thread split).
    """
    bounds = sorted({min(n, n * i // pieces // FEATURE_ALIGN * FEATURE_ALIGN) for i in range(pieces)} | {n})
    return [slice(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
