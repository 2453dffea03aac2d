"""Training-step benchmark: seconds per step and peak RSS of one fine-tuning step (forward + backward + AdamW) at
led-base shape, batch 1, with and without gradient checkpointing, for led-ref's torch graph and HF transformers
(``--hf-python``) side by side. Every row runs in its own subprocess (its own peak RSS); seeded random weights.

    python -m tools.bench.training --hf-python $LED_REF_HF_PYTHON            # 4,096 tokens
    python -m tools.bench.training --quick                                         # tiny, seconds
    python -m tools.bench.training --trainer --only led-ref+trainer,hf+trainer --json out.json  # HF's Trainer

A row: one warm-up step at the same length, then ``--steps`` timed steps (the median is shown). Every row, HF's
too, uses led-ref's training settings (``led_ref.export.training``, as ``led-ref finetune``): fused AdamW and a
fixed glibc mmap threshold (``MALLOC_MMAP_THRESHOLD_``; ``--glibc-default-heap`` leaves glibc's default).
``--trainer`` adds two rows of HF's own ``Seq2SeqTrainer`` (LED's documented fine-tuning flow, gradient
checkpointing on) on led-ref's and on HF's ``LEDForConditionalGeneration`` (tools/bench/trainer.py).
"""

import argparse
import json
import os
import subprocess
import sys
import time

from led_ref.app.benchmarks import common
from led_ref.export import training

from . import trainer

# The child: builds the model (led-ref or HF) from a config dict, runs the steps, prints one JSON line.
_CHILD = r"""
import json, resource, sys, time
spec = json.loads(sys.argv[1])
import torch
torch.manual_seed(0)
torch.set_num_threads(spec["threads"]) if spec["threads"] else None
cfg = spec["config"]
if spec["impl"] == "hf":
    import transformers
    model = transformers.LEDForConditionalGeneration(transformers.LEDConfig(**cfg))
    model.config.use_cache = False
else:
    import numpy as np
    from led_ref.config import LEDConfig
    from led_ref.weights import init_params
    from led_ref.export.torch_model import build_torch_model
    config = LEDConfig(**cfg)
    model = build_torch_model(config, init_params(config, "lm", seed=0), "lm").requires_grad_(True)
model.train()
if spec["checkpointing"]:
    model.gradient_checkpointing_enable()
opt = torch.optim.AdamW(model.parameters(), lr=1e-5, **spec["optimizer"])
S, T, V = spec["seq_len"], spec["target_len"], cfg["vocab_size"]
g = torch.Generator().manual_seed(0)
ids = torch.randint(3, V, (1, S), generator=g)
glob = torch.zeros_like(ids); glob[:, 0] = 1
labels = torch.randint(3, V, (1, T), generator=g)
def step():
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), global_attention_mask=glob, labels=labels,
                use_cache=False)
    out.loss.backward()
    opt.step(); opt.zero_grad(set_to_none=True)
    return float(out.loss)
step()
times = []
for _ in range(spec["steps"]):
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": sorted(times)[len(times) // 2], "all_seconds": times, "peak_rss": rss,
                  "torch": torch.__version__}))
"""


def child_env(heap_mmap_threshold, keep_pythonpath=True):
    """A row's environment: this one with the benchmark's heap setting."""
    env = dict(os.environ)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    if heap_mmap_threshold:  # glibc reads it at start-up: the same as limit_heap_retention() in led-ref finetune
        env["MALLOC_MMAP_THRESHOLD_"] = str(heap_mmap_threshold)
    if not keep_pythonpath:
        env.pop("PYTHONPATH", None)
    return env


def run_row(
    python,
    impl,
    checkpointing,
    config,
    seq_len,
    target_len,
    steps,
    threads,
    timeout=900,
    heap_mmap_threshold=training.HEAP_MMAP_THRESHOLD,
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
    # the HF interpreter must not pick up this checkout's led_ref
    env = child_env(heap_mmap_threshold, keep_pythonpath=impl != "hf")
    return run_child(python, _CHILD, spec, env, timeout)


def run_child(python, child, spec, env, timeout=900):
    """``python -c child spec`` in its own process (its own peak RSS): the child's last line, a JSON object, or
    {"error": its last line of output}."""
    proc = subprocess.run(
        [python, "-c", child, json.dumps(spec)], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.bench.training", description=__doc__.split("\n")[0])
    p.add_argument("--hf-python", metavar="PATH", help="interpreter with transformers (HF rows)")
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--target-len", type=int, default=128)
    p.add_argument("--steps", type=int, default=1, help="timed steps per row (after one warm-up step)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--quick", action="store_true", help="tiny shape, 256 tokens")
    p.add_argument(
        "--only",
        default="",
        help="comma list of rows to run: led-ref,led-ref+ckpt,hf,hf+ckpt (and led-ref+trainer,hf+trainer)",
    )
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
    size = "tiny" if args.quick else "base"
    seq_len = 256 if args.quick else args.seq_len
    config = dict(common.SIZES[size])
    config["max_encoder_position_embeddings"] = max(config["max_encoder_position_embeddings"], seq_len)
    config.update(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    rows = [("led-ref", sys.executable, "led-ref", False), ("led-ref+ckpt", sys.executable, "led-ref", True)]
    if args.hf_python:
        rows += [("hf", args.hf_python, "hf", False), ("hf+ckpt", args.hf_python, "hf", True)]
    if args.trainer:  # both in this interpreter: the same transformers, Trainer and torch for the two models
        rows += [(name, sys.executable, impl, "trainer") for name, impl in trainer.ROWS]
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    info = common.machine_info()
    print(
        f"training step (forward + backward + AdamW), {size} shape, batch 1, {seq_len} input tokens, "
        f"{args.target_len} target tokens"
    )
    threshold = 0 if args.glibc_default_heap else training.HEAP_MMAP_THRESHOLD
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
    print(f"{'row':<14}{'s / step':>12}{'peak RSS':>12}  notes")
    results = {}
    for name, python, impl, ckpt in rows:
        if only and name not in only:
            continue
        if ckpt == "trainer":
            spec = trainer.row_spec(
                impl, config, seq_len, args.target_len, args.steps, args.threads, args.trainer_optim
            )
            r = run_child(python, trainer.CHILD, spec, child_env(threshold), timeout=1800)
        else:
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
            )
        results[name] = r
        if "error" in r:
            print(f"{name:<14}{'-':>12}{'-':>12}  failed: {r['error']}")
        else:
            print(f"{name:<14}{r['seconds']:>12.2f}{r['peak_rss'] / 2**30:>10.2f} G  torch {r['torch']}", flush=True)
    for a, b in (("led-ref+ckpt", "led-ref"), ("hf+ckpt", "hf")):
        if "seconds" in results.get(a, {}) and "seconds" in results.get(b, {}):
            print(
                f"{a}: peak RSS {results[a]['peak_rss'] / results[b]['peak_rss']:.2f} x {b}'s, "
                f"step {results[a]['seconds'] / results[b]['seconds']:.2f} x"
            )
    same_run = {}
    for a in ("led-ref", "led-ref+ckpt", "led-ref+trainer"):
        b = a.replace("led-ref", "hf")
        if "seconds" in results.get(a, {}) and "seconds" in results.get(b, {}):
            speedup = results[b]["seconds"] / results[a]["seconds"]
            fraction = results[a]["peak_rss"] / results[b]["peak_rss"]
            same_run[f"{a} vs {b}"] = {"step_speedup": speedup, "peak_rss_fraction": fraction}
            print(
                f"{a} vs {b}: step {1 / speedup:.2f} x ({speedup:.2f}x faster), peak RSS {fraction:.2f} x",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                    "seq_len": seq_len,
                    "optimizer": training.ADAMW_OPTIONS,
                    "malloc_mmap_threshold": threshold,
                    "command": " ".join(
                        ["python -m tools.bench.training", *(argv if argv is not None else sys.argv[1:])]
                    ),
                    "target_len": args.target_len,
                    "threads": args.threads,
                    "trainer_optim": args.trainer_optim if args.trainer else None,
                    "rows": results,
                    "ratios": same_run,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
