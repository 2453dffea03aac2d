"""HF's GenerationConfig (4.46.3): field names, defaults, file format and validation
(spec/SPEC.md#generation-configuration)."""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any

import numpy as np

from ..errors import check_depth, read_json, shown

GENERATION_CONFIG_NAME = "generation_config.json"

# Fields led-ref implements, with HF 4.46.3's GenerationConfig defaults.
SUPPORTED_DEFAULTS: dict[str, Any] = {
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
UNSUPPORTED_DEFAULTS: dict[str, Any] = {
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
_ALSO_INACTIVE = {
    "typical_p": (None,),
    "epsilon_cutoff": (None,),
    "eta_cutoff": (None,),
    "diversity_penalty": (None,),
    "encoder_repetition_penalty": (None,),
    "encoder_no_repeat_ngram_size": (None,),
    "guidance_scale": (1, 1.0),
    "num_beam_groups": (None,),
    "token_healing": (None,),
    "renormalize_logits": (None,),
    "remove_invalid_values": (None,),
    "penalty_alpha": (0, 0.0),
}

# HF fields with no effect here: bookkeeping, and assisted-generation settings (used only with an assistant model,
# which led-ref does not have). Kept (and written back) like unknown keys.
INERT_FIELDS = (
    "transformers_version",
    "_from_model_config",
    "generation_kwargs",
    "is_assistant",
    "num_assistant_tokens",
    "num_assistant_tokens_schedule",
    "assistant_confidence_threshold",
)

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

    # The implemented fields (SUPPORTED_DEFAULTS, set in __init__), typed as ``validate()`` accepts them.
    max_length: int
    max_new_tokens: int | None
    min_length: int
    min_new_tokens: int | None
    early_stopping: bool | str  # True, False or "never"
    do_sample: bool
    num_beams: int
    use_cache: bool
    temperature: float
    top_k: int
    top_p: float
    repetition_penalty: float
    length_penalty: float
    no_repeat_ngram_size: int
    bad_words_ids: list[list[int]] | None
    forced_bos_token_id: int | None
    forced_eos_token_id: int | list[int] | None
    num_return_sequences: int
    output_scores: bool
    output_logits: bool | None
    return_dict_in_generate: bool
    pad_token_id: int | None
    bos_token_id: int | None
    eos_token_id: int | list[int] | None
    decoder_start_token_id: int | None
    low_memory: bool | None
    output_attentions: bool
    output_hidden_states: bool

    def __init__(self, **kwargs):
        for name, value in kwargs.items():
            check_depth(value, f"GenerationConfig: {name}")  # deepcopy below recurses
        for name in ALL_FIELDS:
            value = kwargs.pop(name, SUPPORTED_DEFAULTS.get(name, UNSUPPORTED_DEFAULTS.get(name)))
            setattr(self, name, copy.deepcopy(value))
        self._extra = {k: copy.deepcopy(v) for k, v in kwargs.items()}

    # -- construction -------------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any]) -> GenerationConfig:
        if not isinstance(config_dict, dict):
            raise TypeError(f"GenerationConfig.from_dict: expected a dict, got {type(config_dict).__name__}")
        return cls(**config_dict)

    @classmethod
    def from_pretrained(cls, path) -> GenerationConfig:
        """Read ``generation_config.json`` from a directory (or that file's path)."""
        path = os.fspath(path)
        file = os.path.join(path, GENERATION_CONFIG_NAME) if os.path.isdir(path) else path
        if not os.path.isfile(file):
            raise FileNotFoundError(f"GenerationConfig.from_pretrained: {file} does not exist")
        return cls._checked(read_json(file, "generation config (generation_config.json)"), file)

    @classmethod
    def _checked(cls, data, file, from_model_config=False) -> GenerationConfig:
        """A config read from ``file``, validated up front so a bad field names the file (not generate())."""
        gc = cls.from_model_config(data) if from_model_config else cls.from_dict(data)
        try:
            gc.validate(complete=False)
        except (ValueError, TypeError) as e:
            msg = str(e)
            msg = msg[len("generate: ") :] if msg.startswith("generate: ") else msg
            raise type(e)(f"{file}: {msg}") from None
        return gc

    @classmethod
    def from_model_config(cls, model_config) -> GenerationConfig:
        """HF's ``GenerationConfig.from_model_config``: every non-None field of config.json that is a generation field.

        (For LED the decoder config is the config itself, so HF's decoder-config pass changes nothing.)
        """
        data = model_config if isinstance(model_config, dict) else model_config.to_dict()
        data = {k: v for k, v in data.items() if v is not None and k in ALL_FIELDS}
        gc = cls(**data)
        if gc.return_dict_in_generate is False and (
            gc.output_scores or gc.output_logits or gc.output_attentions or gc.output_hidden_states
        ):
            gc.return_dict_in_generate = True
        return gc

    @classmethod
    def for_model(cls, model_or_dir) -> GenerationConfig:
        """The defaults HF's ``from_pretrained`` would give: generation_config.json when present, else config.json."""
        if isinstance(model_or_dir, (str, os.PathLike)):
            d = os.fspath(model_or_dir)
            if os.path.isfile(os.path.join(d, GENERATION_CONFIG_NAME)):
                return cls.from_pretrained(d)
            file = os.path.join(d, "config.json")
            if not os.path.isfile(file):
                raise FileNotFoundError(f"GenerationConfig.for_model: {file} does not exist")
            return cls._checked(read_json(file, "config file (config.json)"), file, from_model_config=True)
        gc = getattr(model_or_dir, "generation_config", None)
        if gc is not None:
            return gc if isinstance(gc, GenerationConfig) else cls.from_dict(dict(gc))
        return cls.from_model_config(model_or_dir.config)

    def to_dict(self) -> dict[str, Any]:
        out = {name: copy.deepcopy(getattr(self, name)) for name in ALL_FIELDS}
        out.update(copy.deepcopy(self._extra))
        return out

    def to_diff_dict(self) -> dict[str, Any]:
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

    def update(self, **kwargs) -> dict[str, Any]:
        """Set the known fields; return the keyword arguments that are not generation fields (HF's contract)."""
        unused = {}
        for k, v in kwargs.items():
            if k in ALL_FIELDS:
                setattr(self, k, v)
            else:
                unused[k] = v
        return unused

    def copy(self) -> GenerationConfig:
        return copy.deepcopy(self)

    def __eq__(self, other):
        return isinstance(other, GenerationConfig) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"GenerationConfig({json.dumps(self.to_diff_dict(), sort_keys=True, default=str)})"

    # -- validation ---------------------------------------------------------------------------------------------------
    def validate(self, complete: bool = True) -> None:
        """Raise ValueError/TypeError naming the first field that is out of range or not implemented.

        ``complete=False`` (a file being read) checks each field's type and range only: options led-ref does
        not implement and cross-field rules may still be overridden by ``generate()`` arguments.
        """
        for name, default in UNSUPPORTED_DEFAULTS.items() if complete else ():
            value = getattr(self, name)
            if value != default and value not in _ALSO_INACTIVE.get(name, ()):
                raise ValueError(
                    f"generate: {name}={shown(value)} is not supported by led-ref (only greedy, sampling and "
                    f"beam search with the documented options); leave it at {shown(default)}"
                )
        if complete and (self.output_attentions or self.output_hidden_states):
            raise ValueError(
                "generate: output_attentions/output_hidden_states are not supported; call the model "
                "directly on the generated sequences to get them"
            )

        def check_int(name, lo, optional=False):
            v = getattr(self, name)
            if v is None and optional:
                return
            if not _is_int(v):
                raise TypeError(f"generate: {name} must be an int, got {shown(v)}")
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
            raise TypeError(f"generate: output_logits must be True, False or None, got {shown(self.output_logits)}")
        if (
            self.early_stopping not in (True, False, "never")
            or isinstance(self.early_stopping, (int, float))
            and not isinstance(self.early_stopping, bool)
        ):
            raise ValueError(
                f"generate: early_stopping must be True, False or 'never', got {shown(self.early_stopping)}"
            )
        for name, lo_open in (("temperature", 0.0), ("repetition_penalty", 0.0)):
            v = getattr(self, name)
            if v is None:
                continue
            if not _is_number(v) or not math.isfinite(v) or v <= lo_open:
                raise ValueError(f"generate: {name} must be a finite number > 0, got {shown(v)}")
        if self.top_p is not None and (not _is_number(self.top_p) or not 0.0 <= self.top_p <= 1.0):
            raise ValueError(f"generate: top_p must be a number in [0, 1], got {shown(self.top_p)}")
        if not _is_number(self.length_penalty) or not math.isfinite(self.length_penalty):
            raise ValueError(f"generate: length_penalty must be a finite number, got {shown(self.length_penalty)}")
        for name in ("pad_token_id", "bos_token_id", "forced_bos_token_id"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 0):
                raise ValueError(f"generate: {name} must be a non-negative int or None, got {shown(v)}")
        if self.decoder_start_token_id is not None and (
            not _is_int(self.decoder_start_token_id) or self.decoder_start_token_id < 0
        ):
            raise ValueError(
                "generate: decoder_start_token_id must be a non-negative int or None (a per-row list "
                f"is not supported), got {shown(self.decoder_start_token_id)}"
            )
        for name in ("eos_token_id", "forced_eos_token_id"):
            v = getattr(self, name)
            ids = v if isinstance(v, (list, tuple)) else [v] if v is not None else []
            if any(not _is_int(i) or i < 0 for i in ids) or (isinstance(v, (list, tuple)) and not ids):
                raise ValueError(
                    f"generate: {name} must be a non-negative int, a non-empty list of them, or None, got {shown(v)}"
                )
        if self.bad_words_ids is not None:
            b = self.bad_words_ids
            if (
                not isinstance(b, (list, tuple))
                or not b
                or any(not isinstance(s, (list, tuple)) or not s for s in b)
                or any(not _is_int(t) or t < 0 for s in b for t in s)
            ):
                raise ValueError(
                    f"generate: bad_words_ids must be a non-empty list of non-empty lists of "
                    f"non-negative token ids, got {shown(b)}"
                )
        if complete and self.num_return_sequences != 1:
            if self.num_beams == 1 and not self.do_sample:
                raise ValueError(
                    f"generate: num_return_sequences={self.num_return_sequences} needs num_beams > 1 "
                    "or do_sample=True (greedy search returns one sequence per input)"
                )
            if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
                raise ValueError(
                    f"generate: num_return_sequences ({self.num_return_sequences}) must be <= "
                    f"num_beams ({self.num_beams})"
                )
