"""Encoder forward benchmark of the NumPy reference: seconds and peak memory at a given length.

    python -m tools.bench.encoder                 # led-base shape, 4096 and 16384 tokens
    python -m tools.bench.encoder --seq-lens 1024 --size tiny
    python -m tools.bench.encoder --seq-lens 4096 --busy --repeat 3 --hf-python /path/to/hf-venv/bin/python

Each length runs in its own interpreter (``common.run_isolated``) so the peak RSS is that run's;
with ``--hf-python`` HF transformers' encoder (torch eager, float32, same shape, same thread
count) runs right after it in that interpreter, and the table gains its seconds and the speed-up.
``--busy`` runs every row a second time beside one competing CPU-bound process that it starts and
stops itself, and prints the slow-down (worst busy run / quiet median): the shared-machine figure.
Threading follows led_ref's policy (``led_ref.threads``; threadpoolctl installed: pieces over
cores + 1 threads with single-threaded BLAS), ``--threads N`` overrides it.
Weights are seeded random in the led-base shape (speed does not depend on the values); one
global token (position 0), as LED uses for summarization. GFLOP/s counts HF's FLOPs
(``common.encoder_flops``, which includes the key_global/value_global projections that led-ref
skips with one global token), so it is comparable between rows.
"""

import argparse
import os
import sys

from led_ref.app.benchmarks import common
from led_ref.app.benchmarks.encoder import encoder_seconds


def _fmt_runs(r):
    runs = r.get("runs") or [r["seconds"]]
    return "/".join(f"{t:.2f}" for t in runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-lens", default="4096,16384", help="comma-separated encoder lengths")
    parser.add_argument("--size", choices=sorted(common.SIZES), default="base")
    parser.add_argument(
        "--repeat", type=int, default=1, help="timed runs per row (all are printed; slow-down uses the worst busy run)"
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="led_ref threads (led_ref.app.blas.configure) and torch threads of the HF rows; "
        "default: led_ref's policy, torch's default",
    )
    parser.add_argument(
        "--busy",
        action="store_true",
        help="run every row quiet, then again beside one competing CPU-bound process started "
        "here (a shared machine); prints the slow-down",
    )
    parser.add_argument("--in-process", action="store_true", help="do not spawn one interpreter per length")
    parser.add_argument(
        "--hf-python",
        metavar="PATH",
        help="an interpreter with transformers + torch: adds HF's encoder seconds and the speed-up",
    )
    args = parser.parse_args(argv)
    if args.hf_python and not (os.path.isfile(args.hf_python) and os.access(args.hf_python, os.X_OK)):
        parser.error(f"--hf-python {args.hf_python}: not an executable file (give e.g. /path/venv/bin/python)")
    if args.hf_python and args.dtype != "float32":
        parser.error("--hf-python compares float32 only (HF's float64 encoder softmax runs in float32)")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.busy and args.in_process:
        parser.error("--busy runs each row in its own process; drop --in-process")
    try:
        lens = [int(s) for s in args.seq_lens.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seq-lens must be comma-separated integers, got {args.seq_lens!r}")
    probe = common.run_isolated("led_ref.app.benchmarks.common", "threading_line_row", {}, threads=args.threads)
    print(
        f"led_ref encoder, {args.size} shape, {args.dtype}, batch 1, 1 global token; "
        f"{probe.get('line', probe.get('error'))}"
    )
    try:
        print(f"load average (1 min) at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    except (AttributeError, OSError):
        pass
    header = (
        f"{'tokens':>8} {'load':>5} {'seconds (runs)':>20} {'GFLOP/s':>8} {'GEMM GF/s':>9} {'% GEMM':>6} "
        f"{'peak RSS MB':>11} {'weights MB':>10}"
    )
    if args.hf_python:
        header += f" {'HF seconds (runs)':>20} {'HF peak MB':>10} {'speed-up':>8}"
    print(header, flush=True)
    worst = {}
    try:
        for n in lens:
            for load in common.loads(args.busy):
                line, r = _encoder_line(args, n, load)
                print(line, flush=True)
                if "runs" in r:
                    worst[(n, load)] = r
    except common.BusyStartError as exc:
        return common.busy_error("tools.bench.encoder", exc)
    for n in lens:
        q, b = worst.get((n, "quiet")), worst.get((n, "busy"))
        if q and b:
            print(
                f"{n:>8} slow-down beside one busy process: worst busy run {max(b['runs']):.2f} s / quiet median "
                f"{q['seconds']:.2f} s = {max(b['runs']) / q['seconds']:.2f}x"
            )
    try:
        print(f"load average (1 min) after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    except (AttributeError, OSError):
        pass
    return 0


def _encoder_line(args, n, load):
    kw = dict(seq_len=n, size=args.size, repeat=args.repeat, dtype=args.dtype)
    r = (
        encoder_seconds(**kw)
        if args.in_process
        else common.run_isolated(
            "led_ref.app.benchmarks.encoder", "encoder_seconds", kw, timeout=3600, threads=args.threads
        )
    )
    if "error" in r:
        return f"{n:>8} {load:>5} error: {r['error']}", r
    pct = 100 * r["gflop_per_s"] / r["gemm_gflop_per_s"] if r.get("gemm_gflop_per_s") else float("nan")
    line = (
        f"{n:>8} {load:>5} {r['seconds']:>7.2f} ({_fmt_runs(r):>11}) {r['gflop_per_s']:>8.1f} "
        f"{r['gemm_gflop_per_s']:>9.1f} {pct:>5.0f}% {r['peak_rss_bytes'] / 2**20:>11.0f} "
        f"{r['weights_bytes'] / 2**20:>10.0f}"
    )
    if args.hf_python:
        hf = common.run_isolated(
            "led_ref.app.benchmarks.common",
            "hf_encoder_seconds",
            dict(seq_len=n, size=args.size, repeat=args.repeat, threads=args.threads),
            python=args.hf_python,
            timeout=3600,
            threads=args.threads,
        )
        if "error" in hf:
            line += f"  HF error: {hf['error']}"
        else:
            line += (
                f" {hf['seconds']:>7.2f} ({_fmt_runs(hf):>11}) {hf['peak_rss_bytes'] / 2**20:>10.0f} "
                f"{hf['seconds'] / r['seconds']:>7.2f}x"
            )
    return line, r


if __name__ == "__main__":
    sys.exit(main())
