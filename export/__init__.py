"""led-ref export: a torch graph of LED built from led_ref's parameters, ONNX export and an
ONNX Runtime backend that reuses led_ref's generation code. Needs the ``export`` extra
(torch, onnx, onnxruntime); see spec/SPEC.md#onnx-export.

    from led_ref.export.onnx_export import export_checkpoint        # python -m led_ref export MODEL_DIR OUT_DIR
    from led_ref.export.ort import OrtLEDForConditionalGeneration   # .from_pretrained(OUT_DIR).generate(...)
"""

from led_ref._lazy import lazy_attributes

_EXPORTS = {
    "export_checkpoint": "onnx_export",
    "export_model": "onnx_export",
    "validate_export": "onnx_export",
    "OrtLEDForConditionalGeneration": "ort",
    "OrtLEDModel": "ort",
    "build_torch_model": "torch_model",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())
