"""GPU check for the ONNX export: run it on a machine with onnxruntime-gpu and a CUDA device.

    python -m led_ref.app.gpu_check [--seq-lens 4096,16384] [--repeat 3] [--out DIR] [--fp16]

1. export check: a tiny random LED is exported and run on CUDAExecutionProvider; encoder, decoder and
   cached decoder outputs are compared with the NumPy reference (led_ref.tolerances, float32 bound), and ORT-CUDA
   greedy / beam generate() must equal the NumPy generate() token for token;
2. timing: the led-base-shaped encoder (d_model 768, 6 layers, 12 heads, ffn 3072, window 1024,
   one global token) at 4096 and 16384 tokens on CUDAExecutionProvider (median of --repeat runs,
   after a warm-up), with the max error against the NumPy reference at the shortest length.

Exits 2 with a message when onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from led_ref.tolerances import relative_error

CUDA = "CUDAExecutionProvider"


def _providers():
    return [CUDA, "CPUExecutionProvider"]


def export_check(out_dir, fp16=False):
    from led_ref import model as npmodel
    from led_ref.config import LEDConfig
    from led_ref.weights import init_params, save_checkpoint

    from ..export.onnx_export import NumpySteps, export_checkpoint
    from ..export.ort import OrtLEDForConditionalGeneration

    cfg = LEDConfig(vocab_size=64, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                    decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, attention_window=[8, 16],
                    max_encoder_position_embeddings=128, max_decoder_position_embeddings=64)
    params = init_params(cfg, "lm", seed=0)
    ckpt = os.path.join(out_dir, "tiny_ckpt")
    save_checkpoint(ckpt, cfg, params, "lm")
    onnx_dir = os.path.join(out_dir, "tiny_onnx")
    res = export_checkpoint(ckpt, onnx_dir, fp16=fp16, providers=_providers())
    m = OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, providers=_providers())
    used = m.encoder.session.get_providers()
    if used[0] != CUDA:
        raise SystemExit(f"gpu_check: session runs on {used}, not {CUDA}")
    ref = npmodel.LEDForConditionalGeneration(cfg, params)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 64, size=(3, 37)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[2, 20:] = 0
    glob = np.zeros_like(ids)
    glob[0, 0], glob[1, :5] = 1, 1
    h_ref, _ = NumpySteps(ref).encode(ids, mask, glob)
    h, _ = m.encode(ids, mask, glob)
    enc_err = relative_error(h, h_ref)
    same = {}
    for beams in (1, 3):
        a = ref.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=8, num_beams=beams)
        b = m.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=8, num_beams=beams)
        same[beams] = bool(a.shape == b.shape and np.array_equal(a, b))
    return {"validation_errors": res["errors"], "encoder_error": enc_err, "generate_equal": same,
            "providers": used}


def encoder_timing(out_dir, seq_lens, repeat=3, fp16=False):
    import onnxruntime as ort

    from led_ref.app.benchmarks import onnx as bench

    from ..export.ort import OrtSession

    enc_dir = os.path.join(out_dir, "base_encoder")
    t0 = time.perf_counter()
    bench.export_encoder(enc_dir, max(seq_lens), fp16=fp16)
    print(f"export of the led-base encoder: {time.perf_counter() - t0:.1f} s", flush=True)
    sess = OrtSession(os.path.join(enc_dir, "encoder_model.onnx"), providers=_providers(),
                      session_options=ort.SessionOptions())
    rows = []
    for n in seq_lens:
        ids, mask, glob = bench._inputs(n, 50265)
        feeds = {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}
        sess.run(feeds)  # warm-up (CUDA kernels, memory arena)
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            out = sess.run(feeds)["last_hidden_state"]
            runs.append(time.perf_counter() - t)
        row = {"tokens": n, "seconds": float(np.median(runs)), "runs": runs}
        if n == min(seq_lens) and not fp16:
            ref = bench.numpy_encoder_output(n)
            row["max_error_vs_numpy"] = relative_error(out, ref)
        rows.append(row)
        print(f"encoder {n:>6} tokens on {sess.session.get_providers()[0]}: {row['seconds'] * 1000:.1f} ms "
              f"(runs {[round(r * 1000, 1) for r in runs]})"
              + (f", max error vs NumPy {row['max_error_vs_numpy']:.2e}" if "max_error_vs_numpy" in row else ""),
              flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m led_ref.app.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--seq-lens", default="4096,16384")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--fp16", action="store_true", help="export float16 graphs")
    p.add_argument("--out", help="working directory (default: temporary)")
    p.add_argument("--skip-timing", action="store_true")
    args = p.parse_args(argv)
    import onnxruntime as ort

    if CUDA not in ort.get_available_providers():
        print(f"gpu_check: onnxruntime {ort.__version__} has no {CUDA} (providers: "
              f"{ort.get_available_providers()}); install onnxruntime-gpu on a machine with a CUDA device",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="led_ref_gpu_check_") as tmp:
        out = args.out or tmp
        os.makedirs(out, exist_ok=True)
        res = export_check(out, fp16=args.fp16)
        print(f"export check on {res['providers'][0]}: validation max error "
              f"{max(res['validation_errors'].values()):.2e}, encoder error {res['encoder_error']:.2e}, "
              f"generate == NumPy: greedy {res['generate_equal'][1]}, beam {res['generate_equal'][3]}", flush=True)
        ok = all(res["generate_equal"].values())
        if not args.skip_timing:
            encoder_timing(out, [int(s) for s in args.seq_lens.split(",")], args.repeat, args.fp16)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
