"""The properties the conformance kit checks, as drawn cases, and their ``.npz`` form (counterexamples).

A *case* is a config, the seed of its random weights (None: the candidate's own fixed weights) and their
feed-forward regime, the drawn arrays and the property. ``candidate_inputs`` turns it into the HF forward
arguments a candidate receives.

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
from ..weights import flatten, init_params
from . import strategies as S
from .oracle import build_cache, params_tree

__all__ = [
    "PROPERTIES",
    "OUTPUT_KEYS",
    "OUTPUT_PROPERTY",
    "FFN_REGIMES",
    "Case",
    "cases",
    "boundary_cases",
    "case_params",
    "candidate_inputs",
    "save_case",
    "load_case",
]

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

# output name -> the property that checks it first-hand (``led-ref verify --outputs`` takes either kind of name)
OUTPUT_PROPERTY = {
    "encoder_last_hidden_state": "encoder",
    "logits": "logits",
    **dict.fromkeys(OUTPUT_KEYS["attentions"], "attentions"),
    "past_key_values": "cache",
    "loss": "loss",
    "sequences": "generate",
}


# Feed-forward weight regimes of drawn weights: name -> (fc1 weight scale, fc1 bias or None: kept, fc2 weight
# scale). init_params keeps pre-activations O(1), where activation variants hardly differ: the tanh and erf GELUs
# differ by at most 4.7e-4, at |x| = 2.7, which float32 tolerances hide. "wide" spreads the pre-activations over
# the tails and clips (relu6); "gelu_tail" parks every pre-activation near -2.7, where that gap is 5 % of
# GELU's value, and scales fc2 so that the feed-forward output weighs as much as the residual.
FFN_REGIMES = {"init": (1.0, None, 1.0), "wide": (3.0, None, 1.0), "gelu_tail": (0.1, -2.7, 30.0)}


def _describe_regime(name):
    fc1_scale, fc1_bias, fc2_scale = FFN_REGIMES[name]
    bias = "" if fc1_bias is None else f", fc1 biases {fc1_bias:g}"
    return f"fc1 weights x{fc1_scale:g}{bias}, fc2 weights x{fc2_scale:g}"


@dataclass
class Case:
    """One drawn case. ``arrays``: input_ids, attention_mask, global_attention_mask and, per property,
    decoder_input_ids, decoder_prefix_ids, labels. ``param_seed``: weights ``init_params(config, "lm",
    param_seed)`` in float64, the feed-forward weights in ``FFN_REGIMES[ffn]`` (param_seed None: the
    candidate's fixed weights)."""

    prop: str
    config: LEDConfig
    param_seed: Optional[int]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    max_new_tokens: int = 0
    ffn: str = "init"

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
                + ("" if self.ffn == "init" else f", feed-forward regime {self.ffn}: {_describe_regime(self.ffn)}")
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
def cases(draw, prop, config=None, config_strategy=None, max_batch=3, max_seq_len=None, max_decoder_len=None):
    """Cases for ``prop``: a drawn config (``config_strategy``, default ``strategies.configs()``) with random
    weights, or the fixed ``config`` of a candidate with its own weights. ``max_seq_len`` / ``max_decoder_len``
    cap the encoder / decoder lengths (default: the config's positions)."""
    if prop not in OUTPUT_KEYS:
        raise ValueError(f"property {prop!r}: expected one of {list(OUTPUT_KEYS)}")
    seed, ffn = None, "init"
    if config is None:
        config = draw(config_strategy if config_strategy is not None else S.configs())
        seed = draw(st.integers(0, 2**16))
        ffn = draw(st.sampled_from(tuple(FFN_REGIMES)))
    arrays = dict(draw(S.encoder_inputs(config, max_batch=max_batch, max_length=max_seq_len)))
    bsz = arrays["input_ids"].shape[0]
    max_new = 0
    if prop in ("encoder", "logits", "attentions"):
        arrays.update(draw(S.decoder_inputs(config, bsz, max_length=max_decoder_len)))
    elif prop == "cache":
        arrays.update(draw(S.cache_inputs(config, bsz, max_length=max_decoder_len)))
    elif prop == "loss":
        arrays.update(draw(S.labels(config, bsz, max_length=max_decoder_len)))
    else:  # generate
        max_new = draw(S.generation_lengths(config, max_decoder_len))
    return Case(prop, config, seed, arrays, max_new, ffn)


def boundary_cases(prop, config, param_seed=0, max_seq_len=None, max_decoder_len=None):
    """Hand-made cases of ``prop`` for ``config`` (weights: ``param_seed``, None for a candidate's own), each
    holding regions that plain drawing reaches only by chance (hypothesis spends much of a small budget near its
    simplest example). Batches: two left-padded rows; right, left and inner padding with real ids under the mask
    and pad ids attended; left and right padding, the same; one left-padded row with real ids under the mask.
    Every row has one global token, not its first attended one. Decoder lengths: 9, 17, the limit, 1 (cache:
    prefix + new tokens = the limit - 1 + 1, 8 + 9, 16 + the rest, 1 + 1), clipped to the config's positions and
    ``max_decoder_len``. Encoder length: 2 windows + 1, at most ``max_seq_len``."""
    w = max(config.layer_attention_windows())
    seq = min(2 * w + 1, S.longest_encoder_input(config, max_seq_len))
    top = S.longest_decoder_input(config, max_decoder_len)
    pad, start = int(config.pad_token_id), int(config.decoder_start_token_id)
    rng = np.random.default_rng(0)

    def encoder(sides, masked_real, attended_pad):
        bsz = len(sides)
        ids = rng.integers(3, int(config.vocab_size), size=(bsz, seq)).astype(np.int64)
        mask = np.ones((bsz, seq), np.int64)
        glob = np.zeros((bsz, seq), np.int64)
        for b, side in enumerate(sides):
            n = max(1, min(seq - 1, seq // 2 + b))  # attended tokens of a padded row
            real = {
                "none": np.arange(seq),
                "right": np.arange(n),
                "left": np.arange(seq - n, seq),
                "inner": np.sort(rng.choice(seq, size=n, replace=False)),
            }[side if seq > 1 else "none"]
            mask[b] = 0
            mask[b, real] = 1
            glob[b, real[len(real) // 2]] = 1  # one global token, not the first
            masked = mask[b] == 0
            if not masked_real:
                ids[b, masked] = pad
                glob[b, masked] = -1
            if attended_pad:
                ids[b, real[-1]] = pad
        return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}

    layouts = [
        (("left", "left"), False, False, 9, (top - 1, 1)),
        (("right", "left", "inner"), True, True, 17, (8, 9)),
        (("left", "right"), True, True, top, (16, top - 16)),
        (("left",), True, False, 1, (1, 1)),
    ]
    out = []
    for sides, masked_real, attended_pad, length, (past, new) in layouts:
        arrays = encoder(sides, masked_real, attended_pad)
        bsz = len(sides)
        length = max(1, min(length, top))
        max_new = 0
        if prop in ("encoder", "logits", "attentions"):
            ids = rng.integers(3, int(config.vocab_size), size=(bsz, length)).astype(np.int64)
            ids[:, 0] = start
            arrays["decoder_input_ids"] = ids
        elif prop == "cache":
            past = max(1, min(past, top - 1))
            new = max(1, min(new, top - past))
            prefix = rng.integers(3, int(config.vocab_size), size=(bsz, past)).astype(np.int64)
            prefix[:, 0] = start
            arrays["decoder_prefix_ids"] = prefix
            arrays["decoder_input_ids"] = rng.integers(3, int(config.vocab_size), size=(bsz, new)).astype(np.int64)
        elif prop == "loss":
            labels = rng.integers(3, int(config.vocab_size), size=(bsz, max(2, length))).astype(np.int64)
            labels[0, -1] = -100
            arrays["labels"] = labels
        else:  # generate
            max_new = max(1, min(length, top - 1))
        out.append(Case(prop, config, param_seed, arrays, max_new))
    return out


def case_params(case, dtype, fixed_params=None):
    """The weights of ``case`` in ``dtype`` (a parameter tree): drawn ones from its seed, else ``fixed_params``."""
    if case.param_seed is None:
        if fixed_params is None:
            raise ValueError("this case uses the candidate's own weights: pass fixed_params")
        return params_tree(fixed_params, case.config, dtype)
    flat = flatten(init_params(case.config, "lm", seed=case.param_seed, dtype=np.float64))
    fc1_scale, fc1_bias, fc2_scale = FFN_REGIMES[case.ffn]
    for k in flat:
        if k.endswith("fc1.weight"):
            flat[k] = flat[k] * fc1_scale
        elif k.endswith("fc1.bias") and fc1_bias is not None:
            flat[k] = np.full_like(flat[k], fc1_bias)
        elif k.endswith("fc2.weight"):
            flat[k] = flat[k] * fc2_scale
    return params_tree(flat, case.config, dtype)


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
    return next(iter(flatten(params).values())).dtype


def save_case(path, case, **extra):
    """Write ``case`` (and string ``extra`` fields such as the candidate spec) to an ``.npz``."""
    meta = {
        "property": case.prop,
        "config": case.config.to_dict(),
        "param_seed": case.param_seed,
        "max_new_tokens": case.max_new_tokens,
        "ffn": case.ffn,
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
    case = Case(
        meta["property"], config, meta["param_seed"], arrays, meta.get("max_new_tokens", 0), meta.get("ffn", "init")
    )
    return case, meta
