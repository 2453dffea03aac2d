"""Rebuild the bundled demo corpus ``led_ref/data/peps-demo.jsonl`` from the PEP corpus.

    python -m tools.corpus.make_demo_corpus /path/to/peps.jsonl

Picks 16 PEPs whose text has 400-2,500 tokens (bundled LED tokenizer, special tokens included) and whose abstract
has at least 30 tokens, evenly spread over that length range (every k-th document by text length, ties by id), and
writes them with the fields id, title, text, abstract in that order (the corpus's own text, unchanged).
"""

import json
import os
import sys

N_DOCS, MIN_TOKENS, MAX_TOKENS, MIN_ABSTRACT_TOKENS = 16, 400, 2500, 30
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "data", "peps-demo.jsonl")


def main(argv=None):
    from led_ref.tokenizer import LEDTokenizerFast

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m tools.corpus.make_demo_corpus PEPS_JSONL")
    tok = LEDTokenizerFast.from_pretrained(os.path.join(os.path.dirname(__file__), "..", "..", "data"))
    pool = []
    with open(argv[0], encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            n = len(tok(r["text"])["input_ids"])
            if MIN_TOKENS <= n <= MAX_TOKENS and len(tok(r["abstract"])["input_ids"]) >= MIN_ABSTRACT_TOKENS:
                pool.append((n, r["id"], r))
    pool.sort(key=lambda t: (t[0], t[1]))
    step = len(pool) / N_DOCS
    picked = [pool[int(i * step)][2] for i in range(N_DOCS)]
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for r in picked:
            f.write(json.dumps({k: r[k] for k in ("id", "title", "text", "abstract")}, ensure_ascii=False) + "\n")
    print(f"wrote {len(picked)} documents to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
