"""Shared by the summarize / evaluate tests: a tiny random checkpoint and corpora with bad records."""

import json
import os
import shutil

from tests.testlib import DATA

# eos bias that makes this tiny random model stop early on some documents and run to max_new_tokens on others,
# so that batches hold rows of different generated lengths (padding after eos is exercised)
EOS_BIAS = 9.0
DEMO = DATA / "peps-demo.jsonl"


def tiny_checkpoint(d, eos_bias=EOS_BIAS, max_positions=512):
    """A 1-layer random LED (d_model 16) with the bundled real-size vocabulary, written to directory ``d``."""
    from led_ref.config import LEDConfig
    from led_ref.weights import init_params, save_params

    os.makedirs(d, exist_ok=True)
    cfg = LEDConfig(
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        attention_window=8,
        max_encoder_position_embeddings=max_positions,
        max_decoder_position_embeddings=32,
    )
    params = init_params(cfg, "lm", seed=0)
    params["final_logits_bias"][0, 2] += eos_bias
    cfg.save_pretrained(str(d))
    save_params(str(d), params, "lm")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(DATA / name, os.path.join(d, name))
    return str(d)


def demo_records(n=None, chars=None):
    """Records of the bundled demo corpus; ``chars``: texts cut to varied lengths (fast, still mixed)."""
    recs = [json.loads(line) for line in open(DEMO, encoding="utf-8")]
    if chars:
        for i, r in enumerate(recs):
            r["text"] = r["text"][: chars + 97 * i]
    return recs[:n] if n else recs


# bad records, each with what its error line must say
BAD_LINES = [
    (b'{"id": "broken", "text": "no closing brace"\n', None, "not valid JSON"),
    (b'{"id": "empty", "text": "   "}\n', "empty", "empty text"),
    (b'{"id": "notext", "body": "wrong field"}\n', "notext", "no 'text' field (fields found: ['body', 'id']"),
    (b'{"id": "latin1", "text": "caf\xe9 au lait"}\n', "latin1", "not valid UTF-8"),
    (b'{"id": "surrogate", "text": "bad \\ud800 escape"}\n', "surrogate", "not valid UTF-8"),
    (b'{"text": "a record without id"}\n', None, "no 'id' field"),
    (b'["not", "an", "object"]\n', None, "expected a JSON object"),
    (b'{"id": 3.5, "text": "float id"}\n', None, "must be a string or an integer"),
]


def write_bad_corpus(path, n_good=6, chars=300):
    """JSONL with ``n_good`` demo documents and every bad record of BAD_LINES interleaved; -> good ids."""
    good = demo_records(n_good, chars=chars)
    with open(path, "wb") as f:
        for i, r in enumerate(good):
            f.write(json.dumps(r).encode() + b"\n")
            if i < len(BAD_LINES):
                f.write(BAD_LINES[i][0])
        for raw, _, _ in BAD_LINES[len(good) :]:
            f.write(raw)
        f.write(b"\n")  # a blank line is not a record
    return [r["id"] for r in good]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def without_seconds(lines):
    """Lines keyed by id (or line number), with the timing field dropped: what two engines must agree on."""
    out = {}
    for r in lines:
        key = r["id"] if r["id"] is not None else f"line {r['line']}"
        assert key not in out, f"{key} written twice"
        out[key] = {k: v for k, v in r.items() if k != "seconds"}
    return out
