"""LEDConfig: HF transformers' LEDConfig (4.46.3) as a plain class, without torch.

Field names and defaults are HF's, so a ``config.json`` written by HF loads here and one
written here loads in HF unchanged. Keys this class does not know are kept and written
back. See ``spec/SPEC.md#configuration``.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from typing import Any

from .activations import ACT2FN
from .errors import check_depth, read_json, shown

CONFIG_NAME = "config.json"

# Activation names LED accepts: the keys of HF 4.46.3's ACT2CLS (transformers/activations.py), which
# led_ref.activations implements (ACT2FN is the one table).
ACTIVATION_NAMES = tuple(ACT2FN)

# LEDConfig.__init__ arguments and their HF defaults (configuration_led.py).
LED_DEFAULTS: dict[str, Any] = {
    "vocab_size": 50265,
    "max_encoder_position_embeddings": 16384,
    "max_decoder_position_embeddings": 1024,
    "encoder_layers": 12,
    "encoder_ffn_dim": 4096,
    "encoder_attention_heads": 16,
    "decoder_layers": 12,
    "decoder_ffn_dim": 4096,
    "decoder_attention_heads": 16,
    "encoder_layerdrop": 0.0,
    "decoder_layerdrop": 0.0,
    "use_cache": True,
    "is_encoder_decoder": True,
    "activation_function": "gelu",
    "d_model": 1024,
    "dropout": 0.1,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "init_std": 0.02,
    "decoder_start_token_id": 2,
    "classifier_dropout": 0.0,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "attention_window": 512,
}

# PretrainedConfig generation fallbacks (HF reads them from config.json when there is no
# generation_config.json; LED hub checkpoints set num_beams, max_length, ... here).
GENERATION_DEFAULTS: dict[str, Any] = {
    "max_length": 20,
    "min_length": 0,
    "do_sample": False,
    "early_stopping": False,
    "num_beams": 1,
    "num_beam_groups": 1,
    "diversity_penalty": 0.0,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "typical_p": 1.0,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "num_return_sequences": 1,
    "output_scores": False,
    "return_dict_in_generate": False,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "remove_invalid_values": False,
    "exponential_decay_length_penalty": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
}

# Other PretrainedConfig fields that appear in saved config.json files (token ids and
# is_encoder_decoder are in LED_DEFAULTS because LED overrides their defaults).
COMMON_DEFAULTS: dict[str, Any] = {
    "return_dict": True,
    "output_hidden_states": False,
    "output_attentions": False,
    "torchscript": False,
    "torch_dtype": None,
    "use_bfloat16": False,
    "tf_legacy_loss": False,
    "pruned_heads": {},
    "tie_word_embeddings": True,
    "chunk_size_feed_forward": 0,
    "is_decoder": False,
    "cross_attention_hidden_size": None,
    "add_cross_attention": False,
    "tie_encoder_decoder": False,
    **GENERATION_DEFAULTS,
    "architectures": None,
    "finetuning_task": None,
    "tokenizer_class": None,
    "prefix": None,
    "sep_token_id": None,
    "task_specific_params": None,
    "problem_type": None,
}

# HF LEDConfig.attribute_map: alias -> canonical field.
ATTRIBUTE_MAP = {
    "num_attention_heads": "encoder_attention_heads",
    "hidden_size": "d_model",
    "attention_probs_dropout_prob": "attention_dropout",
    "initializer_range": "init_std",
}

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

_POSITIVE_INT_FIELDS = (
    "vocab_size",
    "max_encoder_position_embeddings",
    "max_decoder_position_embeddings",
    "encoder_layers",
    "encoder_ffn_dim",
    "encoder_attention_heads",
    "decoder_layers",
    "decoder_ffn_dim",
    "decoder_attention_heads",
    "d_model",
)
# Sane upper limits (any real LED is far below them); a config.json above one is refused before
# anything is sized from it. Sizes fit int32 (ONNX / tokenizer ids); layer counts index Python lists.
_MAX_SIZE = 2**31 - 1
_MAX_LAYERS = 10_000
_MAX_LABELS = 1_000_000
_UPPER_LIMITS = {
    name: _MAX_LAYERS if name.endswith("_layers") else _MAX_SIZE
    for name in (
        "vocab_size",
        "max_encoder_position_embeddings",
        "max_decoder_position_embeddings",
        "encoder_layers",
        "encoder_ffn_dim",
        "encoder_attention_heads",
        "decoder_layers",
        "decoder_ffn_dim",
        "decoder_attention_heads",
        "d_model",
    )
}
_PROBABILITY_FIELDS = (
    "dropout",
    "attention_dropout",
    "activation_dropout",
    "classifier_dropout",
    "encoder_layerdrop",
    "decoder_layerdrop",
)
_FIELDS = tuple(LED_DEFAULTS) + tuple(COMMON_DEFAULTS)


def activation_names() -> tuple:
    """Names accepted for ``activation_function``: the keys of led_ref.activations.ACT2FN."""
    return ACTIVATION_NAMES


def torch_dtype_name(value) -> str | None:
    """The name HF writes for a ``torch_dtype`` value (None, a name such as "float16", or a torch.dtype).

    Where torch is loaded the name must be one of torch's dtypes: HF converts it with ``getattr(torch, name)`` and
    fails with AttributeError otherwise."""
    if value is None:
        return None
    name = value if isinstance(value, str) else str(value)
    if not isinstance(value, str) and not name.startswith("torch."):
        raise TypeError(f"config: torch_dtype must be None, a dtype name or a torch.dtype, got {shown(value)}")
    name = name[len("torch.") :] if name.startswith("torch.") else name
    torch = sys.modules.get("torch")
    if torch is not None and not isinstance(getattr(torch, name, None), torch.dtype):
        raise AttributeError(f"config: torch_dtype {name!r} is not a torch dtype (e.g. 'float32', 'float16')")
    return name


def _torch_dtype_object(name):
    torch = sys.modules.get("torch")
    if name is None or torch is None:
        return name
    return getattr(torch, name, name)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def layer_attention_windows(window, encoder_layers) -> list[int]:
    """The local attention window (even, > 0) of each of ``encoder_layers`` encoder layers.

    ``window`` (config.attention_window) is one int for every layer or a per-layer list. The window is the full
    width: each token sees ``window // 2`` tokens on each side. Every config class (led_ref's, the transformers
    subclass in led_ref.export.hf_models, HF's own) is read through this one rule.
    """
    if _is_int(window):
        windows = [window] * encoder_layers
    elif isinstance(window, (list, tuple)):
        if len(window) != encoder_layers:
            raise ValueError(
                f"config: attention_window has {len(window)} entries but encoder_layers="
                f"{encoder_layers}; give one int or one window per encoder layer"
            )
        windows = list(window)
    else:
        raise TypeError(f"config: attention_window must be an int or a list of ints, got {type(window).__name__}")
    for i, w in enumerate(windows):
        where = "attention_window" if _is_int(window) else f"attention_window[{i}]"
        if not _is_int(w):
            raise TypeError(f"config: {where} must be an int, got {shown(w)}")
        if w <= 0 or w % 2:
            raise ValueError(f"config: {where} must be a positive even int, got {w}")
    return windows


# transformers.PretrainedConfig.to_dict() entries that are that library's runtime state, not configuration
HF_RUNTIME_KEYS = ("_attn_implementation_autoset", "transformers_version")

# The fields that fix a model's shapes: an object read as a config (as_config) must have every one.
SHAPE_FIELDS = (
    "vocab_size",
    "d_model",
    "encoder_layers",
    "decoder_layers",
    "encoder_attention_heads",
    "decoder_attention_heads",
    "encoder_ffn_dim",
    "decoder_ffn_dim",
    "attention_window",
    "max_encoder_position_embeddings",
    "max_decoder_position_embeddings",
)


def as_config(config, what: str = "config") -> LEDConfig:
    """``config`` as an ``LEDConfig``: an LEDConfig itself; a dict of its fields (the ``config.json`` layout,
    HF's defaults for the rest); or any object with HF's LEDConfig fields -- HF transformers' ``LEDConfig``,
    another (vendored) copy of led-ref's -- read through its ``to_dict()`` or, without one, its attributes.
    TypeError in one line otherwise; ValueError naming the field when the values are not a valid config."""
    if isinstance(config, LEDConfig):
        return config
    if isinstance(config, dict):
        return LEDConfig.from_dict(config)
    to_dict = getattr(config, "to_dict", None)
    fields = to_dict() if callable(to_dict) else None
    if isinstance(fields, dict):
        # transformers' runtime state in a live PretrainedConfig's to_dict(), not configuration (its own saves
        # leave these out)
        fields = {k: v for k, v in fields.items() if k not in HF_RUNTIME_KEYS}
        if not fields.get("_name_or_path"):
            fields.pop("_name_or_path", None)
    if not isinstance(fields, dict):
        missing = [name for name in SHAPE_FIELDS if not hasattr(config, name)]
        if missing:
            raise TypeError(
                f"{what} must be an LEDConfig, a dict of its fields or an object with HF's LEDConfig fields "
                f"(to_dict() or attributes); got {type(config).__name__} without {', '.join(missing)}"
            )
        fields = {name: getattr(config, name) for name in _FIELDS if hasattr(config, name)}
    return LEDConfig.from_dict(fields)


class LEDConfig:
    """Configuration of an LED model; HF's field names, defaults and aliases.

    ``LEDConfig(**fields)`` validates the fields that the model math depends on and raises
    ``ValueError``/``TypeError`` naming the field. See ``spec/SPEC.md#configuration``.
    """

    model_type = "led"
    attribute_map = ATTRIBUTE_MAP
    id2label: dict[int, str]  # set by _set_labels (num_labels is their length)
    label2id: dict[str, int]

    def __init__(self, **kwargs):
        kwargs = dict(kwargs)
        for name, value in kwargs.items():
            check_depth(value, f"config: {name}")  # deepcopy below recurses
        kwargs.pop("model_type", None)
        # HF applies aliases after the canonical fields, so an alias value wins.
        aliases = {k: kwargs.pop(k) for k in list(kwargs) if k in ATTRIBUTE_MAP}
        num_hidden_layers = kwargs.pop("num_hidden_layers", None)
        num_labels = kwargs.pop("num_labels", None)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        for name in _FIELDS:
            value = kwargs.pop(name, LED_DEFAULTS.get(name, COMMON_DEFAULTS.get(name)))
            object.__setattr__(self, name, copy.deepcopy(value))
        for alias, value in aliases.items():
            object.__setattr__(self, ATTRIBUTE_MAP[alias], value)
        if num_hidden_layers is not None and num_hidden_layers != self.encoder_layers:
            raise ValueError(
                f"config: num_hidden_layers={shown(num_hidden_layers)} disagrees with "
                f"encoder_layers={shown(self.encoder_layers)}; in LED they are the same number "
                "(set both to the encoder layer count)"
            )
        self._set_labels(id2label, label2id, num_labels)
        if "name_or_path" in kwargs:  # HF keeps it as the string _name_or_path
            kwargs["_name_or_path"] = str(kwargs.pop("name_or_path"))
        for name in kwargs:
            attr = getattr(type(self), name, None)
            if isinstance(attr, property) and attr.fset is None:
                # HF sets every other keyword as an attribute, which fails the same way (AttributeError)
                raise AttributeError(f"config: can't set {name!r}: it is a read-only property of LEDConfig")
        # Unknown keys (transformers_version, _name_or_path, custom fields, ...) round-trip.
        object.__setattr__(self, "_extra", {k: copy.deepcopy(v) for k, v in kwargs.items()})
        self.validate()

    # -- labels ---------------------------------------------------------------------------
    def _set_labels(self, id2label, label2id, num_labels):
        """HF's PretrainedConfig rules: with id2label its keys become ints and label2id is kept as given (None if
        not given); without id2label, num_labels (default 2) makes LABEL_i names for both maps (a label2id passed
        alone is replaced, as HF does). A map that is not a dict is a ValueError, as in HF."""
        if label2id is not None and not isinstance(label2id, dict):
            raise ValueError(f"config: label2id should be a dictionary, got {type(label2id).__name__}")
        if id2label is not None:
            if not isinstance(id2label, dict):
                raise ValueError(f"config: id2label should be a dictionary, got {type(id2label).__name__}")
            try:
                id2label = {int(k): v for k, v in id2label.items()}
            except (TypeError, ValueError):
                raise ValueError(f"config: id2label keys must be integers, got {shown(list(id2label))}") from None
            if not 1 <= len(id2label) <= _MAX_LABELS:
                raise ValueError(f"config: id2label must hold 1 to {_MAX_LABELS} labels, got {len(id2label)}")
            object.__setattr__(self, "id2label", id2label)
            object.__setattr__(self, "label2id", label2id)
        else:
            object.__setattr__(self, "id2label", {})
            self.num_labels = 2 if num_labels is None else num_labels

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, n: int):
        if not _is_int(n) or not 1 <= n <= _MAX_LABELS:
            raise ValueError(f"config: num_labels must be an int in [1, {_MAX_LABELS}], got {shown(n)}")
        if self.id2label is None or len(self.id2label) != n:
            self.id2label = {i: f"LABEL_{i}" for i in range(n)}
            self.label2id = {v: k for k, v in self.id2label.items()}

    @property
    def use_return_dict(self) -> bool:
        """HF's: models return ModelOutputs unless return_dict is False or torchscript is set."""
        return bool(self.return_dict) and not self.torchscript

    @property
    def name_or_path(self) -> str:
        return self._extra.get("_name_or_path", "")

    @name_or_path.setter
    def name_or_path(self, value):
        self._extra["_name_or_path"] = str(value)

    @property
    def torch_dtype(self):
        """HF's field: a torch.dtype (``config.torch_dtype == torch.float16`` holds as in HF) whenever torch is
        loaded; the dtype's name otherwise (the core never imports torch). config.json holds the name."""
        return _torch_dtype_object(self._torch_dtype)

    @torch_dtype.setter
    def torch_dtype(self, value):
        object.__setattr__(self, "_torch_dtype", torch_dtype_name(value))

    # -- aliases --------------------------------------------------------------------------
    @property
    def num_hidden_layers(self) -> int:
        return self.encoder_layers

    @num_hidden_layers.setter
    def num_hidden_layers(self, value):
        self.encoder_layers = value

    def __getattr__(self, name):
        # Only called when normal lookup fails: aliases, then unknown config.json keys.
        if name in ATTRIBUTE_MAP:
            return getattr(self, ATTRIBUTE_MAP[name])
        extra = self.__dict__.get("_extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"'LEDConfig' object has no attribute {shown(name)}")

    def __setattr__(self, name, value):
        name = ATTRIBUTE_MAP.get(name, name)
        if (
            name in _FIELDS
            or name.startswith("_")
            and name in self.__dict__
            or isinstance(getattr(type(self), name, None), property)
        ):
            object.__setattr__(self, name, value)
        elif name in ("id2label", "label2id"):
            object.__setattr__(self, name, value)
        else:
            self._extra[name] = value

    # -- validation -----------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError/TypeError naming the first field the model could not run with."""
        for name in _POSITIVE_INT_FIELDS:
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                raise ValueError(f"config: {name} must be a positive int, got {shown(value)}")
            if value > _UPPER_LIMITS[name]:
                raise ValueError(f"config: {name}={value} is above the limit {_UPPER_LIMITS[name]}")
        for name in _PROBABILITY_FIELDS:
            value = getattr(self, name)
            if value is None and name == "classifier_dropout":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"config: {name} must be a number in [0, 1], got {shown(value)}")
        for heads_name in ("encoder_attention_heads", "decoder_attention_heads"):
            heads = getattr(self, heads_name)
            if self.d_model % heads:
                raise ValueError(f"config: d_model={self.d_model} is not divisible by {heads_name}={heads}")
        names = activation_names()
        if self.activation_function not in names:
            raise ValueError(
                f"config: unknown activation_function {shown(self.activation_function)}; "
                f"expected one of {', '.join(sorted(names))}"
            )
        for name in ("pad_token_id", "bos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or not 0 <= value < self.vocab_size):
                raise ValueError(
                    f"config: {name} must be None or an int in [0, vocab_size={self.vocab_size}), got {shown(value)}"
                )
        eos = self.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
        if (isinstance(eos, list) and not eos) or any(not _is_int(i) or not 0 <= i < self.vocab_size for i in eos_ids):
            raise ValueError(
                f"config: eos_token_id must be None, an int or a non-empty list of ints in [0, vocab_size="
                f"{self.vocab_size}), got {shown(eos)}"
            )
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(
                f"config: problem_type must be None or one of {', '.join(PROBLEM_TYPES)}, "
                f"got {shown(self.problem_type)}"
            )
        self.layer_attention_windows()

    def layer_attention_windows(self) -> list[int]:
        """The local attention window (even, > 0) of each encoder layer; length encoder_layers
        (``layer_attention_windows(attention_window, encoder_layers)``, the rule)."""
        return layer_attention_windows(self.attention_window, self.encoder_layers)

    # -- (de)serialisation ----------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **overrides) -> LEDConfig:
        """Build a config from a config.json-style dict (HF field names; aliases allowed)."""
        if not isinstance(config_dict, dict):
            raise TypeError(f"config_dict must be a dict, got {type(config_dict).__name__}")
        model_type = config_dict.get("model_type", "led")
        if model_type != "led":
            raise ValueError(f"config: model_type is {shown(model_type)}, expected 'led'")
        base = dict(config_dict)
        # An override of a field replaces its aliases in the base dict too (else the stale
        # alias would win, or disagree: num_hidden_layers vs an overridden encoder_layers).
        aliases = {**ATTRIBUTE_MAP, "num_hidden_layers": "encoder_layers"}
        for alias, field in aliases.items():
            if field in overrides and alias not in overrides:
                base.pop(alias, None)
        if "num_labels" in overrides:
            for key in ("id2label", "label2id"):
                if key not in overrides:
                    base.pop(key, None)
        return cls(**{**base, **overrides})

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> LEDConfig:
        path = os.fspath(path)
        data = read_json(path, "config file (config.json)")
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError) as e:
            # name the file: "config: vocab_size must be ..." -> "<path>: vocab_size must be ..."
            msg = str(e)
            msg = msg[len("config: ") :] if msg.startswith("config: ") else msg
            raise type(e)(f"{path}: {msg}") from None

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **overrides) -> LEDConfig:
        """Read ``config.json`` from a checkpoint directory, a config file path or a hub id."""
        path = os.fspath(path)
        if os.path.isfile(path):
            config = cls.from_json_file(path)
        else:
            from .hub import resolve_pretrained_dir

            directory = resolve_pretrained_dir(path)
            config = cls.from_json_file(os.path.join(directory, CONFIG_NAME))
        if overrides:
            config = cls.from_dict(config.to_dict(), **overrides)
        return config

    def to_dict(self) -> dict[str, Any]:
        """Every field (HF names; no aliases) plus unknown keys; id2label keys are ints like HF."""
        out: dict[str, Any] = {"model_type": self.model_type}
        for name in _FIELDS:
            out[name] = copy.deepcopy(getattr(self, name))
        out["torch_dtype"] = self._torch_dtype  # the name, as HF writes it
        out["num_hidden_layers"] = self.encoder_layers
        out["id2label"] = dict(self.id2label)
        out["label2id"] = None if self.label2id is None else dict(self.label2id)
        out.update(copy.deepcopy(self._extra))
        return dict(sorted(out.items()))

    def to_diff_dict(self) -> dict[str, Any]:
        """What ``save_pretrained`` writes: like HF, LED fields always, common fields only when
        they differ from PretrainedConfig's defaults, labels only when not the default two."""
        full = self.to_dict()
        out = {}
        for key, value in full.items():
            if key in COMMON_DEFAULTS and value == COMMON_DEFAULTS[key]:
                continue
            if (
                key in ("id2label", "label2id")
                and self.id2label == {0: "LABEL_0", 1: "LABEL_1"}
                and (self.label2id == {"LABEL_0": 0, "LABEL_1": 1})
            ):
                continue
            out[key] = value
        return out

    def to_json_string(self, use_diff: bool = True) -> str:
        data = self.to_diff_dict() if use_diff else self.to_dict()
        if "id2label" in data:
            data["id2label"] = {str(k): v for k, v in data["id2label"].items()}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike, use_diff: bool = True) -> None:
        """Write the config as JSON to ``json_file_path`` (HF's method: the diff against the defaults unless
        ``use_diff=False``)."""
        with open(os.fspath(json_file_path), "w", encoding="utf-8") as f:
            f.write(self.to_json_string(use_diff=use_diff))

    def save_pretrained(self, save_directory: str | os.PathLike) -> str:
        """Write ``config.json`` into ``save_directory`` (created if needed); returns its path."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory {save_directory} is a file, expected a directory")
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, CONFIG_NAME)
        self.to_json_file(path)
        return path

    # -- misc -----------------------------------------------------------------------------
    def copy(self) -> LEDConfig:
        return type(self).from_dict(self.to_dict())

    def __eq__(self, other):
        return isinstance(other, LEDConfig) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"LEDConfig {self.to_json_string()}"
