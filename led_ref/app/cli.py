"""Command line: ``python -m led_ref`` (also installed as ``led-ref``).

Each subcommand lives in the module that holds its work; this file only wires them up,
so that ``import led_ref.app.cli`` stays cheap and the export extra is loaded lazily.
Errors are printed as one line (``--debug`` shows the traceback).
"""

import argparse
import importlib
import sys

from ..errors import CheckFailedError

# subcommand -> (module, help, examples). The module provides add_cli_arguments(parser)
# and run_cli(args) -> int.
SUBCOMMANDS = {
    "demo": (
        "led_ref.app.demo",
        "run the main job: encode + generate on a bundled text (default when no subcommand is given)",
        [
            "python -m led_ref demo",
            "python -m led_ref demo --size tiny",
            "python -m led_ref demo --backends numpy --json report.json",
            "python -m led_ref demo --model ./led-large-16384-arxiv --file paper.txt",
        ],
    ),
    "generate": (
        "led_ref.app.generate_cli",
        "summarize / generate from a text file with a local LED checkpoint",
        [
            "python -m led_ref generate --model ./my-led doc.txt",
            "cat doc.txt | python -m led_ref generate --model ./my-led --num-beams 4 -",
            "python -m led_ref generate --model ./my-led-onnx --backend onnx doc.txt",
        ],
    ),
    "export": (
        "led_ref.app.export_cli",
        "export an LED checkpoint to ONNX (encoder / decoder / decoder_with_past) and validate it",
        [
            "python -m led_ref export ./my-led ./my-led-onnx",
            "python -m led_ref export ./my-led ./out --quantize int8",
            "python -m led_ref export ./my-led ./out --dtype float16 --device cuda",
        ],
    ),
    "summarize": (
        "led_ref.app.corpus.summarize",
        "summarize a corpus (JSONL or a directory of .txt) into JSONL: batched, resumable, local or on Ray",
        [
            "python -m led_ref summarize --model ./my-led corpus.jsonl -o summaries.jsonl",
            "python -m led_ref summarize -o demo.jsonl --evaluate   # bundled demo corpus and demo model",
            "python -m led_ref summarize --model ./my-led-onnx --backend onnx docs/ -o out.jsonl --resume",
            "python -m led_ref summarize --model ./my-led corpus.jsonl -o out.jsonl --engine ray --num-actors 4",
        ],
    ),
    "evaluate": (
        "led_ref.app.corpus.evaluate",
        "ROUGE-1/2/L/Lsum of summaries against references (rouge-score; 95-percent bootstrap intervals)",
        [
            "python -m led_ref evaluate summaries.jsonl references.jsonl",
            "python -m led_ref evaluate summaries.jsonl corpus.jsonl --references-field abstract --json rouge.json",
        ],
    ),
    "verify": (
        "led_ref.app.verify_cli",
        "check an LED implementation against led-ref property by property (conformance kit)",
        [
            "python -m led_ref verify --candidate python:my_port:forward",
            "python -m led_ref verify --candidate hf:./my-led --dtype float32 --generate",
            "python -m led_ref verify --candidate onnx:./my-led-onnx --reference ./my-led",
            "python -m led_ref verify --candidate python:my_port:forward --outputs encoder_last_hidden_state,logits",
            "python -m led_ref verify --candidate python:my_port:forward --json verify.json --max-decoder-len 64",
            "python -m led_ref verify --candidate python:my_port:forward --replay /tmp/led-ref-verify-xxxx/logits.npz",
        ],
    ),
    "finetune": (
        "led_ref.app.finetune",
        "fine-tune an LED checkpoint on {text, summary} JSONL (torch; AdamW, warm-up, checkpoints, ROUGE)",
        [
            "python -m led_ref finetune --model ./my-led --train train.jsonl --eval eval.jsonl -o ./my-led-ft",
            "python -m led_ref finetune --model ./my-led --train train.jsonl -o ./out --gradient-checkpointing "
            "--grad-accum 8 --lr 3e-5 --warmup-steps 100",
            "python -m led_ref finetune --model ./my-led --train train.jsonl -o ./out --resume",
        ],
    ),
    "bench": (
        "led_ref.app.benchmarks",
        "print a benchmark table (tokenizer, encoder, generation, memory, GFLOP/s)",
        [
            "python -m led_ref bench --quick",
            "python -m led_ref bench --backends numpy,onnx",
            "python -m led_ref bench --hf-python /path/to/hf-venv/bin/python",
            "python -m led_ref bench --scaling --plot scaling.png --json scaling.json   # needs the plot extra",
        ],
    ),
    "attention-map": (
        "led_ref.app.attention_map",
        "draw one encoder layer/head's attention (band, global rows/columns, padding) as a PNG (plot extra)",
        [
            "python -m led_ref attention-map --model ./my-led doc.txt --layer 0 --head 3 -o attn.png",
            "python -m led_ref attention-map --model ./my-led doc.txt --layer 5 --head 0 --tokens 4096 "
            "--global-positions 0,1000 -o attn.png",
        ],
    ),
}


class CLIError(Exception):
    """An error whose message already tells the user what to do; printed without a traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the rule for every input error; --help shows the usage)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(chosen=None):
    """The argument parser; only the ``chosen`` subcommand's module is imported (export needs torch)."""
    parser = _Parser(
        prog="led-ref",
        description="led-ref: NumPy reference implementation of LED, with ONNX export.",
        epilog="examples:\n  python -m led_ref                # the main job (demo)\n"
        "  python -m led_ref generate --help\n  python -m led_ref export --help\n  python -m led_ref bench --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text, examples) in SUBCOMMANDS.items():
        p = sub.add_parser(
            name,
            help=help_text.replace("%", "%%"),  # argparse %-formats help strings
            description=help_text,
            epilog="examples:\n" + "\n".join("  " + e for e in examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
        from led_ref.app.blas import add_threads_argument

        add_threads_argument(p)
        p.set_defaults(_module=module_name)
        if name == chosen:
            importlib.import_module(module_name).add_cli_arguments(p)
    return parser


def _install_hint(exc):
    if isinstance(exc, ImportError) and "pip install" in str(exc):
        return ""  # the message already says what to install
    if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] in ("torch", "onnx", "onnxruntime"):
        return " (this needs the export extra: pip install 'led-ref[export]')"
    return ""


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    if chosen is None and not any(a in ("-h", "--help") for a in argv):
        chosen, argv = "demo", ["demo"] + argv  # the main job is the default
    debug = "--debug" in argv
    try:
        parser = build_parser(chosen)
    except ImportError as exc:  # e.g. `export` without the export extra installed
        if debug:
            raise
        print(f"led-ref {chosen}: error: {exc}{_install_hint(exc)}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        from led_ref.app.blas import configure

        for note in configure(args.threads):
            print(f"led-ref {args.command}: {note}", file=sys.stderr)
        module = importlib.import_module(args._module)
        return int(module.run_cli(args) or 0)
    except KeyboardInterrupt:
        print("led-ref: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, FileNotFoundError, ImportError, OSError) as exc:
        # spec/SPEC.md#bad-input: one line, exit 2 (1: the run completed but its result failed a check)
        if args.debug or debug:
            raise
        message = " ".join(f"{exc}{_install_hint(exc)}".split())
        print(f"led-ref {args.command}: error: {message} (--debug shows the traceback)", file=sys.stderr)
        return 1 if isinstance(exc, CheckFailedError) else 2
