"""``python -m led_ref generate --model DIR [options] FILE|-``: summarize / generate from one text file."""

import os
import sys

import numpy as np

from ..errors import read_input_text
from ..generation import GenerationConfig, generate
from ..generation.search import check_decoder_length
from .genflags import (
    add_generation_arguments,
    add_model_arguments,
    check_precision,
    generation_kwargs,
    load_backend,
)
from .progress import EncoderLayerBar, Progress


def add_cli_arguments(parser) -> None:
    """Arguments of ``python -m led_ref generate`` (checkpoint defaults apply where an option is not given)."""
    parser.add_argument("file", metavar="FILE", help="text file to summarize, or - for stdin")
    add_model_arguments(
        parser,
        "checkpoint directory (config.json, model.safetensors, tokenizer files; --backend onnx "
        "exports it once into a cache, or give an exported directory)",
    )
    add_generation_arguments(parser)
    parser.add_argument(
        "--max-input-length",
        type=int,
        default=None,
        help="truncate the input to this many tokens (default: max_encoder_position_embeddings)",
    )
    parser.add_argument("--print-ids", action="store_true", help="print token ids instead of decoded text")


def run_cli(args) -> int:
    """Summarize FILE with the checkpoint in --model; prints the decoded text (one line per returned sequence)."""
    if not os.path.isdir(args.model):
        raise FileNotFoundError(f"--model {args.model}: not a directory (expected a checkpoint directory)")
    # every argument is checked before anything is loaded (spec/SPEC.md#bad-input)
    if args.max_input_length is not None and args.max_input_length < 2:
        raise ValueError(f"--max-input-length must be >= 2 (room for <s> and </s>), got {args.max_input_length}")
    generation_kwargs(args)  # --early-stopping's value
    check_precision(args.backend, args.precision)
    text = read_input_text(args.file, "FILE")
    if not text.strip():
        raise ValueError(f"FILE {args.file}: the input text is empty")

    from ..tokenizer import LEDTokenizerFast

    tokenizer = LEDTokenizerFast.from_pretrained(args.model)
    model = load_backend(args.model, args.backend, args.dtype, EncoderLayerBar(), precision=args.precision)
    kwargs = generation_kwargs(args)
    gc = GenerationConfig.for_model(args.model)
    probe = gc.copy()
    probe.update(**kwargs)
    probe.validate()  # options are refused before the input is tokenized or anything is printed
    check_decoder_length(probe, model.config)
    limit = args.max_input_length
    if limit is None:
        limit = getattr(model.config, "max_encoder_position_embeddings", None)
    enc = tokenizer(text, return_tensors="np")
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    if limit is not None and ids.shape[1] > limit:
        print(
            f"led-ref generate: input has {ids.shape[1]} tokens; truncated to {limit} (--max-input-length)",
            file=sys.stderr,
        )
        enc = tokenizer(text, return_tensors="np", truncation=True, max_length=limit)
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
    mask = np.asarray(enc["attention_mask"], dtype=np.int64) if "attention_mask" in enc else np.ones_like(ids)

    if probe.max_new_tokens is not None:
        total = probe.max_new_tokens
    else:
        total = max(probe.max_length - 1, 1)
    with Progress(total=total, desc="generate", unit="tok") as bar:

        def on_step(done, _max_steps):
            bar.update(done - bar.n)

        out = generate(
            model,
            ids,
            mask,
            None,
            generation_config=gc,
            global_attention=None if args.no_global_attention else "first",
            seed=args.seed,
            step_callback=on_step,
            **kwargs,
        )
    for row in out:
        if args.print_ids:
            print(" ".join(str(int(t)) for t in row))
        else:
            print(tokenizer.decode(row.tolist(), skip_special_tokens=True).strip())
    return 0
