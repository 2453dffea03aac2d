"""Measured NumPy GEMM peak: the ceiling any NumPy encoder can reach on this machine.

The shapes are the led-base encoder's own (4096 tokens x 768 -> 768 / 3072), plus a square one; the
peak is the best GFLOP/s over them. Run: ``python -m tools.bench.gemm``.
"""

import argparse

from led_ref.app.benchmarks.gemm import gemm_peak


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny shapes (seconds)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = p.parse_args(argv)
    res = gemm_peak(quick=args.quick, dtype=args.dtype)
    for shape, g in res["per_shape"].items():
        print(f"{res['dtype']} GEMM {shape:>16}: {g:7.1f} GFLOP/s")
    print(f"peak: {res['gflops']:.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
