"""``python -m led_ref export MODEL_DIR OUT_DIR [--opset N] [--dtype float32|float16] [--quantize int8]
[--device cpu|cuda] [--no-validate]``."""

import os
import time

from led_ref.heads import HEADS
from led_ref.tolerances import TOLERANCE


def add_cli_arguments(parser):
    parser.add_argument(
        "model_dir",
        metavar="MODEL_DIR",
        help="LED checkpoint directory (config.json + weights), or with --quantize an ONNX export "
        "directory to quantize",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="directory for the .onnx files (created if missing)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17, minimum 14)")
    parser.add_argument(
        "--dtype",
        choices=["float32", "float16"],
        default=None,
        help="float dtype of the graphs (default float32); float16 is meant for CUDA, validated "
        f"against the float32 NumPy reference with tolerance {TOLERANCE['float16']:g}",
    )
    parser.add_argument("--fp16", action="store_true", help="same as --dtype float16")
    parser.add_argument(
        "--quantize",
        choices=["int8"],
        default=None,
        help="also write a dynamic int8 quantized copy to OUT_DIR/int8 (from a checkpoint), or "
        "quantize the float export MODEL_DIR into OUT_DIR; validated against the float model",
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="execution provider for validation (cuda needs onnxruntime-gpu and a GPU)",
    )
    parser.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="skip running the exported files on ONNX Runtime against the NumPy reference",
    )
    parser.add_argument(
        "--head",
        choices=list(HEADS),
        default=None,
        help="which head to export (default: from config.json's architectures)",
    )


def _providers(device):
    if device == "cpu":
        return ["CPUExecutionProvider"]
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise ValueError(
            "--device cuda: this onnxruntime has no CUDAExecutionProvider (CPU-only machine or "
            "package); install onnxruntime-gpu on a machine with a GPU, or use --device cpu"
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def run_cli(args):
    try:
        import onnx  # noqa: F401 (imported to check that it is installed)
        import onnxruntime  # noqa: F401 (imported to check that it is installed)
        import torch  # noqa: F401 (imported to check that it is installed)
    except ImportError as exc:
        raise ImportError(
            f"export needs torch, onnx and onnxruntime ({exc}); install them with pip install 'led-ref[export]'"
        ) from None
    from ..export.onnx_export import ENCODER_FILE, MODEL_FILE, export_checkpoint

    if args.fp16 and args.dtype == "float32":
        raise ValueError("--fp16 contradicts --dtype float32")
    fp16 = args.fp16 or args.dtype == "float16"
    if fp16 and args.quantize:
        raise ValueError(
            f"--quantize {args.quantize} cannot be combined with --dtype float16: int8 quantization "
            "starts from float32 graphs"
        )
    providers = _providers(args.device)
    if not os.path.isdir(args.model_dir):
        raise FileNotFoundError(f"MODEL_DIR {args.model_dir} is not a directory")
    t0 = time.perf_counter()
    is_export = any(os.path.isfile(os.path.join(args.model_dir, f)) for f in (ENCODER_FILE, MODEL_FILE))
    if args.quantize and is_export:  # quantize an existing float export
        _quantize(args.model_dir, args.out_dir, args, providers)
        print(
            f"export: quantized {args.model_dir} ({args.quantize}) into {args.out_dir} "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        return 0
    if is_export:
        raise ValueError(
            f"MODEL_DIR {args.model_dir} is an ONNX export, not a checkpoint; give a checkpoint "
            "directory (or --quantize int8 to quantize this export)"
        )
    result = export_checkpoint(
        args.model_dir,
        args.out_dir,
        opset=args.opset,
        fp16=fp16,
        validate=args.validate,
        head=args.head,
        providers=providers,
    )
    print(
        f"export: {len(result['files'])} ONNX file(s) ({result['head']} head) and "
        f"{', '.join(result['copied']) or 'config.json'} in {args.out_dir} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    if result["errors"] is None:
        print("export: validation skipped (--no-validate)")
    if args.quantize:
        qdir = os.path.join(args.out_dir, args.quantize)
        _quantize(args.out_dir, qdir, args, providers)
        print(f"export: {args.quantize} model in {qdir}")
    return 0


def _quantize(float_dir, out_dir, args, providers):
    from led_ref.config import LEDConfig

    from ..export.quantize import quantize_dir, validate_quantized

    quantize_dir(float_dir, out_dir, mode=args.quantize)
    if args.validate:
        validate_quantized(out_dir, float_dir, LEDConfig.from_pretrained(float_dir))
    else:
        print("export: int8 validation skipped (--no-validate)")
