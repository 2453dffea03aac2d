"""Training-step benchmark: seconds per step and peak RSS of one fine-tuning step (forward + backward + AdamW) at
led-base shape, batch 1, with and without gradient checkpointing, for led-ref's torch graph, HF transformers and HF
transformers patched with led-ref's encoder layer (``led_ref.export.hf.patch``), side by side. Every row runs in
its own subprocess (its own peak RSS); seeded random weights.

    python -m tools.bench.training --impl hf,hf-patched,led-ref --threads 2 --json out.json   # 4,096 tokens
    python -m tools.bench.training --hf-python $LED_REF_HF_PYTHON                           # HF from another venv
    python -m tools.bench.training --quick                                                   # tiny, seconds
    python -m tools.bench.training --trainer --only led-ref+trainer,hf+trainer --json out.json  # HF's Trainer

A row: one warm-up step at the same length, then ``--steps`` timed steps (the median is shown); rows without
checkpointing then time the encoder alone, as at inference (eval mode, no gradients: ``encoder s``), again
``--steps`` calls after one warm-up call, so neither side pays its first-call allocations in a timed figure.
``--rounds`` runs every row again, in rounds: ratios are taken within a round (a shared machine's load drifts
over minutes), and each comparison reports its median and its worst round. Rounds alternate the row order (odd
rounds reversed), so no row always runs first or right after the same other row. ``--gemm``
adds torch's GEMM peak on the step's own matrix shapes at the same thread count, and each row's step GFLOP/s as a
share of it (FLOPs counted as HF computes them, ``step_flops``, so rows compare). Every row, HF's too, uses
led-ref's training settings (``led_ref.export.training``, as ``led-ref finetune``): fused AdamW and a fixed glibc
mmap threshold (``MALLOC_MMAP_THRESHOLD_``; ``--glibc-default-heap`` leaves glibc's default).
``--trainer`` adds two rows of HF's own ``Seq2SeqTrainer`` (LED's documented fine-tuning flow, gradient
checkpointing on) on led-ref's and on HF's ``LEDForConditionalGeneration`` (tools/bench/trainer.py).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from led_ref.app.benchmarks import common
from led_ref.export import training

from . import trainer

IMPLS = ("led-ref", "hf", "hf-patched")

# The child: builds the model (led-ref, HF or patched HF) from a config dict, runs the steps, prints one JSON line.
_CHILD = r"""
import json, resource, sys, time
spec = json.loads(sys.argv[1])
import torch
torch.manual_seed(0)
torch.set_num_threads(spec["threads"]) if spec["threads"] else None
def median(xs):
    return sorted(xs)[len(xs) // 2]
if spec["impl"] == "gemm":
    best = {}
    for m, k, n in spec["shapes"]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        torch.mm(a, b)
        runs = []
        for _ in range(5):
            t = time.perf_counter(); torch.mm(a, b); runs.append(time.perf_counter() - t)
        best[f"{m}x{k}x{n}"] = 2 * m * k * n / min(runs) / 1e9
    print(json.dumps({"gflops": max(best.values()), "per_shape": best, "torch": torch.__version__}))
    sys.exit()
cfg = spec["config"]
if spec["impl"] in ("hf", "hf-patched"):
    import transformers
    model = transformers.LEDForConditionalGeneration(transformers.LEDConfig(**cfg))
    model.config.use_cache = False
    if spec["impl"] == "hf-patched":
        from led_ref.export import hf
        hf.patch(model)
    encoder = model.get_encoder()
else:
    from led_ref.config import LEDConfig
    from led_ref.weights import init_params
    from led_ref.export.torch_model import build_torch_model
    config = LEDConfig(**cfg)
    model = build_torch_model(config, init_params(config, "lm", seed=0), "lm").requires_grad_(True)
    encoder = model.led.encoder
model.train()
if spec["checkpointing"]:
    model.gradient_checkpointing_enable()
opt = torch.optim.AdamW(model.parameters(), lr=1e-5, **spec["optimizer"])
S, T, V = spec["seq_len"], spec["target_len"], cfg["vocab_size"]
g = torch.Generator().manual_seed(0)
ids = torch.randint(3, V, (1, S), generator=g)
glob = torch.zeros_like(ids); glob[:, 0] = 1
mask = torch.ones_like(ids)
labels = torch.randint(3, V, (1, T), generator=g)
def step():
    out = model(input_ids=ids, attention_mask=mask, global_attention_mask=glob, labels=labels, use_cache=False)
    out.loss.backward()
    opt.step(); opt.zero_grad(set_to_none=True)
    return float(out.loss)
loss = step()
times = []
for _ in range(spec["steps"]):
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
row = {"seconds": median(times), "all_seconds": times, "peak_rss": rss, "first_loss": loss, "torch": torch.__version__}
if not spec["checkpointing"]:
    model.eval()
    enc = []
    with torch.no_grad():
        encoder(input_ids=ids, attention_mask=mask, global_attention_mask=glob)  # warm-up, as the step's
        for _ in range(spec["steps"]):
            t = time.perf_counter(); encoder(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
            enc.append(time.perf_counter() - t)
    row.update(encoder_seconds=median(enc), all_encoder_seconds=enc)
print(json.dumps(row))
"""


def step_flops(config, seq_len, target_len, num_global=1):
    """FLOPs of one training step as HF computes it: 3 x the forward (backward = 2 x forward for every matrix
    product). Forward: the encoder (``common.encoder_flops``, with HF's key_global/value_global projections), the
    decoder (self-attention projections and scores on T tokens, cross-attention with keys/values projected from
    all S encoder states, FFN) and the LM head. Embeddings, LayerNorms, softmax and the loss are left out."""
    d, T = config["d_model"], target_len
    window = (
        max(config["attention_window"]) if isinstance(config["attention_window"], list) else config["attention_window"]
    )
    enc = common.encoder_flops(seq_len, d, config["encoder_ffn_dim"], config["encoder_layers"], window, num_global)
    S = common.padded_length(seq_len, window)
    per_layer = 2 * T * d * d * 4  # self-attention q, k, v, out
    per_layer += 2 * T * d * d * 2 + 2 * S * d * d * 2  # cross-attention q, out on T; k, v on S
    per_layer += 2 * 2 * T * (T + S) * d  # self- and cross-attention scores + weighted sums
    per_layer += 2 * 2 * T * d * config["decoder_ffn_dim"]
    lm_head = 2 * T * d * config["vocab_size"]
    return 3 * (enc + config["decoder_layers"] * per_layer + lm_head)


def run_child(
    python, spec, timeout=1800, heap_mmap_threshold=training.HEAP_MMAP_THRESHOLD, keep_pythonpath=True, child=_CHILD
):
    """``python -c child spec`` in its own process (its own peak RSS): the child's last line, a JSON object, or
    {"error": its last line of output}."""
    env = dict(os.environ)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    if heap_mmap_threshold:  # glibc reads it at start-up: the same as limit_heap_retention() in led-ref finetune
        env["MALLOC_MMAP_THRESHOLD_"] = str(heap_mmap_threshold)
    if not keep_pythonpath:  # another interpreter (--hf-python) must not pick up this checkout's led_ref
        env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [python, "-c", child, json.dumps(spec)], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_row(
    python,
    impl,
    checkpointing,
    config,
    seq_len,
    target_len,
    steps,
    threads,
    timeout=1800,
    heap_mmap_threshold=training.HEAP_MMAP_THRESHOLD,
    keep_pythonpath=True,
):
    spec = dict(
        impl=impl,
        checkpointing=checkpointing,
        config=config,
        seq_len=seq_len,
        target_len=target_len,
        steps=steps,
        threads=threads,
        optimizer=training.ADAMW_OPTIONS,
    )
    return run_child(python, spec, timeout, heap_mmap_threshold, keep_pythonpath)


def ratios(results):
    """Same-run comparisons of one round's rows: for every row beside HF's row of the same checkpointing, the
    speed-up (HF seconds / row seconds, step and encoder) and the peak RSS as a fraction of HF's."""
    out = {}
    for name, r in results.items():
        base = "hf+ckpt" if name.endswith("+ckpt") else "hf+trainer" if name.endswith("+trainer") else "hf"
        hf = results.get(base, {})
        if name == base or "seconds" not in r or "seconds" not in hf:
            continue
        entry = {"step_speedup": hf["seconds"] / r["seconds"], "peak_rss_fraction": r["peak_rss"] / hf["peak_rss"]}
        if "encoder_seconds" in r and "encoder_seconds" in hf:
            entry["encoder_speedup"] = hf["encoder_seconds"] / r["encoder_seconds"]
        out[f"{name} vs {base}"] = entry
    return out


def median_ratios(per_round):
    """{comparison: {measure: median over the rounds, "worst": {measure: the worst round's value (the smallest
    speed-up, the largest memory fraction)}, "rounds": [each round's entry]}}."""
    out = {}
    for key in dict.fromkeys(k for r in per_round for k in r):
        rounds = [r[key] for r in per_round if key in r]
        measures = dict.fromkeys(m for r in rounds for m in r)
        entry = {m: statistics.median(r[m] for r in rounds if m in r) for m in measures}
        worst = {m: (max if m.endswith("_fraction") else min)(r[m] for r in rounds if m in r) for m in measures}
        out[key] = dict(entry, worst=worst, rounds=rounds)
    return out


def round_order(rows, i):
    """Round ``i``'s row order: as given in even rounds, reversed in odd ones."""
    return list(rows) if i % 2 == 0 else list(reversed(rows))


def _load():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.bench.training", description=__doc__.split("\n")[0])
    p.add_argument(
        "--impl",
        default=None,
        help=f"comma list of {', '.join(IMPLS)} (default: led-ref, plus both HF rows if transformers is importable "
        "or --hf-python is given)",
    )
    p.add_argument(
        "--hf-python",
        metavar="PATH",
        help="interpreter with transformers for the hf rows (default: this one); hf-patched always runs here",
    )
    p.add_argument("--checkpointing", choices=["both", "off", "on"], default="both")
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--target-len", type=int, default=128)
    p.add_argument("--steps", type=int, default=1, help="timed steps per row (after one warm-up step)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every row this many times, in rounds; ratios are taken within a round, the median is shown "
        "(a shared machine's load changes between rows)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--quick", action="store_true", help="tiny shape, 256 tokens")
    p.add_argument("--only", default="", help="comma list of row names to run (e.g. hf,hf-patched+ckpt)")
    p.add_argument("--gemm", action="store_true", help="also measure torch's GEMM peak and each step's share of it")
    p.add_argument(
        "--trainer",
        action="store_true",
        help="add the rows of HF's Seq2SeqTrainer on led-ref's and HF's model (this interpreter needs the hf extra)",
    )
    p.add_argument(
        "--trainer-optim",
        default=trainer.DEFAULT_OPTIM,
        metavar="NAME",
        help=f"TrainingArguments.optim of the Trainer rows (default {trainer.DEFAULT_OPTIM}, the Trainer's own)",
    )
    p.add_argument(
        "--glibc-default-heap",
        action="store_true",
        help="every row with glibc's default (dynamic) mmap threshold instead of led-ref's fixed one",
    )
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.impl is None:
        have_hf = bool(args.hf_python) or common.optional_module("transformers")[0] is not None
        impls = list(IMPLS) if have_hf else ["led-ref"]
    else:
        impls = [x.strip() for x in args.impl.split(",") if x.strip()]
        bad = [x for x in impls if x not in IMPLS]
        if bad or not impls:
            p.error(f"--impl: unknown {', '.join(bad) or 'empty list'} (choose from {', '.join(IMPLS)})")
    if args.hf_python and not (os.path.isfile(args.hf_python) and os.access(args.hf_python, os.X_OK)):
        p.error(f"--hf-python {args.hf_python}: not an executable file")
    if args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    if args.rounds < 1:
        p.error(f"--rounds must be >= 1, got {args.rounds}")
    size = "tiny" if args.quick else "base"
    seq_len = 256 if args.quick else args.seq_len
    config = dict(common.SIZES[size])
    config["max_encoder_position_embeddings"] = max(config["max_encoder_position_embeddings"], seq_len)
    config.update(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    ckpts = {"both": (False, True), "off": (False,), "on": (True,)}[args.checkpointing]
    rows = [(impl + ("+ckpt" if ckpt else ""), impl, ckpt) for impl in impls for ckpt in ckpts]
    if args.trainer:  # both in this interpreter: the same transformers, Trainer and torch for the two models
        rows += [(name, impl, "trainer") for name, impl in trainer.ROWS]
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    info = common.machine_info()
    threshold = 0 if args.glibc_default_heap else training.HEAP_MMAP_THRESHOLD
    flops = step_flops(config, seq_len, args.target_len)
    print(
        f"training step (forward + backward + AdamW), {size} shape, batch 1, {seq_len} input tokens, "
        f"{args.target_len} target tokens, {args.threads or 'default'} threads; {flops / 1e9:.0f} GFLOP per step"
    )
    print(
        f"every row: AdamW {json.dumps(training.ADAMW_OPTIONS)}, "
        + (f"MALLOC_MMAP_THRESHOLD_={threshold}" if threshold else "glibc's default heap")
    )
    if args.trainer:
        print(
            "trainer rows: HF's Seq2SeqTrainer, predict_with_generate=True, gradient_checkpointing_enable(), "
            f"use_cache=False, optim={args.trainer_optim}, max_grad_norm 1.0; the step is the Trainer's "
            "on_step_begin..on_step_end"
        )
    print(f"machine: {json.dumps(info)}")
    gemm = None
    if args.gemm:
        d, f = config["d_model"], config["encoder_ffn_dim"]
        shapes = [(seq_len, d, d), (seq_len, d, f), (seq_len, f, d)]
        gemm = run_child(sys.executable, dict(impl="gemm", shapes=shapes, threads=args.threads))
        if "error" in gemm:
            print(f"torch GEMM peak: failed: {gemm['error']}")
        else:
            print(f"torch GEMM peak: {gemm['gflops']:.0f} GFLOP/s ({json.dumps(gemm['per_shape'])})")
    print(f"{'row':<18}{'s / step':>10}{'% GEMM':>8}{'peak RSS':>11}{'encoder s':>11}  notes")
    rounds = []
    for i in range(args.rounds):
        if args.rounds > 1:
            print(f"round {i + 1} of {args.rounds}")
        results = {}
        for name, impl, ckpt in round_order(rows, i):
            if only and name not in only:
                continue
            if ckpt == "trainer":
                spec = trainer.row_spec(
                    impl, config, seq_len, args.target_len, args.steps, args.threads, args.trainer_optim
                )
                r = run_child(sys.executable, spec, heap_mmap_threshold=threshold, child=trainer.CHILD)
            else:
                python = args.hf_python if (impl == "hf" and args.hf_python) else sys.executable
                r = run_row(
                    python,
                    impl,
                    ckpt,
                    config,
                    seq_len,
                    args.target_len,
                    args.steps,
                    args.threads,
                    heap_mmap_threshold=threshold,
                    keep_pythonpath=python == sys.executable,
                )
            r["load_avg_1m"] = _load()
            results[name] = r
            if "error" in r:
                print(f"{name:<18}{'-':>10}{'-':>8}{'-':>11}{'-':>11}  failed: {r['error']}")
                continue
            if ckpt == "trainer":  # a Trainer step's FLOPs and encoder time are not measured: no share, no notes
                print(f"{name:<18}{r['seconds']:>10.2f}{'-':>8}{r['peak_rss'] / 2**30:>9.2f} G{'-':>11}", flush=True)
                continue
            share = f"{100 * flops / r['seconds'] / 1e9 / gemm['gflops']:.0f}%" if gemm and "gflops" in gemm else "-"
            enc = f"{r['encoder_seconds']:.2f}" if "encoder_seconds" in r else "-"
            print(
                f"{name:<18}{r['seconds']:>10.2f}{share:>8}{r['peak_rss'] / 2**30:>9.2f} G{enc:>11}  "
                f"load {r['load_avg_1m']}, torch {r['torch']}",
                flush=True,
            )
        rounds.append({name: results[name] for name, _, _ in rows if name in results})  # in the rows' order
    same_run = median_ratios([ratios(r) for r in rounds])
    for key, v in same_run.items():
        many = len(v["rounds"]) > 1

        def shown(m, unit, v=v, many=many):
            worst = f" (worst {v['worst'][m]:.2f}{unit})" if many else ""
            return f"{v[m]:.2f}{unit}{worst}"

        enc = f", encoder {shown('encoder_speedup', 'x')} faster" if "encoder_speedup" in v else ""
        steps = ", ".join(f"{r['step_speedup']:.2f}" for r in v["rounds"])
        each = f"; step per round: {steps}" if many else ""
        head = "median of rounds: " if many else ""
        print(
            f"{key}: {head}step {shown('step_speedup', 'x')} faster{enc}, "
            f"peak RSS {shown('peak_rss_fraction', ' x')}{each}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                    "command": " ".join(
                        ["python -m tools.bench.training", *(argv if argv is not None else sys.argv[1:])]
                    ),
                    "seq_len": seq_len,
                    "target_len": args.target_len,
                    "threads": args.threads,
                    "step_flops": flops,
                    "gemm": gemm,
                    "optimizer": training.ADAMW_OPTIONS,
                    "malloc_mmap_threshold": threshold,
                    "trainer_optim": args.trainer_optim if args.trainer else None,
                    "rounds": rounds,
                    "ratios": same_run,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
