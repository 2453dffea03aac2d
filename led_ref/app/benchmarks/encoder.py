"""Encoder forward benchmark of the NumPy reference: seconds and peak memory at a given length.

    python -m tools.bench.encoder                 # led-base shape, 4096 and 16384 tokens
    python -m tools.bench.encoder --seq-lens 1024 --size tiny
    python -m tools.bench.encoder --seq-lens 4096 --busy --repeat 3 --hf-python /path/to/hf-venv/bin/python

Each length runs in its own interpreter (``common.run_isolated``) so the peak RSS is that run's;
with ``--hf-python`` HF transformers' encoder (torch eager, float32, same shape, same thread
count) runs right after it in that interpreter, and the table gains its seconds and the speed-up.
``--busy`` runs every row a second time beside one competing CPU-bound process that it starts and
stops itself, and prints the slow-down (worst busy run / quiet median): the shared-machine figure.
Threading follows led_ref's policy (``led_ref.threads``: pieces over cores + 1 threads with
single-threaded BLAS), ``--threads N`` overrides it.
Weights are seeded random in the led-base shape (speed does not depend on the values); one
global token (position 0), as LED uses for summarization. GFLOP/s counts HF's FLOPs
(``common.encoder_flops``, which includes the key_global/value_global projections that led-ref
skips with one global token), so it is comparable between rows.
"""

import numpy as np

from led_ref.app.benchmarks import common


def encoder_seconds(seq_len, size="base", batch=1, num_global=1, repeat=1, dtype="float32"):
    """Time one encoder forward of ``seq_len`` tokens; returns a dict of figures.

    Keys: seconds (median of ``repeat``), seq_len, padded_len, gflops (per forward),
    gflop_per_s, peak_rss_bytes (of this process so far: run it isolated for a clean number),
    weights_bytes.
    """
    from led_ref.config import LEDConfig
    from led_ref.model import LEDModel
    from led_ref.weights import flatten, init_params

    shape = dict(common.SIZES[size])
    shape["max_encoder_position_embeddings"] = max(
        shape["max_encoder_position_embeddings"], common.padded_length(seq_len, shape["attention_window"])
    )
    cfg = LEDConfig(**shape)
    model = LEDModel(cfg, init_params(cfg, "base", seed=0, dtype=np.dtype(dtype)))
    rng = np.random.default_rng(0)
    ids = rng.integers(3, cfg.vocab_size, size=(batch, seq_len))
    mask = np.ones_like(ids)
    glob = np.zeros_like(ids)
    glob[:, :num_global] = 1
    encode = model.get_encoder()
    encode(input_ids=ids[:, :8], attention_mask=mask[:, :8], global_attention_mask=glob[:, :8])  # warm-up
    timing = common.time_call(
        lambda: encode(input_ids=ids, attention_mask=mask, global_attention_mask=glob).last_hidden_state,
        repeat=repeat,
    )
    out = timing["result"]
    if out.shape != (batch, seq_len, cfg.d_model) or not np.all(np.isfinite(out)):
        raise ValueError(f"encoder returned shape {out.shape} or non-finite values")
    flops = batch * common.encoder_flops(
        seq_len, cfg.d_model, cfg.encoder_ffn_dim, cfg.encoder_layers, cfg.attention_window, num_global
    )
    weights = sum({id(a): a.nbytes for a in flatten(model.params).values()}.values())
    gemm = _gemm_gflop_per_s(np.dtype(dtype))
    return {
        "seconds": timing["seconds"],
        "runs": timing["runs"],
        "seq_len": seq_len,
        "padded_len": common.padded_length(seq_len, cfg.attention_window),
        "gflops": flops / 1e9,
        "gflop_per_s": flops / 1e9 / timing["seconds"],
        "peak_rss_bytes": common.peak_rss_bytes(),
        "weights_bytes": weights,
        "gemm_gflop_per_s": gemm,
    }


def _gemm_gflop_per_s(dtype, m=4096, k=768, n=3072, repeat=3):
    """Best-of-``repeat`` GFLOP/s of an FFN-shaped GEMM right now, the better of one BLAS call (BLAS's own threads)
    and row chunks over led_ref's threads (BLAS at one thread each, as the encoder runs): the machine's ceiling."""
    import time

    from led_ref import threads
    from led_ref.scheduling import PROJECTION_ROWS

    a = np.ones((m, k), dtype)
    b = np.ones((n, k), dtype)
    out = np.empty((m, n), dtype)

    def pieces():
        threads.parallel_rows(lambda rows: np.matmul(a[rows], b.T, out=out[rows]), m, PROJECTION_ROWS)

    best = float("inf")
    for fn in (lambda: np.matmul(a, b.T, out=out), pieces):
        with threads.region():
            fn()
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
    return 2 * m * k * n / best / 1e9
