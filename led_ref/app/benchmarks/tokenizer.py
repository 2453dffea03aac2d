"""Tokenizer throughput: led_ref's LEDTokenizer / LEDTokenizerFast (and HF's, when transformers is importable).

    python -m tools.bench.tokenizer                                      # led_ref only
    PYTHONPATH=<repo> /path/to/hf-venv/bin/python -m tools.bench.tokenizer   # + HF slow and fast

Encodes >= 1 MB of text (the bundled excerpt, repeated) in one call, and as a batch of its lines, and prints
tokens/s: the median of a few runs, each on a fresh tokenizer (so every run pays for filling the per-word BPE
cache, as HF's do). The contenders run interleaved, round by round, so load on a shared machine hits all alike.
Targets: >= 3x HF slow, within 2x of HF fast (Rust).
"""

import statistics
import time

from led_ref.app.benchmarks import common

VOCAB = common.DATA_DIR / "vocab.json"
MERGES = common.DATA_DIR / "merges.txt"


def _ids(tok, text):
    return tok(text)["input_ids"]


def _offsets(tok, text):
    return tok(text, return_offsets_mapping=True)["offset_mapping"]


def _batch_ids(tok, text):
    """Encode ``text`` as a batch of its lines (the usual dataset shape); all ids, flattened."""
    return [i for row in tok([line for line in text.split("\n") if line])["input_ids"] for i in row]


def _ours():
    from led_ref.tokenizer import LEDTokenizer, LEDTokenizerFast

    def slow():
        return LEDTokenizer(VOCAB, MERGES)

    def fast():
        return LEDTokenizerFast(VOCAB, MERGES)

    return [
        ("slow", slow, _ids),
        ("fast", fast, _ids),
        ("fast_offsets", fast, _offsets),
        ("fast_batch", fast, _batch_ids),
    ]


def _hf():
    import transformers

    def slow():
        return transformers.LEDTokenizer(vocab_file=str(VOCAB), merges_file=str(MERGES))

    def fast():
        return transformers.LEDTokenizerFast(vocab_file=str(VOCAB), merges_file=str(MERGES))

    return [
        ("hf_slow", slow, _ids),
        ("hf_fast", fast, _ids),
        ("hf_fast_offsets", fast, _offsets),
        ("hf_fast_batch", fast, _batch_ids),
    ]


def _measure(contenders, text, repeat):
    """{name}_tokens_per_s (median over ``repeat`` interleaved rounds) and {name}_tokens."""
    rates = {name: [] for name, _, _ in contenders}
    res = {"bytes": len(text.encode("utf-8"))}
    for _ in range(repeat):
        for name, make, encode in contenders:
            tok = make()
            t0 = time.perf_counter()
            n = len(encode(tok, text))
            rates[name].append(n / (time.perf_counter() - t0))
            res[f"{name}_tokens"] = n
    for name, r in rates.items():
        res[f"{name}_tokens_per_s"] = statistics.median(r)
    return res


def tokenizer_throughput(text, repeat=3):
    """tokens/s of led_ref's tokenizers on ``text``: slow and fast (ids), fast with offsets, fast on the
    text's lines as a batch. Keys ``<name>_tokens_per_s``, plus ``tokens`` and ``bytes``."""
    res = _measure(_ours(), text, repeat)
    res["tokens"] = res["slow_tokens"]
    return res
