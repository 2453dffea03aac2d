"""Deliberately broken LED implementations: led-ref with one real-world bug each.

Every function here is a ``python:`` candidate of ``led-ref verify`` (``python:tests.conformance.mutants:NAME``
with the repository root on the path): ``NAME(config, params, inputs) -> dict``. Each runs led-ref's reference
with one function patched for the duration of the call, reproducing a bug seen in LED/Longformer ports and
exports. ``MUTANTS`` maps the name to the bug; tests/conformance/test_verify_kit.py checks that ``verify`` flags
every one with its default settings.
"""

import contextlib

import numpy as np

from led_ref import attention as A
from led_ref import model as M
from led_ref.testing import reference_candidate


@contextlib.contextmanager
def patched(module, name, value):
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def _wrap(module, name, make):
    """A candidate running the reference with ``module.name`` replaced by ``make(original, config)``."""

    def candidate(config, params, inputs):
        with patched(module, name, make(getattr(module, name), config)):
            return reference_candidate(config, params, inputs)

    return candidate


# 1. the local band reaches one token too far on each side (|i - j| <= w/2 + 1)
window_off_by_one = _wrap(
    M, "longformer_self_attention", lambda f, cfg: lambda p, x, kind, w, h, o=False: f(p, x, kind, w + 2, h, o)
)

# 2. global tokens also attend to padding (the padding mask is not applied to the global rows)
global_attends_padding = _wrap(
    A,
    "_global_rows",
    lambda f, cfg: lambda p, x, gidx, ok, masked, h, **k: f(p, x, gidx, ok, np.zeros_like(masked), h, **k),
)


# 3. the tokenizer's -1 global padding (and any global flag on padding) is taken as "global":
#    is_global = global_attention_mask != 0 instead of merging with attention_mask
def _global_flag_wins(f, cfg):
    def encoder(params, config, input_ids=None, attention_mask=None, global_attention_mask=None, *a, **k):
        if global_attention_mask is not None:
            glob = np.asarray(global_attention_mask)
            mask = np.ones_like(glob) if attention_mask is None else np.asarray(attention_mask)
            attention_mask = np.where(glob != 0, 1, mask)
            global_attention_mask = (glob != 0).astype(np.int64)
        return f(params, config, input_ids, attention_mask, global_attention_mask, *a, **k)

    return encoder


global_pad_minus_one_ignored = _wrap(M, "encoder", _global_flag_wins)


# 4. decoder position ids restart at 0 on every cached step (no past_key_values_length offset)
def _positions(shift_of):
    def make(f, cfg):
        def decoder(
            params,
            config,
            input_ids=None,
            encoder_hidden_states=None,
            encoder_attention_mask=None,
            decoder_attention_mask=None,
            past_key_values=None,
            *a,
            **k,
        ):
            past_len = 0 if past_key_values is None else np.shape(past_key_values[0][0])[2]
            w = params["decoder"]["embed_positions"]["weight"]
            shift = shift_of(past_len)  # rows read: [past_len, past_len + T) -> [past_len + shift, ...)
            shifted = np.zeros((w.shape[0] + max(0, -shift) + 64, w.shape[1]), w.dtype)
            lo = max(0, -shift)
            src = w[max(0, shift) :]
            shifted[lo : lo + src.shape[0]] = src
            dec = {**params["decoder"], "embed_positions": {"weight": shifted}}
            return f(
                {**params, "decoder": dec},
                config,
                input_ids,
                encoder_hidden_states,
                encoder_attention_mask,
                decoder_attention_mask,
                past_key_values,
                *a,
                **k,
            )

        return decoder

    return make


decoder_positions_without_past_offset = _wrap(M, "decoder", _positions(lambda past_len: -past_len))

# 5. BART's learned-position offset of 2 carried over into LED (LED's positions start at 0)
decoder_positions_bart_offset = _wrap(M, "decoder", _positions(lambda past_len: 2))

# 6. softmax over the query axis instead of the key axis (decoder attention and global rows)
softmax_wrong_axis = _wrap(A, "softmax", lambda f, cfg: lambda x, axis=-1: f(x, axis=-2 if x.ndim > 1 else axis))

# 7. global queries computed with the local query projection (query instead of query_global)
global_queries_local_projection = _wrap(
    A, "_global_rows", lambda f, cfg: lambda p, *a, **k: f({**p, "query_global": p["query"]}, *a, **k)
)

# 8. BERT's layer-norm epsilon 1e-12 instead of LED's 1e-5
layer_norm_eps_1e_12 = _wrap(M, "layer_norm", lambda f, cfg: lambda p, x, eps=1e-12: f(p, x, 1e-12))

# 9. shift_tokens_right replaces the labels' -100 with 0 instead of pad_token_id
shift_tokens_right_pad_zero = _wrap(M, "shift_tokens_right", lambda f, cfg: lambda ids, pad, start: f(ids, 0, start))

# 10. per-layer attention windows ignored: every layer uses the first layer's window
per_layer_windows_ignored = _wrap(
    M,
    "encoder_layer",
    lambda f, cfg: lambda p, x, kind, w, *a, **k: f(p, x, kind, cfg.layer_attention_windows()[0], *a, **k),
)


# 11. the cache is dropped after the first step: the new tokens attend only to themselves (the returned cache
#     still holds every position, so only the numbers are wrong)
def cache_dropped_after_first_step(config, params, inputs):
    past = inputs.get("past_key_values")
    if past is None:
        return reference_candidate(config, params, inputs)
    fresh = reference_candidate(config, params, {k: v for k, v in inputs.items() if k != "past_key_values"})
    fresh["past_key_values"] = tuple(
        (np.concatenate([p[0], f[0]], axis=2), np.concatenate([p[1], f[1]], axis=2)) + tuple(p[2:])
        for p, f in zip(past, fresh["past_key_values"])
    )
    return fresh


# 12. global tokens assumed to be a prefix: a row with x global tokens uses positions 0..x-1
def _prefix_slots(f, cfg):
    def global_slots(is_global):
        index, valid = f(is_global)
        return np.where(valid, np.arange(index.shape[1])[None, :], 0).astype(index.dtype), valid

    return global_slots


global_tokens_assumed_prefix = _wrap(A, "global_slots", _prefix_slots)


# 13. cross-attention ignores the encoder padding (no encoder_attention_mask in the decoder)
def _no_cross_mask(f, cfg):
    def decoder(params, config, input_ids=None, encoder_hidden_states=None, encoder_attention_mask=None, *a, **k):
        return f(params, config, input_ids, encoder_hidden_states, None, *a, **k)

    return decoder


cross_attention_ignores_padding = _wrap(M, "decoder", _no_cross_mask)


# 14. cross-attention reads the first sum(mask) encoder positions: the encoder padding is assumed to be on the
#     right (a port that slices the keys to each row's length instead of masking)
def _right_padding_assumed(f, cfg):
    def decoder(params, config, input_ids=None, encoder_hidden_states=None, encoder_attention_mask=None, *a, **k):
        if encoder_attention_mask is not None:
            mask = np.asarray(encoder_attention_mask)
            count = mask.sum(axis=1, keepdims=True)
            encoder_attention_mask = (np.arange(mask.shape[1])[None, :] < count).astype(mask.dtype)
        return f(params, config, input_ids, encoder_hidden_states, encoder_attention_mask, *a, **k)

    return decoder


cross_attention_assumes_right_padding = _wrap(M, "decoder", _right_padding_assumed)


# 15. attention_mask ignored: padding taken from the ids (input_ids != pad_token_id), as some tokenizer-side
#     pipelines and Longformer ports rebuild it
def mask_from_pad_ids(config, params, inputs):
    ids = np.asarray(inputs["input_ids"])
    mask = (ids != int(config.pad_token_id)).astype(np.int64)
    return reference_candidate(config, params, {**inputs, "attention_mask": mask})


# 16. a decoder fast path for more than 8 rows (a tiled kernel's long-sequence branch) that drops the causal mask
decoder_causal_mask_dropped_past_8 = _wrap(
    M,
    "_causal_mask",
    lambda f, cfg: lambda tgt, past, dtype: np.zeros((tgt, past + tgt), dtype) if tgt > 8 else f(tgt, past, dtype),
)

# 17. the exact (erf) GELU computed with the tanh approximation (torch's approximate="tanh", HF's gelu_new)
gelu_tanh_approximation = _wrap(
    M, "get_activation", lambda f, cfg: lambda name: f("gelu_new" if name == "gelu" else name)
)


MUTANTS = {
    "window_off_by_one": "local band one token too wide on each side",
    "global_attends_padding": "global rows attend to padding tokens",
    "global_pad_minus_one_ignored": "global_attention_mask -1 (tokenizer padding) / flags on padding taken as global",
    "decoder_positions_without_past_offset": "decoder position ids restart at 0 with a cache",
    "decoder_positions_bart_offset": "BART's position offset 2 in LED's decoder",
    "softmax_wrong_axis": "softmax over the query axis",
    "global_queries_local_projection": "global queries use the local query projection",
    "layer_norm_eps_1e_12": "layer-norm epsilon 1e-12 instead of 1e-5",
    "shift_tokens_right_pad_zero": "shift_tokens_right replaces -100 with 0, not pad_token_id",
    "per_layer_windows_ignored": "every layer uses the first layer's attention window",
    "cache_dropped_after_first_step": "cached steps ignore past_key_values",
    "global_tokens_assumed_prefix": "global tokens assumed to be the first x positions",
    "cross_attention_ignores_padding": "cross-attention attends to encoder padding",
    "cross_attention_assumes_right_padding": "cross-attention reads each row's first sum(mask) encoder positions",
    "mask_from_pad_ids": "attention_mask ignored: padding taken from input_ids == pad_token_id",
    "decoder_causal_mask_dropped_past_8": "no causal mask in the decoder for more than 8 rows",
    "gelu_tanh_approximation": "the exact GELU computed with the tanh approximation",
}


# Candidates that break the calling contract (exit 2 checks) or hang (--timeout check).
def returns_list(config, params, inputs):
    return [reference_candidate(config, params, inputs)["logits"]]


def missing_logits(config, params, inputs):
    out = reference_candidate(config, params, inputs)
    out.pop("logits", None)
    return out


def wrong_shape(config, params, inputs):
    out = reference_candidate(config, params, inputs)
    out["logits"] = out["logits"][:, :, :-1]
    return out


def integer_logits(config, params, inputs):
    out = reference_candidate(config, params, inputs)
    out["logits"] = out["logits"].astype(np.int64)
    return out


def raises(config, params, inputs):
    raise RuntimeError("not implemented yet")


# A correct candidate built on its own copy of the config class (a vendored led-ref, HF transformers' LEDConfig):
# led-ref reads any object with HF's LEDConfig fields, so handing it back works (led_ref.config.as_config).
class VendoredConfig:
    def __init__(self, **fields):
        self.fields = fields

    def to_dict(self):
        return dict(self.fields)


def vendored_config(config, params, inputs):
    return reference_candidate(VendoredConfig(**config.to_dict()), params, inputs)


def dict_config(config, params, inputs):
    return reference_candidate(config.to_dict(), params, inputs)


def hangs_on_long_inputs(config, params, inputs):
    if np.shape(inputs["input_ids"])[1] > 2 * max(config.layer_attention_windows()):
        import time

        time.sleep(3600)
    return reference_candidate(config, params, inputs)
