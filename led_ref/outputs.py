"""Output containers with HF's class and field names, holding NumPy arrays.

Like HF's ``ModelOutput``: fields are attributes, ``out["logits"]`` and ``out[0]`` work, and
``to_tuple()`` gives the fields that are not None, in declaration order. See
spec/SPEC.md#outputs.
"""

from dataclasses import Field, dataclass, fields
from typing import Any, ClassVar, Optional

__all__ = [
    "ModelOutput",
    "LEDEncoderBaseModelOutput",
    "BaseModelOutputWithPastAndCrossAttentions",
    "LEDSeq2SeqModelOutput",
    "LEDSeq2SeqLMOutput",
    "LEDSeq2SeqSequenceClassifierOutput",
    "LEDSeq2SeqQuestionAnsweringModelOutput",
    "GenerateEncoderDecoderOutput",
    "GenerateBeamEncoderDecoderOutput",
]


class ModelOutput:
    """Base for the output dataclasses: attribute, key and index access like HF's ModelOutput."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # every subclass is a dataclass

    def keys(self):
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def values(self):
        return [getattr(self, k) for k in self.keys()]

    def items(self):
        return [(k, getattr(self, k)) for k in self.keys()]

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self.values())

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.keys():
                raise KeyError(f"{type(self).__name__} has no field {key!r} set; set fields: {self.keys()}")
            return getattr(self, key)
        return self.to_tuple()[key]

    def __contains__(self, key):
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())


@dataclass
class LEDEncoderBaseModelOutput(ModelOutput):
    """Encoder output. attentions: per layer (B, H, S, x + window + 1), the x global-key columns
    first; global_attentions: per layer (B, H, S, x), None when no token is global."""

    last_hidden_state: Any = None
    hidden_states: Optional[tuple[Any, ...]] = None
    attentions: Optional[tuple[Any, ...]] = None
    global_attentions: Optional[tuple[Any, ...]] = None


@dataclass
class BaseModelOutputWithPastAndCrossAttentions(ModelOutput):
    """Decoder output (HF's class of the same name)."""

    last_hidden_state: Any = None
    past_key_values: Optional[tuple[tuple[Any, ...], ...]] = None
    hidden_states: Optional[tuple[Any, ...]] = None
    attentions: Optional[tuple[Any, ...]] = None
    cross_attentions: Optional[tuple[Any, ...]] = None


@dataclass
class LEDSeq2SeqModelOutput(ModelOutput):
    last_hidden_state: Any = None
    past_key_values: Optional[tuple[tuple[Any, ...], ...]] = None
    decoder_hidden_states: Optional[tuple[Any, ...]] = None
    decoder_attentions: Optional[tuple[Any, ...]] = None
    cross_attentions: Optional[tuple[Any, ...]] = None
    encoder_last_hidden_state: Any = None
    encoder_hidden_states: Optional[tuple[Any, ...]] = None
    encoder_attentions: Optional[tuple[Any, ...]] = None
    encoder_global_attentions: Optional[tuple[Any, ...]] = None


@dataclass
class LEDSeq2SeqLMOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    past_key_values: Optional[tuple[tuple[Any, ...], ...]] = None
    decoder_hidden_states: Optional[tuple[Any, ...]] = None
    decoder_attentions: Optional[tuple[Any, ...]] = None
    cross_attentions: Optional[tuple[Any, ...]] = None
    encoder_last_hidden_state: Any = None
    encoder_hidden_states: Optional[tuple[Any, ...]] = None
    encoder_attentions: Optional[tuple[Any, ...]] = None
    encoder_global_attentions: Optional[tuple[Any, ...]] = None


@dataclass
class LEDSeq2SeqSequenceClassifierOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    past_key_values: Optional[tuple[tuple[Any, ...], ...]] = None
    decoder_hidden_states: Optional[tuple[Any, ...]] = None
    decoder_attentions: Optional[tuple[Any, ...]] = None
    cross_attentions: Optional[tuple[Any, ...]] = None
    encoder_last_hidden_state: Any = None
    encoder_hidden_states: Optional[tuple[Any, ...]] = None
    encoder_attentions: Optional[tuple[Any, ...]] = None
    encoder_global_attentions: Optional[tuple[Any, ...]] = None


@dataclass
class LEDSeq2SeqQuestionAnsweringModelOutput(ModelOutput):
    loss: Any = None
    start_logits: Any = None
    end_logits: Any = None
    past_key_values: Optional[tuple[tuple[Any, ...], ...]] = None
    decoder_hidden_states: Optional[tuple[Any, ...]] = None
    decoder_attentions: Optional[tuple[Any, ...]] = None
    cross_attentions: Optional[tuple[Any, ...]] = None
    encoder_last_hidden_state: Any = None
    encoder_hidden_states: Optional[tuple[Any, ...]] = None
    encoder_attentions: Optional[tuple[Any, ...]] = None
    encoder_global_attentions: Optional[tuple[Any, ...]] = None


# generate() results (HF 4.46.3's class and field names); past_key_values in HF's legacy per-layer layout.
@dataclass
class GenerateEncoderDecoderOutput(ModelOutput):
    """Greedy / sampling result. scores: per step (B*n, V) processed scores; logits: raw."""

    sequences: Any = None
    scores: Optional[tuple[Any, ...]] = None
    logits: Optional[tuple[Any, ...]] = None
    past_key_values: Optional[tuple[tuple[Any, ...], ...]] = None


@dataclass
class GenerateBeamEncoderDecoderOutput(ModelOutput):
    """Beam search result; sequences_scores and beam_indices are set when output_scores=True."""

    sequences: Any = None
    sequences_scores: Any = None
    scores: Optional[tuple[Any, ...]] = None
    logits: Optional[tuple[Any, ...]] = None
    beam_indices: Any = None
    past_key_values: Optional[tuple[tuple[Any, ...], ...]] = None
