"""The demo model's task and data: list a long document's section titles, in order.

Documents are Python Enhancement Proposals (public domain; led_ref/data/peps-demo.jsonl.gz, see
led_ref/data/README.md): each example is a run of whole top-level sections of one PEP, 2,000-``max_tokens``
tokens long, and its target is those sections' titles in order, one per line. A reader can check an output
against the document at a glance, and getting it right needs the whole document (titles are spread over thousands
of tokens). Every 8th PEP of the bundle (by id) is held out and never trained on; the main job reports ROUGE on
those.

The recipe that trained the bundled model (data stages, pruned vocabulary, `led-ref finetune` runs) is the
maintainer tool ``tools/demo_model/recipe.py``; its README is led_ref/data/demo-model/README.md.
"""

import gzip
import json
import os
import re
import statistics

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
BUNDLE = os.path.join(DATA_DIR, "peps-demo.jsonl.gz")
DEMO_MODEL_DIR = os.path.join(DATA_DIR, "demo-model")
METRICS_NAME = "metrics.json"  # beside the checkpoint: what the recipe measured (tools/demo_model/recipe.py)
# Titles are joined by a newline, not " | ": GPT-2's BPE tokenizes a word after a space differently (Ġ-prefixed,
# often as other pieces) than at a line start, where headings are; after a newline a title's tokens in the target
# are the same as in the document, so the model can copy them.
SEPARATOR = "\n"
MIN_TOKENS, MAX_TOKENS = 2000, 4096
HELD_OUT_EVERY = 8

# An RST section adornment line: one punctuation character repeated (at least 3 times).
_ADORN = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}\s*$")


def sections(text):
    """Top-level sections of an RST text as [(title, section_text)]: the adornment style of the first title is
    the top level (underline-only and over+underline styles differ, as in docutils). Text before the first title
    is dropped."""
    lines = text.split("\n")
    found = []  # (line index where the section starts, title, style)
    i = 0
    while i < len(lines) - 1:
        a = _ADORN.match(lines[i])
        if (
            a
            and i + 2 < len(lines)
            and lines[i + 1].strip()
            and not _ADORN.match(lines[i + 1])
            and _ADORN.match(lines[i + 2])
        ):
            found.append((i, lines[i + 1].strip(), "over" + lines[i][0]))
            i += 3
            continue
        title = lines[i].strip()
        if (
            title
            and not a
            and _ADORN.match(lines[i + 1])
            and len(lines[i + 1].strip()) >= len(title) - 1
            and (i == 0 or not lines[i - 1].strip())
        ):
            found.append((i, title, "under" + lines[i + 1].strip()[0]))
            i += 2
            continue
        i += 1
    if not found:
        return []
    top = [f for f in found if f[2] == found[0][2]]
    bounds = [f[0] for f in top] + [len(lines)]
    return [(t[1], "\n".join(lines[bounds[k] : bounds[k + 1]]).strip("\n")) for k, t in enumerate(top)]


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
            out.append(
                {"id": f"{pep['id']}#{start}", "text": text, "summary": SEPARATOR.join(t for t, _ in secs[start:end])}
            )
    return out


def _counter(tokenizer):
    return lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])


def demo_tokenizer(model_dir=DEMO_MODEL_DIR):
    """The demo model's own tokenizer (GPT-2's BPE cut to DEMO_MERGES merges): examples are sized in its tokens."""
    from led_ref.tokenizer import LEDTokenizerFast

    return LEDTokenizerFast.from_pretrained(model_dir)


def heldout_examples(model_dir=DEMO_MODEL_DIR, tokenizer=None):
    """The held-out examples (never trained on), rebuilt from the bundle: [{"id", "text", "summary"}], sized in
    ``tokenizer``'s tokens (default: the one in ``model_dir``)."""
    count = _counter(tokenizer or demo_tokenizer(model_dir))
    return [e for p in held_out(load_bundle())[1] for e in examples(p, count)]


def heldout_rouge(model_dir=DEMO_MODEL_DIR, examples_=None, progress=None):
    """(mean scores {"rouge1", "rouge2", "rougeL"}, per-document scores [{"id", "rouge1", "rouge2", "rougeL"}],
    predictions) of the checkpoint on the held-out examples: led_ref's NumPy model, the checkpoint's generation
    defaults, global attention on <s> (needs rouge-score)."""
    from led_ref.app.finetune import mean_rouge, rouge_per_document, summarize
    from led_ref.model import LEDForConditionalGeneration

    tok = demo_tokenizer(model_dir)
    rows = heldout_examples(tokenizer=tok) if examples_ is None else examples_
    model = LEDForConditionalGeneration.from_pretrained(model_dir)
    preds = summarize(
        model,
        tok,
        [r["text"] for r in rows],
        model.config.max_encoder_position_embeddings,
        model.generation_config,
        log=progress,
    )
    scores = rouge_per_document(preds, [r["summary"] for r in rows])
    per_document = [{"id": r["id"], **s} for r, s in zip(rows, scores)]
    return mean_rouge(scores), per_document, preds


def typical_document(per_document, key="rougeL"):
    """The index of the held-out document that stands for the model's typical result: the one whose ``key`` score
    is nearest the median score of the set (of two equally near, the earlier one). per_document: [{key: score}]."""
    if not per_document:
        raise ValueError("typical_document: no per-document scores")
    scores = [float(d[key]) for d in per_document]
    median = statistics.median(scores)
    return min(range(len(scores)), key=lambda i: (abs(scores[i] - median), i))


def stored_heldout_scores(examples_, model_dir=DEMO_MODEL_DIR):
    """(mean scores, per-document scores) that metrics.json records for exactly these held-out examples (the same
    ids in the same order), or None when it records no per-document scores for them."""
    metrics = stored_metrics(model_dir) or {}
    per_document = metrics.get("heldout")
    if not isinstance(per_document, list) or [d.get("id") for d in per_document] != [e["id"] for e in examples_]:
        return None
    return {k: metrics[k] for k in ("rouge1", "rouge2", "rougeL")}, per_document


def stored_metrics(model_dir=DEMO_MODEL_DIR):
    """The checkpoint's metrics.json (written by tools/demo_model/recipe.py: training time, held-out ROUGE means
    and, under "heldout", the per-document scores in held-out order), or None when there is none."""
    path = os.path.join(model_dir, METRICS_NAME)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)
