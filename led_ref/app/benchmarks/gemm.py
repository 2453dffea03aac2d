"""Measured NumPy GEMM peak: the ceiling any NumPy encoder can reach on this machine.

The shapes are the led-base encoder's own (4096 tokens x 768 -> 768 / 3072), plus a square one; the
peak is the best GFLOP/s over them. Run: ``python -m tools.bench.gemm``.
"""

import time

import numpy as np

# (M, K, N): X (M, K) @ W (K, N)
LED_BASE_SHAPES = ((4096, 768, 768), (4096, 768, 3072), (4096, 3072, 768), (2048, 2048, 2048))
QUICK_SHAPES = ((1024, 256, 256), (1024, 256, 1024))


def gemm_gflops(m, k, n, dtype=np.float32, repeat=5, min_seconds=0.2):
    """Best-of-``repeat`` GFLOP/s of one (m, k) @ (k, n) product (each timing loops for ``min_seconds``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    np.matmul(a, b, out=out)  # warm up BLAS threads and caches
    best = float("inf")
    for _ in range(repeat):
        calls, t0 = 0, time.perf_counter()
        while True:
            np.matmul(a, b, out=out)
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return 2.0 * m * k * n / best / 1e9


def gemm_peak(quick=False, dtype="float32"):
    """Measured GEMM peak: ``{"gflops": best, "per_shape": {"MxKxN": gflops}, "dtype": ...}``."""
    dt = np.dtype(dtype)
    shapes = QUICK_SHAPES if quick else LED_BASE_SHAPES
    kw = dict(repeat=2, min_seconds=0.02) if quick else {}
    per = {f"{m}x{k}x{n}": gemm_gflops(m, k, n, dt, **kw) for m, k, n in shapes}
    return {"gflops": max(per.values()), "per_shape": per, "dtype": dt.name}
