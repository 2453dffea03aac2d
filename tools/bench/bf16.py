"""bfloat16 accuracy on the demo model's held-out documents: the float32 export on OpenVINO in bfloat16 against the
same export on ONNX Runtime in float32 (spec/SPEC.md#bfloat16-on-the-cpu).

    python -m tools.bench.bf16 [--docs N] [--json docs/figures/bf16-demo.json]

Per held-out document (truncated to the model's input length, global attention on <s>): the encoder's relative
error (max |bf16 - float| / max |float| over the document's positions), and along the float model's greedy title
(teacher-forced, each model on its own encoder states) the cosine of the logits vectors and the agreement of their
argmax; then both models generate the titles with the checkpoint's generation settings and ROUGE-L against the
reference titles is compared (needs the eval extra). The speed rows are `led-ref bench --precision bf16`.
"""

import argparse
import json
import sys
import time

import numpy as np

GOALS = {"encoder_relative_error": 2e-2, "top1_agreement": 0.95, "rougeL_difference": 0.01}


def measure(n_docs=None, log=print):
    from led_ref.app import demo_data
    from led_ref.app.finetune import mean_rouge, rouge_per_document
    from led_ref.app.onnx_cache import onnx_export_dir
    from led_ref.export.ort import OrtLEDForConditionalGeneration
    from led_ref.export.quantize import validation_metrics
    from led_ref.generation import generate

    tok = demo_data.demo_tokenizer()
    rows = demo_data.heldout_examples(tokenizer=tok)[:n_docs]
    onnx_dir = onnx_export_dir(demo_data.DEMO_MODEL_DIR)
    fl = OrtLEDForConditionalGeneration.from_pretrained(onnx_dir)
    bf = OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, precision="bf16")
    gc = fl.generation_config
    limit = int(fl.config.max_encoder_position_embeddings)
    docs, preds = [], {"float32": [], "bf16": []}
    seconds = {"float32": 0.0, "bf16": 0.0}
    for i, r in enumerate(rows):
        ids = np.asarray([tok(r["text"], truncation=True, max_length=limit)["input_ids"]], np.int64)
        mask, glob = np.ones_like(ids), np.zeros_like(ids)
        glob[:, 0] = 1
        seqs = {}
        for name, model in (("float32", fl), ("bf16", bf)):
            t0 = time.perf_counter()
            seqs[name] = generate(model, ids, mask, glob, gc)
            seconds[name] += time.perf_counter() - t0
            preds[name].append(tok.decode(seqs[name][0], skip_special_tokens=True).strip())
        docs.append(dict(validation_metrics(bf, fl, ids, mask, glob, seqs["float32"]), tokens=int(ids.shape[1])))
        docs[-1]["same_title"] = bool(preds["float32"][-1] == preds["bf16"][-1])
        log(f"{i + 1}/{len(rows)} {r['id']}: {ids.shape[1]} tokens, {docs[-1]}")
    refs = [r["summary"] for r in rows]
    rouge = {k: mean_rouge(rouge_per_document(p, refs)) for k, p in preds.items()}
    positions = sum(d["positions"] for d in docs)
    summary = {
        "documents": len(docs),
        "encoder_relative_error": max(d["encoder_relative_error"] for d in docs),
        "logits_cosine": sum(d["logits_cosine"] * d["positions"] for d in docs) / positions,
        "logits_cosine_min": min(d["logits_cosine_min"] for d in docs),
        "top1_agreement": sum(d["top1_agreement"] * d["positions"] for d in docs) / positions,
        "positions": positions,
        "same_titles": sum(d["same_title"] for d in docs),
        "rougeL": {k: v["rougeL"] for k, v in rouge.items()},
        "rougeL_difference": abs(rouge["bf16"]["rougeL"] - rouge["float32"]["rougeL"]),
        "generate_seconds": seconds,
    }
    return {"summary": summary, "goals": GOALS, "documents": docs}


def main(argv=None):
    from led_ref.app.benchmarks import common

    p = argparse.ArgumentParser(prog="python -m tools.bench.bf16", description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=None, help="the first N held-out documents (default: all)")
    p.add_argument("--json", metavar="PATH", help="write the figures (docs/figures/bf16-demo.json)")
    args = p.parse_args(argv)
    info = common.machine_info()
    res = measure(args.docs)
    s = res["summary"]
    print(f"machine: {info['cpu']}, {info['cores_usable']} usable cores")
    for k, goal in GOALS.items():
        v = s[k]
        ok = v <= goal if k != "top1_agreement" else v >= goal
        print(f"{k:<24} {v:.4g}  goal {'>=' if k == 'top1_agreement' else '<='} {goal}  {'met' if ok else 'NOT met'}")
    print(
        f"logits cosine mean {s['logits_cosine']:.6f}, min {s['logits_cosine_min']:.6f} over {s['positions']} positions"
    )
    print(
        f"identical titles {s['same_titles']}/{s['documents']}; ROUGE-L float32 {s['rougeL']['float32']:.4f}, ", end=""
    )
    print(f"bf16 {s['rougeL']['bf16']:.4f}")
    if args.json:
        command = " ".join(["python -m tools.bench.bf16", *(argv if argv is not None else sys.argv[1:])])
        res.update(command=command, machine=info, date_utc=time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
