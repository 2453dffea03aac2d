"""The demo model's recipe: data, vocabulary, initial weights and the `led-ref finetune` stages that train it.

    python -m tools.demo_model.recipe build OUT      # OUT/init (random LED, pruned BPE) + each stage's data
    python -m tools.demo_model.recipe train OUT 2    # build + the RECIPE's `led-ref finetune` runs -> OUT/model
    python -m tools.demo_model.recipe bundle PEPS.jsonl   # rewrite the bundled PEP subset (led_ref/data)

The task and the held-out set are defined in ``led_ref.app.demo_data`` (the main job scores the bundled model on
them). The model learns in stages (``RECIPE``): copying short texts (``copy_examples``), then the titles of
headings-only documents (``heading_examples``), then the real task on whole documents and retitled versions of them
(``build_sets``). The vocabulary of the demo model is the bundled GPT-2 BPE cut to its first DEMO_MERGES merges and
pruned to what the bundled documents use (``write_pruned_tokenizer``): every byte stays, so any text still tokenizes.
"""

import gzip
import json
import os
import re
import sys

import numpy as np

from led_ref.app.demo_data import (
    _ADORN,
    BUNDLE,
    DATA_DIR,
    MAX_TOKENS,
    _counter,
    demo_tokenizer,
    examples,
    held_out,
    heldout_rouge,
    load_bundle,
    sections,
)

BUNDLE_RUN_TOKENS = 6000  # bundle(): a PEP is kept if a run of its first sections within this many reaches MIN_TOKENS


# Training-data augmentation (training PEPs only): versions of each PEP whose section titles are replaced,
# consistently in the text and the target, by random ones (another training PEP's title or a 1-5 word phrase from a
# training PEP's text), sections shuffled in half of them, and each section cut to its first few lines (heading
# included; None = whole). A title prior is useless on them, so the model has to find the headings and copy them,
# which is what the held-out documents need. AUG_SHORT: many short versions (all sections, cut to 3-9 lines: a few
# hundred tokens, headings close together), cheap steps that get cross-attention going; AUG_LONG: fewer versions
# at the real documents' distances (one example each: 2+ whole sections from a random start section).
# (copies per PEP, lines kept per section)
AUG_SHORT = (30, (3, 5, 9))


AUG_LONG = (6, (17, 33, None))


AUG_MIN_TOKENS = 64


# Curriculum stages before the titles task (copy_examples, heading_examples): copies per training PEP.
COPY_COPIES = 40


COPY_MAX_TOKENS = 120


HEADINGS_COPIES = 60


# The demo model's BPE: the first DEMO_MERGES of GPT-2's 50,000 merges (those the PEPs use: a 7,244-token
# vocabulary instead of 23,409 with every merge). Texts tokenize into ~18% more tokens, and the LM head and its
# softmax, most of a training step with short targets, get 3x cheaper (write_pruned_tokenizer).
DEMO_MERGES = 8000


# The demo model's shape: small enough to train on 2 cores in well under 45 minutes.
DEMO_SHAPE = dict(
    d_model=256,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=1024,
    decoder_ffn_dim=1024,
    attention_window=256,
    max_encoder_position_embeddings=MAX_TOKENS,
    max_decoder_position_embeddings=128,
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    activation_function="gelu",
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    decoder_start_token_id=2,
)


def _full_tokenizer():
    from led_ref.tokenizer import LEDTokenizerFast

    return LEDTokenizerFast.from_pretrained(DATA_DIR)


def retitle(section_text, title):
    """A section's text (as from ``sections``) with its title replaced and its adornment lines resized to it."""
    lines = section_text.split("\n")
    if _ADORN.match(lines[0]):  # overline, title, underline
        ch = lines[0].strip()[0]
        lines[0:3] = [ch * len(title), title, ch * len(title)]
    else:
        ch = lines[1].strip()[0]
        lines[0:2] = [title, ch * len(title)]
    return "\n".join(lines)


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*[A-Za-z0-9]|[A-Za-z]")


def _random_title(rng, titles, texts_words):
    if rng.random() < 0.5:
        return titles[rng.integers(len(titles))]
    words = texts_words[rng.integers(len(texts_words))]
    n = int(rng.integers(1, 6))
    i = int(rng.integers(0, max(1, len(words) - n)))
    ws = words[i : i + n]
    style = rng.integers(3)  # Title Case, Sentence case, as found
    if style == 0:
        ws = [w[:1].upper() + w[1:] for w in ws]
    elif style == 1:
        ws = [ws[0][:1].upper() + ws[0][1:]] + ws[1:]
    return " ".join(ws)


def augmented_peps(peps, rng, copies, keeps=(None,), tag=""):
    """``copies`` retitled, cut (each section to its first k lines, k drawn from ``keeps``; None = whole) and in half
    of them section-shuffled versions of each PEP: [{id, text}]."""
    titles = sorted({t for p in peps for t, _ in sections(p["text"]) if "|" not in t and len(t) <= 60})
    texts_words = [_WORD.findall(p["text"]) for p in peps]
    out = []
    for p in peps:
        secs = sections(p["text"])
        for c in range(copies):
            keep = keeps[int(rng.integers(len(keeps)))]
            used, new = set(), []
            for _, body in secs:
                t = _random_title(rng, titles, texts_words)
                while t in used or len(t) < 3:  # an adornment needs 3+ characters
                    t = _random_title(rng, titles, texts_words)
                used.add(t)
                lines = retitle(body, t).split("\n")
                new.append("\n".join(lines if keep is None else lines[:keep]).rstrip("\n"))
            if rng.random() < 0.5:
                rng.shuffle(new)
            out.append({"id": f"{p['id']}~{tag}{c}", "text": "\n\n".join(new) + "\n"})
    return out


def build_sets(peps, tokenizer, short=AUG_SHORT, long=AUG_LONG, seed=0):
    """(train examples, held-out examples): the training PEPs' examples (every start section) plus their
    augmented versions; the held-out PEPs' first-section examples, unmodified."""
    count = _counter(tokenizer)
    train_peps, test_peps = held_out(peps)
    rng = np.random.default_rng(seed)
    train = [e for p in train_peps for e in examples(p, count, all_starts=True)]
    for p in augmented_peps(train_peps, rng, short[0], short[1], "s"):
        train += examples(p, count, min_tokens=AUG_MIN_TOKENS)
    for p in augmented_peps(train_peps, rng, long[0], long[1], "l"):
        ex = examples(p, count, min_tokens=AUG_MIN_TOKENS, all_starts=True)
        if ex:
            train.append(ex[int(rng.integers(len(ex)))])
    test = [e for p in test_peps for e in examples(p, count)]
    return train, test


def copy_examples(peps, tokenizer, copies=COPY_COPIES, max_tokens=COPY_MAX_TOKENS, seed=1):
    """Stage 1 ("copy"): ``copies`` runs of 2-11 lines per training PEP, cut to ``max_tokens`` tokens, whose target
    is the text itself. Every target token is in the input, a short distance away: cross-attention learns to find
    and copy input tokens here, in a few hundred steps, which the titles task alone (a few copyable tokens per
    thousands) did not teach within the time budget (README of the demo model)."""
    rng = np.random.default_rng(seed)
    out = []
    for p in held_out(peps)[0]:
        lines = p["text"].split("\n")
        for c in range(copies):
            i = int(rng.integers(0, max(1, len(lines) - 4)))
            text = "\n".join(lines[i : i + int(rng.integers(2, 12))]).strip("\n")
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(ids) < 8:
                continue
            cut = max_tokens
            while len(ids) > max_tokens:  # decoding a cut and re-tokenizing can merge differently: cut until it fits
                text = tokenizer.decode(ids[:cut])
                ids, cut = tokenizer(text, add_special_tokens=False)["input_ids"], cut - 1
            out.append({"id": f"{p['id']}~c{c}", "text": text, "summary": text})
    rng.shuffle(out)
    return out


def heading_examples(peps, tokenizer, copies=HEADINGS_COPIES, seed=2):
    """Stage 2 ("headings"): retitled training PEPs cut to their headings (title and adornment lines of each
    section, ~80 tokens); target: the titles. The titles task with the distances taken away."""
    count = _counter(tokenizer)
    rng = np.random.default_rng(seed)
    return [
        e for p in augmented_peps(held_out(peps)[0], rng, copies, (3,), "h") for e in examples(p, count, min_tokens=8)
    ]


# -- vocabulary pruning ------------------------------------------------------------------------------------------------
def prune_bpe(texts, vocab, merges):
    """(new vocab {token: id}, kept merges [(a, b)]) with every byte, the special tokens and the merges that BPE
    applies to the words of ``texts``. Special tokens keep ids 0-3 (<s>, <pad>, </s>, <unk>), <mask> is last."""
    from led_ref.bpe import BYTE_ENCODER, PAT, to_byte_level

    ranks = {m: r for r, m in enumerate(merges)}
    used = set()
    seen = set()
    for text in texts:
        for word in PAT.findall(text):
            w = to_byte_level(word)
            if w in seen:
                continue
            seen.add(w)
            parts = list(w)
            while len(parts) > 1:  # GPT-2's BPE: merge the lowest-ranked adjacent pair until none applies
                pairs = [(ranks.get((parts[k], parts[k + 1]), None), k) for k in range(len(parts) - 1)]
                pairs = [p for p in pairs if p[0] is not None]
                if not pairs:
                    break
                r = min(pairs)[0]
                a, b = merges[r]
                used.add(r)
                k, merged = 0, []
                while k < len(parts):
                    if k < len(parts) - 1 and parts[k] == a and parts[k + 1] == b:
                        merged.append(a + b)
                        k += 2
                    else:
                        merged.append(parts[k])
                        k += 1
                parts = merged
    kept = [merges[r] for r in sorted(used)]
    special = ["<s>", "<pad>", "</s>", "<unk>"]
    tokens = set(BYTE_ENCODER.values()) | {a + b for a, b in kept}
    ordered = sorted((t for t in tokens if t in vocab), key=lambda t: vocab[t])
    missing = tokens - set(vocab)
    if missing:
        raise ValueError(f"prune_bpe: {len(missing)} merge results are not in the vocabulary")
    new = {t: i for i, t in enumerate(special + ordered + ["<mask>"])}
    return new, kept


def write_pruned_tokenizer(texts, out_dir, max_merges=None):
    """vocab.json + merges.txt pruned to ``texts``, keeping only the first ``max_merges`` merges of GPT-2's ranked
    list (None: all). A BPE merge only joins pieces made by earlier merges, so a prefix of the list is itself a
    complete BPE: texts then tokenize into more, shorter pieces, as GPT-2's BPE trained for fewer merges would.
    Returns the vocabulary size."""
    from led_ref.bpe import load_merges, load_vocab

    vocab = load_vocab(os.path.join(DATA_DIR, "vocab.json"))
    merges = load_merges(os.path.join(DATA_DIR, "merges.txt"))
    new, kept = prune_bpe(texts, vocab, merges if max_merges is None else merges[:max_merges])
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(new, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in kept))
    return len(new)


# -- commands ----------------------------------------------------------------------------------------------------------
def bundle(peps_jsonl, out=BUNDLE):
    """Write the compact bundled subset: PEPs with >= 2 top-level sections whose first sections, up to
    BUNDLE_RUN_TOKENS tokens, reach MIN_TOKENS; texts cut after the last whole section within 3 * BUNDLE_RUN_TOKENS
    tokens (keeps the file small)."""
    tok = _full_tokenizer()

    def count(s):
        return len(tok(s, add_special_tokens=False)["input_ids"])

    rows = [json.loads(line) for line in open(peps_jsonl, encoding="utf-8")]
    kept = []
    for r in rows:
        secs = sections(r["text"])
        if len(secs) < 2:
            continue
        pep = {"id": r["id"], "title": r["title"], "text": r["text"]}
        if not examples(pep, count, max_tokens=BUNDLE_RUN_TOKENS):
            continue
        total, keep = 0, []
        for _, s in secs:
            n = count(s + "\n\n")
            if total + n > 3 * BUNDLE_RUN_TOKENS:
                break
            total += n
            keep.append(s)
        pep["text"] = "\n\n".join(keep) + "\n"
        kept.append(pep)
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in kept).encode("utf-8"))
    return len(kept)


POSITION_INIT_SCALE = 0.03


def sinusoids(n, d, scale):
    """(n, d) float32: Transformer sinusoids times ``scale`` (sin on the first half of the dims, cos on the rest)."""
    ang = np.arange(n)[:, None] / 10000.0 ** (2 * np.arange(d // 2)[None, :] / d)
    return (scale * np.concatenate([np.sin(ang), np.cos(ang)], axis=1)).astype(np.float32)


def hf_init(config, seed=0):
    """HF's _init_weights for LED (init_std 0.02): linear and embedding weights N(0, 0.02^2), biases 0, layer norms
    (1, 0), final_logits_bias 0; a trainable start (led_ref.weights.init_params' values are for numerics tests)."""
    from led_ref.weights import flatten, init_params, unflatten

    rng = np.random.default_rng(seed)
    flat = flatten(init_params(config, "lm", seed=seed))
    out = {}
    for name, v in flat.items():
        if name in out:
            continue
        if "layer_norm" in name or "layernorm" in name:
            out[name] = np.full_like(v, 1.0 if name.endswith(".weight") else 0.0)
        elif v.ndim == 2 and name != "final_logits_bias":
            out[name] = (0.02 * rng.standard_normal(v.shape)).astype(np.float32)
        else:
            out[name] = np.zeros_like(v)
    for name in ("encoder.embed_positions.weight", "decoder.embed_positions.weight"):
        if name in out:  # sinusoids (row norm ~ a token embedding's): relative offsets are linear maps from the start
            out[name] = sinusoids(*out[name].shape, scale=POSITION_INIT_SCALE)
    for name in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
        if name in out:
            out[name] = out["shared.weight"]  # tied: one array
    return unflatten(out)


def _write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def build(out_dir, seed=0):
    """OUT/init (the randomly initialised demo LED with its pruned tokenizer) and the stages' data: OUT/copy.jsonl,
    OUT/headings.jsonl, OUT/train.jsonl, plus OUT/heldout.jsonl. Examples are sized in the demo tokenizer's tokens."""
    from led_ref.config import LEDConfig
    from led_ref.generation import GenerationConfig
    from led_ref.weights import save_checkpoint

    peps = load_bundle()
    init = os.path.join(out_dir, "init")
    # every title and heading is in a PEP text, and augmented titles are words of those texts
    vocab_size = write_pruned_tokenizer([p["text"] for p in peps], init, max_merges=DEMO_MERGES)
    tok = demo_tokenizer(init)
    train, test = build_sets(peps, tok, seed=seed)
    sets = {"copy": copy_examples(peps, tok), "headings": heading_examples(peps, tok), "train": train, "heldout": test}
    for name, rows in sets.items():
        _write_jsonl(os.path.join(out_dir, name + ".jsonl"), rows)
    config = LEDConfig(vocab_size=vocab_size, **DEMO_SHAPE)
    save_checkpoint(init, config, hf_init(config, seed), "lm")
    GenerationConfig(
        decoder_start_token_id=2,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        forced_bos_token_id=0,
        max_length=128,
        num_beams=4,
        no_repeat_ngram_size=3,
    ).save_pretrained(init)
    return dict({k: len(v) for k, v in sets.items()}, vocab_size=vocab_size)


ROUGE_SCORER = (
    "rouge-score, F1, use_stemmer=True, mean over documents; led_ref NumPy generation with the "
    "checkpoint's generation_config (4 beams, no_repeat_ngram_size 3), global attention on <s>"
)


# The training recipe: `led-ref finetune` runs, each starting from the previous one's model (``train``):
# (stage, its data OUT/<data>.jsonl, options).
RECIPE = (
    ("copy", "copy", ["--batch-size", "16", "--lr", "5e-4", "--warmup-steps", "100", "--max-steps", "500"]),
    ("headings", "headings", ["--batch-size", "16", "--lr", "5e-4", "--warmup-steps", "50", "--max-steps", "300"]),
    ("documents", "train", ["--batch-size", "2", "--lr", "3e-4", "--warmup-steps", "50", "--max-steps", "4400"]),
)


# Every stage: bfloat16 mixed precision, with batch lengths padded to multiples of 64 so that the bfloat16 kernels
# see a few recurring shapes (1.32x faster documents steps than float32 here), and glibc's dynamic mmap threshold
# (freed activations are reused instead of mapped afresh at each step: 2.2x faster steps; max RSS 2.7 GB over 150
# documents steps, fine for this small model; measured 2026-11-30, the model's README).
RECIPE_OPTIONS = ["--bf16", "--pad-to-multiple-of", "64", "--heap-mmap-threshold", "0"]


def recipe_commands(out_dir, threads=2):
    """The recipe as `led-ref finetune` argument lists: [(stage, argv)]; the last stage writes OUT/model."""
    cmds, model = [], os.path.join(out_dir, "init")
    for k, (stage, data, opts) in enumerate(RECIPE):
        dest = os.path.join(out_dir, "model" if k == len(RECIPE) - 1 else "stage-" + stage)
        opts = opts if "--seed" in opts else ["--seed", "0", *opts]
        cmds.append(
            (
                stage,
                [
                    "finetune",
                    "--threads",
                    str(threads),
                    "--model",
                    model,
                    "--train",
                    os.path.join(out_dir, data + ".jsonl"),
                    "-o",
                    dest,
                    "--epochs",
                    "1",
                    "--max-target-tokens",
                    "128",
                    "--log-every",
                    "50",
                    *RECIPE_OPTIONS,
                    *opts,
                ],
            )
        )
        model = dest
    return cmds


def train(out_dir, threads=2):
    """Build (if OUT/init is missing) and run the recipe with `led-ref finetune`: OUT/model is the demo model, with
    its held-out ROUGE in OUT/model/metrics.json. Each stage is its own `python -m led_ref finetune` process (the
    command a user would type; torch is never loaded beside the NumPy evaluation here)."""
    import subprocess
    import time

    t0 = time.perf_counter()
    if not os.path.isfile(os.path.join(out_dir, "init", "config.json")):
        print(json.dumps(build(out_dir)), flush=True)
    minutes = {"build": (time.perf_counter() - t0) / 60}
    for stage, argv in recipe_commands(out_dir, threads):
        print(f"recipe train: stage {stage}: led-ref " + " ".join(argv), flush=True)
        t1 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", "led_ref", *argv])
        if rc:
            print(f"recipe train: stage {stage} failed (exit {rc})", file=sys.stderr)
            return rc
        minutes[stage] = (time.perf_counter() - t1) / 60
    model_dir = os.path.join(out_dir, "model")
    metrics = {
        "command": f"python -m tools.demo_model.recipe train OUT {threads}",
        "training_minutes": {k: round(v, 1) for k, v in minutes.items()},
        "training_minutes_total": round(sum(minutes.values()), 1),
    }
    try:
        from led_ref.app.finetune import read_jsonl

        held, _ = read_jsonl(os.path.join(out_dir, "heldout.jsonl"), ("text", "summary"), name="held-out set")
        scores, per_document, _ = heldout_rouge(model_dir, held)
        # per-document scores, in held-out order: the main job picks its typical document from them
        metrics.update(scores, heldout_docs=len(held), scorer=ROUGE_SCORER, heldout=per_document)
    except ImportError as exc:  # rouge-score is the eval extra
        print(f"recipe train: held-out ROUGE skipped ({exc})", flush=True)
    with open(os.path.join(model_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print("recipe train: " + json.dumps(metrics), flush=True)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "build":
        print(json.dumps(build(argv[1])))
    elif len(argv) in (2, 3) and argv[0] == "train" and (len(argv) == 2 or argv[2].isdigit() and int(argv[2]) > 0):
        return train(argv[1], int(argv[2]) if len(argv) == 3 else 2)
    elif len(argv) == 2 and argv[0] == "bundle":
        print(bundle(argv[1]), "PEPs bundled in", BUNDLE)
    else:
        print(
            "usage: python -m tools.demo_model.recipe build OUT_DIR | train OUT_DIR [THREADS >= 1] | bundle PEPS.jsonl",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
