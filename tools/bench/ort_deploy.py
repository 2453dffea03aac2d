"""ONNX Runtime deployment rows: float vs int8, batch 1 vs 8, merged vs separate decoders.

    python -m tools.bench.ort_deploy [--seq-len 1024] [--new-tokens 16] [--hf-python PATH] [--size base]

Exports a seeded random model of the shape (led-base by default) once, quantizes it to int8, then each row in
its own process: encoder seconds (float, int8), greedy decode ms/token and new tokens/s at batch 1 and 8 (float,
int8; the encoder pass not counted), generation peak RSS with the merged decoder vs the two separate decoders,
and HF transformers' encoder seconds and decode ms/token (batch 1) with ``--hf-python``. File sizes float vs int8.
``--rows`` picks a subset and ``--work-dir`` keeps the exports for the next run, so a long measurement can be split
into short ones (the batch-8 rows decode documents of lengths seq_len down to seq_len/8, like `led-ref bench`).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

from led_ref.app.benchmarks import common
from led_ref.app.benchmarks.ort_deploy import _MOD, dir_bytes

ROWS = ("sizes", "encoder", "decode", "rss", "hf")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.bench.ort_deploy", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=sorted(common.SIZES), default="base")
    p.add_argument("--seq-len", type=int, default=1024, help="encoder input length per document (default 1024)")
    p.add_argument("--encoder-lens", default="4096", help="lengths of the encoder float/int8 rows")
    p.add_argument("--new-tokens", type=int, default=16)
    p.add_argument("--hf-python", metavar="PATH")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument(
        "--rows",
        default=",".join(ROWS),
        help=f"comma-separated subset of {','.join(ROWS)} (split a long run into several short ones)",
    )
    p.add_argument(
        "--work-dir",
        metavar="DIR",
        help="keep the float/int8 exports in DIR and reuse them on the next run (default: a temporary "
        "directory, removed)",
    )
    args = p.parse_args(argv)
    enc_lens = [int(s) for s in args.encoder_lens.split(",") if s.strip()]
    rows_wanted = {r.strip() for r in args.rows.split(",") if r.strip()}
    if rows_wanted - set(ROWS):
        raise SystemExit(f"--rows: unknown {sorted(rows_wanted - set(ROWS))}; choose from {','.join(ROWS)}")
    if args.seq_len < 8 or args.new_tokens < 1 or any(n < 2 for n in enc_lens):
        raise SystemExit("--seq-len must be >= 8, --encoder-lens >= 2 and --new-tokens >= 1")
    root = args.work_dir or tempfile.mkdtemp(prefix="led-ref-ort-deploy-")
    iso = dict(timeout=args.timeout)
    fl, q8 = os.path.join(root, "float"), os.path.join(root, "int8")
    try:
        print(f"machine: {common.machine_info()}")
        if not (os.path.isfile(os.path.join(fl, "encoder_model.onnx")) and os.path.isdir(q8)):
            r = common.run_isolated(
                _MOD, "prepare", {"root": root, "size": args.size, "seq_len": max([args.seq_len] + enc_lens)}, **iso
            )
            if "error" in r:
                raise SystemExit(f"export failed: {r['error']}")
            print(f"export {r['export_seconds']:.0f} s, int8 quantization {r['quantize_seconds']:.0f} s")
        if "sizes" in rows_wanted:
            from led_ref.export.quantize import QUANT_INFO_FILE

            with open(os.path.join(q8, QUANT_INFO_FILE), encoding="utf-8") as f:
                sizes = {k: (v["float"], v["quantized"]) for k, v in json.load(f)["bytes"].items()}
            sizes["whole directory"] = (dir_bytes(fl), dir_bytes(q8))
            for name, (f, q) in sizes.items():
                print(f"  {name:<30} float {f / 2**20:8.1f} MB  int8 {q / 2**20:8.1f} MB  ({100 * q / f:.1f}%)")
        if "encoder" in rows_wanted:
            for n in enc_lens:
                a = common.run_isolated(_MOD, "row_encoder", {"onnx_dir": fl, "size": args.size, "seq_len": n}, **iso)
                b = common.run_isolated(_MOD, "row_encoder", {"onnx_dir": q8, "size": args.size, "seq_len": n}, **iso)
                h = (
                    common.run_isolated(
                        "led_ref.app.benchmarks.common",
                        "hf_encoder_seconds",
                        {"seq_len": n, "size": args.size},
                        python=args.hf_python,
                        **iso,
                    )
                    if args.hf_python and "hf" in rows_wanted
                    else None
                )
                if "error" in a or "error" in b:
                    print(f"encoder @ {n}: {a.get('error') or b.get('error')}")
                    continue
                line = (
                    f"encoder @ {n:>5} tokens   float {a['seconds']:.2f} s ({a['peak_rss_bytes'] / 2**20:,.0f} MB)"
                    f"   int8 {b['seconds']:.2f} s ({b['peak_rss_bytes'] / 2**20:,.0f} MB)   int8 speed-up "
                    f"{a['seconds'] / b['seconds']:.2f}x (goal 1.7x)"
                )
                if h is not None:
                    line += (
                        f"   HF eager {h['seconds']:.2f} s ({h['peak_rss_bytes'] / 2**20:,.0f} MB)"
                        if "error" not in h
                        else f"   HF: {h['error']}"
                    )
                print(line, flush=True)
        rows = {}
        if "decode" in rows_wanted:
            for kind, d in (("float", fl), ("int8", q8)):
                for batch in (1, 8):
                    rows[kind, batch] = common.run_isolated(
                        _MOD,
                        "row_decode",
                        {
                            "onnx_dir": d,
                            "size": args.size,
                            "seq_len": args.seq_len,
                            "batch": batch,
                            "new_tokens": args.new_tokens,
                        },
                        **iso,
                    )
            print(
                f"greedy decoding, {args.seq_len}-token documents (batch 8: lengths {args.seq_len} down to "
                f"{args.seq_len // 8}), {args.new_tokens} cached steps after step 1:"
            )
            for (kind, batch), res in rows.items():
                if "error" in res:
                    print(f"  {kind:<5} batch {batch}: {res['error']}")
                    continue
                print(
                    f"  {kind:<5} batch {batch}: {res['ms_per_step']:7.1f} ms/step  {res['tokens_per_s']:7.1f} new "
                    f"tokens/s  peak RSS {res['peak_rss_bytes'] / 2**20:,.0f} MB"
                )
            for kind in ("float", "int8"):
                a, b = rows[kind, 1], rows[kind, 8]
                if "error" not in a and "error" not in b:
                    print(
                        f"  {kind}: batch 8 / batch 1 new tokens/s = {b['tokens_per_s'] / a['tokens_per_s']:.2f}x "
                        "(goal 3x)"
                    )
            a, b = rows["float", 1], rows["int8", 1]
            if "error" not in a and "error" not in b:
                print(
                    f"  int8 / float decode step speed-up (batch 1) = {a['ms_per_step'] / b['ms_per_step']:.2f}x "
                    "(goal 1.7x)"
                )
        if "rss" in rows_wanted:
            kw = {"size": args.size, "seq_len": args.seq_len, "batch": 1, "new_tokens": args.new_tokens}
            for kind, d in (("float", fl), ("int8", q8)):
                m = common.run_isolated(_MOD, "row_decode", dict(kw, onnx_dir=d), **iso)
                sep = common.run_isolated(_MOD, "row_decode", dict(kw, onnx_dir=d, use_merged=False), **iso)
                if "error" in m or "error" in sep:
                    print(f"  generation peak RSS {kind}: {m.get('error') or sep.get('error')}")
                    continue
                print(
                    f"  generation peak RSS, {kind} batch 1: merged decoder {m['peak_rss_bytes'] / 2**20:,.0f} MB "
                    f"({m['ms_per_step']:.1f} ms/step) vs separate decoders {sep['peak_rss_bytes'] / 2**20:,.0f} MB "
                    f"({sep['ms_per_step']:.1f} ms/step)",
                    flush=True,
                )
        if args.hf_python and "hf" in rows_wanted:
            hf = common.run_isolated(
                "led_ref.app.benchmarks.common",
                "hf_decode_ms_per_token",
                {"seq_len": args.seq_len, "new_tokens": args.new_tokens, "size": args.size},
                python=args.hf_python,
                **iso,
            )
            print(
                f"  HF transformers batch 1: {hf.get('ms_per_token', float('nan')):.1f} ms/token "
                f"(incl. step 1), generation peak RSS {hf.get('peak_rss_bytes', 0) / 2**20:,.0f} MB "
                f"{hf.get('error', '')}"
            )
    finally:
        if not args.work_dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
