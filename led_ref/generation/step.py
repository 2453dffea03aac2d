"""The step interface between decoding and a backend (spec/SPEC.md#generation).

Any backend that implements ``Seq2SeqStepModel`` (the NumPy model, ONNX Runtime, a test fake) reuses the one
decoding code in ``led_ref.generation.search``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .. import threads

PastKeyValues = tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]


class Seq2SeqStepModel(Protocol):
    """What the decoding code needs from a backend (NumPy model, ONNX Runtime, a test fake).

    - ``config``: an LEDConfig (or anything with ``vocab_size`` and the pad/eos/bos/decoder_start ids and, for
      ``GenerationConfig.from_model_config``, a ``to_dict()``). Optional ``generation_config``: a GenerationConfig
      holding the checkpoint's defaults (``generation_config.json``); when absent it is derived from ``config``.
    - ``encode(input_ids, attention_mask, global_attention_mask)``: int64 (B, S) arrays (global may be None) ->
      ``(encoder_hidden_states (B, S, D) float, encoder_attention_mask (B, S) int64)``. Called once per generate().
    - ``decode(decoder_input_ids, encoder_hidden_states, encoder_attention_mask, past_key_values=None)``:
      decoder_input_ids int64 (B, T) -- the whole prefix when past is None, else only the new token (T = 1) --
      -> ``(logits (B, T, V) or (B, 1, V) float, past_key_values)`` (decoding reads only the last position);
      past in HF's legacy layout, one tuple per decoder layer
      ``(self_k, self_v, cross_k, cross_v)``, each a NumPy array (B, heads, len, head_dim). Given a past, the backend
      reuses its cross_k/cross_v (computed once, at the first step) and appends the new position to self_k/self_v.

    The generic code (not the backend) expands rows per beam / returned sequence (``np.repeat`` along axis 0, HF's
    ``repeat_interleave`` order), reorders self_k/self_v between beam steps (cross entries are identical across the
    beams of one input and are never reordered; a backend with ``shares_cross_cache = True`` gets them with one row
    per input instead of one per beam), and for ``use_cache=False`` calls ``decode`` with the whole prefix
    and ``past_key_values=None`` at every step.
    """

    config: Any

    def encode(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, global_attention_mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(
        self,
        decoder_input_ids: np.ndarray,
        encoder_hidden_states: np.ndarray,
        encoder_attention_mask: np.ndarray,
        past_key_values: PastKeyValues | None = None,
    ) -> tuple[np.ndarray, PastKeyValues]: ...


class LEDStepModel:
    """``Seq2SeqStepModel`` over led_ref's NumPy ``LEDForConditionalGeneration`` (its public ``__call__`` API)."""

    # decode() accepts cross-attention cache entries with one row per input, shared by that input's beams
    shares_cross_cache = True

    def __init__(self, model, full_logits=False):
        """``full_logits``: decode returns (B, T, V) for every position (validation of other backends)
        instead of only the last position, which is all decoding reads."""
        self.model = model
        self.full_logits = full_logits
        self.config = model.config
        self.generation_config = getattr(model, "generation_config", None)

    def encode(self, input_ids, attention_mask, global_attention_mask):
        out = self.model.get_encoder()(
            input_ids=input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask
        )
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        return hidden, attention_mask

    def decode(self, decoder_input_ids, encoder_hidden_states, encoder_attention_mask, past_key_values=None):
        if not self.full_logits and callable(getattr(self.model, "lm_logits", None)):
            # decoder + LM head on the last position only: decoding never needs the earlier positions' logits; one
            # threading region for both (a one-row step with a cache: BLAS's own threads or the pool as one block,
            # led_ref.threads.one_row_step)
            rows = int(np.prod(np.shape(decoder_input_ids)[:2]))
            with threads.region(decoding=True), threads.one_row_step(rows, past_key_values is not None):
                dec = self.model.get_decoder()(
                    input_ids=decoder_input_ids,
                    encoder_hidden_states=encoder_hidden_states,
                    encoder_attention_mask=encoder_attention_mask,
                    past_key_values=past_key_values,
                    use_cache=True,
                )
                last = np.ascontiguousarray(dec.last_hidden_state[:, -1, :])  # (B, D): one 2-D GEMM, not B GEMVs
                return self.model.lm_logits(last)[:, None, :], dec.past_key_values
        out = self.model(
            attention_mask=encoder_attention_mask,
            decoder_input_ids=decoder_input_ids,
            encoder_outputs=(encoder_hidden_states,),
            past_key_values=past_key_values,
            use_cache=True,
        )
        return out.logits, out.past_key_values


def as_step_model(model) -> Seq2SeqStepModel:
    """The model itself when it already has ``encode``/``decode``, else an ``LEDStepModel`` around it."""
    if callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None)):
        return model
    if callable(model) and callable(getattr(model, "get_encoder", None)):
        return LEDStepModel(model)
    raise TypeError(
        f"generate: model of type {type(model).__name__} has neither encode()/decode() (Seq2SeqStepModel) "
        "nor the LEDForConditionalGeneration call API"
    )
