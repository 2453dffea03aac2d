"""Generation flags and model loading shared by the commands that generate (``generate``, ``summarize``)."""

import numpy as np

from ..export.openvino_session import PRECISIONS  # numpy only at import: openvino is imported when bf16 runs
from ..generation import GenerationConfig


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
CLI_FIELDS = [
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


def add_model_arguments(parser, model_help, default=None) -> None:
    """--model (required unless ``default`` is given), --backend, --dtype."""
    parser.add_argument("--model", required=default is None, default=default, metavar="DIR", help=model_help)
    parser.add_argument(
        "--backend",
        choices=("numpy", "onnx"),
        default="numpy",
        help="numpy (led_ref) or onnx (ONNX Runtime; needs the export extra)",
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="numpy backend dtype")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="--backend onnx: float32 (ONNX Runtime) or bf16 (bfloat16 on a CPU with AVX512_BF16/AMX, through "
        "OpenVINO; needs the openvino extra)",
    )


def add_generation_arguments(parser, skip=()) -> None:
    """The GenerationConfig flags (checkpoint defaults apply where a flag is not given), --do-sample, --seed,
    --no-global-attention, --no-cache. ``skip``: flags this command does not offer."""
    for flag, _, typ, help_text in CLI_FIELDS:
        if flag not in skip:
            parser.add_argument(flag, type=str if typ is _early_stopping_arg else typ, default=None, help=help_text)
    parser.add_argument("--do-sample", action="store_true", default=None, help="sample instead of argmax / beams")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (numpy Generator)")
    parser.add_argument(
        "--no-global-attention",
        action="store_true",
        help="do not put global attention on the first token (<s>); by default it is put there, "
        "as the LED docs advise for summarization",
    )
    parser.add_argument("--no-cache", action="store_true", help="recompute the decoder prefix every step (slow)")


def generation_kwargs(args) -> dict:
    """GenerationConfig fields given on the command line (only those given: the checkpoint's config fills the rest)."""
    kwargs = {}
    for flag, field, typ, _ in CLI_FIELDS:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            kwargs[field] = typ(value) if typ is _early_stopping_arg else value
    if args.do_sample:
        kwargs["do_sample"] = True
    if args.no_cache:
        kwargs["use_cache"] = False
    return kwargs


def resolved_generation_config(model_dir, kwargs) -> GenerationConfig:
    """The checkpoint's generation config updated by ``kwargs`` and validated (bad flags fail before any work)."""
    from ..config import LEDConfig
    from ..generation.search import check_decoder_length

    gc = GenerationConfig.for_model(model_dir)
    gc.update(**kwargs)
    gc.validate()
    check_decoder_length(gc, LEDConfig.from_pretrained(model_dir))  # lengths too, before any document
    return gc


def check_precision(backend, precision) -> None:
    """``--precision`` before anything is loaded or exported: bf16 needs the ONNX backend, the openvino extra and a
    CPU with bfloat16 (one line each, naming the option and the fix)."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return
    if backend != "onnx":
        raise ValueError(
            f"--precision {precision} runs the ONNX export on OpenVINO: add --backend onnx "
            "(the numpy backend computes in --dtype float32 or float64)"
        )
    from ..export.openvino_session import UnsupportedCPUError, bf16_missing, import_openvino

    import_openvino(f"--precision {precision}")
    why = bf16_missing()
    if why is not None:
        raise UnsupportedCPUError(f"--precision {precision}: {why}; use --precision float32")


def load_backend(model_dir, backend="numpy", dtype="float32", layer_callback=None, threads=None, precision="float32"):
    """The model for ``backend``: led_ref's NumPy model, or ONNX Runtime over an exported directory or over a
    checkpoint's export, made once and cached (``led_ref.app.onnx_cache``; loaded lazily: the export extra is only
    needed for ``onnx``). ``threads``: ONNX Runtime's intra-op threads (several workers on one machine must not
    each take every core); the NumPy backend follows OMP_NUM_THREADS. ``precision`` "bf16": the ONNX export in
    bfloat16 on OpenVINO (checked before any export)."""
    check_precision(backend, precision)
    if backend == "onnx":
        if dtype != "float32":
            raise ValueError("--dtype applies to the numpy backend only (the ONNX export fixes its dtype)")
        try:
            from ..export.ort import OrtLEDForConditionalGeneration
        except ImportError as exc:
            raise ImportError(f"--backend onnx needs the export extra (pip install -e '.[export]'): {exc}") from None
        from .onnx_cache import onnx_export_dir

        if precision != "float32":
            return OrtLEDForConditionalGeneration.from_pretrained(
                onnx_export_dir(model_dir), precision=precision, threads=threads
            )
        options = None
        if threads:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = int(threads)
        return OrtLEDForConditionalGeneration.from_pretrained(onnx_export_dir(model_dir), session_options=options)
    if backend != "numpy":
        raise ValueError(f"--backend must be numpy or onnx, got {backend!r}")
    from ..model import LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(model_dir, dtype=np.dtype(dtype).type)
    if layer_callback is not None:
        model.encoder_layer_callback = layer_callback
    return model
