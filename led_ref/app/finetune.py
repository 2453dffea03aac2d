"""``led-ref finetune --model DIR --train TRAIN.jsonl [--eval EVAL.jsonl] -o OUT_DIR``: fine-tune an LED
checkpoint for summarization with the torch graph (``led_ref.export.torch_model``, HF-equal gradients).

Data: JSONL, one object a line with ``text`` and ``summary`` (and ``question`` for ``--global-attention
question``). Records with a missing or empty field are skipped, counted and listed at the end; a line that is not
a JSON object makes the file malformed (error naming file and line). Training: AdamW (no weight decay on biases
and layer norms, like HF's Trainer), linear warm-up then linear decay to 0, gradient accumulation, gradient-norm
clipping, global attention on ``<s>`` (or on the question tokens), optional gradient checkpointing, optional
bfloat16 mixed precision (``--bf16``). After each
epoch: an HF-format checkpoint (model.safetensors, config.json, generation_config.json, tokenizer files) in
OUT_DIR/checkpoint-last with the optimizer/schedule/RNG state for ``--resume``, ROUGE on ``--eval`` (rouge-score,
the ``eval`` extra) with led_ref's generation, and at the end the final model in OUT_DIR.
"""

import json
import math
import os
import random
import shutil
import time

import numpy as np

from ..export.training import HEAP_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD_MAX
from ..inputs import padded_length
from .progress import Progress

CHECKPOINT = "checkpoint-last"
STATE_FILE = "trainer_state.json"
OPTIM_FILE = "optimizer.pt"
LOG_FILE = "training_log.jsonl"
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")
ROUGE_HINT = "pip install 'led-ref[eval]'  (or: pip install 'rouge-score>=0.1.2')"


class FinetuneError(ValueError):
    """Bad input or a failed run, with a message saying what to do."""


# -- ROUGE -------------------------------------------------------------------------------------------------------------
def rouge_per_document(predictions, references):
    """ROUGE-1/2/L F1 (rouge-score, stemming on) of each (prediction, reference) pair: [{"rouge1": ...}, ...]."""
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:
        raise ImportError(f"ROUGE needs the rouge-score package: {ROUGE_HINT}") from exc
    if len(predictions) != len(references) or not references:
        raise ValueError(f"rouge_scores: {len(predictions)} predictions for {len(references)} references")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    return [{k: s.fmeasure for k, s in scorer.score(r, p).items()} for p, r in zip(predictions, references)]


def mean_rouge(per_document):
    """The mean of per-document scores (``rouge_per_document``): {"rouge1": ..., "rouge2": ..., "rougeL": ...}."""
    return {k: sum(d[k] for d in per_document) / len(per_document) for k in ("rouge1", "rouge2", "rougeL")}


def rouge_scores(predictions, references):
    """Mean ROUGE-1/2/L F1 (rouge-score, stemming on) of paired lists of strings: {"rouge1": ..., ...}."""
    return mean_rouge(rouge_per_document(predictions, references))


# -- data --------------------------------------------------------------------------------------------------------------
def read_jsonl(path, fields, name="--train"):
    """(records, skipped): records with every field a non-empty string; skipped = [(line, reason)]."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name} {path}: no such file")
    if not os.path.isfile(path):
        raise FinetuneError(f"{name} {path}: not a file")
    records, skipped = [], []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise FinetuneError(f"{name} {path}:{n}: not UTF-8 text") from None
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FinetuneError(
                    f"{name} {path}:{n}: malformed JSON ({exc.msg}); expected one object a line "
                    f"with {', '.join(fields)}"
                ) from None
            if not isinstance(obj, dict):
                raise FinetuneError(
                    f"{name} {path}:{n}: a JSON {type(obj).__name__}, expected an object with {', '.join(fields)}"
                )
            bad = [k for k in fields if not isinstance(obj.get(k), str) or not obj[k].strip()]
            if bad:
                why = ", ".join(f"{k} {'missing' if k not in obj else 'empty or not a string'}" for k in bad)
                skipped.append((n, why))
                continue
            records.append(obj)
    if not records:
        raise FinetuneError(f"{name} {path}: no usable record (need {', '.join(fields)}; {len(skipped)} skipped)")
    return records, skipped


def encode_records(tokenizer, records, max_input, max_target, global_mode):
    """[(input_ids, global_positions, labels)] as int lists; inputs/targets truncated to the limits."""
    out = []
    for r in records:
        if global_mode == "question":
            q = tokenizer(r["question"], add_special_tokens=False)["input_ids"]
            t = tokenizer(r["text"], add_special_tokens=False)["input_ids"]
            ids = ([tokenizer.bos_token_id] + q + [tokenizer.eos_token_id] + t)[: max_input - 1]
            ids = ids + [tokenizer.eos_token_id]
            glob = list(range(min(len(q) + 2, len(ids))))  # <s> question </s>
        else:
            ids = tokenizer(r["text"], truncation=True, max_length=max_input)["input_ids"]
            glob = [0] if global_mode == "bos" else []
        labels = tokenizer(r["summary"], truncation=True, max_length=max_target)["input_ids"]
        out.append((ids, glob, labels))
    return out


def collate(batch, pad_id, pad_to_multiple_of=None):
    """Right-padded int64 arrays: input_ids, attention_mask, global_attention_mask, labels (-100 on padding).
    ``pad_to_multiple_of`` (HF's DataCollatorForSeq2Seq option) rounds both lengths up: the loss is unchanged
    (masked inputs; -100 labels after the last target token, which the causal decoder never looks back on), and
    a few recurring shapes let bfloat16 kernels be reused instead of prepared anew for every batch."""
    S = max(len(b[0]) for b in batch)
    T = max(len(b[2]) for b in batch)
    if pad_to_multiple_of:
        S, T = padded_length(S, pad_to_multiple_of), padded_length(T, pad_to_multiple_of)
    ids = np.full((len(batch), S), pad_id, np.int64)
    mask = np.zeros((len(batch), S), np.int64)
    glob = np.zeros((len(batch), S), np.int64)
    labels = np.full((len(batch), T), -100, np.int64)
    for i, (x, g, y) in enumerate(batch):
        ids[i, : len(x)], mask[i, : len(x)] = x, 1
        glob[i, g] = 1
        labels[i, : len(y)] = y
    return dict(input_ids=ids, attention_mask=mask, global_attention_mask=glob, labels=labels)


# -- the run -----------------------------------------------------------------------------------------------------------
def _arch(config):
    from led_ref.export.onnx_export import ARCH_FIELDS
    from led_ref.export.torch_model import layer_attention_windows

    d = {k: getattr(config, k, None) for k in ARCH_FIELDS}
    d["attention_window"] = layer_attention_windows(config)
    return d


def check_same_shape(config, other, where):
    a, b = _arch(config), _arch(other)
    diff = [f"{k}: {b[k]} vs {a[k]}" for k in a if a[k] != b[k]]
    if diff:
        raise FinetuneError(f"{where} is from another model shape than --model ({'; '.join(diff)})")


def lr_lambda(warmup, total):
    """HF's get_linear_schedule_with_warmup factor of the base learning rate at optimizer step s."""

    def f(s):
        if s < warmup:
            return (s + 1) / (warmup + 1)  # never 0, so the first step moves
        return max(0.0, (total - s) / max(1, total - warmup))

    return f


def save_model_dir(model, tokenizer_dir, gen_config, out):
    """HF-format model directory: model.safetensors + config.json + generation_config.json + tokenizer files."""
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    gen_config.save_pretrained(out)
    for name in TOKENIZER_FILES:
        src = os.path.join(tokenizer_dir, name)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out, name))


def numpy_model(model):
    """led_ref's NumPy LEDForConditionalGeneration holding the torch model's current weights."""
    from led_ref.model import LEDForConditionalGeneration
    from led_ref.weights import params_from_state_dict

    state = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    return LEDForConditionalGeneration(model.config, params_from_state_dict(state, model.config, "lm", np.float32))


def summarize(np_model, tokenizer, texts, max_input, generation_config, log=None):
    """Generated summaries (led_ref generation with ``generation_config``, global attention on <s>) of ``texts``,
    one at a time."""
    from led_ref.generation import generate

    out = []
    for i, text in enumerate(texts):
        ids = np.asarray([tokenizer(text, truncation=True, max_length=max_input)["input_ids"]], np.int64)
        glob = np.zeros_like(ids)
        glob[:, 0] = 1
        seq = generate(np_model, ids, np.ones_like(ids), glob, generation_config)
        out.append(tokenizer.decode(seq[0], skip_special_tokens=True).strip())
        if log:
            log(i + 1, len(texts))
    return out


def run(args, log=print):
    import torch

    from led_ref.config import LEDConfig
    from led_ref.export.torch_model import LEDForConditionalGeneration
    from led_ref.export.training import adamw, limit_heap_retention, restore_adamw_options, trim_heap
    from led_ref.generation import GenerationConfig
    from led_ref.tokenizer import LEDTokenizerFast

    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise FinetuneError(f"--lr must be > 0, got {args.lr}")
    for name in (
        "epochs",
        "batch_size",
        "grad_accum",
        "max_input_tokens",
        "max_target_tokens",
        "pad_to_multiple_of",
        "eval_num_beams",
    ):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise FinetuneError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if args.warmup_steps < 0 or args.weight_decay < 0 or args.max_grad_norm < 0:
        raise FinetuneError("--warmup-steps, --weight-decay and --max-grad-norm must be >= 0")
    if not 0 <= args.heap_mmap_threshold <= HEAP_MMAP_THRESHOLD_MAX:
        raise FinetuneError(
            f"--heap-mmap-threshold must be 0 (glibc's dynamic threshold) or 1..{HEAP_MMAP_THRESHOLD_MAX} "
            f"bytes (glibc's maximum), got {args.heap_mmap_threshold}"
        )
    if not os.path.isdir(args.model):
        raise FileNotFoundError(f"--model {args.model}: no such directory")
    out_dir = args.output_dir
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FinetuneError(f"-o {out_dir}: exists and is a file; OUT_DIR must be a directory")
    ckpt_dir = os.path.join(out_dir, CHECKPOINT)
    if args.resume and not os.path.isfile(os.path.join(ckpt_dir, STATE_FILE)):
        raise FinetuneError(
            f"--resume: no checkpoint in {ckpt_dir} (it is written at the end of each epoch and "
            f"every --save-steps); run without --resume to start"
        )
    if not args.resume and os.path.isdir(ckpt_dir) and not args.overwrite:
        raise FinetuneError(
            f"-o {out_dir} holds a checkpoint already: pass --resume to continue it or --overwrite to start over"
        )
    fields = ("text", "summary") + (("question",) if args.global_attention == "question" else ())
    train_records, skipped = read_jsonl(args.train, fields, "--train")
    eval_records = read_jsonl(args.eval, ("text", "summary"), "--eval")[0] if args.eval else None
    if eval_records is not None:
        rouge_scores(["x"], ["x"])  # fail now, not after an epoch, when rouge-score is missing

    # before the first tensor: freed activations of every input length go back to the OS (RSS stays flat)
    if args.heap_mmap_threshold:
        limit_heap_retention(args.heap_mmap_threshold)
    model = LEDForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32)
    config = model.config
    if args.resume:
        check_same_shape(
            config, LEDConfig.from_json_file(os.path.join(ckpt_dir, "config.json")), f"--resume checkpoint {ckpt_dir}"
        )
        model = LEDForConditionalGeneration.from_pretrained(ckpt_dir, dtype=torch.float32)
    try:
        tokenizer = LEDTokenizerFast.from_pretrained(args.model)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"--model {args.model}: no tokenizer files ({exc})") from None
    max_input = min(
        args.max_input_tokens or config.max_encoder_position_embeddings, config.max_encoder_position_embeddings
    )
    max_target = min(args.max_target_tokens, config.max_decoder_position_embeddings)
    m = args.pad_to_multiple_of
    if m and (
        padded_length(max_input, m) > config.max_encoder_position_embeddings
        or padded_length(max_target, m) > config.max_decoder_position_embeddings
    ):
        raise FinetuneError(
            f"--pad-to-multiple-of {m} pads past the model's position limits (inputs up to "
            f"{max_input} of {config.max_encoder_position_embeddings} tokens, targets up to "
            f"{max_target} of {config.max_decoder_position_embeddings}): pick a divisor of both"
        )
    gen_config = GenerationConfig.for_model(args.model)
    # the model's own generation defaults (num_beams, no_repeat_ngram_size, ...) unless --eval-num-beams is given
    gen_config.update(max_length=max_target + 1, **({"num_beams": args.eval_num_beams} if args.eval_num_beams else {}))

    data = encode_records(tokenizer, train_records, max_input, max_target, args.global_attention)
    batches_per_epoch = math.ceil(len(data) / args.batch_size)
    steps_per_epoch = math.ceil(batches_per_epoch / args.grad_accum)
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    decay = [p for n, p in model.named_parameters() if not (n.endswith(".bias") or "norm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or "norm" in n]
    optim = adamw(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_lambda(args.warmup_steps, total_steps))
    state = {"global_step": 0, "epoch": 0, "batch_in_epoch": 0, "history": [], "seed": args.seed}
    if args.resume:
        blob = torch.load(os.path.join(ckpt_dir, OPTIM_FILE), weights_only=False)
        optim.load_state_dict(blob["optimizer"])
        restore_adamw_options(optim)  # the saved groups carry the saving run's options
        sched.load_state_dict(blob["scheduler"])
        torch.set_rng_state(blob["torch_rng"])
        state = json.loads(open(os.path.join(ckpt_dir, STATE_FILE)).read())
        log(f"finetune: resumed from {ckpt_dir} at step {state['global_step']} (epoch {state['epoch'] + 1})")
    else:
        torch.manual_seed(args.seed)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    os.makedirs(out_dir, exist_ok=True)

    def save_checkpoint():
        tmp = ckpt_dir + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        save_model_dir(model, args.model, gen_config, tmp)
        torch.save(
            {"optimizer": optim.state_dict(), "scheduler": sched.state_dict(), "torch_rng": torch.get_rng_state()},
            os.path.join(tmp, OPTIM_FILE),
        )
        with open(os.path.join(tmp, STATE_FILE), "w") as f:
            json.dump(state, f, indent=1)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        os.replace(tmp, ckpt_dir)

    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"finetune: {len(data)} training records ({len(skipped)} skipped), {n_params / 1e6:.2f} M parameters, "
        f"{total_steps} optimizer steps (batch {args.batch_size} x accumulation {args.grad_accum}), "
        f"gradient checkpointing {'on' if args.gradient_checkpointing else 'off'}, "
        f"{'bfloat16 mixed precision' if args.bf16 else 'float32'}"
    )
    bar = Progress(total=total_steps, desc="finetune", unit="step", enable=args.progress)
    bar.n = state["global_step"]
    t0, tokens_done, recent, steps_run = time.perf_counter(), 0, [], 0
    done = state["global_step"] >= total_steps
    while not done and state["epoch"] < args.epochs:
        order = list(range(len(data)))
        random.Random(args.seed + state["epoch"]).shuffle(order)
        batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
        while state["batch_in_epoch"] < len(batches) and not done:
            group = batches[state["batch_in_epoch"] : state["batch_in_epoch"] + args.grad_accum]
            step_loss = 0.0
            for idx in group:
                b = {
                    k: torch.from_numpy(v)
                    for k, v in collate([data[i] for i in idx], config.pad_token_id, args.pad_to_multiple_of).items()
                }
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                    loss = model(**b, use_cache=False).loss
                if not torch.isfinite(loss):
                    raise FinetuneError(
                        f"loss is {loss.item()} at optimizer step {state['global_step'] + 1} (epoch "
                        f"{state['epoch'] + 1}, records {', '.join(str(i) for i in idx)} of the kept training "
                        f"data): the learning rate ({sched.get_last_lr()[0]:.3g}) is probably too high or the "
                        f"weights diverged; lower --lr, raise --warmup-steps or keep --max-grad-norm on"
                    )
                (loss / len(group)).backward()
                step_loss += loss.item() / len(group)
                tokens_done += int(b["attention_mask"].sum()) + int((b["labels"] != -100).sum())
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            state["global_step"] += 1
            steps_run += 1
            state["batch_in_epoch"] += len(group)
            recent = (recent + [step_loss])[-20:]
            elapsed = time.perf_counter() - t0
            tok_s = tokens_done / max(elapsed, 1e-9)
            avg = sum(recent) / len(recent)
            state["history"].append({"step": state["global_step"], "loss": step_loss})
            bar.set_description(f"finetune loss {avg:.3f}  {tok_s:,.0f} tok/s")
            bar.update()
            if state["global_step"] % 50 == 0:
                trim_heap()
            if args.log_every and state["global_step"] % args.log_every == 0:
                left = (total_steps - state["global_step"]) * elapsed / steps_run
                log(
                    f"step {state['global_step']}/{total_steps}  loss {avg:.4f}  lr {sched.get_last_lr()[0]:.2e}  "
                    f"{tok_s:,.0f} tok/s  elapsed {elapsed / 60:.1f} min  eta {left / 60:.1f} min"
                )
            done = state["global_step"] >= total_steps
            if args.stop_after and steps_run >= args.stop_after and not done:
                save_checkpoint()
                bar.close()
                log(f"finetune: stopped after {steps_run} steps (--stop-after); continue with --resume")
                return state
            if args.save_steps and state["global_step"] % args.save_steps == 0 and not done:
                save_checkpoint()
        if state["batch_in_epoch"] >= len(batches):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            epoch_info = {
                "epoch": state["epoch"],
                "step": state["global_step"],
                "train_loss": sum(recent) / max(1, len(recent)),
            }
            if eval_records is not None:
                epoch_info.update(evaluate(model, tokenizer, eval_records, max_input, gen_config, args.eval_limit))
                model.train()
            state.setdefault("epochs", []).append(epoch_info)
            log("epoch " + json.dumps(epoch_info))
            save_checkpoint()
    bar.close()
    if (
        not os.path.isdir(ckpt_dir)
        or json.loads(open(os.path.join(ckpt_dir, STATE_FILE)).read())["global_step"] != state["global_step"]
    ):
        save_checkpoint()
    save_model_dir(model, args.model, gen_config, out_dir)
    with open(os.path.join(out_dir, LOG_FILE), "w") as f:
        for h in state["history"]:
            f.write(json.dumps(h) + "\n")
    if skipped:
        log(
            f"finetune: skipped {len(skipped)} training record(s) of {args.train}: "
            + "; ".join(f"line {n} ({why})" for n, why in skipped[:20])
            + (" ..." if len(skipped) > 20 else "")
        )
    log(f"finetune: wrote {out_dir} (step {state['global_step']}, {(time.perf_counter() - t0) / 60:.1f} min)")
    return state


def evaluate(model, tokenizer, records, max_input, generation_config, limit=None):
    """ROUGE of the summaries of ``records`` by the current weights (the run's generation_config: the model's own
    with max_length from --max-target-tokens and --eval-num-beams if given)."""
    records = records[:limit] if limit else records
    preds = summarize(numpy_model(model), tokenizer, [r["text"] for r in records], max_input, generation_config)
    return {f"eval_{k}": round(v, 4) for k, v in rouge_scores(preds, [r["summary"] for r in records]).items()}


# -- CLI -------------------------------------------------------------------------------------------------------------
def add_cli_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR", help="HF-format LED checkpoint directory to start from")
    p.add_argument("--train", required=True, metavar="TRAIN.jsonl", help="training data: {text, summary} per line")
    p.add_argument("--eval", metavar="EVAL.jsonl", help="evaluation data: ROUGE after each epoch (eval extra)")
    p.add_argument("-o", "--output-dir", required=True, metavar="OUT_DIR", help="where checkpoints are written")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step (gradient accumulation)")
    p.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (> 0)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-steps", type=int, default=0, help="linear warm-up steps, then linear decay to 0")
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="gradient-norm clipping (0 = off)")
    p.add_argument(
        "--max-input-tokens", type=int, default=None, help="truncate inputs (default: max_encoder_position_embeddings)"
    )
    p.add_argument("--max-target-tokens", type=int, default=128, help="truncate summaries")
    p.add_argument(
        "--global-attention",
        choices=("bos", "question", "none"),
        default="bos",
        help="global attention on <s> (default), on a `question` field put before the text, or none",
    )
    p.add_argument("--gradient-checkpointing", action="store_true", help="recompute layers in backward (memory)")
    p.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 mixed precision (HF Trainer's bf16): matmuls in bfloat16 under torch.autocast, "
        "weights, optimizer and saved checkpoints stay float32; faster on CPUs with AVX512-BF16/AMX "
        "(docs/fine-tuning.md)",
    )
    p.add_argument(
        "--pad-to-multiple-of",
        type=int,
        default=None,
        metavar="N",
        help="pad each batch's input and target lengths up to a multiple of N (same loss; with --bf16, "
        "recurring shapes make steps faster)",
    )
    p.add_argument(
        "--heap-mmap-threshold",
        type=int,
        default=HEAP_MMAP_THRESHOLD,
        metavar="BYTES",
        help=f"glibc serves allocations of at least BYTES (up to {HEAP_MMAP_THRESHOLD_MAX}) from mmap, "
        f"given back to the OS when freed (default {HEAP_MMAP_THRESHOLD}: RSS stays flat over inputs "
        f"of varying length). 0 = glibc's own dynamic threshold: freed memory is kept for reuse, "
        f"faster steps but an RSS that grows (docs: Fine-tuning)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-steps", type=int, default=0, help="also checkpoint every N steps (0: per epoch only)")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/checkpoint-last")
    p.add_argument(
        "--stop-after",
        type=int,
        default=0,
        help="stop after N optimizer steps of this run, with a checkpoint (split a run; --resume continues)",
    )
    p.add_argument("--overwrite", action="store_true", help="start over even if OUT_DIR holds a checkpoint")
    p.add_argument(
        "--eval-num-beams",
        type=int,
        default=None,
        help="beams for the evaluation and the saved generation_config (default: the model's own)",
    )
    p.add_argument("--eval-limit", type=int, default=None, help="evaluate on the first N eval records only")
    p.add_argument("--log-every", type=int, default=10, help="print a progress line every N steps (0: never)")
    p.add_argument("--progress", action="store_true", default=None, help="force the progress bar on")


def run_cli(args):
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"finetune needs torch ({exc}): pip install 'led-ref[export]'") from exc
    if args.threads:  # the global --threads also sets torch's intra-op threads here
        torch.set_num_threads(args.threads)
    run(args, log=lambda msg: print(msg, flush=True))
    return 0
