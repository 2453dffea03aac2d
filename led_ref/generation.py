"""Decoding for LED: greedy, sampling and beam search, written once over a small step interface.

The semantics are HF transformers 4.46.3's ``generate()`` for an encoder-decoder model (``GenerationMixin._sample``,
``_beam_search``, ``BeamSearchScorer``, ``BeamHypotheses`` and the logits processors), re-stated as small NumPy
functions. Sampling cannot reproduce torch's RNG, so its draw is defined here (``_draw_tokens``).
Any backend that implements ``Seq2SeqStepModel`` (the NumPy model, ONNX Runtime, a test fake) reuses this code.
See ``spec/SPEC.md#generation``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

import numpy as np

from .attention import softmax

PastKeyValues = Tuple[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]

GENERATION_CONFIG_NAME = "generation_config.json"


# ---------------------------------------------------------------------------------------------------------------------
# The step interface
# ---------------------------------------------------------------------------------------------------------------------
class Seq2SeqStepModel(Protocol):
    """What the decoding code needs from a backend (NumPy model, ONNX Runtime, a test fake).

    - ``config``: an LEDConfig (or anything with ``vocab_size`` and the pad/eos/bos/decoder_start ids and, for
      ``GenerationConfig.from_model_config``, a ``to_dict()``). Optional ``generation_config``: a GenerationConfig
      holding the checkpoint's defaults (``generation_config.json``); when absent it is derived from ``config``.
    - ``encode(input_ids, attention_mask, global_attention_mask)``: int64 (B, S) arrays (global may be None) ->
      ``(encoder_hidden_states (B, S, D) float, encoder_attention_mask (B, S) int64)``. Called once per generate().
    - ``decode(decoder_input_ids, encoder_hidden_states, encoder_attention_mask, past_key_values=None)``:
      decoder_input_ids int64 (B, T) -- the whole prefix when past is None, else only the new token (T = 1) --
      -> ``(logits (B, T, V) or (B, 1, V) float, past_key_values)`` (decoding reads only the last position); past in HF's legacy layout, one tuple per decoder layer
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
        self, input_ids: np.ndarray, attention_mask: np.ndarray, global_attention_mask: Optional[np.ndarray]
    ) -> Tuple[np.ndarray, np.ndarray]: ...

    def decode(
        self,
        decoder_input_ids: np.ndarray,
        encoder_hidden_states: np.ndarray,
        encoder_attention_mask: np.ndarray,
        past_key_values: Optional[PastKeyValues] = None,
    ) -> Tuple[np.ndarray, PastKeyValues]: ...


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
            # decoder + LM head on the last position only: decoding never needs the earlier positions' logits
            dec = self.model.get_decoder()(
                input_ids=decoder_input_ids, encoder_hidden_states=encoder_hidden_states,
                encoder_attention_mask=encoder_attention_mask, past_key_values=past_key_values, use_cache=True,
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


# ---------------------------------------------------------------------------------------------------------------------
# GenerationConfig
# ---------------------------------------------------------------------------------------------------------------------
# Fields led-ref implements, with HF 4.46.3's GenerationConfig defaults.
SUPPORTED_DEFAULTS: Dict[str, Any] = {
    "max_length": 20,
    "max_new_tokens": None,
    "min_length": 0,
    "min_new_tokens": None,
    "early_stopping": False,
    "do_sample": False,
    "num_beams": 1,
    "use_cache": True,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "num_return_sequences": 1,
    "output_scores": False,
    "output_logits": None,
    "return_dict_in_generate": False,
    "pad_token_id": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "decoder_start_token_id": None,
    "low_memory": None,  # HF's sequential beam forward: same results, accepted and ignored
    "output_attentions": False,  # only False is supported (checked in validate)
    "output_hidden_states": False,  # only False is supported (checked in validate)
}

# HF fields led-ref does not implement: accepted only at these (HF default / inactive) values, else ValueError.
UNSUPPORTED_DEFAULTS: Dict[str, Any] = {
    "max_time": None,
    "stop_strings": None,
    "num_beam_groups": 1,
    "penalty_alpha": None,
    "dola_layers": None,
    "cache_implementation": None,
    "cache_config": None,
    "return_legacy_cache": None,
    "min_p": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "diversity_penalty": 0.0,
    "encoder_repetition_penalty": 1.0,
    "encoder_no_repeat_ngram_size": 0,
    "force_words_ids": None,
    "renormalize_logits": False,
    "constraints": None,
    "remove_invalid_values": False,
    "exponential_decay_length_penalty": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "forced_decoder_ids": None,
    "sequence_bias": None,
    "token_healing": False,
    "guidance_scale": None,
    "watermarking_config": None,
    "prompt_lookup_num_tokens": None,
    "max_matching_ngram_size": None,
}
# Inactive equivalents HF also treats as "off" (e.g. typical_p None, guidance_scale 1).
_ALSO_INACTIVE = {"typical_p": (None,), "epsilon_cutoff": (None,), "eta_cutoff": (None,), "diversity_penalty": (None,),
                  "encoder_repetition_penalty": (None,), "encoder_no_repeat_ngram_size": (None,), "guidance_scale": (1, 1.0),
                  "num_beam_groups": (None,), "token_healing": (None,), "renormalize_logits": (None,),
                  "remove_invalid_values": (None,), "penalty_alpha": (0, 0.0)}

# HF fields with no effect here: bookkeeping, and assisted-generation settings (used only with an assistant model,
# which led-ref does not have). Kept (and written back) like unknown keys.
INERT_FIELDS = ("transformers_version", "_from_model_config", "generation_kwargs", "is_assistant",
                "num_assistant_tokens", "num_assistant_tokens_schedule", "assistant_confidence_threshold")

ALL_FIELDS = tuple(SUPPORTED_DEFAULTS) + tuple(UNSUPPORTED_DEFAULTS)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


class GenerationConfig:
    """HF's GenerationConfig (4.46.3): field names, defaults and file format (``generation_config.json``).

    Unknown keys read from a file are kept (HF keeps them as attributes) and written back; unknown keyword
    arguments to ``generate()`` are an error. See ``spec/SPEC.md#generation-configuration``.
    """

    def __init__(self, **kwargs):
        for name in ALL_FIELDS:
            value = kwargs.pop(name, SUPPORTED_DEFAULTS.get(name, UNSUPPORTED_DEFAULTS.get(name)))
            setattr(self, name, copy.deepcopy(value))
        self._extra = {k: copy.deepcopy(v) for k, v in kwargs.items()}

    # -- construction -------------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: Dict[str, Any]) -> "GenerationConfig":
        if not isinstance(config_dict, dict):
            raise TypeError(f"GenerationConfig.from_dict: expected a dict, got {type(config_dict).__name__}")
        return cls(**config_dict)

    @classmethod
    def from_pretrained(cls, path) -> "GenerationConfig":
        """Read ``generation_config.json`` from a directory (or that file's path)."""
        path = os.fspath(path)
        file = os.path.join(path, GENERATION_CONFIG_NAME) if os.path.isdir(path) else path
        if not os.path.isfile(file):
            raise FileNotFoundError(f"GenerationConfig.from_pretrained: {file} does not exist")
        with open(file, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as exc:
                raise ValueError(f"GenerationConfig.from_pretrained: {file} is not valid JSON ({exc})") from None
        return cls.from_dict(data)

    @classmethod
    def from_model_config(cls, model_config) -> "GenerationConfig":
        """HF's ``GenerationConfig.from_model_config``: every non-None field of config.json that is a generation field.

        (For LED the decoder config is the config itself, so HF's decoder-config pass changes nothing.)
        """
        data = model_config if isinstance(model_config, dict) else model_config.to_dict()
        data = {k: v for k, v in data.items() if v is not None and k in ALL_FIELDS}
        gc = cls(**data)
        if gc.return_dict_in_generate is False and (gc.output_scores or gc.output_logits or gc.output_attentions
                                                    or gc.output_hidden_states):
            gc.return_dict_in_generate = True
        return gc

    @classmethod
    def for_model(cls, model_or_dir) -> "GenerationConfig":
        """The defaults HF's ``from_pretrained`` would give: generation_config.json when present, else config.json."""
        if isinstance(model_or_dir, (str, os.PathLike)):
            d = os.fspath(model_or_dir)
            if os.path.isfile(os.path.join(d, GENERATION_CONFIG_NAME)):
                return cls.from_pretrained(d)
            file = os.path.join(d, "config.json")
            if not os.path.isfile(file):
                raise FileNotFoundError(f"GenerationConfig.for_model: {file} does not exist")
            with open(file, encoding="utf-8") as f:
                return cls.from_model_config(json.load(f))
        gc = getattr(model_or_dir, "generation_config", None)
        if gc is not None:
            return gc if isinstance(gc, GenerationConfig) else cls.from_dict(dict(gc))
        return cls.from_model_config(model_or_dir.config)

    def to_dict(self) -> Dict[str, Any]:
        out = {name: copy.deepcopy(getattr(self, name)) for name in ALL_FIELDS}
        out.update(copy.deepcopy(self._extra))
        return out

    def to_diff_dict(self) -> Dict[str, Any]:
        """Only the fields that differ from the defaults (what HF writes to generation_config.json)."""
        defaults = GenerationConfig().to_dict()
        return {k: v for k, v in self.to_dict().items() if k not in defaults or defaults[k] != v}

    def save_pretrained(self, save_directory) -> str:
        os.makedirs(save_directory, exist_ok=True)
        file = os.path.join(save_directory, GENERATION_CONFIG_NAME)
        with open(file, "w", encoding="utf-8") as f:
            json.dump(self.to_diff_dict(), f, indent=2, sort_keys=True)
            f.write("\n")
        return file

    def update(self, **kwargs) -> Dict[str, Any]:
        """Set the known fields; return the keyword arguments that are not generation fields (HF's contract)."""
        unused = {}
        for k, v in kwargs.items():
            if k in ALL_FIELDS:
                setattr(self, k, v)
            else:
                unused[k] = v
        return unused

    def copy(self) -> "GenerationConfig":
        return copy.deepcopy(self)

    def __eq__(self, other):
        return isinstance(other, GenerationConfig) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"GenerationConfig({json.dumps(self.to_diff_dict(), sort_keys=True, default=str)})"

    # -- validation ---------------------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError/TypeError naming the first field that is out of range or not implemented."""
        for name, default in UNSUPPORTED_DEFAULTS.items():
            value = getattr(self, name)
            if value != default and value not in _ALSO_INACTIVE.get(name, ()):
                raise ValueError(
                    f"generate: {name}={value!r} is not supported by led-ref (only greedy, sampling and beam search "
                    f"with the documented options); leave it at {default!r}"
                )
        if self.output_attentions or self.output_hidden_states:
            raise ValueError("generate: output_attentions/output_hidden_states are not supported; call the model "
                             "directly on the generated sequences to get them")

        def check_int(name, lo, optional=False):
            v = getattr(self, name)
            if v is None and optional:
                return
            if not _is_int(v):
                raise TypeError(f"generate: {name} must be an int, got {v!r}")
            if v < lo:
                raise ValueError(f"generate: {name} must be >= {lo}, got {v}")

        check_int("max_length", 1)
        check_int("max_new_tokens", 1, optional=True)
        check_int("min_length", 0)
        check_int("min_new_tokens", 0, optional=True)
        check_int("num_beams", 1)
        check_int("num_return_sequences", 1)
        check_int("no_repeat_ngram_size", 0)
        if self.top_k is not None:
            check_int("top_k", 0)
        for name in ("do_sample", "use_cache", "output_scores", "return_dict_in_generate"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"generate: {name} must be True or False, got {getattr(self, name)!r}")
        if self.output_logits is not None and not isinstance(self.output_logits, bool):
            raise TypeError(f"generate: output_logits must be True, False or None, got {self.output_logits!r}")
        if self.early_stopping not in (True, False, "never") or isinstance(self.early_stopping, (int, float)) and \
                not isinstance(self.early_stopping, bool):
            raise ValueError(f"generate: early_stopping must be True, False or 'never', got {self.early_stopping!r}")
        for name, lo_open in (("temperature", 0.0), ("repetition_penalty", 0.0)):
            v = getattr(self, name)
            if v is None:
                continue
            if not _is_number(v) or not math.isfinite(v) or v <= lo_open:
                raise ValueError(f"generate: {name} must be a finite number > 0, got {v!r}")
        if self.top_p is not None and (not _is_number(self.top_p) or not 0.0 <= self.top_p <= 1.0):
            raise ValueError(f"generate: top_p must be a number in [0, 1], got {self.top_p!r}")
        if not _is_number(self.length_penalty) or not math.isfinite(self.length_penalty):
            raise ValueError(f"generate: length_penalty must be a finite number, got {self.length_penalty!r}")
        for name in ("pad_token_id", "bos_token_id", "forced_bos_token_id"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 0):
                raise ValueError(f"generate: {name} must be a non-negative int or None, got {v!r}")
        if self.decoder_start_token_id is not None and (not _is_int(self.decoder_start_token_id)
                                                       or self.decoder_start_token_id < 0):
            raise ValueError("generate: decoder_start_token_id must be a non-negative int or None (a per-row list "
                             f"is not supported), got {self.decoder_start_token_id!r}")
        for name in ("eos_token_id", "forced_eos_token_id"):
            v = getattr(self, name)
            ids = v if isinstance(v, (list, tuple)) else [v] if v is not None else []
            if any(not _is_int(i) or i < 0 for i in ids) or (isinstance(v, (list, tuple)) and not ids):
                raise ValueError(f"generate: {name} must be a non-negative int, a non-empty list of them, or None, "
                                 f"got {v!r}")
        if self.bad_words_ids is not None:
            b = self.bad_words_ids
            if not isinstance(b, (list, tuple)) or not b or any(not isinstance(s, (list, tuple)) or not s for s in b) \
                    or any(not _is_int(t) or t < 0 for s in b for t in s):
                raise ValueError(f"generate: bad_words_ids must be a non-empty list of non-empty lists of "
                                 f"non-negative token ids, got {b!r}")
        if self.num_return_sequences != 1:
            if self.num_beams == 1 and not self.do_sample:
                raise ValueError(f"generate: num_return_sequences={self.num_return_sequences} needs num_beams > 1 "
                                 "or do_sample=True (greedy search returns one sequence per input)")
            if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
                raise ValueError(f"generate: num_return_sequences ({self.num_return_sequences}) must be <= "
                                 f"num_beams ({self.num_beams})")


# ---------------------------------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------------------------------
class _Output:
    """HF ModelOutput-like access: attributes, ``out["name"]``, ``out[0]`` and ``to_tuple()`` over the set fields."""

    def to_tuple(self):
        return tuple(getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None)

    def keys(self):
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, key):
        if isinstance(key, str):
            return getattr(self, key)
        return self.to_tuple()[key]


@dataclass
class GenerateEncoderDecoderOutput(_Output):
    """Greedy / sampling result (HF field names). scores: per step (B*n, V) processed scores; logits: raw."""

    sequences: np.ndarray
    scores: Optional[Tuple[np.ndarray, ...]] = None
    logits: Optional[Tuple[np.ndarray, ...]] = None
    past_key_values: Optional[PastKeyValues] = None


@dataclass
class GenerateBeamEncoderDecoderOutput(_Output):
    """Beam search result (HF field names); sequences_scores and beam_indices are set when output_scores=True."""

    sequences: np.ndarray
    sequences_scores: Optional[np.ndarray] = None
    scores: Optional[Tuple[np.ndarray, ...]] = None
    logits: Optional[Tuple[np.ndarray, ...]] = None
    beam_indices: Optional[np.ndarray] = None
    past_key_values: Optional[PastKeyValues] = None


# ---------------------------------------------------------------------------------------------------------------------
# Score processing (HF's logits processors, same order). scores: (N, V) float; input_ids: (N, T) int64.
# ---------------------------------------------------------------------------------------------------------------------
def log_softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def repetition_penalty(scores, input_ids, penalty):
    """Every token already in the row: score * penalty if negative, else score / penalty (CTRL)."""
    out = scores.copy()
    rows = np.arange(scores.shape[0])[:, None]
    seen = scores[rows, input_ids]  # (N, T)
    out[rows, input_ids] = np.where(seen < 0, seen * penalty, seen / penalty)
    return out


def no_repeat_ngram(scores, input_ids, n):
    """Ban each token that would complete an n-gram already present in the row (prefix included)."""
    out = scores.copy()
    cur_len = input_ids.shape[1]
    if cur_len + 1 < n:
        return out
    for i, row in enumerate(input_ids.tolist()):
        prefix = tuple(row[cur_len + 1 - n:])
        banned = [ng[-1] for ng in zip(*[row[j:] for j in range(n)]) if ng[:-1] == prefix]
        out[i, banned] = -np.inf
    return out


def bad_words(scores, input_ids, bad_words_ids, eos_ids):
    """Ban the last token of every listed sequence whose other tokens end the row (single tokens: always).

    Single-token entries equal to an eos id are dropped, as in HF.
    """
    out = scores.copy()
    cur_len = input_ids.shape[1]
    for seq in bad_words_ids:
        seq = list(seq)
        if len(seq) == 1:
            if seq[0] not in eos_ids:
                out[:, seq[0]] = -np.inf
            continue
        if len(seq) > cur_len:
            continue
        match = np.all(input_ids[:, cur_len - (len(seq) - 1):] == np.asarray(seq[:-1]), axis=1)
        out[match, seq[-1]] = -np.inf
    return out


def ban_tokens(scores, token_ids):
    out = scores.copy()
    out[:, list(token_ids)] = -np.inf
    return out


def force_tokens(scores, token_ids):
    """Every score -inf except ``token_ids``, which get 0 (HF's forced BOS / EOS)."""
    out = np.full_like(scores, -np.inf)
    out[:, list(token_ids)] = 0
    return out


def top_k_filter(scores, k, min_tokens_to_keep=1):
    """Keep the scores >= the k-th largest (ties at the k-th value are all kept)."""
    k = min(max(k, min_tokens_to_keep), scores.shape[-1])
    kth = -np.partition(-scores, k - 1, axis=-1)[:, k - 1:k]
    return np.where(scores < kth, -np.inf, scores).astype(scores.dtype, copy=False)


def top_p_filter(scores, p, min_tokens_to_keep=1):
    """Nucleus: drop the smallest tokens whose cumulative softmax mass is <= 1 - p (ascending stable order)."""
    order = np.argsort(scores, axis=-1, kind="stable")  # ascending, as HF
    sorted_scores = np.take_along_axis(scores, order, axis=-1)
    cum = np.cumsum(softmax(sorted_scores), axis=-1)
    remove_sorted = cum <= (1 - p)
    remove_sorted[:, -min_tokens_to_keep:] = False
    remove = np.zeros_like(remove_sorted)
    np.put_along_axis(remove, order, remove_sorted, axis=-1)
    return np.where(remove, -np.inf, scores).astype(scores.dtype, copy=False)


def process_scores(scores, input_ids, gc: GenerationConfig, eos_ids: List[int], prompt_len: int,
                   min_tokens_to_keep: int = 1):
    """Apply HF's processors in HF's order (``_get_logits_processor``), then the sampling warpers when do_sample."""
    cur_len = input_ids.shape[1]
    if gc.repetition_penalty is not None and gc.repetition_penalty != 1.0:
        scores = repetition_penalty(scores, input_ids, gc.repetition_penalty)
    if gc.no_repeat_ngram_size:
        scores = no_repeat_ngram(scores, input_ids, gc.no_repeat_ngram_size)
    if gc.bad_words_ids is not None:
        scores = bad_words(scores, input_ids, gc.bad_words_ids, eos_ids)
    if eos_ids and gc.min_length and cur_len < gc.min_length:
        scores = ban_tokens(scores, eos_ids)
    if eos_ids and gc.min_new_tokens and cur_len - prompt_len < gc.min_new_tokens:
        scores = ban_tokens(scores, eos_ids)
    if gc.forced_bos_token_id is not None and cur_len == 1:
        scores = force_tokens(scores, [gc.forced_bos_token_id])
    if gc.forced_eos_token_id is not None and cur_len == gc.max_length - 1:
        f = gc.forced_eos_token_id
        scores = force_tokens(scores, f if isinstance(f, (list, tuple)) else [f])
    if gc.do_sample:
        if gc.temperature is not None and gc.temperature != 1.0:
            scores = (scores / np.asarray(gc.temperature, dtype=scores.dtype)).astype(scores.dtype, copy=False)
        if gc.top_k is not None and gc.top_k != 0:
            scores = top_k_filter(scores, gc.top_k, min_tokens_to_keep)
        if gc.top_p is not None and gc.top_p < 1.0:
            scores = top_p_filter(scores, gc.top_p, min_tokens_to_keep)
    return scores


# ---------------------------------------------------------------------------------------------------------------------
# Sampling (led-ref's definition; torch's RNG stream cannot be reproduced)
# ---------------------------------------------------------------------------------------------------------------------
def _draw_tokens(probs: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``num`` distinct indices per row of ``probs`` (N, K), in draw order.

    Row by row, draw by draw: u = rng.random() (float64), the index is the first j with cumsum(p)[j] > u * sum(p),
    then p[j] is set to 0 (sampling without replacement, like torch.multinomial). Computed in float64.
    """
    probs = np.asarray(probs, dtype=np.float64)
    out = np.empty((probs.shape[0], num), dtype=np.int64)
    for i in range(probs.shape[0]):
        p = probs[i].copy()
        for j in range(num):
            cum = np.cumsum(p)
            total = cum[-1]
            if not total > 0 or not np.isfinite(total):
                raise ValueError("generate: sampling distribution has no probability mass left (all scores -inf or "
                                 "NaN); relax the filters (top_k, top_p, bad_words_ids, ...)")
            idx = int(np.searchsorted(cum, rng.random() * total, side="right"))
            idx = min(idx, p.shape[0] - 1)
            while p[idx] == 0:  # u * total landed on a zero-width bin edge: take the next token with mass
                idx -= 1
            out[i, j] = idx
            p[idx] = 0.0
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Beam hypotheses (HF's BeamHypotheses / BeamSearchScorer, one batch entry each)
# ---------------------------------------------------------------------------------------------------------------------
class BeamHypotheses:
    """The n-best finished hypotheses of one input; scores are sum_logprobs / generated_len ** length_penalty."""

    def __init__(self, num_beams: int, length_penalty: float, early_stopping, max_length: int):
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.max_length = max_length
        self.beams: List[tuple] = []  # (score, token list, beam_indices or None)
        self.worst_score = 1e9

    def __len__(self):
        return len(self.beams)

    def add(self, hyp, sum_logprobs: float, beam_indices, generated_len: int):
        score = sum_logprobs / (generated_len ** self.length_penalty)
        if len(self) < self.num_beams or score > self.worst_score:
            self.beams.append((score, hyp, beam_indices))
            if len(self) > self.num_beams:
                ranked = sorted([(s, idx) for idx, (s, _, _) in enumerate(self.beams)])
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs: float, cur_len: int, prompt_len: int) -> bool:
        if len(self) < self.num_beams:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping is False or self.length_penalty <= 0.0:
            # False: HF's heuristic bound from the current length; "never" with length_penalty <= 0 as well.
            best = best_sum_logprobs / (cur_len - prompt_len) ** self.length_penalty
        else:  # "never" with length_penalty > 0: the best score reachable is at max_length
            if self.max_length <= prompt_len:
                raise ValueError("generate: max_length is not larger than the decoder prompt length")
            best = best_sum_logprobs / (self.max_length - prompt_len) ** self.length_penalty
        return self.worst_score >= best


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------
def first_token_global_attention_mask(input_ids: np.ndarray) -> np.ndarray:
    """Global attention on the first token of every row (LED's advice for summarization: the leading ``<s>``)."""
    input_ids = np.asarray(input_ids)
    mask = np.zeros(input_ids.shape, dtype=np.int64)
    if input_ids.ndim == 2 and input_ids.shape[1] > 0:
        mask[:, 0] = 1
    return mask


def _as_int_matrix(name, x, shape=None):
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(f"generate: {name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"generate: {name} must have shape (batch, length), got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"generate: {name} has shape {arr.shape} but input_ids has shape {shape}")
    return arr.astype(np.int64)


def _eos_list(eos) -> List[int]:
    if eos is None:
        return []
    return [int(e) for e in eos] if isinstance(eos, (list, tuple, np.ndarray)) else [int(eos)]


def _expand_past(past, n, share_cross):
    """Copy each input's cache row to its n beams; with share_cross the cross-attention entries keep one row
    per input (the backend reads them once for all the input's beams)."""
    expanded = len(past[0]) if not share_cross else 2
    return tuple(tuple(np.repeat(t, n, axis=0) for t in layer[:expanded]) + tuple(layer[expanded:])
                 for layer in past)


def _reorder_past(past, idx):
    """Beam step: rows of the self-attention cache follow their beams; cross-attention entries stay as they are."""
    return tuple((layer[0][idx], layer[1][idx]) + tuple(layer[2:]) for layer in past)


class _Stepper:
    """Runs decoder steps for the decoding loops: cache on/off, prefill on the unexpanded batch."""

    def __init__(self, steps, hidden, enc_mask, expand: int, use_cache: bool):
        self.steps, self.use_cache, self.expand = steps, use_cache, expand
        self.hidden_small, self.mask_small = hidden, enc_mask
        self.hidden = np.repeat(hidden, expand, axis=0) if expand > 1 else hidden
        self.enc_mask = np.repeat(enc_mask, expand, axis=0) if expand > 1 else enc_mask
        self.past = None

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        """Logits of the next token for every row of input_ids (N, T) -> (N, V)."""
        if not self.use_cache:
            logits, _ = self.steps.decode(input_ids, self.hidden, self.enc_mask, None)
            return np.asarray(logits)[:, -1, :]
        if self.past is None:
            # First step: every expanded copy of an input has the same prompt, so run the (possibly long) cross
            # attention projections once per input and copy the result per beam / returned sequence.
            small = input_ids[:: self.expand] if self.expand > 1 else input_ids
            logits, past = self.steps.decode(small, self.hidden_small, self.mask_small, None)
            logits = np.asarray(logits)[:, -1, :]
            if self.expand > 1:
                logits = np.repeat(logits, self.expand, axis=0)
                past = _expand_past(past, self.expand, getattr(self.steps, "shares_cross_cache", False))
            self.past = past
            return logits
        logits, self.past = self.steps.decode(input_ids[:, -1:], self.hidden, self.enc_mask, self.past)
        return np.asarray(logits)[:, -1, :]

    def reorder(self, idx):
        if self.past is not None:
            self.past = _reorder_past(self.past, idx)


def _notify(streamer, tokens):
    if streamer is None:
        return
    if hasattr(streamer, "put"):
        streamer.put(tokens)
    else:
        streamer(tokens)


# ---------------------------------------------------------------------------------------------------------------------
# Decoding loops
# ---------------------------------------------------------------------------------------------------------------------
def _greedy_or_sample(stepper, input_ids, gc, eos_ids, pad_id, rng, streamer, step_callback):
    """HF ``_sample``: argmax (or a draw) of the processed scores; rows that finished get pad_token_id."""
    prompt_len = input_ids.shape[1]
    unfinished = np.ones(input_ids.shape[0], dtype=bool)
    scores, raw = [], []
    while True:
        logits = stepper(input_ids)
        processed = process_scores(logits.copy(), input_ids, gc, eos_ids, prompt_len)
        if gc.output_scores:
            scores.append(processed)
        if gc.output_logits:
            raw.append(logits.copy())
        if gc.do_sample:
            nxt = _draw_tokens(softmax(processed), 1, rng)[:, 0]
        else:
            nxt = np.argmax(processed, axis=-1).astype(np.int64)
        if eos_ids:
            nxt = np.where(unfinished, nxt, pad_id)
        input_ids = np.concatenate([input_ids, nxt[:, None]], axis=1)
        _notify(streamer, nxt)
        done = np.isin(input_ids[:, -1], eos_ids) | (input_ids.shape[1] >= gc.max_length)
        unfinished &= ~done
        if step_callback is not None:
            step_callback(input_ids.shape[1] - prompt_len, gc.max_length - prompt_len)
        if not unfinished.any():
            break
    return input_ids, scores, raw, None, None


def _beam_search(stepper, input_ids, gc, eos_ids, pad_id, rng, batch_size, step_callback):
    """HF ``_beam_search`` + ``BeamSearchScorer`` (``do_sample`` gives HF's beam sample with led-ref's draw)."""
    nb = gc.num_beams
    prompt_len = input_ids.shape[1]
    track = gc.output_scores
    hyps = [BeamHypotheses(nb, gc.length_penalty, gc.early_stopping, gc.max_length) for _ in range(batch_size)]
    done = [False] * batch_size
    beam_scores = None
    beam_indices = tuple(() for _ in range(batch_size * nb)) if track else None
    scores, raw = [], []
    n_keep = max(2, 1 + len(eos_ids)) * nb
    while True:
        logits = stepper(input_ids)
        if beam_scores is None:
            # Only the first beam of each input may start (the others are copies): HF's 0 / -1e9 initial scores.
            beam_scores = np.zeros((batch_size, nb), dtype=logits.dtype)
            beam_scores[:, 1:] = -1e9
            beam_scores = beam_scores.reshape(-1)
        logp = log_softmax(logits)
        min_keep = 1 + len(eos_ids) if eos_ids else 2
        processed = process_scores(logp, input_ids, gc, eos_ids, prompt_len, min_tokens_to_keep=min_keep)
        if gc.output_scores:
            scores.append(processed)
        if gc.output_logits:
            raw.append(logits.copy())
        total = (processed + beam_scores[:, None]).astype(logits.dtype, copy=False)
        vocab = total.shape[1]
        total = total.reshape(batch_size, nb * vocab)
        if gc.do_sample:
            cand = _draw_tokens(softmax(total), n_keep, rng)
            cand_scores = np.take_along_axis(total, cand, axis=1)
            order = np.argsort(-cand_scores, axis=1, kind="stable")
        else:
            # top n_keep, descending, ties to the lower flat index
            part = np.argpartition(-total, n_keep - 1, axis=1)[:, :n_keep]
            kth = np.take_along_axis(total, part, axis=1).min(axis=1, keepdims=True)
            cand = []
            for row, t in zip(total, kth[:, 0]):
                idx = np.flatnonzero(row >= t)
                idx = idx[np.argsort(-row[idx], kind="stable")][:n_keep]
                cand.append(idx)
            cand = np.stack(cand)
            cand_scores = np.take_along_axis(total, cand, axis=1)
            order = np.arange(n_keep)[None, :].repeat(batch_size, 0)
        cand = np.take_along_axis(cand, order, axis=1)
        cand_scores = np.take_along_axis(cand_scores, order, axis=1)
        cand_beam, cand_tok = cand // vocab, cand % vocab

        next_scores = np.zeros((batch_size, nb), dtype=total.dtype)
        next_tokens = np.zeros((batch_size, nb), dtype=np.int64)
        next_rows = np.zeros((batch_size, nb), dtype=np.int64)
        cur_len = input_ids.shape[1] + 1
        for b in range(batch_size):
            if done[b]:
                # HF pads a finished input: score 0, pad token, and row index 0 (of the whole batch).
                next_tokens[b, :] = pad_id if pad_id is not None else 0
                continue
            filled = 0
            for rank in range(n_keep):
                tok, score, row = int(cand_tok[b, rank]), cand_scores[b, rank], b * nb + int(cand_beam[b, rank])
                if tok in eos_ids:
                    if rank >= nb:
                        continue  # an eos outside the top num_beams candidates is not a hypothesis
                    bi = beam_indices[row] + (row,) if track else None
                    hyps[b].add(input_ids[row].tolist(), float(score), bi, cur_len - prompt_len)
                else:
                    next_scores[b, filled], next_tokens[b, filled], next_rows[b, filled] = score, tok, row
                    filled += 1
                if filled == nb:
                    break
            if filled < nb:
                raise ValueError(f"generate: more than {n_keep - nb} of the {n_keep} best candidates are eos tokens "
                                 f"for input {b}; cannot continue {nb} beams")
            done[b] = done[b] or hyps[b].is_done(float(cand_scores[b].max()), cur_len, prompt_len)
        beam_scores = next_scores.reshape(-1)
        rows = next_rows.reshape(-1)
        input_ids = np.concatenate([input_ids[rows], next_tokens.reshape(-1, 1)], axis=1)
        stepper.reorder(rows)
        if track:
            beam_indices = tuple(beam_indices[r] + (int(r),) for r in rows)
        if step_callback is not None:
            step_callback(input_ids.shape[1] - prompt_len, gc.max_length - prompt_len)
        stop = np.isin(input_ids[:, -1], eos_ids) | (input_ids.shape[1] >= gc.max_length)
        if all(done) or stop.all():
            break

    # finalize: open beams of unfinished inputs become hypotheses too
    for b in range(batch_size):
        if done[b]:
            continue
        for j in range(nb):
            row = b * nb + j
            hyps[b].add(input_ids[row].tolist(), float(beam_scores[row]), beam_indices[row] if track else None,
                        input_ids.shape[1] - prompt_len)
    keep = gc.num_return_sequences
    best, best_scores, best_idx = [], np.zeros(batch_size * keep, dtype=np.float32), []
    for b in range(batch_size):
        ranked = sorted(hyps[b].beams, key=lambda h: h[0])
        for j in range(keep):
            score, hyp, bi = ranked.pop()
            best.append(hyp)
            best_idx.append(bi)
            best_scores[b * keep + j] = score
    lengths = [len(h) for h in best]
    width = min(max(lengths) + 1, gc.max_length)
    seqs = np.full((len(best), width), pad_id if pad_id is not None else 0, dtype=np.int64)
    if min(lengths) != max(lengths) and pad_id is None:
        raise ValueError("generate: pad_token_id must be set to pad hypotheses of different lengths")
    indices = np.full((len(best), width), -1, dtype=np.int64) if track else None
    for i, hyp in enumerate(best):
        seqs[i, : len(hyp)] = hyp
        if track:
            indices[i, : len(best_idx[i])] = best_idx[i]
        if len(hyp) < width:
            seqs[i, len(hyp)] = eos_ids[0]  # the hypothesis ended with eos (kept out of the stored tokens)
    if not track:
        best_scores = None
    else:
        best_scores = best_scores.astype(np.float32 if beam_scores.dtype == np.float32 else beam_scores.dtype)
    return seqs, scores, raw, best_scores, indices


# ---------------------------------------------------------------------------------------------------------------------
# generate()
# ---------------------------------------------------------------------------------------------------------------------
def resolve_generation_config(model, generation_config=None, **kwargs) -> Tuple[GenerationConfig, Dict[str, Any]]:
    """HF's ``_prepare_generation_config``: copy of the base config (argument or the model's), updated by kwargs.

    Returns the config and the kwargs that are not generation fields.
    """
    base_default = GenerationConfig.for_model(model)
    if generation_config is None:
        gc = base_default.copy()
    else:
        if not isinstance(generation_config, GenerationConfig):
            raise TypeError("generate: generation_config must be a GenerationConfig, got "
                            f"{type(generation_config).__name__}")
        gc = generation_config.copy()
    unused = gc.update(**kwargs)
    if generation_config is not None:
        for name in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
            if getattr(gc, name) is None:
                setattr(gc, name, getattr(base_default, name))
    return gc, unused


def generate(model, input_ids, attention_mask=None, global_attention_mask=None, generation_config=None, *,
             global_attention: Optional[str] = None, streamer=None, seed: Optional[int] = None,
             generator: Optional[np.random.Generator] = None, step_callback: Optional[Callable[[int, int], None]] = None,
             **kwargs):
    """Generate token ids with HF's semantics; see ``spec/SPEC.md#generation``.

    ``model``: a ``Seq2SeqStepModel`` or led_ref's ``LEDForConditionalGeneration``. ``kwargs``: GenerationConfig
    fields (max_length, max_new_tokens, num_beams, ...); anything else is a TypeError.
    ``global_attention="first"`` puts global attention on each row's first token when no mask is given (LED's
    summarization advice; the default None is HF's: no global attention). ``streamer``: an object with
    ``put(ids)``/``end()`` (HF's protocol: first the (B, 1) start ids, then each step's (B,) tokens) or a callable
    getting each step's (B,) tokens; greedy/sampling only. ``seed`` / ``generator``: the sampling RNG.
    ``step_callback(done_steps, max_steps)``: called after every decoding step (progress display).
    Returns int64 (B * num_return_sequences, T), or an output object when ``return_dict_in_generate``.
    """
    steps = as_step_model(model)
    gc, unused = resolve_generation_config(steps, generation_config, **kwargs)
    if unused:
        raise TypeError(f"generate: unknown argument(s) {sorted(unused)}; expected GenerationConfig fields "
                        "(max_length, max_new_tokens, num_beams, do_sample, ...) or input_ids, attention_mask, "
                        "global_attention_mask, generation_config, global_attention, streamer, seed, generator, "
                        "step_callback")
    gc.validate()

    if input_ids is None:
        raise ValueError("generate: input_ids is required (B, S) int64")
    input_ids = _as_int_matrix("input_ids", input_ids)
    batch, src_len = input_ids.shape
    if batch == 0 or src_len == 0:
        raise ValueError(f"generate: input_ids must be non-empty, got shape {input_ids.shape}")
    vocab_size = getattr(steps.config, "vocab_size", None)
    if vocab_size is not None and (input_ids.min() < 0 or input_ids.max() >= vocab_size):
        raise ValueError(f"generate: input_ids must be in [0, vocab_size={vocab_size}), got values in "
                         f"[{input_ids.min()}, {input_ids.max()}]")

    # special tokens (HF ``_prepare_special_tokens``)
    eos_ids = _eos_list(gc.eos_token_id)
    pad_id = gc.pad_token_id if gc.pad_token_id is not None else (eos_ids[0] if eos_ids else None)
    start_id = gc.decoder_start_token_id if gc.decoder_start_token_id is not None else gc.bos_token_id
    if start_id is None:
        raise ValueError("generate: decoder_start_token_id or bos_token_id must be set (config.json or "
                         "generation_config.json, or pass decoder_start_token_id=...)")
    if vocab_size is not None:
        for name, ids in (("eos_token_id", eos_ids), ("decoder_start_token_id", [start_id]),
                          ("pad_token_id", [pad_id] if pad_id is not None else []),
                          ("forced_bos_token_id", [gc.forced_bos_token_id] if gc.forced_bos_token_id is not None
                           else []),
                          ("forced_eos_token_id", _eos_list(gc.forced_eos_token_id)),
                          ("bad_words_ids", [t for s in (gc.bad_words_ids or []) for t in s])):
            bad = [i for i in ids if i >= vocab_size]
            if bad:
                raise ValueError(f"generate: {name} contains {bad}, outside the vocabulary (vocab_size={vocab_size})")

    if attention_mask is None:
        # HF: infer the mask from padding when the pad token occurs and is not also an eos token
        if pad_id is not None and np.any(input_ids == pad_id) and pad_id not in eos_ids:
            attention_mask = (input_ids != pad_id).astype(np.int64)
        else:
            attention_mask = np.ones_like(input_ids)
    else:
        attention_mask = _as_int_matrix("attention_mask", attention_mask, input_ids.shape)
    if global_attention is not None:
        if global_attention != "first":
            raise ValueError(f"generate: global_attention must be None or 'first', got {global_attention!r}")
        if global_attention_mask is not None:
            raise ValueError("generate: give either global_attention_mask or global_attention='first', not both")
        global_attention_mask = first_token_global_attention_mask(input_ids)
    if global_attention_mask is not None:
        global_attention_mask = _as_int_matrix("global_attention_mask", global_attention_mask, input_ids.shape)

    prompt_len = 1
    if gc.max_new_tokens is not None:
        gc.max_length = gc.max_new_tokens + prompt_len
    if gc.min_new_tokens is not None:
        gc.min_length = gc.min_new_tokens + prompt_len  # HF: min_new_tokens takes precedence over min_length
    if prompt_len >= gc.max_length:
        raise ValueError(f"generate: max_length={gc.max_length} leaves no room to generate: the decoder starts with "
                         f"{prompt_len} token (decoder_start_token_id) which counts toward max_length; use "
                         "max_length >= 2 or max_new_tokens >= 1")
    if gc.num_beams > 1 and streamer is not None:
        raise ValueError("generate: streamer works with num_beams=1 only (beam hypotheses change until the end); "
                         "use step_callback for progress")
    rng = None
    if not gc.do_sample and (seed is not None or generator is not None):
        raise ValueError("generate: seed/generator only apply to sampling; pass do_sample=True or drop them")
    if gc.do_sample:
        if generator is not None and seed is not None:
            raise ValueError("generate: give seed or generator, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"generate: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        rng = generator if generator is not None else np.random.default_rng(seed)

    hidden, enc_mask = steps.encode(input_ids, attention_mask, global_attention_mask)
    expand = gc.num_beams if gc.num_beams > 1 else gc.num_return_sequences
    stepper = _Stepper(steps, np.asarray(hidden), np.asarray(enc_mask), expand, gc.use_cache)
    dec = np.full((batch * expand, prompt_len), start_id, dtype=np.int64)

    if gc.num_beams == 1:
        if streamer is not None and hasattr(streamer, "put"):
            streamer.put(dec[:, :1].copy())
        seqs, scores, raw, seq_scores, beam_idx = _greedy_or_sample(
            stepper, dec, gc, eos_ids, pad_id, rng, streamer, step_callback)
        if streamer is not None and hasattr(streamer, "end"):
            streamer.end()
    else:
        seqs, scores, raw, seq_scores, beam_idx = _beam_search(
            stepper, dec, gc, eos_ids, pad_id, rng, batch, step_callback)

    if not gc.return_dict_in_generate:
        return seqs
    scores_t = tuple(scores) if gc.output_scores else None
    logits_t = tuple(raw) if gc.output_logits else None
    if gc.num_beams == 1:
        return GenerateEncoderDecoderOutput(sequences=seqs, scores=scores_t, logits=logits_t,
                                            past_key_values=stepper.past)
    return GenerateBeamEncoderDecoderOutput(sequences=seqs, sequences_scores=seq_scores, scores=scores_t,
                                            logits=logits_t, beam_indices=beam_idx, past_key_values=stepper.past)


def stream(model, input_ids, attention_mask=None, global_attention_mask=None, **kwargs):
    """Iterator over the (B,) int64 tokens of each step of greedy/sampling generation (``num_beams=1``).

    Runs ``generate`` in a background thread; the iterator ends when generation ends and re-raises its errors.
    """
    import queue
    import threading

    q: "queue.Queue" = queue.Queue()  # unbounded: a consumer that stops early must not block the worker
    end = object()
    errors = []

    def work():
        try:
            generate(model, input_ids, attention_mask, global_attention_mask,
                     streamer=lambda toks: q.put(np.array(toks)), **kwargs)
        except BaseException as exc:  # re-raised in the consumer
            errors.append(exc)
        finally:
            q.put(end)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    while True:
        item = q.get()
        if item is end:
            break
        yield item
    t.join()
    if errors:
        raise errors[0]


# ---------------------------------------------------------------------------------------------------------------------
# CLI: python -m led_ref generate --model DIR [options] FILE|-
# ---------------------------------------------------------------------------------------------------------------------
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
            from export.ort import OrtLEDForConditionalGeneration
        except ImportError as exc:
            raise ImportError(f"--backend onnx needs the export extra (pip install -e '.[export]'): {exc}") from None
        return OrtLEDForConditionalGeneration.from_pretrained(args.model)
    from .model import LEDForConditionalGeneration

    return LEDForConditionalGeneration.from_pretrained(args.model, dtype=np.dtype(args.dtype).type)


def run_cli(args) -> int:
    """Summarize FILE with the checkpoint in --model; prints the decoded text (one line per returned sequence)."""
    from .progress import Progress

    if not os.path.isdir(args.model):
        raise FileNotFoundError(f"--model {args.model}: not a directory (expected a checkpoint directory)")
    if args.file == "-":
        text = sys.stdin.read()
    else:
        if not os.path.isfile(args.file):
            raise FileNotFoundError(f"{args.file}: no such file (give a text file, or - to read stdin)")
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
    if not text.strip():
        raise ValueError(f"{args.file}: the input text is empty")

    from .tokenizer import LEDTokenizerFast

    tokenizer = LEDTokenizerFast.from_pretrained(args.model)
    model = _load_backend(args)
    limit = args.max_input_length or getattr(model.config, "max_encoder_position_embeddings", None)
    if limit is not None and limit < 2:
        raise ValueError(f"--max-input-length must be >= 2, got {limit}")
    enc = tokenizer(text, return_tensors="np")
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    if limit is not None and ids.shape[1] > limit:
        print(f"led-ref generate: input has {ids.shape[1]} tokens; truncated to {limit} "
              "(--max-input-length)", file=sys.stderr)
        enc = tokenizer(text, return_tensors="np", truncation=True, max_length=limit)
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
    mask = np.asarray(enc["attention_mask"], dtype=np.int64) if "attention_mask" in enc else np.ones_like(ids)

    kwargs = {}
    for flag, field, typ, _ in _CLI_FIELDS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            kwargs[field] = typ(value) if typ is _early_stopping_arg else value
    if args.do_sample:
        kwargs["do_sample"] = True
    if args.no_cache:
        kwargs["use_cache"] = False
    gc = GenerationConfig.for_model(args.model)
    probe = gc.copy()
    probe.update(**kwargs)
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
