"""Generation benchmark: ms per generated token (KV cache on), led_ref vs HF transformers generate().

    python -m led_ref.app.benchmarks.generation [--seq-len 4096] [--new-tokens 32] [--beams 1,4]
                                            [--hf-python /path/to/hf-venv/bin/python] [--size base|tiny]

One random led-base-shaped checkpoint (d_model 768, 6+6 layers, 12 heads, ffn 3072, window 1024, vocab 50265) is
written with ``init_params`` + ``save_params``; led_ref loads it with ``from_pretrained`` and HF (in the interpreter
given by ``--hf-python``, a subprocess) loads the same directory with ``LEDForConditionalGeneration.from_pretrained``.
Each measurement runs in its own process. Both run the full ``generate()`` with ``min_new_tokens = max_new_tokens``
(so every run decodes the same number of steps) and global attention on the first token; a per-step timestamp
(led_ref: ``step_callback``; HF: a no-op LogitsProcessor) gives:
  - ``ms_per_token``: steady-state decoding, (t_last_step - t_first_step) / (steps - 1), i.e. without the encoder
    and without the first step (which computes the cross-attention keys/values over the whole input);
  - ``first_step_s`` (encoder + first decoder step) and ``total_s`` (the whole generate call).
Speed does not depend on the weight values; random weights give near-flat logits, so the two backends' tokens may
differ (``tokens_equal`` is reported, not asserted -- equality is tested on the goldens).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from led_ref.app.benchmarks import common


def make_checkpoint(directory, size="base", seq_len=4096, seed=0):
    """Write config.json + model.safetensors (random, seeded) for the given shape."""
    from led_ref.config import LEDConfig
    from led_ref.weights import init_params, save_params

    shape = dict(common.SIZES[size])
    shape["max_encoder_position_embeddings"] = max(shape["max_encoder_position_embeddings"], seq_len)
    cfg = LEDConfig(**shape)
    params = init_params(cfg, "lm", seed=seed)
    cfg.save_pretrained(directory)
    save_params(directory, params, "lm")
    return directory


def _inputs(seq_len, vocab_size):
    import numpy as np

    ids = common._random_ids(1, seq_len, vocab_size)
    mask = np.ones_like(ids)
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    return ids, mask, glob


def _summary(stamps, t_start, t_end, new_tokens, sequences):
    steps = len(stamps)
    return {
        "ms_per_token": 1000 * (stamps[-1] - stamps[0]) / max(steps - 1, 1),
        "first_step_s": stamps[0] - t_start,
        "total_s": t_end - t_start,
        "steps": steps,
        "new_tokens": new_tokens,
        "sequences": [list(map(int, row)) for row in sequences],
    }


def numpy_generate(checkpoint, seq_len, new_tokens, num_beams, dtype="float32"):
    """led_ref: LEDForConditionalGeneration.from_pretrained(checkpoint).generate(...), timed per step."""
    import numpy as np

    from led_ref.model import LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(checkpoint, dtype=np.dtype(dtype).type)
    ids, mask, glob = _inputs(seq_len, model.config.vocab_size)
    model.generate(ids[:, :16], attention_mask=mask[:, :16], global_attention_mask=glob[:, :16],
                   max_new_tokens=2, num_beams=num_beams)  # warm-up (imports, first BLAS calls)
    stamps = []
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=new_tokens,
                         min_new_tokens=new_tokens, num_beams=num_beams,
                         step_callback=lambda *_: stamps.append(time.perf_counter()))
    t1 = time.perf_counter()
    res = _summary(stamps, t0, t1, new_tokens, out)
    res["backend"] = "numpy"
    return res


def hf_generate(checkpoint, seq_len, new_tokens, num_beams, threads=None):
    """HF transformers: LEDForConditionalGeneration.from_pretrained(checkpoint).generate(...) (torch eager, CPU)."""
    import torch
    import transformers
    from transformers import LogitsProcessor, LogitsProcessorList

    if threads:
        torch.set_num_threads(int(threads))

    class Stamp(LogitsProcessor):
        def __init__(self):
            self.t = []

        def __call__(self, input_ids, scores):
            self.t.append(time.perf_counter())
            return scores

    model = transformers.LEDForConditionalGeneration.from_pretrained(checkpoint).eval()
    ids, mask, glob = (torch.from_numpy(a) for a in _inputs(seq_len, model.config.vocab_size))
    with torch.no_grad():
        model.generate(ids[:, :16], attention_mask=mask[:, :16], global_attention_mask=glob[:, :16],
                       max_new_tokens=2, num_beams=num_beams)  # warm-up
        stamp = Stamp()
        t0 = time.perf_counter()
        out = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, num_beams=num_beams,
                             logits_processor=LogitsProcessorList([stamp]))
        t1 = time.perf_counter()
    res = _summary(stamp.t, t0, t1, new_tokens, out.numpy())
    res.update(backend="hf", transformers=transformers.__version__, torch=torch.__version__,
               threads=torch.get_num_threads())
    return res


def generation_ms_per_token(seq_len=4096, new_tokens=32, num_beams=1, size="base", hf_python=None, timeout=1800,
                            hf_threads=None):
    """One benchmark row: {"numpy": {...}, "hf": {...} or None} for one beam width (each in its own process)."""
    tmp = tempfile.mkdtemp(prefix="led-ref-genbench-")
    try:
        make_checkpoint(tmp, size=size, seq_len=seq_len)
        kw = dict(checkpoint=tmp, seq_len=seq_len, new_tokens=new_tokens, num_beams=num_beams)
        row = {"numpy": common.run_isolated("led_ref.app.benchmarks.generation", "numpy_generate", kw, timeout=timeout)}
        row["hf"] = (common.run_isolated("led_ref.app.benchmarks.generation", "hf_generate", dict(kw, threads=hf_threads),
                                         python=hf_python, timeout=timeout) if hf_python else None)
        if row["hf"] and "sequences" in row["hf"] and "sequences" in row["numpy"]:
            row["tokens_equal"] = row["hf"]["sequences"] == row["numpy"]["sequences"]
        return row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--beams", default="1,4", help="comma-separated beam widths")
    ap.add_argument("--size", choices=sorted(common.SIZES), default="base")
    ap.add_argument("--hf-python", default=None, help="python with transformers (e.g. /path/to/hf-venv/bin/python)")
    ap.add_argument("--hf-threads", type=int, default=None, help="torch.set_num_threads for HF (default: torch's)")
    ap.add_argument("--json", action="store_true", help="print the raw JSON too")
    args = ap.parse_args(argv)
    if args.seq_len < 8 or args.new_tokens < 2:
        raise SystemExit("--seq-len must be >= 8 and --new-tokens >= 2")
    beams = [int(b) for b in args.beams.split(",")]
    info = common.machine_info()
    print(f"machine: {info['cpu']}, {info['cores_usable']} usable cores, numpy {info['numpy']} ({info['blas']})")
    if args.hf_python:
        print(f"HF: {json.dumps(common.interpreter_versions(args.hf_python))}")
    print(f"shape: {args.size}, input {args.seq_len} tokens (global attention on <s>), batch 1, "
          f"{args.new_tokens} new tokens, KV cache on")
    print(f"{'beams':>5} {'backend':>8} {'ms/token':>9} {'first step s':>12} {'total s':>8} {'peak RSS GB':>11}")
    rows = {}
    for nb in beams:
        row = generation_ms_per_token(args.seq_len, args.new_tokens, nb, args.size, args.hf_python,
                                      hf_threads=args.hf_threads)
        rows[nb] = row
        for name in ("numpy", "hf"):
            r = row.get(name)
            if r is None:
                continue
            if "error" in r:
                print(f"{nb:>5} {name:>8}  error: {r['error']}")
                continue
            print(f"{nb:>5} {name:>8} {r['ms_per_token']:>9.1f} {r['first_step_s']:>12.2f} {r['total_s']:>8.2f} "
                  f"{r['peak_rss_bytes'] / 1e9:>11.2f}")
        if row.get("hf") and "ms_per_token" in row["hf"] and "ms_per_token" in row["numpy"]:
            print(f"{nb:>5} speed-up (HF ms/token / led_ref ms/token): "
                  f"{row['hf']['ms_per_token'] / row['numpy']['ms_per_token']:.2f}x; "
                  f"total: {row['hf']['total_s'] / row['numpy']['total_s']:.2f}x; "
                  f"tokens equal: {row.get('tokens_equal')}")
    if args.json:
        for r in rows.values():
            for side in ("numpy", "hf"):
                if r.get(side):
                    r[side].pop("sequences", None)
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
