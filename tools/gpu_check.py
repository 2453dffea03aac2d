"""GPU check of the ONNX export: one command for a machine with a CUDA device.

    python -m tools.gpu_check [--install] [--seq-lens 4096,16384] [--new-tokens 32] [--repeat 3]
                                    [--small-only] [--json PATH] [--out DIR]

1. small model (tiny random LED), float32 and float16: export, then the exporter's validation on
   CUDAExecutionProvider against the float32 NumPy reference (float32 / float16 tolerances of led_ref.tolerances;
   float16 includes the fully-masked-row and large-magnitude cases of the mask rule); generate() with IO binding
   must equal generate() without it token for token (greedy and beam), and for float32 equal NumPy's generate().
2. led-base shape (d_model 768, 6 + 6 layers, 12 heads, ffn 3072, window 1024, vocab 50265, random weights),
   float32 and float16: encoder at each --seq-lens length (one global token; median of --repeat runs after a
   warm-up) with its error against the NumPy encoder at the shortest length, and greedy decode ms/token over
   --new-tokens cached steps on that encoder output (IO binding on), its first logits compared with NumPy's.

Prints one line per figure and a PASS/FAIL summary; exit status 0 when every check passes, 1 when one fails, and 2
(one line) when onnxruntime has no CUDAExecutionProvider. ``--install`` first replaces onnxruntime by
onnxruntime-gpu with pip (needs network access), then reruns itself. ``--cpu`` runs the same steps on
CPUExecutionProvider: a dry run of this script (used by the tests), not a GPU check.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from led_ref.tolerances import TOLERANCE, relative_error

CUDA = "CUDAExecutionProvider"
SMALL = dict(
    vocab_size=64,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    attention_window=[8, 16],
    max_encoder_position_embeddings=128,
    max_decoder_position_embeddings=64,
)


class Report:
    def __init__(self):
        self.rows, self.failures = [], []

    def add(self, name, ok=True, **figures):
        self.rows.append({"check": name, "ok": bool(ok), **figures})
        shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())
        print(f"gpu_check: {'ok  ' if ok else 'FAIL'} {name}" + (f": {shown}" if shown else ""), flush=True)
        if not ok:
            self.failures.append(name)


def _load(onnx_dir, providers, io_binding=None):
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    return OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, providers=providers, io_binding=io_binding)


def small_model_check(out_dir, providers, report):
    from led_ref import model as npmodel
    from led_ref.config import LEDConfig
    from led_ref.errors import CheckFailedError
    from led_ref.export.onnx_export import export_checkpoint
    from led_ref.weights import init_params, save_checkpoint

    cfg = LEDConfig(**SMALL)
    params = init_params(cfg, "lm", seed=0)
    ckpt = os.path.join(out_dir, "small_ckpt")
    save_checkpoint(ckpt, cfg, params, "lm")
    ref = npmodel.LEDForConditionalGeneration(cfg, params)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 64, size=(3, 37)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[2, 20:] = 0
    glob = np.zeros_like(ids)
    glob[0, 0], glob[1, :5] = 1, 1
    for dtype in ("float32", "float16"):
        onnx_dir = os.path.join(out_dir, f"small_{dtype}")
        try:
            res = export_checkpoint(ckpt, onnx_dir, fp16=dtype == "float16", providers=providers, log=lambda s: None)
            report.add(
                f"small {dtype}: export validation on {providers[0]}",
                True,
                max_error=max(res["errors"].values()),
                tolerance=TOLERANCE[dtype],
            )
        except CheckFailedError as exc:
            report.add(f"small {dtype}: export validation on {providers[0]}", False, error=str(exc))
            continue
        bound, plain = _load(onnx_dir, providers, True), _load(onnx_dir, providers, False)
        used = bound.encoder.session.get_providers()[0]
        report.add(f"small {dtype}: sessions run on {used}", used == providers[0])
        for beams in (1, 3):
            kw = dict(attention_mask=mask, global_attention_mask=glob, max_new_tokens=8, num_beams=beams)
            a, b = bound.generate(ids, **kw), plain.generate(ids, **kw)
            report.add(
                f"small {dtype}: generate num_beams={beams} with IO binding == without",
                a.shape == b.shape and np.array_equal(a, b),
            )
            if dtype == "float32":
                r = ref.generate(ids, **kw)
                report.add(
                    f"small float32: generate num_beams={beams} == NumPy", a.shape == r.shape and np.array_equal(a, r)
                )


def base_model_check(out_dir, providers, seq_lens, new_tokens, repeat, report, size="base"):
    from led_ref import model as npmodel
    from led_ref.app.benchmarks import common
    from led_ref.config import LEDConfig
    from led_ref.export.onnx_export import NumpySteps, export_model
    from led_ref.weights import init_params

    shape = dict(common.SIZES[size])
    shape["max_encoder_position_embeddings"] = max(int(shape["max_encoder_position_embeddings"]), max(seq_lens))
    cfg = LEDConfig(**shape)
    params = init_params(cfg, "lm", seed=0, dtype=np.float32)
    ref = NumpySteps(npmodel.LEDForConditionalGeneration(cfg, params))
    n0 = min(seq_lens)
    ids0, mask0, glob0 = _inputs(n0, cfg.vocab_size)
    t = time.perf_counter()
    h_ref, _ = ref.encode(ids0, mask0, glob0)
    dec0 = np.array([[int(cfg.decoder_start_token_id)]], np.int64)
    logits_ref, _ = ref.decode(dec0, h_ref, mask0)
    name = "led-base" if size == "base" else f"{size} shape"
    print(f"gpu_check: NumPy reference at {n0} tokens: {time.perf_counter() - t:.1f} s", flush=True)
    for dtype in ("float32", "float16"):
        onnx_dir = os.path.join(out_dir, f"base_{dtype}")
        t = time.perf_counter()
        export_model(cfg, params, onnx_dir, fp16=dtype == "float16", log=lambda s: None)
        print(f"gpu_check: {name} {dtype} export: {time.perf_counter() - t:.1f} s", flush=True)
        model = _load(onnx_dir, providers, True)
        tol = TOLERANCE[dtype]
        h = None
        for n in seq_lens:
            ids, mask, glob = _inputs(n, cfg.vocab_size)
            model.encode(ids, mask, glob)  # warm-up (kernels, arena)
            runs = []
            for _ in range(repeat):
                t = time.perf_counter()
                out, _ = model.encode(ids, mask, glob)
                runs.append(time.perf_counter() - t)
            figures = {"tokens": n, "seconds": float(np.median(runs)), "runs": [round(r, 4) for r in runs]}
            ok = bool(np.isfinite(out).all())
            if n == n0:
                h = out
                figures["error_vs_numpy"] = relative_error(out, h_ref)
                ok = ok and figures["error_vs_numpy"] <= tol
            report.add(f"{name} {dtype}: encoder on {providers[0]}", ok, **figures)
        # decode: first step (cross-attention projections) then new_tokens cached greedy steps
        logits, past = model.decode(dec0, h, mask0)
        err = relative_error(logits, logits_ref)
        report.add(
            f"{name} {dtype}: first decoder logits vs NumPy ({n0}-token encoder)", err <= tol, error=err, tolerance=tol
        )
        tok = np.argmax(logits[:, -1], -1)[:, None].astype(np.int64)
        steps = []
        for _ in range(new_tokens):
            t = time.perf_counter()
            logits, past = model.decode(tok, h, mask0, past)
            tok = np.argmax(logits[:, -1], -1)[:, None].astype(np.int64)
            steps.append(time.perf_counter() - t)
        ms = 1000 * float(np.median(steps[1:] if len(steps) > 1 else steps))
        report.add(
            f"{name} {dtype}: greedy decode step, batch 1, {n0}-token encoder, IO binding",
            bool(np.isfinite(logits).all()),
            ms_per_token=ms,
            steps=len(steps),
        )


def _inputs(n, vocab):
    rng = np.random.default_rng(n)
    ids = rng.integers(3, vocab, size=(1, n)).astype(np.int64)
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    return ids, np.ones_like(ids), glob


def _install(argv):
    """Replace onnxruntime by onnxruntime-gpu (they install the same module), then rerun without --install."""
    pip = [sys.executable, "-m", "pip"]
    subprocess.call(pip + ["uninstall", "-y", "onnxruntime"])
    subprocess.check_call(pip + ["install", "onnxruntime-gpu"])
    rest = [a for a in argv if a != "--install"]
    return subprocess.call([sys.executable, "-m", "tools.gpu_check"] + rest)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m tools.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--install", action="store_true", help="pip install onnxruntime-gpu first (replaces onnxruntime)")
    p.add_argument("--seq-lens", default="4096,16384", help="led-base encoder lengths (default 4096,16384)")
    p.add_argument("--new-tokens", type=int, default=32, help="cached decode steps timed (default 32)")
    p.add_argument("--repeat", type=int, default=3, help="encoder runs per length (default 3)")
    p.add_argument("--small-only", action="store_true", help="only the small-model checks (no led-base)")
    p.add_argument("--skip-timing", action="store_true", help="same as --small-only")
    p.add_argument(
        "--shape",
        choices=["base", "tiny"],
        default="base",
        help="shape of the timed model (default base: led-base; tiny: a dry run of the script)",
    )
    p.add_argument("--cpu", action="store_true", help="dry run on CPUExecutionProvider (not a GPU check)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--out", help="working directory (default: a temporary one)")
    args = p.parse_args(argv)
    if args.install:
        return _install(argv)
    try:
        seq_lens = sorted(int(s) for s in args.seq_lens.split(","))
    except ValueError:
        p.error(f"--seq-lens {args.seq_lens!r}: comma-separated token counts")
    if args.repeat < 1 or args.new_tokens < 1 or seq_lens[0] < 1:
        p.error("--repeat, --new-tokens and --seq-lens must be positive")
    try:
        import onnxruntime as ort
        import torch  # noqa: F401 (imported to check that it is installed)
    except ImportError as exc:
        print(
            f"gpu_check: needs the export extra ({exc}); pip install 'led-ref[export]' onnxruntime-gpu", file=sys.stderr
        )
        return 2
    if args.cpu:
        providers = ["CPUExecutionProvider"]
    elif CUDA not in ort.get_available_providers():
        print(
            f"gpu_check: onnxruntime {ort.__version__} has no {CUDA} (providers {ort.get_available_providers()}); "
            "run it on a machine with a CUDA device after pip install onnxruntime-gpu, or add --install",
            file=sys.stderr,
        )
        return 2
    else:
        providers = [CUDA, "CPUExecutionProvider"]
    report = Report()
    t0 = time.perf_counter()
    print(
        f"gpu_check: onnxruntime {ort.__version__}, providers {providers}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="led_ref_gpu_check_") as tmp:
        out = args.out or tmp
        os.makedirs(out, exist_ok=True)
        small_model_check(out, providers, report)
        if not (args.small_only or args.skip_timing):
            base_model_check(out, providers, seq_lens, args.new_tokens, args.repeat, report, args.shape)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"onnxruntime": ort.__version__, "providers": providers, "checks": report.rows}, f, indent=1)
    n = len(report.rows)
    if report.failures:
        print(f"gpu_check: FAIL: {len(report.failures)} of {n} checks failed ({time.perf_counter() - t0:.0f} s)")
        return 1
    print(f"gpu_check: PASS: {n} checks ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
