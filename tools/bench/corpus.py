"""Corpus throughput of ``led-ref summarize`` on ONNX Runtime: length batching vs one document at a time vs Ray.

    python -m tools.bench.corpus [--docs 32] [--min-tokens 500] [--max-tokens 8000]
                                            [--max-new-tokens 16] [--rows batched,single,ray] [--model ONNX_DIR]

Builds (outside the timed part) a seeded random model of a small but real LED shape -- d_model 256, 2 encoder and
2 decoder layers, 4 heads, ffn 1024, attention window 256, 8,192 encoder positions, the real-size 50,265 vocabulary
-- exports it to ONNX, and makes ``--docs`` documents from the bundled text whose lengths are spread evenly over
[--min-tokens, --max-tokens]. Then each row runs the whole job (``summarize_corpus``: read, tokenize, model load,
batches, write) and reports documents/min and input tokens/s of its wall time:

- batched: local engine, length-sorted batches of at most --batch-tokens (documents x longest length);
- single: local engine, one document per batch;
- ray: Ray Data with 2 actors (1 CPU and 1 ONNX Runtime thread each; Ray start-up included).

Greedy decoding of --max-new-tokens tokens (min as many: random weights would otherwise stop at random points).
"""

import argparse
import os
import sys
import tempfile
import time

SMALL = dict(
    vocab_size=50265,
    d_model=256,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=1024,
    decoder_ffn_dim=1024,
    attention_window=256,
    max_encoder_position_embeddings=8192,
    max_decoder_position_embeddings=1024,
)


def build_model(work):
    """Random SMALL checkpoint + its ONNX export in ``work``; -> the ONNX directory."""
    import shutil

    import numpy as np

    from led_ref.app.benchmarks.common import DATA_DIR
    from led_ref.config import LEDConfig
    from led_ref.export.onnx_export import export_checkpoint
    from led_ref.weights import init_params, save_checkpoint

    ckpt, onnx_dir = os.path.join(work, "ckpt"), os.path.join(work, "onnx")
    cfg = LEDConfig(**SMALL)
    save_checkpoint(ckpt, cfg, init_params(cfg, "lm", seed=0, dtype=np.float32), "lm")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(DATA_DIR, name), os.path.join(ckpt, name))
    export_checkpoint(ckpt, onnx_dir, validate=False, log=lambda *a, **k: None)
    return onnx_dir


def make_corpus(path, tokenizer, n_docs, min_tokens, max_tokens):
    """``n_docs`` JSONL documents cut from the bundled text, token lengths spread over [min, max]; -> lengths."""
    import json

    from led_ref.app.benchmarks.common import load_text

    text = load_text()
    while len(tokenizer(text)["input_ids"]) < max_tokens + 64:
        text = text + "\n\n" + text
    ids = tokenizer(text)["input_ids"][1:-1]
    lengths = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n_docs):
            want = min_tokens + round(i * (max_tokens - min_tokens) / max(n_docs - 1, 1)) - 2
            start = (i * 977) % (len(ids) - want)
            doc = tokenizer.decode(ids[start : start + want]).strip()
            lengths.append(len(tokenizer(doc)["input_ids"]))
            f.write(json.dumps({"id": f"doc-{i:02d}", "text": doc}) + "\n")
    return lengths


def run_row(name, corpus, onnx_dir, out, max_new_tokens, batch_tokens):
    from led_ref.app.corpus.engine import JobSpec
    from led_ref.app.corpus.summarize import summarize_corpus

    spec = JobSpec(
        onnx_dir, backend="onnx", gen_kwargs={"max_new_tokens": max_new_tokens, "min_new_tokens": max_new_tokens}
    )
    kwargs = dict(batch_tokens=batch_tokens, overwrite=True, log=lambda m: None, progress=False)
    if name == "single":
        kwargs["one_at_a_time"] = True
    if name == "ray":
        kwargs.update(engine="ray", num_actors=2, ray_num_cpus=2, ray_cpus_per_actor=1)
    t0 = time.perf_counter()
    stats = summarize_corpus(corpus, out, spec, **kwargs)
    wall = time.perf_counter() - t0
    if stats["failed"]:
        raise RuntimeError(f"{name}: {stats['failed']} documents failed")
    return {
        "row": name,
        "documents": stats["ok"],
        "input_tokens": stats["input_tokens"],
        "seconds": wall,
        "docs_per_min": stats["ok"] / wall * 60,
        "tokens_per_s": stats["input_tokens"] / wall,
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.bench.corpus", description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=32)
    p.add_argument("--min-tokens", type=int, default=500)
    p.add_argument("--max-tokens", type=int, default=8000)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--batch-tokens", type=int, default=16384)
    p.add_argument("--rows", default="batched,single,ray")
    p.add_argument("--model", default=None, metavar="ONNX_DIR", help="an exported SMALL model (skips the build)")
    p.add_argument("--work", default=None, help="keep the model and outputs here (default: a temporary directory)")
    args = p.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    bad = [r for r in rows if r not in ("batched", "single", "ray")]
    if bad or not rows:
        p.error(f"--rows: unknown {bad}; choose from batched, single, ray")
    if not 2 <= args.min_tokens <= args.max_tokens <= SMALL["max_encoder_position_embeddings"]:
        p.error("need 2 <= --min-tokens <= --max-tokens <= 8192")

    from led_ref.app.benchmarks.common import machine_info
    from led_ref.tokenizer import LEDTokenizerFast

    tmp = None
    work = args.work
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="led-ref-corpus-bench-")
        work = tmp.name
    os.makedirs(work, exist_ok=True)
    onnx_dir = args.model
    if onnx_dir is None:
        t0 = time.perf_counter()
        onnx_dir = build_model(work)
        print(f"built and exported the SMALL model in {time.perf_counter() - t0:.0f} s (not timed)", file=sys.stderr)
    tok = LEDTokenizerFast.from_pretrained(onnx_dir)
    corpus = os.path.join(work, "corpus.jsonl")
    lengths = make_corpus(corpus, tok, args.docs, args.min_tokens, args.max_tokens)
    info = machine_info()
    print(
        f"corpus throughput, ONNX Runtime, random SMALL LED (d_model 256, 2+2 layers, window 256); {args.docs} "
        f"documents of {min(lengths)}-{max(lengths)} tokens ({sum(lengths):,} in all); greedy, "
        f"{args.max_new_tokens} new tokens each; batch budget {args.batch_tokens} tokens"
    )
    print(
        f"machine: {info.get('cpu', '?')}, {info['cores_usable']} cores usable, {info['mem_gb']} GB, "
        f"onnxruntime {info['onnxruntime']}; "
        f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load (1 min) {info['load_avg_1m']}"
    )
    print(f"{'row':<10} {'docs':>5} {'tokens':>8} {'seconds':>8} {'docs/min':>9} {'tokens/s':>9}")
    results = []
    for name in rows:
        r = run_row(
            name, corpus, onnx_dir, os.path.join(work, f"out-{name}.jsonl"), args.max_new_tokens, args.batch_tokens
        )
        results.append(r)
        print(
            f"{r['row']:<10} {r['documents']:>5} {r['input_tokens']:>8,} {r['seconds']:>8.1f} "
            f"{r['docs_per_min']:>9.1f} {r['tokens_per_s']:>9,.0f}",
            flush=True,
        )
    if tmp is not None:
        tmp.cleanup()
    return results


if __name__ == "__main__":
    main()
