"""``python -m led_ref export MODEL_DIR OUT_DIR [--opset N] [--fp16] [--no-validate]``."""

import os
import time

from led_ref.heads import HEADS
from led_ref.tolerances import TOLERANCE


def add_cli_arguments(parser):
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="LED checkpoint directory (config.json + weights)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="directory for the .onnx files (created if missing)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17, minimum 14)")
    parser.add_argument("--fp16", action="store_true",
                        help="export float16 graphs (validated against the float32 NumPy reference, tolerance "
                             f"{TOLERANCE['float16']:g})")
    parser.add_argument("--no-validate", dest="validate", action="store_false",
                        help="skip running the exported files on ONNX Runtime against the NumPy reference")
    parser.add_argument("--head", choices=list(HEADS), default=None,
                        help="which head to export (default: from config.json's architectures)")


def run_cli(args):
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"export needs torch, onnx and onnxruntime ({exc}); install them with "
                          "pip install 'led-ref[export]'") from None
    from ..export.onnx_export import export_checkpoint

    if not os.path.isdir(args.model_dir):
        raise FileNotFoundError(f"MODEL_DIR {args.model_dir} is not a directory")
    t0 = time.perf_counter()
    result = export_checkpoint(args.model_dir, args.out_dir, opset=args.opset, fp16=args.fp16,
                               validate=args.validate, head=args.head)
    print(f"export: {len(result['files'])} ONNX file(s) ({result['head']} head) and "
          f"{', '.join(result['copied']) or 'config.json'} in {args.out_dir} "
          f"({time.perf_counter() - t0:.1f} s)")
    if result["errors"] is None:
        print("export: validation skipped (--no-validate)")
    return 0
