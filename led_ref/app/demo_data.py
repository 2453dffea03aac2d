"""The demo model's task and data: list a long document's section titles, in order.

Documents are Python Enhancement Proposals (public domain; led_ref/data/peps-demo.jsonl.gz, see
led_ref/data/README.md): each example is a run of whole top-level sections of one PEP, 2,000-``max_tokens``
tokens long, and its target is those sections' titles in order, joined by `` | ``. A reader can check an output
against the document at a glance, and getting it right needs the whole document (titles are spread over thousands
of tokens). Every 8th PEP of the bundle (by id) is held out and never trained on; the main job reports ROUGE on
those.

    python -m led_ref.app.demo_data build OUT      # OUT/train.jsonl, OUT/heldout.jsonl, OUT/init (random LED)
    python -m led_ref finetune --model OUT/init --train OUT/train.jsonl -o OUT/model ...   (see README)

``bundle`` (run once, from /work/shared/data/peps) wrote the compact bundled subset. The vocabulary of the demo
model is the bundled GPT-2 BPE pruned to what the bundled documents use (``prune_bpe``): every byte stays, so any
text still tokenizes; only the merges the documents need are kept, in their original order, so the documents
tokenize to the same token strings as with the full vocabulary.
"""

import gzip
import json
import os
import re
import sys

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
BUNDLE = os.path.join(DATA_DIR, "peps-demo.jsonl.gz")
DEMO_MODEL_DIR = os.path.join(DATA_DIR, "demo-model")
SEPARATOR = " | "
MIN_TOKENS, MAX_TOKENS = 2000, 4096
BUNDLE_RUN_TOKENS = 6000  # bundle(): a PEP is kept if a run of its first sections within this many reaches MIN_TOKENS
HELD_OUT_EVERY = 8

# An RST section adornment line: one punctuation character repeated (at least 3 times).
_ADORN = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}\s*$")

# The demo model's shape: small enough to train on 2 cores in well under 45 minutes.
DEMO_SHAPE = dict(d_model=128, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                  decoder_attention_heads=4, encoder_ffn_dim=512, decoder_ffn_dim=512, attention_window=256,
                  max_encoder_position_embeddings=MAX_TOKENS, max_decoder_position_embeddings=128,
                  dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, activation_function="gelu",
                  pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)


def sections(text):
    """Top-level sections of an RST text as [(title, section_text)]: the adornment style of the first title is
    the top level (underline-only and over+underline styles differ, as in docutils). Text before the first title
    is dropped."""
    lines = text.split("\n")
    found = []  # (line index where the section starts, title, style)
    i = 0
    while i < len(lines) - 1:
        a = _ADORN.match(lines[i])
        if a and i + 2 < len(lines) and lines[i + 1].strip() and not _ADORN.match(lines[i + 1]) \
                and _ADORN.match(lines[i + 2]):
            found.append((i, lines[i + 1].strip(), "over" + lines[i][0]))
            i += 3
            continue
        title = lines[i].strip()
        if title and not a and _ADORN.match(lines[i + 1]) and len(lines[i + 1].strip()) >= len(title) - 1 \
                and (i == 0 or not lines[i - 1].strip()):
            found.append((i, title, "under" + lines[i + 1].strip()[0]))
            i += 2
            continue
        i += 1
    if not found:
        return []
    top = [f for f in found if f[2] == found[0][2]]
    bounds = [f[0] for f in top] + [len(lines)]
    return [(t[1], "\n".join(lines[bounds[k]: bounds[k + 1]]).strip("\n")) for k, t in enumerate(top)]


def load_bundle(path=BUNDLE):
    """The bundled PEPs: [{id, title, text}]."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: the bundled PEP subset is missing (reinstall led-ref)")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def held_out(peps):
    """(training PEPs, held-out PEPs): every HELD_OUT_EVERY-th PEP by id is held out."""
    peps = sorted(peps, key=lambda p: p["id"])
    test = [p for k, p in enumerate(peps) if k % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    train = [p for k, p in enumerate(peps) if k % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    return train, test


def examples(pep, count_tokens, min_tokens=MIN_TOKENS, max_tokens=MAX_TOKENS, all_starts=False):
    """{"id", "text", "summary"} examples of one PEP: whole top-level sections from a start section, as many as fit
    in max_tokens (counting <s> and </s>), kept when >= min_tokens and >= 2 sections. Start at the first section
    only, or (all_starts, for training data) at every section."""
    secs = sections(pep["text"])
    sizes = [count_tokens(s + "\n\n") for _, s in secs]
    out = []
    for start in range(len(secs) if all_starts else min(1, len(secs))):
        total, end = 2, start
        while end < len(secs) and total + sizes[end] <= max_tokens:
            total += sizes[end]
            end += 1
        if total >= min_tokens and end - start >= 2:
            text = "\n\n".join(s for _, s in secs[start:end]) + "\n"
            out.append({"id": f"{pep['id']}#{start}", "text": text,
                        "summary": SEPARATOR.join(t for t, _ in secs[start:end])})
    return out


def _full_tokenizer():
    from led_ref.tokenizer import LEDTokenizerFast

    return LEDTokenizerFast.from_pretrained(DATA_DIR)


def build_sets(peps, tokenizer):
    """(train examples, held-out examples)."""
    count = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    train_peps, test_peps = held_out(peps)
    train = [e for p in train_peps for e in examples(p, count, all_starts=True)]
    test = [e for p in test_peps for e in examples(p, count)]
    return train, test


def heldout_examples():
    """The held-out examples (never trained on), rebuilt from the bundle: [{"id", "text", "summary"}]."""
    tok = _full_tokenizer()
    count = lambda s: len(tok(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    return [e for p in held_out(load_bundle())[1] for e in examples(p, count)]


def heldout_rouge(model_dir=DEMO_MODEL_DIR, examples_=None, progress=None):
    """(scores {"rouge1", "rouge2", "rougeL"}, predictions) of the checkpoint on the held-out examples: led_ref's
    NumPy model, the checkpoint's generation defaults, global attention on <s> (needs rouge-score)."""
    from led_ref.app.finetune import rouge_scores, summarize
    from led_ref.model import LEDForConditionalGeneration
    from led_ref.tokenizer import LEDTokenizerFast

    rows = heldout_examples() if examples_ is None else examples_
    model = LEDForConditionalGeneration.from_pretrained(model_dir)
    tok = LEDTokenizerFast.from_pretrained(model_dir)
    gc = model.generation_config
    preds = summarize(model, tok, [r["text"] for r in rows], model.config.max_encoder_position_embeddings,
                      gc.max_length - 1, gc.num_beams, log=progress)
    return rouge_scores(preds, [r["summary"] for r in rows]), preds


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


def write_pruned_tokenizer(texts, out_dir):
    """vocab.json + merges.txt (+ the bundled tokenizer_config/special tokens) pruned to ``texts``; returns size."""
    from led_ref.bpe import load_merges, load_vocab

    vocab = load_vocab(os.path.join(DATA_DIR, "vocab.json"))
    merges = load_merges(os.path.join(DATA_DIR, "merges.txt"))
    new, kept = prune_bpe(texts, vocab, merges)
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
    count = lambda s: len(tok(s, add_special_tokens=False)["input_ids"])  # noqa: E731
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
    for name in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
        if name in out:
            out[name] = out["shared.weight"]  # tied: one array
    return unflatten(out)


def build(out_dir, seed=0):
    """OUT/train.jsonl, OUT/heldout.jsonl and OUT/init: the randomly initialised demo LED (pruned vocabulary)."""
    from led_ref.config import LEDConfig
    from led_ref.generation import GenerationConfig
    from led_ref.weights import save_checkpoint

    peps = load_bundle()
    train, test = build_sets(peps, _full_tokenizer())
    os.makedirs(out_dir, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("heldout.jsonl", test)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    init = os.path.join(out_dir, "init")
    texts = [p["text"] for p in peps] + [e["summary"] for e in train + test]
    vocab_size = write_pruned_tokenizer(texts, init)
    config = LEDConfig(vocab_size=vocab_size, **DEMO_SHAPE)
    save_checkpoint(init, config, hf_init(config, seed), "lm")
    GenerationConfig(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                     forced_bos_token_id=0, max_length=128, num_beams=1).save_pretrained(init)
    return {"train": len(train), "heldout": len(test), "vocab_size": vocab_size}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "build":
        print(json.dumps(build(argv[1])))
    elif len(argv) == 2 and argv[0] == "bundle":
        print(bundle(argv[1]), "PEPs bundled in", BUNDLE)
    else:
        print("usage: python -m led_ref.app.demo_data build OUT_DIR | bundle PEPS.jsonl", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
