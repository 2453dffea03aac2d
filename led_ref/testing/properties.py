"""The properties the conformance kit checks, as drawn cases, and their ``.npz`` form (counterexamples).

A *case* is a config, the seed of its random weights (None: the candidate's own fixed weights), the drawn
arrays and the property. ``candidate_inputs`` turns it into the HF forward arguments a candidate receives.

=========== =========================================================================== ====================
property    inputs                                                                      compared outputs
=========== =========================================================================== ====================
encoder     input_ids, attention_mask, global_attention_mask, decoder_input_ids          encoder_last_hidden_state
logits      the same                                                                     logits
attentions  the same + output_attentions=True                                            encoder_attentions,
                                                                                         encoder_global_attentions,
                                                                                         decoder_attentions,
                                                                                         cross_attentions
cache       encoder inputs, decoder_input_ids (new tokens), past_key_values (the         logits, past_key_values
            reference's cache of decoder_prefix_ids), use_cache=True
loss        encoder inputs, labels (with -100; decoder inputs = shift_tokens_right)     loss, logits
generate    encoder inputs, max_new_tokens: greedy generation                           the token ids, exactly
=========== =========================================================================== ====================
"""

import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from hypothesis import strategies as st

from ..config import LEDConfig
from ..weights import init_params
from . import strategies as S
from .oracle import build_cache, params_tree

__all__ = ["PROPERTIES", "OUTPUT_KEYS", "Case", "cases", "case_params", "candidate_inputs", "save_case", "load_case"]

# property -> the HF outputs it compares
OUTPUT_KEYS = {
    "encoder": ("encoder_last_hidden_state",),
    "logits": ("logits",),
    "attentions": ("encoder_attentions", "encoder_global_attentions", "decoder_attentions", "cross_attentions"),
    "cache": ("logits", "past_key_values"),
    "loss": ("loss", "logits"),
    "generate": ("sequences",),
}
PROPERTIES = tuple(OUTPUT_KEYS)


@dataclass
class Case:
    """One drawn case. ``arrays``: input_ids, attention_mask, global_attention_mask and, per property,
    decoder_input_ids, decoder_prefix_ids, labels. ``param_seed``: weights ``init_params(config, "lm",
    param_seed)`` in float64 (None: the candidate's fixed weights)."""

    prop: str
    config: LEDConfig
    param_seed: Optional[int]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    max_new_tokens: int = 0

    def summary(self):
        """One line per config field that matters and per array (shape and values)."""
        c = self.config
        lines = [
            f"property: {self.prop}",
            f"config: d_model={c.d_model} encoder_layers={c.encoder_layers} decoder_layers={c.decoder_layers} "
            f"heads={c.encoder_attention_heads}/{c.decoder_attention_heads} attention_window={c.attention_window} "
            f"activation={c.activation_function} vocab={c.vocab_size} "
            f"max_positions={c.max_encoder_position_embeddings}/{c.max_decoder_position_embeddings}",
            "weights: "
            + (
                "the candidate's own"
                if self.param_seed is None
                else f"init_params(config, 'lm', seed={self.param_seed})"
            ),
        ]
        for name, a in self.arrays.items():
            head = f"{name} {tuple(a.shape)}: "
            body = np.array2string(a, max_line_width=120, threshold=200)
            lines.append(head + body.replace("\n", "\n" + " " * len(head)))
        if self.prop == "generate":
            lines.append(f"max_new_tokens: {self.max_new_tokens}")
        return "\n".join(lines)


@st.composite
def cases(draw, prop, config=None, config_strategy=None, max_batch=3):
    """Cases for ``prop``: a drawn config (``config_strategy``, default ``strategies.configs()``) with random
    weights, or the fixed ``config`` of a candidate with its own weights."""
    if prop not in OUTPUT_KEYS:
        raise ValueError(f"property {prop!r}: expected one of {list(OUTPUT_KEYS)}")
    seed = None
    if config is None:
        config = draw(config_strategy if config_strategy is not None else S.configs())
        seed = draw(st.integers(0, 2**16))
    arrays = dict(draw(S.encoder_inputs(config, max_batch=max_batch)))
    bsz = arrays["input_ids"].shape[0]
    max_new = 0
    if prop in ("encoder", "logits", "attentions"):
        arrays.update(draw(S.decoder_inputs(config, bsz)))
    elif prop == "cache":
        arrays.update(draw(S.cache_inputs(config, bsz)))
    elif prop == "loss":
        arrays.update(draw(S.labels(config, bsz)))
    else:  # generate
        max_new = draw(st.integers(1, min(6, int(config.max_decoder_position_embeddings) - 1)))
    return Case(prop, config, seed, arrays, max_new)


def case_params(case, dtype, fixed_params=None):
    """The weights of ``case`` in ``dtype`` (a parameter tree): drawn ones from its seed, else ``fixed_params``."""
    if case.param_seed is None:
        if fixed_params is None:
            raise ValueError("this case uses the candidate's own weights: pass fixed_params")
        return params_tree(fixed_params, case.config, dtype)
    return params_tree(init_params(case.config, "lm", seed=case.param_seed, dtype=np.float64), case.config, dtype)


def candidate_inputs(case, params):
    """The HF forward arguments of ``case``; the cache (property "cache") is built with ``params`` (the
    candidate's dtype)."""
    a = case.arrays
    inputs = {k: a[k] for k in ("input_ids", "attention_mask", "global_attention_mask")}
    if case.prop in ("encoder", "logits", "attentions"):
        inputs["decoder_input_ids"] = a["decoder_input_ids"]
        if case.prop == "attentions":
            inputs["output_attentions"] = True
    elif case.prop == "cache":
        inputs["past_key_values"] = build_cache(
            case.config, params, dict(inputs), a["decoder_prefix_ids"], _dtype_of(params)
        )
        inputs["decoder_input_ids"] = a["decoder_input_ids"]
        inputs["use_cache"] = True
    elif case.prop == "loss":
        inputs["labels"] = a["labels"]
    return inputs


def _dtype_of(params):
    from ..weights import flatten

    return next(iter(flatten(params).values())).dtype


def save_case(path, case, **extra):
    """Write ``case`` (and string ``extra`` fields such as the candidate spec) to an ``.npz``."""
    meta = {
        "property": case.prop,
        "config": case.config.to_dict(),
        "param_seed": case.param_seed,
        "max_new_tokens": case.max_new_tokens,
        **extra,
    }
    np.savez(path, __meta__=np.array(json.dumps(meta)), **case.arrays)


def load_case(path):
    """(case, meta) from an ``.npz`` written by ``save_case``; ValueError naming the file when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a led-ref verify counterexample (.npz with __meta__): {exc}") from None
    config = LEDConfig(**meta["config"])
    return Case(meta["property"], config, meta["param_seed"], arrays, meta.get("max_new_tokens", 0)), meta
