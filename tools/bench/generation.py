"""Generation benchmark: ms per generated token (KV cache on), led_ref vs HF transformers generate().

    python -m tools.bench.generation [--seq-len 4096] [--new-tokens 32] [--beams 1,4]
                                            [--hf-python /path/to/hf-venv/bin/python] [--size base|tiny] [--breakdown]
                                            [--rows 1x1,1x4,8x1] [--busy] [--repeat N] [--api library,cli]
                                            [--json PATH]

One random led-base-shaped checkpoint (d_model 768, 6+6 layers, 12 heads, ffn 3072, window 1024, vocab 50265) is
written with ``init_params`` + ``save_params``; led_ref loads it with ``from_pretrained`` and HF (in the interpreter
given by ``--hf-python``, a subprocess) loads the same directory with ``LEDForConditionalGeneration.from_pretrained``.
Each measurement runs in its own process. Rows (``--rows``, BATCHxBEAMS): greedy, beam 4, and batch 8 greedy over
documents of different lengths (seq_len down to seq_len/8); ``--busy`` repeats them beside one competing CPU-bound
process (the ``others`` column: cores other processes took meanwhile, ``common.OtherLoad``); ``--repeat N`` runs N
interleaved rounds of the rows and takes each ratio within a round (``summary_lines``).
The bandwidth floor printed beside each row is the bytes a step must read (``step_bytes``: decoder weights,
LM head, the inputs' cross-attention keys/values) over the copy bandwidth measured in the same process; the floor
goal divides by the round's bandwidth instead (``round_bandwidth``: the median of every led_ref row's reading in that
round and load), since one process's reading swings by more than the goal's margin. Both run the
full ``generate()`` with ``min_new_tokens = max_new_tokens``
(so every run decodes the same number of steps) and global attention on the first token; a per-step timestamp
(led_ref: ``step_callback``; HF: a no-op LogitsProcessor) gives:
  - ``ms_per_token``: steady-state decoding, (t_last_step - t_first_step) / (steps - 1), i.e. without the encoder
    and without the first step (which computes the cross-attention keys/values over the whole input);
  - ``first_step_s`` (encoder + first decoder step) and ``total_s`` (the whole generate call).
Speed does not depend on the weight values; random weights give near-flat logits, so the two backends' tokens may
differ (``tokens_equal`` is reported, not asserted -- equality is tested on the goldens).
``--api`` says how the led_ref rows run: "library" (default, backend ``lib``), as a program that imports led_ref and
calls nothing else; "cli" (backend ``cli``), after the command line's threading setup; "library,cli" runs both, one
after the other in each round. ``--json PATH`` writes every row and the goal ratios (``tools.bench.report``).
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile

from led_ref.app.benchmarks import common
from led_ref.app.benchmarks.generation import PARTS, make_checkpoint
from tools.bench import report
from tools.bench.encoder import parse_apis

# The backend label of led_ref's rows per --api, and HF's
API_LABEL = {"library": "lib", "cli": "cli"}
# Goals of a quiet machine (led-base, 4,096 tokens): greedy step <= 1.5x the bandwidth floor, beam-4 step <= 1.5x the
# greedy step (worst round), batch-8 new tokens/s >= 3.5x batch 1 (median of the rounds)
GOAL_FLOOR, GOAL_BEAM, GOAL_BATCH = 1.5, 1.5, 3.5


def generation_ms_per_token(
    seq_len=4096,
    new_tokens=32,
    num_beams=1,
    size="base",
    hf_python=None,
    timeout=1800,
    hf_threads=None,
    batch=1,
    threads=None,
    checkpoint=None,
    breakdown=False,
    apis=("library",),
):
    """One benchmark row: {"lib": {...}, "cli": {...}, "hf": {...}} (led_ref's rows for each of ``apis``, then HF's when
    ``hf_python`` is given), each measured in its own process."""
    tmp = None
    try:
        if checkpoint is None:
            tmp = checkpoint = tempfile.mkdtemp(prefix="led-ref-genbench-")
            make_checkpoint(tmp, size=size, seq_len=seq_len)
        kw = dict(checkpoint=checkpoint, seq_len=seq_len, new_tokens=new_tokens, num_beams=num_beams, batch=batch)
        row = {}
        for api in apis:
            row[API_LABEL[api]] = common.run_isolated(
                "led_ref.app.benchmarks.generation",
                "numpy_generate",
                dict(kw, breakdown=breakdown),
                timeout=timeout,
                threads=threads,
                api=api,
            )
        if hf_python:
            row["hf"] = common.run_isolated(
                "led_ref.app.benchmarks.generation",
                "hf_generate",
                dict(kw, threads=hf_threads),
                python=hf_python,
                timeout=timeout,
                threads=hf_threads,
            )
            first = row[API_LABEL[apis[0]]]
            if "sequences" in row["hf"] and "sequences" in first:
                row["tokens_equal"] = row["hf"]["sequences"] == first["sequences"]
        return row
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument(
        "--rows",
        default="1x1,1x4,8x1",
        help="comma-separated BATCHxBEAMS rows (default 1x1,1x4,8x1: greedy, beam 4, batch 8 greedy); "
        "a batch of B holds documents of lengths seq_len down to seq_len/B",
    )
    ap.add_argument("--beams", default=None, help="comma-separated beam widths at batch 1 (replaces --rows)")
    ap.add_argument("--size", choices=sorted(common.SIZES), default="base")
    ap.add_argument("--hf-python", default=None, help="python with transformers (e.g. /path/to/hf-venv/bin/python)")
    ap.add_argument("--threads", type=int, default=None, help="led_ref threads (default: its policy) and torch's")
    ap.add_argument("--hf-threads", type=int, default=None, help="torch.set_num_threads for HF (default: --threads)")
    ap.add_argument(
        "--busy", action="store_true", help="run every row again beside one competing CPU-bound process started here"
    )
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also time led_ref's step by part (self-attention, cross-attention, feed-forward, LM head) "
        "with the bytes each reads",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of all the rows, interleaved (round 1: every row, round 2: every row, ...): a ratio "
        "is taken within each round, so a machine whose speed drifts between rows moves both sides; "
        "the summary prints each round's ratio and their median",
    )
    ap.add_argument(
        "--api",
        default="library",
        help="how the led_ref rows run: library (a plain `import led_ref` program), cli (after the command line's "
        "threading setup), or both: library,cli",
    )
    ap.add_argument("--json", metavar="PATH", help="also write every row and the goal ratios to PATH")
    args = ap.parse_args(argv)
    try:
        apis = parse_apis(args.api)
    except ValueError as exc:
        ap.error(str(exc))
    if args.seq_len < 8 or args.new_tokens < 3:
        ap.error("--seq-len must be >= 8 and --new-tokens >= 3")
    if not 1 <= args.repeat <= 100:
        ap.error(f"--repeat must be between 1 and 100, got {args.repeat}")
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads must be >= 1, got {args.threads}")
    try:
        if args.beams:
            rows = [(1, int(b)) for b in args.beams.split(",")]
        else:
            rows = [tuple(int(v) for v in r.lower().split("x")) for r in args.rows.split(",")]
        if any(len(r) != 2 or min(r) < 1 for r in rows):
            raise ValueError
    except ValueError:
        ap.error(f"--rows must be comma-separated BATCHxBEAMS pairs of integers >= 1, got {args.rows!r}")
    hf_threads = args.hf_threads or args.threads
    doc = report.start(
        "tools.bench.generation",
        argv,
        busy=bool(args.busy),
        plan={
            "seq_len": args.seq_len,
            "new_tokens": args.new_tokens,
            "rows": [f"{b}x{nb}" for b, nb in rows],
            "size": args.size,
            "repeat": args.repeat,
            "apis": apis,
        },
        shape=common.SIZES[args.size],
        hf_versions=common.interpreter_versions(args.hf_python) if args.hf_python else None,
    )
    info = doc["machine"]
    print(
        f"machine: {info['cpu']}, {info['cores_usable']} usable cores, numpy {info['numpy']} ({info['blas']}), "
        f"load average {info['load_avg_1m']} at the start"
    )
    if args.hf_python:
        print(f"HF: {json.dumps(doc['hf_versions'])}")
    print(
        f"shape: {args.size}, input {args.seq_len} tokens (global attention on <s>), {args.new_tokens} new tokens, "
        f"KV cache on; batch B: lengths {args.seq_len} down to {args.seq_len}/B; led_ref rows: "
        + ", ".join(f"{API_LABEL[a]} = {a} API" for a in apis)
    )
    print(
        f"{'load':>5} {'batch':>5} {'beams':>5} {'backend':>7} {'ms/step':>8} {'new tok/s':>9} {'floor ms':>8} "
        f"{'x floor':>7} {'first step s':>12} {'total s':>8} {'peak GB':>7} {'others':>6}"
    )
    tmp = tempfile.mkdtemp(prefix="led-ref-genbench-")
    results = {}
    try:
        make_checkpoint(tmp, size=args.size, seq_len=args.seq_len)
        for load in common.loads(args.busy):
            for round_ in range(args.repeat):
                for batch, nb in rows:
                    row = generation_ms_per_token(
                        args.seq_len,
                        args.new_tokens,
                        nb,
                        args.size,
                        args.hf_python,
                        hf_threads=hf_threads,
                        batch=batch,
                        threads=args.threads,
                        checkpoint=tmp,
                        breakdown=args.breakdown,
                        apis=apis,
                    )
                    results.setdefault((load, batch, nb), []).append(row)
                    _print_row(load, batch, nb, row)
                    for backend, res in row.items():
                        if isinstance(res, dict):
                            report.row(
                                doc,
                                f"decode ms/step ({args.seq_len} in, batch {batch}, beams {nb})",
                                "hf" if backend == "hf" else "numpy",
                                res,
                                load=load,
                                api=None if backend == "hf" else next(a for a in apis if API_LABEL[a] == backend),
                                round=round_ + 1,
                                batch=batch,
                                beams=nb,
                            )
                bw = round_bandwidth(results, load, round_)
                if bw:
                    print(
                        f"{load:>5} round {round_ + 1}: copy bandwidth {bw['median'] / 1e9:.1f} GB/s, the median of "
                        f"{bw['readings']} readings ({bw['low'] / 1e9:.1f}-{bw['high'] / 1e9:.1f} GB/s); the round's "
                        "floors divide by it",
                        flush=True,
                    )
    except common.BusyStartError as exc:
        return common.busy_error("tools.bench.generation", exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    doc["summary"] = summary(results)
    for item in doc["summary"]:
        print(item["line"])
    if args.json:
        report.write(doc, args.json)
        print(f"wrote {args.json}")
    return 0


def floor_ms(res, bandwidth=None):
    """A led_ref row's bandwidth floor in ms: ``step_bytes`` / ``bandwidth`` (a ``round_bandwidth``), or without one
    the copy bandwidth measured in the row's own process; None when the row has no such figures (HF rows, failed
    rows)."""
    copy = bandwidth["median"] if bandwidth else res.get("copy_bytes_per_s")
    if res.get("step_bytes") and copy:
        return 1000 * res["step_bytes"] / copy
    return None


def round_bandwidth(results, load, round_):
    """The copy bandwidth that round ``round_`` (0-based) of ``load`` divides its floors by: the median of the
    readings of every led_ref row of that round (each row's process measures it after its generate(); HF rows have
    none), with their count, low and high; None when the round has no reading. On a shared machine one reading swings
    by more than the floor goal's margin (each round prints its low and high), the median of a round's readings much
    less, and every row of the round is judged against the same floor."""
    readings = [
        res["copy_bytes_per_s"]
        for (ld, _, _), runs in results.items()
        if ld == load and round_ < len(runs)
        for res in runs[round_].values()
        if isinstance(res, dict) and res.get("copy_bytes_per_s")
    ]
    if not readings:
        return None
    return {
        "median": statistics.median(readings),
        "readings": len(readings),
        "low": min(readings),
        "high": max(readings),
    }


def summary(results):
    """The goals' ratios from ``results`` {(load, batch, beams): [row of round 1, row of round 2, ...]}, each taken
    within a round (rows of one round ran minutes apart, rounds may not): greedy step / bandwidth floor (the step's
    bytes over ``round_bandwidth``), beam-B step / greedy step, batch-B new tokens/s / batch-1 new tokens/s, per
    backend (led_ref's per API, HF); with --busy also each busy round's greedy step over the same quiet round's.
    Each item: ``load``, ``backend``, ``ratio``, ``rounds`` (every round's value; a round whose either side failed is
    left out), ``median``, ``worst``, the ``goal`` and whether it is ``met`` where one applies (quiet rows: the floor
    and beam goals on the worst round, batch 8 on the median), and the printed ``line``."""

    def ms(row, backend):
        r = (row or {}).get(backend) or {}
        return r.get("ms_per_token")

    def item(load, backend, ratio, values, goal=None, higher_is_better=False):
        values = [v for v in values if v is not None]
        if not values:
            return None
        med = statistics.median(values)
        worst = min(values) if higher_is_better else max(values)
        res = {"load": load, "backend": backend, "ratio": ratio, "rounds": values, "median": med, "worst": worst}
        text = f"{load:>5} {backend:>7}: {ratio} = {med:.2f}x"
        if len(values) > 1:
            text += f", worst {worst:.2f}x (rounds: {', '.join(f'{v:.2f}' for v in values)})"
        if goal is not None:
            judged = med if ratio.startswith("batch-") else worst
            met = judged >= goal if higher_is_better else judged <= goal
            res.update(goal=goal, met=met)
            text += (
                f" -- goal {'>=' if higher_is_better else '<='} {goal}x on the "
                f"{'median' if ratio.startswith('batch-') else 'worst round'}: {'met' if met else 'NOT met'}"
            )
        res["line"] = text
        return res

    backends = list(dict.fromkeys(k for runs in results.values() for row in runs for k in row if k != "tokens_equal"))
    out = []
    for load in ("quiet", "busy"):
        greedy = results.get((load, 1, 1), [])
        bandwidths = [round_bandwidth(results, load, i) for i in range(len(greedy))]  # shared by every backend
        for backend in backends:
            if not any(ms(row, backend) for row in greedy):
                continue
            quiet = load == "quiet"
            if backend != "hf":
                floors = [
                    (ms(row, backend), floor_ms(row.get(backend) or {}, bw)) for row, bw in zip(greedy, bandwidths)
                ]
                floor_item = item(
                    load,
                    backend,
                    "greedy step / bandwidth floor",
                    [m / f if m and f else None for m, f in floors],
                    GOAL_FLOOR if quiet else None,
                )
                if floor_item:
                    floor_item["round_bandwidths"] = bandwidths
                out.append(floor_item)
            if not quiet:
                pairs = [(ms(q, backend), ms(b, backend)) for q, b in zip(results.get(("quiet", 1, 1), []), greedy)]
                values = [b / q if q and b else None for q, b in pairs]
                out.append(item(load, backend, "greedy step / quiet greedy step", values))
            for (ld, batch, nb), runs in results.items():
                if ld != load or (batch, nb) == (1, 1):
                    continue
                pairs = [(ms(g, backend), ms(r, backend)) for g, r in zip(greedy, runs)]
                if nb > 1:
                    values = [r / g if g and r else None for g, r in pairs]
                    rows_label = f"batch-{batch} beam-{nb}" if batch > 1 else f"beam-{nb}"
                    goal = GOAL_BEAM if quiet and backend != "hf" and (batch, nb) == (1, 4) else None
                    out.append(item(load, backend, f"{rows_label} step / greedy step", values, goal))
                else:
                    values = [batch * g / r if g and r else None for g, r in pairs]
                    goal = GOAL_BATCH if quiet and backend != "hf" and batch == 8 else None
                    out.append(item(load, backend, f"batch-{batch} new tokens/s / batch-1", values, goal, True))
    return [x for x in out if x]


def summary_lines(results):
    """The printed lines of ``summary(results)``."""
    return [x["line"] for x in summary(results)]


def _print_row(load, batch, nb, row):
    for name, r in row.items():
        if not isinstance(r, dict):
            continue
        if "error" in r:
            print(f"{load:>5} {batch:>5} {nb:>5} {name:>7}  error: {r['error']}")
            continue
        floor = ratio = ""
        fl = floor_ms(r)
        if fl:
            floor, ratio = f"{fl:.1f}", f"{r['ms_per_token'] / fl:.2f}x"
        print(
            f"{load:>5} {batch:>5} {nb:>5} {name:>7} {r['ms_per_token']:>8.1f} "
            f"{1000 * batch / r['ms_per_token']:>9.1f} {floor:>8} {ratio:>7} {r['first_step_s']:>12.2f} "
            f"{r['total_s']:>8.2f} {r['peak_rss_bytes'] / 1e9:>7.2f} {_others(r):>6}",
            flush=True,
        )
    for name, r in row.items():
        if name != "hf" and isinstance(r, dict):
            _print_details(load, batch, nb, name, r)


def _others(r):
    """Cores that other processes took while the row ran (``common.OtherLoad``; near 0 on a machine as quiet, or as
    busy, as intended)."""
    return "" if r.get("others_cores") is None else f"{r['others_cores']:.2f}"


def _print_details(load, batch, nb, name, r):
    if r.get("part_ms"):
        ms, nbytes = r["part_ms"], r["part_bytes"]
        shown = ", ".join(
            f"{k} {ms[k]:.1f} ({nbytes[k] / 1e6:.1f} MB, {nbytes[k] / ms[k] / 1e6:.1f} GB/s)" if ms[k] > 0 else f"{k} 0"
            for k in PARTS
        )
        print(f"      {name} ms/step by part: {shown}, rest {r['ms_per_token'] - sum(ms.values()):.1f}")
    pieces = r.get("pieces")
    if pieces and sum(pieces.values()):
        print(
            f"      {name} projection / LM-head pieces of the steps after the first: {pieces['workers']} of "
            f"{sum(pieces.values())} ({100 * pieces['workers'] / sum(pieces.values()):.0f}%) on pool workers"
        )
    if r.get("step_bytes") and batch == 1 and nb == 1 and load == "quiet":
        print(
            f"      floor = {r['step_bytes'] / 1e6:.0f} MB a step must read / measured copy bandwidth "
            f"{r['copy_bytes_per_s'] / 1e9:.1f} GB/s (read + write); {r.get('threading', '')}"
        )
    if r.get("one_row") and batch == 1 and nb == 1 and r["one_row"].get("last_share") is not None:
        state = r["one_row"]
        ended = "on the pool (busy)" if state["busy"] else "with BLAS threads"
        print(
            f"      {load} {name} greedy: one-row steps ended {ended}, last step's CPU share "
            f"{state['last_share']:.2f} (threads.one_row_step)"
        )


if __name__ == "__main__":
    sys.exit(main())
