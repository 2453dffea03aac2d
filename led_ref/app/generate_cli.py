"""``python -m led_ref generate --model DIR [options] FILE|-``: summarize / generate from one text file."""

import os
import sys

import numpy as np

from ..errors import read_input_text
from ..generation import GenerationConfig, generate
from ..generation.search import check_decoder_length
from .progress import EncoderLayerBar, Progress


def _early_stopping_arg(value: str):
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    if v == "never":
        return "never"
    raise ValueError(f"--early-stopping must be true, false or never, got {value!r}")


# (flag, GenerationConfig field, type, help)
_CLI_FIELDS = [
    ("--max-new-tokens", "max_new_tokens", int, "number of tokens to generate (overrides --max-length)"),
    ("--max-length", "max_length", int, "maximum decoder length, counting the decoder start token"),
    ("--min-length", "min_length", int, "minimum decoder length (eos is banned below it)"),
    ("--min-new-tokens", "min_new_tokens", int, "minimum number of generated tokens"),
    ("--num-beams", "num_beams", int, "beam width (1 = greedy or sampling)"),
    ("--num-return-sequences", "num_return_sequences", int, "sequences returned per input (<= num beams)"),
    ("--length-penalty", "length_penalty", float, "beam score = sum logprob / length ** length_penalty"),
    ("--early-stopping", "early_stopping", _early_stopping_arg, "beam stopping rule: true, false or never"),
    ("--no-repeat-ngram-size", "no_repeat_ngram_size", int, "ban repeating n-grams of this size"),
    ("--repetition-penalty", "repetition_penalty", float, "CTRL repetition penalty (> 0; 1 = off)"),
    ("--temperature", "temperature", float, "sampling temperature (with --do-sample)"),
    ("--top-k", "top_k", int, "sampling: keep the k most likely tokens (0 = off)"),
    ("--top-p", "top_p", float, "sampling: nucleus mass to keep"),
]


def add_cli_arguments(parser) -> None:
    """Arguments of ``python -m led_ref generate`` (checkpoint defaults apply where an option is not given)."""
    parser.add_argument("file", metavar="FILE", help="text file to summarize, or - for stdin")
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="checkpoint directory (config.json, model.safetensors, tokenizer files; for --backend "
                             "onnx an exported directory)")
    parser.add_argument("--backend", choices=("numpy", "onnx"), default="numpy",
                        help="numpy (led_ref) or onnx (ONNX Runtime; needs the export extra)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="numpy backend dtype")
    for flag, _, typ, help_text in _CLI_FIELDS:
        parser.add_argument(flag, type=str if typ is _early_stopping_arg else typ, default=None, help=help_text)
    parser.add_argument("--do-sample", action="store_true", default=None, help="sample instead of argmax / beams")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (numpy Generator)")
    parser.add_argument("--no-global-attention", action="store_true",
                        help="do not put global attention on the first token (<s>); by default it is put there, "
                             "as the LED docs advise for summarization")
    parser.add_argument("--no-cache", action="store_true", help="recompute the decoder prefix every step (slow)")
    parser.add_argument("--max-input-length", type=int, default=None,
                        help="truncate the input to this many tokens (default: max_encoder_position_embeddings)")
    parser.add_argument("--print-ids", action="store_true", help="print token ids instead of decoded text")


def _load_backend(args):
    if args.backend == "onnx":
        if args.dtype != "float32":
            raise ValueError("--dtype applies to the numpy backend only (the ONNX export fixes its dtype)")
        try:
            from ..export.ort import OrtLEDForConditionalGeneration
        except ImportError as exc:
            raise ImportError(f"--backend onnx needs the export extra (pip install -e '.[export]'): {exc}") from None
        return OrtLEDForConditionalGeneration.from_pretrained(args.model)
    from ..model import LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(args.model, dtype=np.dtype(args.dtype).type)
    model.encoder_layer_callback = EncoderLayerBar()  # a per-layer bar for long inputs (terminals only)
    return model


def _generation_kwargs(args):
    kwargs = {}
    for flag, field, typ, _ in _CLI_FIELDS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            kwargs[field] = typ(value) if typ is _early_stopping_arg else value
    if args.do_sample:
        kwargs["do_sample"] = True
    if args.no_cache:
        kwargs["use_cache"] = False
    return kwargs


def run_cli(args) -> int:
    """Summarize FILE with the checkpoint in --model; prints the decoded text (one line per returned sequence)."""
    if not os.path.isdir(args.model):
        raise FileNotFoundError(f"--model {args.model}: not a directory (expected a checkpoint directory)")
    # every argument is checked before anything is loaded (spec/SPEC.md#bad-input)
    if args.max_input_length is not None and args.max_input_length < 2:
        raise ValueError(f"--max-input-length must be >= 2 (room for <s> and </s>), got {args.max_input_length}")
    _generation_kwargs(args)  # --early-stopping's value
    text = read_input_text(args.file, "FILE")
    if not text.strip():
        raise ValueError(f"FILE {args.file}: the input text is empty")

    from ..tokenizer import LEDTokenizerFast

    tokenizer = LEDTokenizerFast.from_pretrained(args.model)
    model = _load_backend(args)
    kwargs = _generation_kwargs(args)
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
        print(f"led-ref generate: input has {ids.shape[1]} tokens; truncated to {limit} "
              "(--max-input-length)", file=sys.stderr)
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

        out = generate(model, ids, mask, None, generation_config=gc,
                       global_attention=None if args.no_global_attention else "first",
                       seed=args.seed, step_callback=on_step, **kwargs)
    for row in out:
        if args.print_ids:
            print(" ".join(str(int(t)) for t in row))
        else:
            print(tokenizer.decode(row.tolist(), skip_special_tokens=True).strip())
    return 0
