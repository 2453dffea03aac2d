"""led-ref: a NumPy reference implementation of LED (Longformer-Encoder-Decoder).

The public names mirror HF transformers' ``models/led``. They are imported lazily so
that ``import led_ref`` stays cheap and a missing optional piece never breaks the rest.
The normative semantics are written down in ``spec/SPEC.md``.
"""

from ._lazy import lazy_attributes

__version__ = "0.1.0"

_EXPORTS = {
    "LEDConfig": "config",
    "LEDTokenizer": "tokenizer",
    "LEDTokenizerFast": "tokenizer",
    "AddedToken": "tokenizer",
    "BatchEncoding": "tokenizer",
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


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())
