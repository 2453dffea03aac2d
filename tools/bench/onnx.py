"""ONNX Runtime encoder benchmark at the led-base shape (spec/SPEC.md#onnx-export).

    python -m tools.bench.onnx [--seq-lens 4096,16384] [--hf-python /path/to/venv/bin/python]
                                      [--providers CPUExecutionProvider] [--repeat 3] [--threads N]

Exports the encoder of a seeded random led-base-shaped model (d_model 768, 6 layers, 12 heads,
ffn 3072, window 1024; one global token, like LED summarization) and times one forward pass per
length on ONNX Runtime, the NumPy reference and (with ``--hf-python``) HF transformers' torch eager
encoder in that interpreter. Every row runs in its own process. Goals: ORT >= 3x HF eager, ORT peak
RSS <= encoder weights (the .onnx file) + 1.5 GiB.
Prints the ORT-vs-NumPy max error at each length too (relative to the output's max abs value).
"""

import argparse
import os
import sys
import tempfile
import time

from led_ref.app.benchmarks import common

GOAL_VS_HF = 3.0
GOAL_RSS_BEYOND_WEIGHTS = 1.5 * 2**30  # the deployment goal: encoder peak RSS <= weights + 1.5 GiB at 16k


def _config(seq_len):
    from led_ref.config import LEDConfig

    shape = dict(common.LED_BASE)
    shape["max_encoder_position_embeddings"] = max(shape["max_encoder_position_embeddings"], seq_len)
    return LEDConfig(**shape)


def export_encoder(out_dir, max_len, fp16=False):
    """Seeded random led-base weights -> ``encoder_model.onnx`` in out_dir (run in a child process)."""
    import numpy as np

    from led_ref.export.onnx_export import export_model
    from led_ref.weights import init_params

    cfg = _config(max_len)
    params = init_params(cfg, "lm", seed=0, dtype=np.float32)
    t0 = time.perf_counter()
    export_model(cfg, params, out_dir, head="lm", fp16=fp16, log=lambda s: None, parts=("encoder",))
    return {
        "export_seconds": time.perf_counter() - t0,
        "onnx_bytes": os.path.getsize(os.path.join(out_dir, "encoder_model.onnx")),
    }


def ort_encoder_seconds(onnx_dir, seq_len, repeat=1, threads=None, providers=None, check=False):
    """One ORT encoder pass at seq_len (median of ``repeat``); with ``check`` also the max error vs NumPy."""
    import numpy as np
    import onnxruntime as ort

    from led_ref.export.ort import OrtSession
    from led_ref.export.runtime_options import session_options

    # the runtime class's own options (arena, threads, arena shrinkage after the run), as users get them
    opts = session_options(int(threads) if threads else None)
    sess = OrtSession(
        os.path.join(onnx_dir, "encoder_model.onnx"), providers=providers, session_options=opts, expect_file="encoder"
    )
    cfg = _config(seq_len)
    ids, mask, glob = common.random_inputs(1, seq_len, cfg.vocab_size)
    feeds = {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}
    sess.run({k: v[:, :64] for k, v in feeds.items()})  # warm-up
    t = common.time_call(lambda: sess.run(feeds), repeat=repeat)
    out = t["result"]["last_hidden_state"]
    res = {
        "seconds": t["seconds"],
        "runs": t["runs"],
        "providers": sess.session.get_providers(),
        "ort": ort.__version__,
        "finite": bool(np.isfinite(out).all()),
    }
    if check:
        ref = numpy_encoder_output(seq_len)
        res["max_error_vs_numpy"] = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
    return res


def weights_bytes(onnx_dir):
    """Size of the encoder's weights: its .onnx file (the initializers are nearly all of it)."""
    return os.path.getsize(os.path.join(onnx_dir, "encoder_model.onnx"))


def numpy_encoder_output(seq_len):
    import numpy as np

    from led_ref import model as led_model
    from led_ref.weights import init_params

    cfg = _config(seq_len)
    model = led_model.LEDForConditionalGeneration(cfg, init_params(cfg, "lm", seed=0, dtype=np.float32))
    ids, mask, glob = common.random_inputs(1, seq_len, cfg.vocab_size)
    return model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob).last_hidden_state


def numpy_encoder_seconds(seq_len, repeat=1):
    import numpy as np

    from led_ref import model as led_model
    from led_ref.weights import init_params

    cfg = _config(seq_len)
    model = led_model.LEDForConditionalGeneration(cfg, init_params(cfg, "lm", seed=0, dtype=np.float32))
    ids, mask, glob = common.random_inputs(1, seq_len, cfg.vocab_size)
    enc = model.get_encoder()
    t = common.time_call(lambda: enc(input_ids=ids, attention_mask=mask, global_attention_mask=glob), repeat=repeat)
    return {"seconds": t["seconds"], "runs": t["runs"]}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.bench.onnx", description=__doc__.split("\n\n")[0])
    p.add_argument("--seq-lens", default="4096,16384", help="encoder lengths (default 4096,16384)")
    p.add_argument("--hf-python", metavar="PATH", help="interpreter with transformers + torch for the HF eager rows")
    p.add_argument(
        "--providers", default=None, help="comma-separated ORT providers (default: CUDA if present, else CPU)"
    )
    p.add_argument("--repeat", type=int, default=1, help="timed runs per row (median reported)")
    p.add_argument("--threads", type=int, default=None, help="threads for every backend (default: library default)")
    p.add_argument("--no-numpy", action="store_true", help="skip the NumPy reference rows")
    p.add_argument("--fp16", action="store_true", help="export and time a float16 encoder")
    p.add_argument("--onnx-dir", help="reuse/keep the exported encoder here (default: a temporary directory)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per row")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate the backends this many times per length and report the fastest round of each "
        "(robust on a shared machine)",
    )
    args = p.parse_args(argv)
    seq_lens = [int(s) for s in args.seq_lens.split(",") if s.strip()]
    if not seq_lens or min(seq_lens) < 1:
        raise SystemExit(f"--seq-lens: need positive ints, got {args.seq_lens!r}")
    providers = args.providers.split(",") if args.providers else None
    tmp = None
    onnx_dir = args.onnx_dir
    if onnx_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="led_ref_onnx_bench_")
        onnx_dir = tmp.name
    print("led-base encoder (d_model 768, 6 layers, 12 heads, ffn 3072, window 1024), batch 1, 1 global token")
    print(f"machine: {common.machine_info()}")
    if not os.path.isfile(os.path.join(onnx_dir, "encoder_model.onnx")):
        r = common.run_isolated(
            "tools.bench.onnx",
            "export_encoder",
            {"out_dir": onnx_dir, "max_len": max(seq_lens), "fp16": args.fp16},
            timeout=args.timeout,
        )
        if "error" in r:
            raise SystemExit(f"export failed: {r['error']}")
        print(f"export: {r['export_seconds']:.1f} s, encoder_model.onnx {r['onnx_bytes'] / 2**20:.0f} MB")
    print(f"{'tokens':>7}  {'backend':<10} {'seconds':>9}  {'vs HF':>7}  notes")
    results = {}
    for n in seq_lens:
        row = {}
        for rnd in range(max(1, args.rounds)):
            got = {
                "onnx": common.run_isolated(
                    "tools.bench.onnx",
                    "ort_encoder_seconds",
                    {
                        "onnx_dir": onnx_dir,
                        "seq_len": n,
                        "repeat": args.repeat,
                        "threads": args.threads,
                        "providers": providers,
                        "check": rnd == 0 and not args.no_numpy and not args.fp16 and n <= 4096,
                    },
                    timeout=args.timeout,
                    threads=args.threads,
                )
            }
            if not args.no_numpy:
                got["numpy"] = common.run_isolated(
                    "tools.bench.onnx",
                    "numpy_encoder_seconds",
                    {"seq_len": n, "repeat": args.repeat},
                    timeout=args.timeout,
                    threads=args.threads,
                )
            if args.hf_python:
                got["hf"] = common.run_isolated(
                    "led_ref.app.benchmarks.common",
                    "hf_encoder_seconds",
                    {"seq_len": n, "size": "base", "repeat": args.repeat, "threads": args.threads},
                    python=args.hf_python,
                    timeout=args.timeout,
                    threads=args.threads,
                )
            for name, res in got.items():  # keep each backend's fastest round
                best = row.get(name)
                if best is None or "error" in best or ("seconds" in res and res["seconds"] < best["seconds"]):
                    res = dict(res, rounds=(best or {}).get("rounds", []) + [res.get("seconds")])
                    if best is not None and "max_error_vs_numpy" in best:
                        res.setdefault("max_error_vs_numpy", best["max_error_vs_numpy"])
                    row[name] = res
                else:
                    best["rounds"] = best.get("rounds", []) + [res.get("seconds")]
        hf_s = row.get("hf", {}).get("seconds")
        for name, res in row.items():
            if "error" in res:
                print(f"{n:>7}  {name:<10} {'n/a':>9}  {'':>7}  {res['error']}")
                continue
            speed = f"{hf_s / res['seconds']:.2f}x" if hf_s else "-"
            notes = []
            if name == "onnx":
                notes.append(",".join(res["providers"]))
                if "max_error_vs_numpy" in res:
                    notes.append(f"max error vs NumPy {res['max_error_vs_numpy']:.2e}")
            if name == "hf":
                notes.append(f"transformers {res.get('transformers')}, torch {res.get('torch')}")
            if len(res.get("rounds", [])) > 1:
                notes.append("best of rounds " + ", ".join(f"{x:.2f}" for x in res["rounds"] if x is not None))
            mem = res.get("peak_rss_bytes")
            if mem:
                notes.append(f"peak RSS {mem / 2**20:,.0f} MB")
            print(f"{n:>7}  {name:<10} {res['seconds']:>9.3f}  {speed:>7}  {'; '.join(notes)}", flush=True)
        results[n] = row
        o, h = row["onnx"].get("seconds"), row.get("hf", {}).get("seconds")
        if o and h:
            verdict = "meets" if h / o >= GOAL_VS_HF else "misses"
            print(f"{n:>7}  ORT / HF eager speed-up {h / o:.2f}x: {verdict} the {GOAL_VS_HF}x goal")
        mem, wbytes = row["onnx"].get("peak_rss_bytes"), weights_bytes(onnx_dir)
        if mem:
            verdict = "meets" if mem - wbytes <= GOAL_RSS_BEYOND_WEIGHTS else "misses"
            print(
                f"{n:>7}  ORT peak RSS {mem / 2**30:.2f} GiB = weights {wbytes / 2**30:.2f} GiB + "
                f"{(mem - wbytes) / 2**30:.2f} GiB: {verdict} the weights + 1.5 GiB goal"
            )
    if tmp is not None:
        tmp.cleanup()
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
