"""Encoder forward benchmark of the NumPy reference: seconds and peak memory at a given length.

    python -m tools.bench.encoder                 # led-base shape, 4096 and 16384 tokens
    python -m tools.bench.encoder --seq-lens 1024 --size tiny
    python -m tools.bench.encoder --seq-lens 4096 --busy --repeat 3 --hf-python /path/to/hf-venv/bin/python
    python -m tools.bench.encoder --seq-lens 4096 --busy --repeat 3 --api library,cli --json enc.json

Each length runs in its own interpreter (``common.run_isolated``) so the peak RSS is that run's;
with ``--hf-python`` HF transformers' encoder (torch eager, float32, same shape, same thread
count) runs right after it in that interpreter, and the table gains its seconds and the speed-up.
``--busy`` runs every row a second time beside one competing CPU-bound process that it starts and
stops itself, and prints the slow-down (worst busy run / quiet median): the shared-machine figure.
The ``others`` column is the CPU (in cores) that processes outside the benchmark took during the
row (``common.OtherLoad``): a row is as quiet, or as busy, as intended only when it is near 0.
Threading follows led_ref's policy (``led_ref.threads``: pieces over cores + 1 threads with
single-threaded BLAS), ``--threads N`` overrides it. ``--api`` says how the led_ref rows run:
"library" (default), as a program that imports led_ref and calls nothing else; "cli", after the
command line's threading setup (``led_ref.app.blas.configure``); "library,cli" runs both, one after
the other, beside the same busy process. ``--json PATH`` writes the rows and the goal ratios
(``tools.bench.report``).
Weights are seeded random in the led-base shape (speed does not depend on the values); one
global token (position 0), as LED uses for summarization. GFLOP/s counts HF's FLOPs
(``common.encoder_flops``, which includes the key_global/value_global projections that led-ref
skips with one global token), so it is comparable between rows.
"""

import argparse
import os
import statistics
import sys

from led_ref.app.benchmarks import common
from led_ref.app.benchmarks.encoder import encoder_seconds
from tools.bench import report

# The shared-machine goals (one competing CPU-bound process on the cores; worst of the runs)
GOAL_SLOWDOWN = 2.5  # worst busy run / quiet median, at most
GOAL_BUSY_VS_HF = 1.5  # HF's busy median / led_ref's worst busy run, at least


def _fmt_runs(r):
    runs = r.get("runs") or [r["seconds"]]
    return "/".join(f"{t:.2f}" for t in runs)


def parse_apis(text):
    """``--api``: a comma-separated list of ``common.APIS``, in order, no repeats."""
    apis = [a.strip() for a in text.split(",") if a.strip()]
    if not apis or any(a not in common.APIS for a in apis) or len(set(apis)) != len(apis):
        raise ValueError(f"--api must be a comma-separated list of {', '.join(common.APIS)}, got {text!r}")
    return apis


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
        help="led_ref threads (led_ref.threads.set_num_threads; with --api cli, --threads) and torch threads of the "
        "HF rows; default: led_ref's policy, torch's default",
    )
    parser.add_argument(
        "--api",
        default="library",
        help="how the led_ref rows run: library (a plain `import led_ref` program), cli (after the command line's "
        "threading setup), or both: library,cli",
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
    parser.add_argument("--json", metavar="PATH", help="also write the rows and the goal ratios to PATH")
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
        apis = parse_apis(args.api)
    except ValueError as exc:
        parser.error(str(exc))
    if args.in_process and apis != ["library"]:
        parser.error("--in-process runs the rows in this process, as the library API: drop --api")
    try:
        lens = [int(s) for s in args.seq_lens.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seq-lens must be comma-separated integers, got {args.seq_lens!r}")
    doc = report.start(
        "tools.bench.encoder",
        argv,
        busy=bool(args.busy),
        plan={"seq_lens": lens, "size": args.size, "dtype": args.dtype, "repeat": args.repeat, "apis": apis},
        shape=common.SIZES[args.size],
        hf_versions=common.interpreter_versions(args.hf_python) if args.hf_python else None,
        threading={},
    )
    print(f"led_ref encoder, {args.size} shape, {args.dtype}, batch 1, 1 global token")
    for api in apis:
        probe = common.run_isolated(
            "led_ref.app.benchmarks.common", "threading_line_row", {}, threads=args.threads, api=api
        )
        doc["threading"][api] = probe.get("line", probe.get("error"))
        print(f"  {api:>7} API: {doc['threading'][api]}")
    try:
        print(f"load average (1 min) at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    except (AttributeError, OSError):
        pass
    print(
        f"{'tokens':>8} {'load':>5} {'backend':>15} {'seconds (runs)':>24} {'GFLOP/s':>8} {'GEMM GF/s':>9} "
        f"{'% GEMM':>6} {'peak RSS MB':>11} {'weights MB':>10} {'others':>6}",
        flush=True,
    )
    results = {}  # (n, load, backend label) -> result
    try:
        for n in lens:
            for load in common.loads(args.busy):
                for api in apis:
                    r = _led_row(args, n, api)
                    results[(n, load, f"led_ref {api}")] = r
                    report.row(doc, f"encoder seconds @ {n} tokens", "numpy", r, load=load, api=api)
                    print(_line(n, load, f"led_ref {api}", r), flush=True)
                if args.hf_python:
                    r = _hf_row(args, n)
                    results[(n, load, "HF")] = r
                    report.row(doc, f"encoder seconds @ {n} tokens", "hf", r, load=load, api=None)
                    print(_line(n, load, "HF", r), flush=True)
    except common.BusyStartError as exc:
        return common.busy_error("tools.bench.encoder", exc)
    doc["summary"] = summary(results, lens, apis)
    for item in doc["summary"]:
        print(item["line"])
    try:
        print(f"load average (1 min) after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    except (AttributeError, OSError):
        pass
    if args.json:
        report.write(doc, args.json)
        print(f"wrote {args.json}")
    return 0


def summary(results, lens, apis):
    """The goal ratios per length and API, each a dict with its ``line``: slow-down (worst busy run / quiet median),
    led_ref vs HF beside the busy process (HF's busy median / led_ref's worst busy run) and quiet (medians)."""
    out = []

    def ok(r):
        return r is not None and "runs" in r

    for n in lens:
        hf_q, hf_b = results.get((n, "quiet", "HF")), results.get((n, "busy", "HF"))
        for api in apis:
            q, b = results.get((n, "quiet", f"led_ref {api}")), results.get((n, "busy", f"led_ref {api}"))
            if not ok(q):
                continue
            item = {"seq_len": n, "api": api, "quiet_median_s": statistics.median(q["runs"])}
            parts = []
            if ok(b):
                worst = max(b["runs"])
                item.update(busy_worst_s=worst, slowdown=worst / item["quiet_median_s"])
                parts.append(
                    f"slow-down beside one busy process: worst busy run {worst:.2f} s / quiet median "
                    f"{item['quiet_median_s']:.2f} s = {item['slowdown']:.2f}x "
                    f"({'met' if item['slowdown'] <= GOAL_SLOWDOWN else 'NOT met'}: goal <= {GOAL_SLOWDOWN}x)"
                )
                if ok(hf_q) and ok(hf_b):
                    item["hf_slowdown"] = max(hf_b["runs"]) / statistics.median(hf_q["runs"])
                    parts[-1] += f", HF {item['hf_slowdown']:.2f}x"
                if ok(hf_b):
                    item["busy_vs_hf"] = statistics.median(hf_b["runs"]) / worst
                    parts.append(
                        f"beside one busy process vs HF: HF median {statistics.median(hf_b['runs']):.2f} s / worst "
                        f"led_ref run {worst:.2f} s = {item['busy_vs_hf']:.2f}x "
                        f"({'met' if item['busy_vs_hf'] >= GOAL_BUSY_VS_HF else 'NOT met'}: goal >= "
                        f"{GOAL_BUSY_VS_HF}x)"
                    )
            if ok(hf_q):
                item["quiet_vs_hf"] = statistics.median(hf_q["runs"]) / item["quiet_median_s"]
                parts.append(f"quiet vs HF (medians) {item['quiet_vs_hf']:.2f}x")
            if parts:
                item["line"] = f"{n:>8} {api:>7} API: " + "; ".join(parts)
                out.append(item)
    return out


def _led_row(args, n, api):
    kw = dict(seq_len=n, size=args.size, repeat=args.repeat, dtype=args.dtype)
    if args.in_process:
        return encoder_seconds(**kw)
    return common.run_isolated(
        "led_ref.app.benchmarks.encoder", "encoder_seconds", kw, timeout=3600, threads=args.threads, api=api
    )


def _hf_row(args, n):
    return common.run_isolated(
        "led_ref.app.benchmarks.common",
        "hf_encoder_seconds",
        dict(seq_len=n, size=args.size, repeat=args.repeat, threads=args.threads),
        python=args.hf_python,
        timeout=3600,
        threads=args.threads,
    )


def _line(n, load, label, r):
    if "error" in r:
        return f"{n:>8} {load:>5} {label:>15} error: {r['error']}"
    gflops = r.get("gflop_per_s") or r["flops"] / 1e9 / r["seconds"]
    gemm = r.get("gemm_gflop_per_s")
    pct = f"{100 * gflops / gemm:>5.0f}%" if gemm else f"{'':>6}"
    weights = r.get("weights_bytes")
    return (
        f"{n:>8} {load:>5} {label:>15} {r['seconds']:>7.2f} ({_fmt_runs(r):>15}) {gflops:>8.1f} "
        f"{gemm if gemm else float('nan'):>9.1f} {pct} {r['peak_rss_bytes'] / 2**20:>11.0f} "
        f"{weights / 2**20 if weights else float('nan'):>10.0f} {_others(r):>6}"
    )


def _others(r):
    """Cores that other processes took while the row ran (``common.OtherLoad``): a "quiet" row on a shared machine
    is quiet only when this is near 0."""
    return "" if r.get("others_cores") is None else f"{r['others_cores']:.2f}"


if __name__ == "__main__":
    sys.exit(main())
