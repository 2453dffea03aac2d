"""``python -m led_ref bench``: one table of what matters for using LED on a CPU.

Rows: tokenizer tokens/s, encoder seconds at 1k/4k/16k tokens (with achieved GFLOP/s against a
measured NumPy GEMM peak and the row's peak memory), and ms per generated token (greedy, with the
cache, after a 4k-token encoder pass; beam 4; batch 8 of different lengths), for the NumPy reference, ONNX
Runtime (when the export extra is installed: the float export ``onnx`` and its dynamic int8 copy ``onnx-i8``,
plus generation peak RSS with the merged decoder vs the two separate decoder sessions) and HF transformers (when
importable here, or in the interpreter given by ``--hf-python``). Every measurement runs in its own subprocess, so
each row's peak memory is its own.
Random led-base-shaped weights (seeded): speed does not depend on the values.
``--quick`` runs the same rows at a tiny shape and tiny lengths in seconds (used by the tests).

Standalone deep-dive scripts per area: ``python -m tools.bench.gemm`` and the modules
``tokenizer``, ``encoder``, ``generation``, ``onnx`` in this package.
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time

from led_ref.app.benchmarks import common, scaling

BACKENDS = ("numpy", "onnx", "hf")
FULL = dict(size="base", seq_lens=(1024, 4096, 16384), decode_len=4096, new_tokens=32, tok_bytes=1 << 20, repeat=1)
QUICK = dict(size="tiny", seq_lens=(64, 128, 256), decode_len=128, new_tokens=4, tok_bytes=0, repeat=1)


# ================================================================ rows (each runs in a child process)


def _config(size, seq_len=0):
    from led_ref.config import LEDConfig

    shape = dict(common.SIZES[size])
    shape["max_encoder_position_embeddings"] = max(shape["max_encoder_position_embeddings"], seq_len)
    return LEDConfig(**shape)


def _numpy_model(size, seq_len, head):
    from led_ref import model as led_model
    from led_ref.weights import init_params

    cfg = _config(size, seq_len)
    cls = led_model.LEDForConditionalGeneration if head == "lm" else led_model.LEDModel
    return cls(cfg, init_params(cfg, head, seed=0)), cfg


def row_gemm(quick=False):
    from led_ref.app.benchmarks.gemm import gemm_peak

    return gemm_peak(quick=quick)


def row_tokenizer(min_bytes=0):
    """led_ref's tokenizers on the bundled text (repeated to ``min_bytes``), via benchmarks/tokenizer.py
    (falls back to timing the tokenizer classes here when that module is not there)."""
    text = common.load_text(min_bytes)
    try:
        from led_ref.app.benchmarks.tokenizer import tokenizer_throughput
    except ImportError:
        tokenizer_throughput = _tokenizer_throughput
    res = dict(tokenizer_throughput(text))
    res.setdefault("bytes", len(text.encode("utf-8")))
    return res


def _tokenizer_throughput(text):
    from led_ref import tokenizer

    res = {}
    for name in ("LEDTokenizer", "LEDTokenizerFast"):
        cls = getattr(tokenizer, name, None)
        if cls is not None:
            tok = cls.from_pretrained(str(common.DATA_DIR))
            t = common.time_call(lambda tok=tok: tok(text)["input_ids"])
            res[("fast" if name.endswith("Fast") else "slow") + "_tokens_per_s"] = len(t["result"]) / t["seconds"]
    return res


def row_encoder_numpy(seq_len, size="base", repeat=1):
    """Via benchmarks/encoder.py's ``encoder_seconds`` (the model helper's figure); the local version if absent."""
    try:
        from led_ref.app.benchmarks.encoder import encoder_seconds
    except ImportError:
        return _row_encoder_numpy(seq_len, size, repeat)
    r = encoder_seconds(seq_len, size=size, repeat=repeat)
    out = {"seconds": r["seconds"], "runs": r.get("runs"), "flops": r["gflops"] * 1e9}
    if r.get("gemm_gflop_per_s"):
        out["gemm_now"] = r["gemm_gflop_per_s"]  # the GEMM ceiling measured in the same process, same moment
    return out


def _row_encoder_numpy(seq_len, size="base", repeat=1):
    import numpy as np

    model, cfg = _numpy_model(size, seq_len, "base")
    encoder = model.get_encoder()
    ids, mask, glob = common.random_inputs(1, seq_len, cfg.vocab_size)
    encoder(input_ids=ids[:, :8], attention_mask=mask[:, :8], global_attention_mask=glob[:, :8])  # warm-up
    t = common.time_call(lambda: encoder(input_ids=ids, attention_mask=mask, global_attention_mask=glob), repeat=repeat)
    out = t["result"].last_hidden_state
    if out.shape != (1, seq_len, cfg.d_model) or not np.isfinite(out).all():
        raise ValueError(f"numpy encoder returned shape {out.shape} or non-finite values")
    return {"seconds": t["seconds"], "runs": t["runs"], "flops": _flops(cfg, seq_len)}


def _flops(cfg, seq_len):
    return common.encoder_flops(
        seq_len, cfg.d_model, cfg.encoder_ffn_dim, cfg.encoder_layers, max(cfg.layer_attention_windows())
    )


def row_encoder_onnx(seq_len, onnx_dir, size="base", repeat=1, precision="float32", engine=None):
    import numpy as np

    ort_model = _load_ort(onnx_dir, precision, engine)
    loaded = common.current_rss_bytes()  # the weights and the engine, before any activation
    reset = common.reset_peak_rss()  # the run's own peak, not the loading's
    cfg = _config(size, seq_len)
    ids, mask, glob = common.random_inputs(1, seq_len, cfg.vocab_size)
    ort_model.encode(ids[:, :8], mask[:, :8], glob[:, :8])  # session warm-up, not part of the figure
    t = common.time_call(lambda: ort_model.encode(ids, mask, glob), repeat=repeat)
    run_peak = common.window_peak_rss_bytes() if reset else None
    hidden = t["result"][0]
    if hidden.shape != (1, seq_len, cfg.d_model) or not np.isfinite(hidden).all():
        raise ValueError(f"onnx encoder returned shape {hidden.shape} or non-finite values")
    return {
        "seconds": t["seconds"],
        "runs": t["runs"],
        "flops": _flops(cfg, seq_len),
        "loaded_rss_bytes": loaded,
        "run_peak_rss_bytes": run_peak,
    }


def _greedy_decode_ms(encode, decode, ids, mask, glob, start_id, new_tokens):
    """Encode once, then ``new_tokens`` greedy steps with the cache; ms per step (the encoder excluded)."""
    import numpy as np

    t0 = time.perf_counter()
    hidden, enc_mask = encode(ids, mask, glob)
    t_enc = time.perf_counter() - t0
    dec = np.full((ids.shape[0], 1), start_id, dtype=np.int64)
    past = None
    t0 = time.perf_counter()
    for _ in range(new_tokens):
        logits, past = decode(dec, hidden, enc_mask, past)
        dec = logits[:, -1:].argmax(-1).astype(np.int64)
    t_dec = time.perf_counter() - t0
    return {"ms_per_token": 1000 * t_dec / new_tokens, "encoder_seconds": t_enc, "new_tokens": new_tokens}


def row_decode_numpy(seq_len, new_tokens, size="base"):
    """Through led_ref.generation's step adapter: the path generate() takes."""
    from led_ref.generation import as_step_model

    model, cfg = _numpy_model(size, seq_len, "lm")
    steps = as_step_model(model)
    ids, mask, glob = common.random_inputs(1, seq_len, cfg.vocab_size)

    def decode(dec, hidden, enc_mask, past):
        return steps.decode(dec, hidden, enc_mask, past_key_values=past)

    return _greedy_decode_ms(steps.encode, decode, ids, mask, glob, cfg.decoder_start_token_id, new_tokens)


def row_decode_onnx(seq_len, new_tokens, onnx_dir, size="base", precision="float32", engine=None):
    ort_model = _load_ort(onnx_dir, precision, engine)
    cfg = _config(size, seq_len)
    ids, mask, glob = common.random_inputs(1, seq_len, cfg.vocab_size)

    def decode(dec, hidden, enc_mask, past):
        return ort_model.decode(dec, hidden, enc_mask, past_key_values=past)

    return _greedy_decode_ms(ort_model.encode, decode, ids, mask, glob, cfg.decoder_start_token_id, new_tokens)


def _load_ort(onnx_dir, precision="float32", engine=None):
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    return OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, precision=precision, engine=engine)


def prepare_onnx(out_dir, size="base"):
    """Save seeded random weights of the given shape and export them to ONNX in ``out_dir`` (child process)."""
    from led_ref.app.demo import export_onnx

    model, _ = _numpy_model(size, 0, "lm")
    t0 = time.perf_counter()
    export_onnx(model, out_dir)
    return {"export_seconds": time.perf_counter() - t0}


# ================================================================ the table (parent process)


def _fmt_bytes(n):
    return "-" if n is None else f"{n / 2**20:,.0f} MB"


def _fmt_seconds(x):
    return f"{x:.3g} s" if x >= 1 else f"{1000 * x:.3g} ms"


def _fmt_rate(x):
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


class _Table:
    def __init__(self, out):
        self.out = out
        self.rows = []

    def header(self):
        print(f"{'measurement':<34} {'backend':<7} {'value':>14}  {'peak mem':>9}  notes", file=self.out)
        print("-" * 100, file=self.out)

    def add(self, name, backend, value, mem=None, notes="", data=None):
        """One row; ``data`` (the row's result dict) goes to --json as the row's raw figures."""
        self.rows.append(
            {
                "measurement": name,
                "backend": backend,
                "value": value,
                "peak_rss_bytes": mem,
                "notes": notes,
                "data": _raw(data),
            }
        )
        print(f"{name:<34} {backend:<7} {value:>14}  {_fmt_bytes(mem):>9}  {notes}", file=self.out, flush=True)

    def unavailable(self, name, backend, why):
        self.add(name, backend, "n/a", None, f"not available: {why}")


def _raw(result):
    """A row's figures for --json: the result dict without the bulky or non-figure entries."""
    if not result:
        return {}
    return {k: v for k, v in result.items() if k not in ("result", "sequences", "tokens", "text")}


def add_cli_arguments(parser):
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny model shape and lengths: every row in seconds (a smoke test, not a figure)",
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated subset of numpy,onnx,hf (default: all; missing ones print why)",
    )
    parser.add_argument(
        "--hf-python",
        metavar="PATH",
        help="python interpreter with transformers+torch for the HF rows, e.g. /path/venv/bin/python",
    )
    parser.add_argument(
        "--seq-lens", metavar="N,N,..", help="encoder lengths (default 1024,4096,16384; quick 64,128,256)"
    )
    parser.add_argument("--new-tokens", type=int, metavar="N", help="decoding steps per ms/token row (default 32)")
    parser.add_argument("--timeout", type=int, default=1800, metavar="S", help="seconds allowed per row (default 1800)")
    parser.add_argument("--json", metavar="PATH", help="also write all rows and the machine info as JSON")
    parser.add_argument(
        "--no-generate",
        action="store_true",
        help="skip the generate() rows (beam 4, batch 8)",
    )
    parser.add_argument(
        "--precision",
        choices=("float32", "bf16"),
        default="float32",
        help="bf16: also the ONNX rows on OpenVINO, in float32 (ov-f32) and bfloat16 (ov-bf16), beside ONNX Runtime's "
        "float and int8 (the openvino extra; a CPU with AVX512_BF16 or AMX)",
    )
    parser.add_argument(
        "--busy",
        action="store_true",
        help="run every row beside one competing CPU-bound process started (and stopped) here",
    )
    scaling.add_cli_arguments(parser)


def _parse_args(args):
    plan = dict(QUICK if args.quick else FULL)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ValueError(f"--backends: unknown {unknown or 'empty list'}; choose from {','.join(BACKENDS)}")
    plan["backends"] = backends
    plan["precision"] = getattr(args, "precision", "float32")
    if plan["precision"] == "bf16" and "onnx" not in backends:
        raise ValueError("--precision bf16 adds rows to the onnx backend: keep onnx in --backends")
    if args.seq_lens:
        try:
            plan["seq_lens"] = tuple(int(s) for s in args.seq_lens.split(","))
        except ValueError:
            raise ValueError(f"--seq-lens: expected comma-separated integers, got {args.seq_lens!r}") from None
        limit = 16384 if plan["size"] == "base" else 1024
        bad = [n for n in plan["seq_lens"] if not 2 <= n <= limit]
        if bad:
            raise ValueError(f"--seq-lens: {bad} outside 2..{limit} (max_encoder_position_embeddings of the shape)")
    if args.new_tokens is not None:
        if not 1 <= args.new_tokens <= 512:
            raise ValueError(f"--new-tokens must be in 1..512, got {args.new_tokens}")
        plan["new_tokens"] = args.new_tokens
    if args.timeout < 1:
        raise ValueError(f"--timeout must be >= 1 second, got {args.timeout}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.json:
        from led_ref.errors import check_output_file

        check_output_file(args.json, "--json")  # before the run, not after it
    if args.hf_python and not (os.path.isfile(args.hf_python) and os.access(args.hf_python, os.X_OK)):
        raise FileNotFoundError(
            f"--hf-python {args.hf_python}: not an executable file (give e.g. /path/venv/bin/python)"
        )
    return plan


def _hf_python(args):
    """(interpreter, None) for the HF rows, or (None, why not)."""
    if args.hf_python:
        try:
            versions = common.interpreter_versions(args.hf_python)
        except (ValueError, OSError, json.JSONDecodeError) as exc:
            return None, str(exc), None
        if not versions.get("transformers") or not versions.get("torch"):
            return None, f"{args.hf_python} has no transformers/torch", versions
        return args.hf_python, None, versions
    if common._dist_version("transformers") and common._dist_version("torch"):
        return sys.executable, None, {k: common._dist_version(k) for k in ("transformers", "torch")}
    return None, "transformers is not installed here (pass --hf-python PATH to run HF in another venv)", None


def run_cli(args):
    if scaling.requested(args):  # `bench --scaling`: lengths x backends, slopes, the figure
        return scaling.run_cli(args)
    if getattr(args, "busy", False):
        _parse_args(args)  # bad arguments first, before starting anything
        with common.BusyProcess():
            return _run_cli(args)
    return _run_cli(args)


def _run_cli(args):
    plan = _parse_args(args)
    out = sys.stdout
    table = _Table(out)
    size, seq_lens, new_tokens, timeout = plan["size"], plan["seq_lens"], plan["new_tokens"], args.timeout
    iso = dict(timeout=timeout, threads=args.threads)

    info = common.machine_info()
    started = datetime.datetime.now(datetime.timezone.utc)
    hf_python, hf_why, hf_versions = _hf_python(args) if "hf" in plan["backends"] else (None, "not requested", None)
    shape = common.SIZES[size]
    print(
        f"led-ref bench{' --quick (tiny shape: smoke test, not figures)' if args.quick else ''}"
        f"{' --busy (one competing CPU-bound process runs during every row)' if args.busy else ''}",
        file=out,
    )
    print(
        f"machine: {info['cpu']}, {info['cores_usable']} usable cores, {info['mem_gb']} GB RAM, {info['os']}, "
        f"load average {info['load_avg_1m']} at the start",
        file=out,
    )
    print(
        f"versions: python {info['python']}, numpy {info['numpy']} ({info['blas']}), torch {info['torch']}, "
        f"onnx {info['onnx']}, onnxruntime {info['onnxruntime']}, threads env {info['threads_env'] or 'unset'}",
        file=out,
    )
    if hf_python:
        print(f"HF rows: {hf_python} ({', '.join(f'{k} {v}' for k, v in hf_versions.items() if v)})", file=out)
    print(
        f"model: {'led-base' if size == 'base' else 'tiny'} shape (d_model {shape['d_model']}, "
        f"{shape['encoder_layers']}+{shape['decoder_layers']} layers, {shape['encoder_attention_heads']} heads, "
        f"ffn {shape['encoder_ffn_dim']}, window {shape['attention_window']}), seeded random float32 weights, "
        f"batch 1, global attention on the first token",
        file=out,
    )
    print(file=out)
    table.header()

    # GEMM peak: the ceiling for every NumPy row
    g = common.run_isolated("led_ref.app.benchmarks", "row_gemm", {"quick": args.quick}, **iso)
    gemm_peak = g.get("gflops")
    if gemm_peak:
        detail = ", ".join(f"{k} {v:.0f}" for k, v in g["per_shape"].items())
        table.add("GEMM peak GFLOP/s (float32)", "numpy", f"{gemm_peak:.1f}", g.get("peak_rss_bytes"), detail, g)
    else:
        table.unavailable("GEMM peak GFLOP/s (float32)", "numpy", g.get("error"))

    # tokenizer (the same Python tokenizer feeds the numpy and onnx backends)
    name = "tokenizer tokens/s"
    for backend in plan["backends"]:
        if backend == "numpy":
            r = common.run_isolated("led_ref.app.benchmarks", "row_tokenizer", {"min_bytes": plan["tok_bytes"]}, **iso)
            _tokenizer_row(table, name, "numpy", r)
        elif backend == "onnx":
            table.add(name, "onnx", "=numpy", None, "the ONNX backend uses led_ref's tokenizer")
        elif hf_python:
            r = common.run_isolated(
                "led_ref.app.benchmarks.common",
                "hf_tokenizer_throughput",
                {"min_bytes": plan["tok_bytes"]},
                python=hf_python,
                **iso,
            )
            _tokenizer_row(table, name, "hf", r)
        else:
            table.unavailable(name, "hf", hf_why)

    onnx_dir, onnx_why, int8_dir, int8_why = None, None, None, None
    if "onnx" in plan["backends"]:
        onnx_dir, onnx_why = _prepare_onnx(table, size, iso)
        int8_dir, int8_why = _prepare_int8(table, onnx_dir, onnx_why, iso)
    # the deployment rows: float ("onnx") and dynamic int8 ("onnx-i8") exports on ONNX Runtime; with --precision bf16
    # also the float export on OpenVINO in float32 ("ov-f32") and bfloat16 ("ov-bf16")
    ort_dirs = {"onnx": (onnx_dir, onnx_why), ONNX_INT8: (int8_dir, int8_why)}
    if plan["precision"] == "bf16":
        ov_why = onnx_why or _openvino_why()
        ort_dirs.update({b: (None if ov_why else onnx_dir, ov_why) for b in OPENVINO_ROWS})
    try:
        for n in seq_lens:
            for backend in _deploy_backends(plan):
                rname = f"encoder seconds @ {n} tokens"
                if backend == "numpy":
                    r = common.run_isolated(
                        "led_ref.app.benchmarks",
                        "row_encoder_numpy",
                        {"seq_len": n, "size": size, "repeat": plan["repeat"]},
                        **iso,
                    )
                elif backend in ort_dirs:
                    d, why = ort_dirs[backend]
                    if d is None:
                        table.unavailable(rname, backend, why)
                        continue
                    r = common.run_isolated(
                        "led_ref.app.benchmarks",
                        "row_encoder_onnx",
                        {"seq_len": n, "onnx_dir": d, "size": size, "repeat": plan["repeat"], **_engine(backend)},
                        **iso,
                    )
                else:
                    if not hf_python:
                        table.unavailable(rname, backend, hf_why)
                        continue
                    r = common.run_isolated(
                        "led_ref.app.benchmarks.common",
                        "hf_encoder_seconds",
                        {"seq_len": n, "size": size, "repeat": plan["repeat"], "threads": args.threads},
                        python=hf_python,
                        **iso,
                    )
                _encoder_row(table, rname, backend, r, gemm_peak)

        greedy = {}
        n = min(plan["decode_len"], max(seq_lens)) if args.seq_lens else plan["decode_len"]
        rname = f"decode ms/token ({n} in, greedy)"
        decode_rss = {}
        for backend in _deploy_backends(plan):
            if backend == "numpy":
                r = common.run_isolated(
                    "led_ref.app.benchmarks",
                    "row_decode_numpy",
                    {"seq_len": n, "new_tokens": new_tokens, "size": size},
                    **iso,
                )
            elif backend in ort_dirs:
                d, why = ort_dirs[backend]
                if d is None:
                    table.unavailable(rname, backend, why)
                    continue
                r = common.run_isolated(
                    "led_ref.app.benchmarks",
                    "row_decode_onnx",
                    {"seq_len": n, "new_tokens": new_tokens, "onnx_dir": d, "size": size, **_engine(backend)},
                    **iso,
                )
            else:
                if not hf_python:
                    table.unavailable(rname, backend, hf_why)
                    continue
                r = common.run_isolated(
                    "led_ref.app.benchmarks.common",
                    "hf_decode_ms_per_token",
                    {"seq_len": n, "new_tokens": new_tokens, "size": size, "threads": args.threads},
                    python=hf_python,
                    **iso,
                )
            if "error" in r:
                table.unavailable(rname, backend, r["error"])
            else:
                greedy[backend] = r["ms_per_token"]
                decode_rss[backend] = r.get("peak_rss_bytes")
                table.add(
                    rname,
                    backend,
                    f"{r['ms_per_token']:.3g} ms",
                    r.get("peak_rss_bytes"),
                    f"{r['new_tokens']} tokens with the cache (step 1 also projects the cross-attention "
                    f"K/V); the encoder pass ({r['encoder_seconds']:.2f} s) is not counted",
                    r,
                )
        if not getattr(args, "no_generate", False):
            _beam_batch_rows(table, plan, n, new_tokens, size, hf_python, hf_why, args, iso, greedy, ort_dirs)
        if "onnx" in plan["backends"]:
            _generation_rss_rows(table, plan, n, new_tokens, size, ort_dirs, decode_rss, iso)
    finally:
        if onnx_dir:
            shutil.rmtree(os.path.dirname(onnx_dir), ignore_errors=True)

    print(file=out)
    print(
        "peak mem = the row's own process (model weights + activations + interpreter). GFLOP/s counts the "
        "encoder FLOPs of led_ref.app.benchmarks.common.encoder_flops.",
        file=out,
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "command": common.command_line(),
                    "date_utc": f"{started:%Y-%m-%d %H:%M}",
                    "led_ref": _version(),
                    "busy": bool(args.busy),
                    "machine": info,
                    "hf_versions": hf_versions,
                    "plan": plan,
                    "shape": shape,
                    "rows": table.rows,
                },
                f,
                indent=1,
                default=str,
            )
    return 0


def _version():
    from led_ref import __version__

    return __version__


def prepare_checkpoint(directory, size, seq_len):
    """Seeded random LM checkpoint on disk for the generate() rows (child process)."""
    from led_ref.app.benchmarks.generation import make_checkpoint

    make_checkpoint(directory, size=size, seq_len=seq_len)
    return {"dir": directory}


def _beam_batch_rows(table, plan, n, new_tokens, size, hf_python, hf_why, args, iso, greedy, ort_dirs=None):
    """generate() rows: beam 4, and batch 8 over documents of different lengths (n down to n/8), ms per step."""
    steps = max(3, new_tokens)
    tmp = tempfile.mkdtemp(prefix="led-ref-bench-gen-")
    try:
        ck = common.run_isolated(
            "led_ref.app.benchmarks", "prepare_checkpoint", {"directory": tmp, "size": size, "seq_len": n}, **iso
        )
        for label, batch, beams in (("beam 4", 1, 4), ("batch 8", 8, 1)):
            rname = f"decode ms/step ({n} in, {label})"
            kw = dict(checkpoint=tmp, seq_len=n, new_tokens=steps, num_beams=beams, batch=batch)
            for backend in _deploy_backends(plan):
                if "error" in ck:
                    table.unavailable(rname, backend, ck["error"])
                    continue
                if backend == "numpy":
                    r = common.run_isolated("led_ref.app.benchmarks.generation", "numpy_generate", kw, **iso)
                elif backend in (ort_dirs or {}):
                    d, why = ort_dirs[backend]
                    if d is None:
                        table.unavailable(rname, backend, why)
                        continue
                    r = common.run_isolated(
                        "led_ref.app.benchmarks.generation",
                        "ort_generate",
                        {
                            "onnx_dir": d,
                            "seq_len": n,
                            "new_tokens": steps,
                            "num_beams": beams,
                            "batch": batch,
                            **_engine(backend),
                        },
                        **iso,
                    )
                elif not hf_python:
                    table.unavailable(rname, backend, hf_why)
                    continue
                else:
                    r = common.run_isolated(
                        "led_ref.app.benchmarks.generation",
                        "hf_generate",
                        dict(kw, threads=args.threads),
                        python=hf_python,
                        **iso,
                    )
                if "error" in r:
                    table.unavailable(rname, backend, r["error"])
                    continue
                ms = r["ms_per_token"]
                notes = f"{steps} steps of generate(); {1000 * batch / ms:.1f} new tokens/s"
                if greedy.get(backend):
                    notes += (
                        f", {ms / greedy[backend]:.2f}x the greedy step"
                        if beams > 1
                        else f", {batch * greedy[backend] / ms:.2f}x the greedy tokens/s"
                    )
                if batch > 1:
                    notes += f"; lengths {n} down to {n // batch}"
                table.add(rname, backend, f"{ms:.3g} ms", r.get("peak_rss_bytes"), notes, r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


ONNX_INT8 = "onnx-i8"  # the table's backend name for the dynamic int8 export


# --precision bf16: the float export on OpenVINO, real float32 and bfloat16 (backend name -> from_pretrained's
# precision and engine; spec/SPEC.md#bfloat16-on-the-cpu)
OPENVINO_ROWS = {"ov-f32": ("float32", "openvino"), "ov-bf16": ("bf16", "openvino")}


def _deploy_backends(plan):
    """The backends of a row, with the int8 ONNX export right after the float one (and the OpenVINO rows after
    them with --precision bf16)."""
    extra = (ONNX_INT8, *OPENVINO_ROWS) if plan.get("precision") == "bf16" else (ONNX_INT8,)
    return [b for backend in plan["backends"] for b in ((backend, *extra) if backend == "onnx" else (backend,))]


def _engine(backend):
    """from_pretrained's precision / engine for a deployment row's backend ({} for ONNX Runtime's own rows)."""
    if backend not in OPENVINO_ROWS:
        return {}
    precision, engine = OPENVINO_ROWS[backend]
    return {"precision": precision, "engine": engine}


def _openvino_why():
    """None when the OpenVINO rows can run here (the extra, a CPU with bfloat16), else why not."""
    _, why = common.optional_module("openvino")
    if why is not None:
        return f"{why} (the ov-* rows need the openvino extra: pip install 'led-ref[openvino]')"
    from led_ref.export.openvino_session import bf16_missing

    return bf16_missing()


def _prepare_int8(table, onnx_dir, onnx_why, iso):
    """Quantize the float export once for the int8 rows (led_ref.app.benchmarks.ort_deploy.quantize)."""
    if onnx_dir is None:
        return None, onnx_why
    int8_dir = onnx_dir + "-int8"
    r = common.run_isolated(
        "led_ref.app.benchmarks.ort_deploy", "quantize", {"float_dir": onnx_dir, "out_dir": int8_dir}, **iso
    )
    if "error" in r:
        table.unavailable("ONNX int8 quantization", ONNX_INT8, r["error"])
        return None, f"int8 quantization failed: {r['error']}"
    f, q = r["dir_bytes"]
    files = ", ".join(
        f"{name.replace('_model', '').replace('.onnx', '')} {100 * b / a:.0f}%" for name, (a, b) in r["bytes"].items()
    )
    table.add(
        "ONNX int8 quantization seconds",
        ONNX_INT8,
        f"{r['quantize_seconds']:.1f} s",
        r.get("peak_rss_bytes"),
        f"files int8/float: directory {q / 2**20:,.0f} MB / {f / 2**20:,.0f} MB ({100 * q / f:.0f}%); {files}",
        r,
    )
    return int8_dir, None


def _generation_rss_rows(table, plan, n, new_tokens, size, ort_dirs, decode_rss, iso):
    """Generation peak RSS (encode + greedy steps, batch 1): ONNX Runtime with the merged decoder (one session,
    decoder weights once) vs the two separate decoder sessions, each in its own process; HF: its greedy row's."""
    rname = f"generation peak RSS ({n} in)"
    for backend in _deploy_backends(plan):
        if backend == "numpy":
            continue
        if backend not in ort_dirs:
            if decode_rss.get(backend):
                table.add(
                    rname,
                    backend,
                    _fmt_bytes(decode_rss[backend]),
                    decode_rss[backend],
                    "the greedy row's process (encoder + decoding)",
                )
            else:
                table.unavailable(rname, backend, "no greedy row above (see its reason)")
            continue
        d, why = ort_dirs[backend]
        if d is None:
            table.unavailable(rname, backend, why)
            continue
        kw = {"onnx_dir": d, "size": size, "seq_len": n, "batch": 1, "new_tokens": new_tokens, **_engine(backend)}
        merged = common.run_isolated("led_ref.app.benchmarks.ort_deploy", "row_decode", kw, **iso)
        sep = common.run_isolated("led_ref.app.benchmarks.ort_deploy", "row_decode", dict(kw, use_merged=False), **iso)
        if "error" in merged or "error" in sep:
            table.unavailable(rname, backend, merged.get("error") or sep.get("error"))
            continue
        table.add(
            rname,
            backend,
            _fmt_bytes(merged["peak_rss_bytes"]),
            merged["peak_rss_bytes"],
            f"merged decoder ({merged['ms_per_step']:.3g} ms/step); the two separate decoder sessions "
            f"{_fmt_bytes(sep['peak_rss_bytes'])} ({sep['ms_per_step']:.3g} ms/step)",
            {"merged": _raw(merged), "separate": _raw(sep)},
        )


def _tokenizer_row(table, name, backend, r):
    if "error" in r:
        table.unavailable(name, backend, r["error"])
        return
    rates = {k: v for k, v in r.items() if k.endswith("tokens_per_s") and isinstance(v, (int, float))}
    if not rates:
        table.unavailable(name, backend, f"no *tokens_per_s in result keys {sorted(r)}")
        return
    best = max(rates, key=rates.get)
    notes = ", ".join(f"{k.replace('_tokens_per_s', '') or 'all'} {_fmt_rate(v)}/s" for k, v in rates.items())
    table.add(
        name,
        backend,
        _fmt_rate(rates[best]) + "/s",
        r.get("peak_rss_bytes"),
        f"{notes} on {r.get('bytes', 0) / 1e6:.2f} MB of text",
        r,
    )


def _encoder_row(table, name, backend, r, gemm_peak):
    if "error" in r:
        table.unavailable(name, backend, r["error"])
        return
    gflops = r["flops"] / r["seconds"] / 1e9
    notes = f"{gflops:.1f} GFLOP/s achieved"
    if r.get("loaded_rss_bytes") and r.get("run_peak_rss_bytes"):
        over = r["run_peak_rss_bytes"] - r["loaded_rss_bytes"]
        notes += f", run peak {_fmt_bytes(over)} over the loaded model ({_fmt_bytes(r['loaded_rss_bytes'])})"
    if gemm_peak:
        notes += f" ({100 * gflops / gemm_peak:.0f}% of the GEMM peak)"
    if r.get("gemm_now"):
        notes += f", GEMM in the same process {r['gemm_now']:.0f} GFLOP/s"
    if r.get("threads"):
        notes += f", torch threads {r['threads']}"
    table.add(name, backend, _fmt_seconds(r["seconds"]), r.get("peak_rss_bytes"), notes, dict(r, gflop_per_s=gflops))


def _prepare_onnx(table, size, iso):
    """Export the seeded random model once for every ONNX row; returns (onnx_dir, None) or (None, why)."""
    _, why = common.optional_module("onnxruntime")
    if why is None:
        _, why = common.optional_module("led_ref.export.ort")
    if why is not None:
        return None, f"{why} (the ONNX rows need the export extra: pip install -e '.[export]')"
    tmp = tempfile.mkdtemp(prefix="led-ref-bench-")
    onnx_dir = os.path.join(tmp, "onnx")
    r = common.run_isolated("led_ref.app.benchmarks", "prepare_onnx", {"out_dir": onnx_dir, "size": size}, **iso)
    if "error" in r:
        shutil.rmtree(tmp, ignore_errors=True)
        table.unavailable("ONNX export", "onnx", r["error"])
        return None, f"export failed: {r['error']}"
    table.add(
        "ONNX export seconds",
        "onnx",
        f"{r['export_seconds']:.1f} s",
        r.get("peak_rss_bytes"),
        "one-off: torch graph -> ONNX (encoder, decoder, decoder with past)",
        r,
    )
    return onnx_dir, None


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m led_ref.app.benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_cli_arguments(parser)
    from led_ref.app.blas import add_threads_argument

    add_threads_argument(parser)  # `led-ref bench` gets it from the CLI, like every subcommand
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return run_cli(args)
