"""Decoding for LED (greedy, sampling, beam search) with HF 4.46.3's ``generate()`` semantics, split by concern:

- ``config``: ``GenerationConfig`` (HF's fields, defaults, ``generation_config.json``, validation);
- ``processors``: the score processors in HF's order and led-ref's sampling draw;
- ``search``: the decoding loops and ``generate()`` / ``stream()``;
- ``step``: the ``Seq2SeqStepModel`` interface every backend implements (NumPy, ONNX Runtime, a test fake).

See spec/SPEC.md#generation. The public names are re-exported here.
"""

from ..outputs import GenerateBeamEncoderDecoderOutput, GenerateEncoderDecoderOutput
from .config import GENERATION_CONFIG_NAME, GenerationConfig
from .processors import process_scores
from .search import first_token_global_attention_mask, generate, resolve_generation_config, stream
from .step import LEDStepModel, PastKeyValues, Seq2SeqStepModel, as_step_model

__all__ = [
    "GENERATION_CONFIG_NAME",
    "GenerationConfig",
    "GenerateEncoderDecoderOutput",
    "GenerateBeamEncoderDecoderOutput",
    "LEDStepModel",
    "PastKeyValues",
    "Seq2SeqStepModel",
    "as_step_model",
    "first_token_global_attention_mask",
    "generate",
    "process_scores",
    "resolve_generation_config",
    "stream",
]
