"""Tokenizer throughput: led_ref's LEDTokenizer / LEDTokenizerFast (and HF's, when transformers is importable).

    python -m tools.bench.tokenizer                                      # led_ref only
    PYTHONPATH=<repo> /path/to/hf-venv/bin/python -m tools.bench.tokenizer   # + HF slow and fast

Encodes >= 1 MB of text (the bundled excerpt, repeated) in one call, and as a batch of its lines, and prints
tokens/s: the median of a few runs, each on a fresh tokenizer (so every run pays for filling the per-word BPE
cache, as HF's do). The contenders run interleaved, round by round, so load on a shared machine hits all alike.
Targets: >= 3x HF slow, within 2x of HF fast (Rust).
"""

import argparse
import sys

from led_ref.app.benchmarks import common
from led_ref.app.benchmarks.tokenizer import _hf, _measure, _ours


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=float, default=1.0, help="megabytes of text to encode (default 1)")
    p.add_argument("--repeat", type=int, default=3, help="rounds; the median is printed (default 3)")
    args = p.parse_args(argv)
    if args.mb <= 0 or args.repeat < 1:
        raise SystemExit("--mb must be > 0 and --repeat >= 1")
    text = common.load_text(int(args.mb * 2**20))
    contenders = _ours()
    try:
        import transformers

        contenders += _hf()
        hf_version = transformers.__version__
    except ImportError:
        hf_version = None
    res = _measure(contenders, text, args.repeat)
    print(
        f"text: {res['bytes'] / 2**20:.2f} MB, {res['slow_tokens']:,} tokens; median of {args.repeat} "
        "interleaved rounds, fresh tokenizer per run"
    )
    for name, _, _ in contenders:
        who = f"HF {hf_version}" if name.startswith("hf_") else "led_ref"
        print(f"{who:<10} {name.removeprefix('hf_'):<13} {res[name + '_tokens_per_s'] / 1e6:7.3f} M tokens/s")
    if hf_version is None:
        print("HF: transformers not importable here (run with an interpreter that has it, PYTHONPATH=<repo>)")
        return 0
    if res["hf_fast_tokens"] != res["fast_tokens"] or res["hf_slow_tokens"] != res["slow_tokens"]:
        print("WARNING: HF and led_ref token counts differ", file=sys.stderr)
    for ours, theirs, goal in (
        ("slow", "hf_slow", ">= 3x"),
        ("fast", "hf_fast", ">= 0.5x"),
        ("fast_offsets", "hf_fast_offsets", ">= 0.5x"),
        ("fast_batch", "hf_fast_batch", ">= 0.5x"),
    ):
        ratio = res[ours + "_tokens_per_s"] / res[theirs + "_tokens_per_s"]
        print(f"led_ref {ours} / HF {theirs[3:]}: {ratio:5.2f}x (goal {goal})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
