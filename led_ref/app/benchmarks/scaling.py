"""``led-ref bench --scaling``: encoder seconds and peak memory against input length, on log-log axes.

    led-ref bench --scaling --plot scaling.png --json scaling.json             # led-base shape, 512 .. 16384
    led-ref bench --scaling --lengths 1024,4096 --hf-python /path/to/hf-venv/bin/python --plot s.png
    led-ref bench --scaling --quick --plot s.png                               # tiny shape, seconds

Every (length, backend) point is one of the bench's own encoder rows (``row_encoder_numpy``,
``row_encoder_onnx``, ``common.hf_encoder_seconds``), each in its own process, so its peak memory
is its own. The log-log slope of each line is fitted and printed (slope 1 = cost linear in the
length, 2 = quadratic). For comparison, a *computed* (not measured) line: what dense self-attention
of the same shape would cost at the measured GEMM peak (FLOPs / peak) and the bytes of one layer's
dense score matrix. A third panel puts the achieved GFLOP/s (``common.encoder_flops`` / seconds)
against the measured NumPy GEMM peak.
"""

import datetime
import json
import sys

from led_ref.app.benchmarks import common

DEFAULT_LENGTHS = (512, 1024, 2048, 4096, 8192, 16384)
QUICK_LENGTHS = (64, 128, 256, 512)
FIG_PX = (1800, 600)  # the PNG's size in pixels (width, height)
COLORS = {"numpy": "tab:blue", "onnx": "tab:green", "hf": "tab:orange"}
LABELS = {"numpy": "NumPy reference", "onnx": "ONNX Runtime", "hf": "HF transformers"}


def add_cli_arguments(parser):
    g = parser.add_argument_group("scaling plot (--scaling)")
    g.add_argument(
        "--scaling",
        action="store_true",
        help="instead of the table: encoder seconds, peak memory and GFLOP/s against input length, "
        "with fitted log-log slopes (needs matplotlib only for --plot)",
    )
    g.add_argument(
        "--lengths",
        metavar="N,N,..",
        help="--scaling input lengths (default 512,1024,2048,4096,8192,16384; --quick 64,128,256,512)",
    )
    g.add_argument(
        "--size", choices=sorted(common.SIZES), help="--scaling model shape (default base; tiny with --quick)"
    )
    g.add_argument("--plot", metavar="OUT.png", help="--scaling: write the figure here (the plot extra)")


def requested(args):
    """Whether ``bench`` should run the scaling plot; its own options without --scaling are an error."""
    if getattr(args, "scaling", False):
        return True
    stray = [f"--{k}" for k in ("lengths", "size", "plot") if getattr(args, k, None)]
    if stray:
        raise ValueError(f"{', '.join(stray)}: only with --scaling (e.g. led-ref bench --scaling --plot out.png)")
    return False


# ================================================================ pure functions


def parse_lengths(text, limit):
    """``"512,1024"`` -> (512, 1024), sorted and unique; ValueError naming --lengths for anything else."""
    lengths = []
    for part in str(text).split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"--lengths: {part!r} is not a positive integer (give e.g. 512,1024,2048)")
        lengths.append(int(part))
    too_long = [n for n in lengths if n > limit]
    if too_long:
        raise ValueError(
            f"--lengths: {too_long} exceed the model's position limit (max_encoder_position_embeddings = {limit})"
        )
    return tuple(sorted(set(lengths)))


def fit_loglog_slope(x, y):
    """Least-squares line through (log x, log y): returns (slope, intercept), so y ~ exp(intercept) * x ** slope.

    Needs at least two distinct positive x and positive y (ValueError otherwise).
    """
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"fit_loglog_slope: x and y must be 1-D of one length, got {x.shape} and {y.shape}")
    if len(np.unique(x)) < 2:
        raise ValueError("fit_loglog_slope: need at least two distinct x values")
    if not (np.all(x > 0) and np.all(y > 0) and np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("fit_loglog_slope: x and y must be finite and positive (log-log fit)")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


def dense_encoder_flops(seq_len, d_model, ffn_dim, layers):
    """FLOPs of a dense-attention encoder of the same shape (multiply-add = 2), the computed comparison line.

    Per layer over S tokens (no window padding, no global projections): q, k, v, out projections
    4 * 2*S*d^2, FFN 2 * 2*S*d*ffn, scores + weighted sum over all S keys 2 * 2*S*S*d. Counted like
    ``common.encoder_flops`` (which has band width window + 1 where this has S), so the two compare.
    """
    s, d = seq_len, d_model
    return layers * (4 * 2 * s * d * d + 2 * 2 * s * d * ffn_dim + 2 * 2 * s * s * d)


def dense_score_bytes(seq_len, heads, itemsize=4):
    """Bytes of one layer's dense attention scores (heads x S x S float32): the quadratic memory term."""
    return heads * seq_len * seq_len * itemsize


def summarize(entries, backends, shape, gemm_peak):
    """Fitted slopes per backend and the computed dense-attention line, from the measured entries."""
    slopes = {}
    for backend in backends:
        ok = [e for e in entries if e["backend"] == backend and e.get("seconds")]
        s = {"seconds": None, "peak_memory": None, "points": len(ok)}
        if len({e["length"] for e in ok}) >= 2:
            lens = [e["length"] for e in ok]
            s["seconds"] = fit_loglog_slope(lens, [e["seconds"] for e in ok])[0]
            if all(e.get("peak_rss_bytes") for e in ok):
                s["peak_memory"] = fit_loglog_slope(lens, [e["peak_rss_bytes"] for e in ok])[0]
        slopes[backend] = s
    lengths = sorted({e["length"] for e in entries})
    dense = []
    for n in lengths:
        flops = dense_encoder_flops(n, shape["d_model"], shape["encoder_ffn_dim"], shape["encoder_layers"])
        dense.append(
            {
                "length": n,
                "flops": flops,
                "seconds_at_gemm_peak": flops / (gemm_peak * 1e9) if gemm_peak else None,
                "score_bytes_one_layer": dense_score_bytes(n, shape["encoder_attention_heads"]),
            }
        )
    ref = {
        "computed": True,
        "note": "dense self-attention of the same shape: FLOPs / measured GEMM peak, and one layer's "
        "heads x S x S float32 scores (computed, not measured)",
        "points": dense,
        "slope_seconds": None,
        "slope_memory": None,
    }
    if len(lengths) >= 2:
        if gemm_peak:
            ref["slope_seconds"] = fit_loglog_slope(lengths, [p["seconds_at_gemm_peak"] for p in dense])[0]
        ref["slope_memory"] = fit_loglog_slope(lengths, [p["score_bytes_one_layer"] for p in dense])[0]
    return slopes, ref


# ================================================================ the run (parent process)


def _measure(backend, n, size, repeat, onnx_dir, onnx_why, hf_python, hf_why, iso, threads):
    if backend == "numpy":
        return common.run_isolated(
            "led_ref.app.benchmarks", "row_encoder_numpy", {"seq_len": n, "size": size, "repeat": repeat}, **iso
        )
    if backend == "onnx":
        if onnx_dir is None:
            return {"error": f"not available: {onnx_why}"}
        return common.run_isolated(
            "led_ref.app.benchmarks",
            "row_encoder_onnx",
            {"seq_len": n, "onnx_dir": onnx_dir, "size": size, "repeat": repeat},
            **iso,
        )
    if not hf_python:
        return {"error": f"not available: {hf_why}"}
    return common.run_isolated(
        "led_ref.app.benchmarks.common",
        "hf_encoder_seconds",
        {"seq_len": n, "size": size, "repeat": repeat, "threads": threads},
        python=hf_python,
        **iso,
    )


def run_cli(args):
    """``bench --scaling``: measure every (length, backend), print the table and slopes, write JSON / PNG."""
    import os
    import shutil

    from led_ref.app import benchmarks as bench
    from led_ref.app.plotting import check_output_path, require_matplotlib
    from led_ref.app.progress import Progress

    plan = bench._parse_args(args)  # backends, --timeout, --hf-python checks: the bench's own
    size = args.size or ("tiny" if args.quick else "base")
    shape = common.SIZES[size]
    limit = shape["max_encoder_position_embeddings"]
    lengths = (
        parse_lengths(args.lengths, limit) if args.lengths else (QUICK_LENGTHS if size == "tiny" else DEFAULT_LENGTHS)
    )
    if args.plot:
        check_output_path(args.plot, "--plot", suffix=".png")
        require_matplotlib("--plot")  # before the minutes of measuring, not after
    if args.json:
        check_output_path(args.json, "--json")
    backends = plan["backends"]
    iso = dict(timeout=args.timeout, threads=args.threads)
    out = sys.stdout

    info = common.machine_info()
    hf_python, hf_why, hf_versions = bench._hf_python(args) if "hf" in backends else (None, "not requested", None)
    started = datetime.datetime.now(datetime.timezone.utc)
    print(
        f"led-ref bench --scaling: {'led-base' if size == 'base' else 'tiny'} shape (d_model {shape['d_model']}, "
        f"{shape['encoder_layers']} encoder layers, {shape['encoder_attention_heads']} heads, "
        f"window {shape['attention_window']}), lengths {','.join(map(str, lengths))}, "
        f"backends {','.join(backends)}",
        file=out,
    )
    print(
        f"machine: {info['cpu']}, {info['cores_usable']} usable cores, {info['mem_gb']} GB RAM, "
        f"load average {info['load_avg_1m']} at the start, {started:%Y-%m-%d %H:%M} UTC",
        file=out,
    )
    print(file=out)
    table = bench._Table(out)
    table.header()

    g = common.run_isolated("led_ref.app.benchmarks", "row_gemm", {"quick": size == "tiny"}, **iso)
    gemm_peak = g.get("gflops")
    if gemm_peak:
        table.add("GEMM peak GFLOP/s (float32)", "numpy", f"{gemm_peak:.1f}", g.get("peak_rss_bytes"))
    else:
        table.unavailable("GEMM peak GFLOP/s (float32)", "numpy", g.get("error"))

    onnx_dir, onnx_why = None, None
    if "onnx" in backends:
        onnx_dir, onnx_why = bench._prepare_onnx(table, size, iso)
    entries = []
    try:
        with Progress(total=len(lengths), desc="scaling", unit="lengths") as bar:
            for n in lengths:
                for backend in backends:
                    bar.set_description(f"scaling: {backend} @ {n} tokens")
                    r = _measure(
                        backend, n, size, plan["repeat"], onnx_dir, onnx_why, hf_python, hf_why, iso, args.threads
                    )
                    bench._encoder_row(table, f"encoder seconds @ {n} tokens", backend, r, gemm_peak)
                    entries.append(_entry(n, backend, r, shape, gemm_peak))
                bar.update()
    finally:
        if onnx_dir:
            shutil.rmtree(os.path.dirname(onnx_dir), ignore_errors=True)

    slopes, dense = summarize(entries, backends, shape, gemm_peak)
    print(file=out)
    print("fitted log-log slope against length (1 = linear, 2 = quadratic):", file=out)
    for backend, s in slopes.items():
        print(
            f"  {backend:<6} seconds {_fmt_slope(s['seconds'])}, peak memory {_fmt_slope(s['peak_memory'])}"
            f"  ({s['points']} points)",
            file=out,
        )
    print(
        f"  dense  seconds {_fmt_slope(dense['slope_seconds'])}, score memory {_fmt_slope(dense['slope_memory'])}"
        f"  (computed: dense attention of the same shape at the GEMM peak; not measured)",
        file=out,
    )

    report = {
        "command": common.command_line(),
        "date_utc": f"{started:%Y-%m-%d %H:%M}",
        "machine": info,
        "hf_versions": hf_versions,
        "size": size,
        "shape": shape,
        "lengths": list(lengths),
        "backends": backends,
        "gemm_peak_gflops": gemm_peak,
        "entries": entries,
        "slopes": slopes,
        "dense_reference": dense,
    }
    if args.plot:
        w, h = plot_scaling(report, args.plot)
        print(f"wrote {args.plot} ({w} x {h} px)", file=out)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, default=str)
        print(f"wrote {args.json}", file=out)
    return 0


def _entry(n, backend, r, shape, gemm_peak):
    e = {
        "length": n,
        "backend": backend,
        "padded_length": common.padded_length(n, shape["attention_window"]),
        "seconds": None,
        "peak_rss_bytes": None,
        "flops": None,
        "gflop_per_s": None,
        "fraction_of_gemm_peak": None,
        "error": r.get("error"),
    }
    if "error" not in r:
        e.update(
            seconds=r["seconds"],
            peak_rss_bytes=r.get("peak_rss_bytes"),
            flops=r["flops"],
            gflop_per_s=r["flops"] / r["seconds"] / 1e9,
            runs=r.get("runs"),
            gemm_now=r.get("gemm_now"),  # the NumPy row's GEMM rate measured in its own process, if any
        )
        if gemm_peak:
            e["fraction_of_gemm_peak"] = e["gflop_per_s"] / gemm_peak
    return e


def _fmt_slope(s):
    return "n/a" if s is None else f"{round(s, 2) + 0.0:.2f}"  # + 0.0: no "-0.00"


# ================================================================ the figure


def plot_scaling(report, path):
    """Draw ``report`` (what run_cli writes as JSON) to a PNG of FIG_PX pixels; returns (width, height)."""
    import numpy as np

    from led_ref.app.plotting import new_figure, require_matplotlib, save_png

    require_matplotlib("--plot")
    fig = new_figure(*FIG_PX)
    ax_t, ax_m, ax_g = fig.subplots(1, 3)
    dense = report["dense_reference"]
    dl = np.array([p["length"] for p in dense["points"]], dtype=float)

    for backend in report["backends"]:
        ok = [e for e in report["entries"] if e["backend"] == backend and e.get("seconds")]
        if not ok:
            continue
        x = np.array([e["length"] for e in ok], dtype=float)
        color = COLORS.get(backend)
        s = report["slopes"][backend]
        for ax, key, scale, slope in (
            (ax_t, "seconds", 1.0, s["seconds"]),
            (ax_m, "peak_rss_bytes", 2.0**-20, s["peak_memory"]),
        ):
            if not all(e.get(key) for e in ok):
                continue
            y = np.array([e[key] for e in ok], dtype=float) * scale
            label = f"{LABELS.get(backend, backend)}: slope {_fmt_slope(slope)}"
            ax.plot(x, y, "o-", color=color, label=label)
            if slope is not None:  # the fitted line, drawn over the measured span
                b = fit_loglog_slope(x, y)[1]
                xs = np.array([x.min(), x.max()])
                ax.plot(xs, np.exp(b) * xs**slope, ":", color=color, linewidth=1)
        ax_g.plot(x, [e["gflop_per_s"] for e in ok], "o-", color=color, label=LABELS.get(backend, backend))

    if dense["points"] and dense["points"][0]["seconds_at_gemm_peak"]:
        ax_t.plot(
            dl,
            [p["seconds_at_gemm_peak"] for p in dense["points"]],
            "--",
            color="0.35",
            label=f"dense attention, computed (FLOPs / GEMM peak): slope {_fmt_slope(dense['slope_seconds'])}",
        )
    ax_m.plot(
        dl,
        [p["score_bytes_one_layer"] / 2**20 for p in dense["points"]],
        "--",
        color="0.35",
        label=f"dense scores of one layer, computed: slope {_fmt_slope(dense['slope_memory'])}",
    )
    if report.get("gemm_peak_gflops"):
        ax_g.axhline(
            report["gemm_peak_gflops"],
            color="0.35",
            linestyle="--",
            label=f"measured NumPy GEMM peak ({report['gemm_peak_gflops']:.0f})",
        )

    ax_t.set(xscale="log", yscale="log", title="encoder seconds (log-log)", ylabel="seconds")
    ax_m.set(xscale="log", yscale="log", title="peak memory of the process (log-log)", ylabel="MB")
    ax_g.set(xscale="log", title="achieved GFLOP/s (encoder FLOPs / seconds)", ylabel="GFLOP/s")
    ax_g.set_ylim(bottom=0)
    for ax in (ax_t, ax_m, ax_g):
        ax.set_xlabel("input tokens")
        if len(dl):
            ax.set_xticks(dl)
            ax.set_xticklabels([str(int(v)) for v in dl], rotation=45)
            ax.minorticks_off()
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    shape = report["shape"]
    m = report.get("machine") or {}
    fig.suptitle(
        f"LED encoder cost vs input length: {'led-base' if report['size'] == 'base' else 'tiny'} shape "
        f"(d_model {shape['d_model']}, {shape['encoder_layers']} layers, window {shape['attention_window']}), "
        f"batch 1, float32, 1 global token; {m.get('cpu', '?')}, {m.get('cores_usable', '?')} cores, "
        f"{report.get('date_utc', '')} UTC",
        fontsize=10,
    )
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.16, top=0.88, wspace=0.22)
    return save_png(fig, path)
