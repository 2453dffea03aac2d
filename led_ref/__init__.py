"""led-ref: a NumPy reference implementation of LED (Longformer-Encoder-Decoder).

The public names mirror HF transformers' ``models/led``. They are imported lazily so
that ``import led_ref`` stays cheap and a missing optional piece never breaks the rest.
The normative semantics are written down in ``spec/SPEC.md``.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "LEDConfig": "config",
    "LEDTokenizer": "tokenizer",
    "LEDTokenizerFast": "tokenizer",
    "LEDModel": "model",
    "LEDForConditionalGeneration": "model",
    "LEDForSequenceClassification": "model",
    "LEDForQuestionAnswering": "model",
    "shift_tokens_right": "model",
    "LEDEncoderBaseModelOutput": "outputs",
    "LEDSeq2SeqModelOutput": "outputs",
    "LEDSeq2SeqLMOutput": "outputs",
    "LEDSeq2SeqSequenceClassifierOutput": "outputs",
    "LEDSeq2SeqQuestionAnsweringModelOutput": "outputs",
    "GenerationConfig": "generation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'led_ref' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"led_ref.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
