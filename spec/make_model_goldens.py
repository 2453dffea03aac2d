#!/usr/bin/env python
"""Write the model conformance goldens in spec/goldens/model/ by running pinned HF transformers.

Format and masking rules: spec/goldens/model/README.md and spec/SPEC.md#conformance.
The script is run twice, once per pinned transformers install (it detects which one runs it):

    $LED_REF_HF_PYTHON spec/make_model_goldens.py   # transformers 4.46.3
        writes every case: config.json, model.safetensors (float32), inputs.npz, outputs_fp32.npz, meta.json;
        plus outputs_fp64.npz for the LEDForSequenceClassification cases (5.x has no such class), made with
        4.46.3, the encoder softmax patch and a dtype fix of its causal-mask helper (see PATCHES).
    $LED_REF_HF5_PYTHON spec/make_model_goldens.py   # transformers 5.23.0
        writes outputs_fp64.npz for every other case (encoder softmax patch), and cross-checks against the
        4.46.3 run: 5.23.0 float32 vs outputs_fp32.npz, fp64 vs fp32, fp64 run twice.

Weights are random but seeded, drawn with NumPy in float64, stored float32; the fp64 runs load the same file and
convert after loading. This script is never imported by led_ref or the tests.
"""

import argparse
import json
import math
import os
import shlex
import sys

import numpy as np
import torch
import transformers
from transformers.models.led import modeling_led

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from led_ref.tolerances import TOLERANCE, relative_error

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_ROOT = os.path.join(HERE, "goldens", "model")
HF_MAJOR = int(transformers.__version__.split(".")[0])


def portable_command(argv) -> str:
    """The command as GOLDENS.md writes it: the interpreter named by its environment variable and the scratch
    directory as XCHECK_DIR, so that meta.json records no one machine's paths."""
    interpreter = "$LED_REF_HF_PYTHON" if HF_MAJOR == 4 else "$LED_REF_HF5_PYTHON"
    script = os.path.relpath(os.path.abspath(argv[0]), os.path.dirname(HERE)) if argv else "spec/make_model_goldens.py"
    args, rest = [], list(argv[1:])
    while rest:
        a = rest.pop(0)
        if a == "--crosscheck-dir" and rest:
            rest.pop(0)
            args += [a, "XCHECK_DIR"]
        elif a.startswith("--crosscheck-dir="):
            args.append("--crosscheck-dir=XCHECK_DIR")
        else:
            args.append(shlex.quote(a))
    return " ".join([interpreter, script, *args])


COMMAND = portable_command(sys.argv)

HEAD_CLASSES = {
    "base": "LEDModel",
    "lm": "LEDForConditionalGeneration",
    "seq_cls": "LEDForSequenceClassification",
    "qa": "LEDForQuestionAnswering",
}
PAD, BOS, EOS = 1, 0, 2

BASE_CONFIG = dict(
    vocab_size=64,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=24,
    decoder_ffn_dim=20,
    max_encoder_position_embeddings=48,
    max_decoder_position_embeddings=24,
    attention_window=4,
    activation_function="gelu",
    pad_token_id=PAD,
    bos_token_id=BOS,
    eos_token_id=EOS,
    decoder_start_token_id=EOS,
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    classifier_dropout=0.0,
    encoder_layerdrop=0.0,
    decoder_layerdrop=0.0,
)

# ---------------------------------------------------------------------------------------------- patches

PATCHES = {
    "encoder_softmax_fp64": (
        "transformers.models.led.modeling_led.nn is replaced by a proxy whose functional.softmax turns "
        "dtype=torch.float32 into torch.float64 when the input is float64 (HF computes both encoder softmaxes, "
        "local and global, with dtype=torch.float32 even for a float64 model; led-ref's float64 mode is float64 "
        "end to end). Every other nn attribute is the real torch.nn."
    ),
    "causal_mask_fp64_446": (
        "transformers 4.46.3 only: AttentionMaskConverter._make_causal_mask calls torch.full(..., "
        "torch.finfo(float64).min) without dtype, which torch 2.13 rejects (float32 overflow); the patched copy "
        "passes dtype=dtype. Same values, no semantic change."
    ),
}


class _Proxy:
    """Attribute proxy: the overrides given, everything else from the target object."""

    def __init__(self, target, **overrides):
        self._target, self._overrides = target, overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._target, name)


SOFTMAX_UPCASTS = [0]


def _softmax_keep_fp64(input, dim=None, _stacklevel=3, dtype=None):
    if dtype == torch.float32 and input.dtype == torch.float64:
        SOFTMAX_UPCASTS[0] += 1
        dtype = torch.float64
    return torch.nn.functional.softmax(input, dim=dim, dtype=dtype)


def install_fp64_patches():
    """Apply the documented float64 patches (module-local: only modeling_led sees the softmax proxy)."""
    modeling_led.nn = _Proxy(torch.nn, functional=_Proxy(torch.nn.functional, softmax=_softmax_keep_fp64))
    patches = ["encoder_softmax_fp64"]
    if HF_MAJOR == 4:
        from transformers.modeling_attn_mask_utils import AttentionMaskConverter

        def _make_causal_mask(input_ids_shape, dtype, device, past_key_values_length=0, sliding_window=None):
            assert sliding_window is None
            bsz, tgt_len = input_ids_shape
            mask = torch.full((tgt_len, tgt_len), torch.finfo(dtype).min, device=device, dtype=dtype)
            mask_cond = torch.arange(mask.size(-1), device=device)
            mask.masked_fill_(mask_cond < (mask_cond + 1).view(mask.size(-1), 1), 0)
            if past_key_values_length > 0:
                mask = torch.cat(
                    [torch.zeros(tgt_len, past_key_values_length, dtype=dtype, device=device), mask], dim=-1
                )
            return mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len + past_key_values_length)

        AttentionMaskConverter._make_causal_mask = staticmethod(_make_causal_mask)
        patches.append("causal_mask_fp64_446")
    return patches


# ---------------------------------------------------------------------------------------------- weights


def randomize_(model, seed):
    """Give every parameter and buffer a non-trivial seeded value so that no wrong formula can hide.

    Linear weights N(0, 1/sqrt(fan_in)) keep activations O(1); biases N(0, 0.2); LayerNorm gains 1 + N(0, 0.2),
    biases N(0, 0.2); token embeddings N(0, 1); positions N(0, 0.5); final_logits_bias N(0, 0.5).
    """
    rng = np.random.RandomState(seed)
    named = dict(model.named_parameters())  # tied weights appear once
    for name, buf in model.named_buffers():
        if name.endswith("final_logits_bias"):
            named[name] = buf
    for name in sorted(named):
        p = named[name]
        shape = tuple(p.shape)
        is_ln = "layer_norm" in name or "layernorm" in name
        if is_ln and name.endswith(".weight"):
            v = 1.0 + rng.normal(0.0, 0.2, shape)
        elif name.endswith(".bias") or name.endswith("final_logits_bias"):
            v = rng.normal(0.0, 0.5 if "final_logits_bias" in name else 0.2, shape)
        elif "embed_positions" in name:
            v = rng.normal(0.0, 0.5, shape)
        elif "shared" in name or "embed_tokens" in name:
            v = rng.normal(0.0, 1.0, shape)
        else:
            assert len(shape) == 2, name
            v = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
        with torch.no_grad():
            p.copy_(torch.from_numpy(v.astype(np.float32)))


# ---------------------------------------------------------------------------------------------- inputs


def token_rows(rng, lengths, L, vocab, eos_at=()):
    """input_ids/attention_mask with right padding: <s> random... </s> then <pad>; no stray eos tokens."""
    ids = np.full((len(lengths), L), PAD, dtype=np.int64)
    mask = np.zeros((len(lengths), L), dtype=np.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.randint(3, vocab, size=n)
        ids[b, 0] = BOS
        if n > 1:
            ids[b, n - 1] = EOS
        for pos in eos_at:
            if pos < n - 1:
                ids[b, pos] = EOS
        mask[b, :n] = 1
    return ids, mask


def global_rows(L, positions_per_row):
    g = np.zeros((len(positions_per_row), L), dtype=np.int64)
    for b, pos in enumerate(positions_per_row):
        g[b, list(pos)] = 1
    return g


def decoder_rows(rng, lengths, T, vocab):
    ids = rng.randint(3, vocab, size=(len(lengths), T)).astype(np.int64)
    ids[:, 0] = EOS  # decoder_start_token_id
    mask = np.zeros((len(lengths), T), dtype=np.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = PAD
    return ids, mask


def lm_labels(rng, dec_mask, vocab):
    labels = rng.randint(3, vocab, size=dec_mask.shape).astype(np.int64)
    labels[dec_mask == 0] = -100
    return labels


ALL_OUT = dict(output_attentions=True, output_hidden_states=True, return_dict=True)


def case_base_mixed(rng, cfg):
    # L = 11 is not a multiple of the window (4) -> HF pads to 12.
    ids, am = token_rows(rng, [11, 7, 11, 1], 11, cfg["vocab_size"])
    # row 1 marks position 9 global but it is padding: merged mask makes it not global.
    gam = global_rows(11, [[], [0, 9], [0, 3, 9, 10], []])
    dids, dam = decoder_rows(rng, [5, 3, 5, 2], 5, cfg["vocab_size"])
    return dict(
        input_ids=ids, attention_mask=am, global_attention_mask=gam, decoder_input_ids=dids, decoder_attention_mask=dam
    ), dict(use_cache=True, **ALL_OUT)


def case_lm_perlayer(rng, cfg):
    ids, am = token_rows(rng, [14, 9, 12], 14, cfg["vocab_size"])
    gam = global_rows(14, [[0], [0, 5], [0, 1, 2, 6, 11]])
    dids, dam = decoder_rows(rng, [6, 4, 5], 6, cfg["vocab_size"])
    labels = lm_labels(rng, dam, cfg["vocab_size"])
    return dict(
        input_ids=ids,
        attention_mask=am,
        global_attention_mask=gam,
        decoder_input_ids=dids,
        decoder_attention_mask=dam,
        labels=labels,
    ), dict(**ALL_OUT)


def case_lm_window_gt_seq(rng, cfg):
    # L = 5 < one window (16): HF pads to 16. Row 0 all tokens global; row 2 one real token only.
    ids, am = token_rows(rng, [5, 4, 1], 5, cfg["vocab_size"])
    gam = global_rows(5, [[0, 1, 2, 3, 4], [1], []])
    labels = rng.randint(3, cfg["vocab_size"], size=(3, 4)).astype(np.int64)
    labels[1, 3] = -100
    labels[2, 1:] = -100
    # no decoder_input_ids: HF derives them with shift_tokens_right(labels, pad, decoder_start)
    return dict(input_ids=ids, attention_mask=am, global_attention_mask=gam, labels=labels), dict(**ALL_OUT)


def case_lm_no_global(rng, cfg):
    # no global_attention_mask at all: no encoder_global_attentions; L = 8 = window multiple (no HF padding)
    ids, am = token_rows(rng, [8, 6], 8, cfg["vocab_size"])
    dids, dam = decoder_rows(rng, [4, 3], 4, cfg["vocab_size"])
    return dict(input_ids=ids, attention_mask=am, decoder_input_ids=dids, decoder_attention_mask=dam), dict(
        use_cache=True, **ALL_OUT
    )


def case_base_embeds(rng, cfg):
    B, L = 2, 6
    emb = rng.normal(0.0, 1.0, size=(B, L, cfg["d_model"])).astype(np.float32)
    am = np.array([[1] * 6, [1] * 4 + [0] * 2], dtype=np.int64)
    gam = global_rows(L, [[2], [0, 1]])
    dids, dam = decoder_rows(rng, [3, 3], 3, cfg["vocab_size"])
    return dict(
        inputs_embeds=emb,
        attention_mask=am,
        global_attention_mask=gam,
        decoder_input_ids=dids,
        decoder_attention_mask=dam,
    ), dict(use_cache=True, **ALL_OUT)


def case_base_defaults(rng, cfg):
    # no attention_mask (HF: all ones), an all-zero global_attention_mask (HF: no global path, no global
    # attentions), no decoder inputs (HF: shift_tokens_right(input_ids)), hidden states not requested
    ids, _ = token_rows(rng, [7, 7], 7, cfg["vocab_size"])
    return dict(input_ids=ids, global_attention_mask=np.zeros_like(ids)), dict(
        use_cache=True, output_attentions=True, output_hidden_states=False, return_dict=True
    )


def case_lm_cache_step(rng, cfg, model=None):
    # one cached decoding step of 2 new tokens after a prefix of 3: inputs are the encoder output and the
    # past_key_values of a float32 prefix call (stored float32, cast to the model dtype like every float input)
    ids, am = token_rows(rng, [10, 7], 10, cfg["vocab_size"])
    gam = global_rows(10, [[0], []])
    dids, _ = decoder_rows(rng, [5, 5], 5, cfg["vocab_size"])
    with torch.no_grad():
        pre = model(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(am),
            global_attention_mask=torch.from_numpy(gam),
            decoder_input_ids=torch.from_numpy(dids[:, :3]),
            use_cache=True,
            return_dict=True,
        )
    inputs = dict(
        attention_mask=am, decoder_input_ids=dids[:, 3:], decoder_attention_mask=np.ones((2, 5), dtype=np.int64)
    )
    inputs["encoder_outputs.0"] = pre.encoder_last_hidden_state.numpy()
    for i, layer in enumerate(legacy_cache(pre.past_key_values)):
        for k in range(4):
            inputs[f"past_key_values.{i}.{k}"] = layer[k]
    return inputs, dict(use_cache=True, **ALL_OUT)


def case_qa(rng, cfg):
    ids, am = token_rows(rng, [13, 10, 13], 13, cfg["vocab_size"])
    gam = global_rows(13, [[0, 1, 2], [0, 1], []])
    start = np.array([4, 2, 40], dtype=np.int64)  # 40 > L: HF clamps to L = ignore_index
    end = np.array([7, 2, 12], dtype=np.int64)
    return dict(
        input_ids=ids, attention_mask=am, global_attention_mask=gam, start_positions=start, end_positions=end
    ), dict(**ALL_OUT)


def case_qa_nolabels(rng, cfg):
    ids, am = token_rows(rng, [9, 5], 9, cfg["vocab_size"])
    gam = global_rows(9, [[0, 1], [0]])
    dids, dam = decoder_rows(rng, [4, 2], 4, cfg["vocab_size"])
    return dict(
        input_ids=ids, attention_mask=am, global_attention_mask=gam, decoder_input_ids=dids, decoder_attention_mask=dam
    ), dict(use_cache=True, **ALL_OUT)


def _seq_cls_inputs(rng, cfg):
    # every row has 2 eos tokens (position 3 and its last real token): HF needs the same count per row
    ids, am = token_rows(rng, [9, 6, 9], 9, cfg["vocab_size"], eos_at=(3,))
    gam = global_rows(9, [[0], [0], [0, 4]])
    return ids, am, gam


def case_seqcls_single(rng, cfg):
    ids, am, gam = _seq_cls_inputs(rng, cfg)
    labels = np.array([2, 0, 1], dtype=np.int64)
    return dict(input_ids=ids, attention_mask=am, global_attention_mask=gam, labels=labels), dict(**ALL_OUT)


def case_seqcls_multi(rng, cfg):
    ids, am, gam = _seq_cls_inputs(rng, cfg)
    labels = np.array([[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]], dtype=np.float32)
    return dict(input_ids=ids, attention_mask=am, global_attention_mask=gam, labels=labels), dict(**ALL_OUT)


def case_seqcls_regression(rng, cfg):
    ids, am, gam = _seq_cls_inputs(rng, cfg)
    labels = np.array([0.5, -1.25, 2.0], dtype=np.float32)
    return dict(input_ids=ids, attention_mask=am, global_attention_mask=gam, labels=labels), dict(**ALL_OUT)


CASES = [
    dict(
        name="base_w4_mixed_global",
        head="base",
        seed=101,
        build=case_base_mixed,
        config=dict(encoder_attention_heads=2, decoder_attention_heads=4),
        description="LEDModel, window 4, gelu, 2 encoder / 4 decoder heads; batch 4 with padding: rows with "
        "0 / 1 / 4 global tokens and a row fully padded except 1 token; row 1 also marks padded "
        "position 9 global (HF's mask merge drops it); L=11 not a window multiple; decoder_attention_mask "
        "right padding; use_cache past_key_values; all attentions and hidden states",
    ),
    dict(
        name="lm_perlayer_windows_relu",
        head="lm",
        seed=102,
        build=case_lm_perlayer,
        config=dict(
            attention_window=[12, 6],
            activation_function="relu",
            encoder_attention_heads=4,
            decoder_attention_heads=2,
            encoder_layers=2,
            decoder_layers=3,
        ),
        description="LEDForConditionalGeneration, per-layer windows [12, 6] (half windows 6 and odd 3), relu, "
        "4 encoder heads, 3 decoder layers; rows with 1 / 2 / 5 globals; L=14 padded to 24; LM loss "
        "with -100 labels at decoder padding (use_cache is forced off by HF when labels are given)",
    ),
    dict(
        name="lm_window_gt_seq_gelu_new",
        head="lm",
        seed=103,
        build=case_lm_window_gt_seq,
        config=dict(
            attention_window=16,
            activation_function="gelu_new",
            encoder_attention_heads=1,
            decoder_attention_heads=1,
            encoder_layers=3,
            decoder_layers=1,
        ),
        description="LEDForConditionalGeneration, window 16 > sequence (L=5, shorter than one window, padded to "
        "16), gelu_new, 1 head, 3 encoder layers; row 0 all tokens global, row 1 one global, row 2 "
        "one real token and no global; labels only (decoder_input_ids = shift_tokens_right(labels))",
    ),
    dict(
        name="lm_no_global_silu",
        head="lm",
        seed=104,
        build=case_lm_no_global,
        config=dict(
            attention_window=[8, 4], activation_function="silu", encoder_attention_heads=4, decoder_attention_heads=1
        ),
        description="LEDForConditionalGeneration, windows [8, 4], silu; no global_attention_mask (no "
        "encoder_global_attentions); L=8 a window multiple (no HF padding); use_cache",
    ),
    dict(
        name="base_inputs_embeds",
        head="base",
        seed=105,
        build=case_base_embeds,
        config=dict(activation_function="relu"),
        description="LEDModel fed inputs_embeds (no input_ids), window 4, relu; L=6 padded to 8 (HF pads "
        "with embed_tokens(pad)); globals 1 / 2 per row",
    ),
    dict(
        name="base_defaults_d24_3heads",
        head="base",
        seed=112,
        build=case_base_defaults,
        config=dict(
            d_model=24,
            encoder_attention_heads=3,
            decoder_attention_heads=6,
            encoder_ffn_dim=20,
            decoder_ffn_dim=28,
            activation_function="gelu",
        ),
        description="LEDModel with d_model 24, 3 encoder heads (head_dim 8), 6 decoder heads (head_dim 4); only "
        "input_ids and an all-zero global_attention_mask (no attention_mask: all ones; no global "
        "attentions returned); decoder inputs = shift_tokens_right(input_ids); "
        "output_hidden_states=False; L=7 padded to 8",
    ),
    dict(
        name="lm_cache_step",
        head="lm",
        seed=106,
        build=case_lm_cache_step,
        config=dict(attention_window=4, decoder_attention_heads=4),
        description="LEDForConditionalGeneration incremental step: encoder_outputs and past_key_values (3 "
        "cached decoder positions) given as inputs, 2 new decoder tokens, decoder_attention_mask of "
        "length 5; checks position offset and cache extension",
    ),
    dict(
        name="qa_odd_half_window",
        head="qa",
        seed=107,
        build=case_qa,
        config=dict(
            attention_window=6, encoder_attention_heads=4, decoder_attention_heads=2, activation_function="gelu_new"
        ),
        description="LEDForQuestionAnswering, window 6 (odd half window 3), 4 encoder heads, gelu_new; L=13 "
        "padded to 18; rows with 3 / 2 / 0 globals; start/end positions incl. one beyond L (HF "
        "clamps it to L = ignore_index); decoder inputs derived by shift_tokens_right(input_ids)",
    ),
    dict(
        name="qa_no_positions_cache",
        head="qa",
        seed=108,
        build=case_qa_nolabels,
        config=dict(attention_window=[4, 8], encoder_attention_heads=2, decoder_attention_heads=2),
        description="LEDForQuestionAnswering without positions (no loss), explicit decoder inputs with "
        "padding, use_cache past_key_values, windows [4, 8]; L=9 padded to 16",
    ),
    dict(
        name="seqcls_single_label",
        head="seq_cls",
        seed=109,
        build=case_seqcls_single,
        config=dict(num_labels=3, activation_function="gelu"),
        description="LEDForSequenceClassification, 3 labels, int labels (problem_type inferred "
        "single_label_classification); 2 eos per row; rows padded",
    ),
    dict(
        name="seqcls_multi_label",
        head="seq_cls",
        seed=110,
        build=case_seqcls_multi,
        config=dict(num_labels=4, problem_type="multi_label_classification", activation_function="silu"),
        description="LEDForSequenceClassification, 4 labels, multi_label_classification (BCEWithLogits), float labels",
    ),
    dict(
        name="seqcls_regression",
        head="seq_cls",
        seed=111,
        build=case_seqcls_regression,
        config=dict(num_labels=1, attention_window=6, activation_function="relu"),
        description="LEDForSequenceClassification, num_labels 1 (problem_type inferred regression, MSE), window 6",
    ),
]


# ---------------------------------------------------------------------------------------------- running


def legacy_cache(pkv):
    """HF legacy layout: tuple per decoder layer of (self_k, self_v, cross_k, cross_v) NumPy arrays."""
    if isinstance(pkv, (tuple, list)):
        return [tuple(t.detach().numpy() for t in layer) for layer in pkv]
    sa, ca = pkv.self_attention_cache, pkv.cross_attention_cache
    return [
        (s.keys.detach().numpy(), s.values.detach().numpy(), c.keys.detach().numpy(), c.values.detach().numpy())
        for s, c in zip(sa.layers, ca.layers)
    ]


def to_call_kwargs(inputs, dtype):
    kw, past = {}, {}
    for key, arr in inputs.items():
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if t.is_floating_point():
            t = t.to(dtype)
        if key == "encoder_outputs.0":
            kw["encoder_outputs"] = (t,)
        elif key.startswith("past_key_values."):
            _, i, k = key.split(".")
            past[(int(i), int(k))] = t
        else:
            kw[key] = t
    if past:
        n = 1 + max(i for i, _ in past)
        legacy = tuple(tuple(past[(i, k)] for k in range(4)) for i in range(n))
        if HF_MAJOR >= 5:
            from transformers.cache_utils import EncoderDecoderCache

            legacy = EncoderDecoderCache(legacy)
        kw["past_key_values"] = legacy
    return kw


def flatten_outputs(out):
    flat = {}
    for name, value in out.items():
        if value is None:
            continue
        if name == "past_key_values":
            for i, layer in enumerate(legacy_cache(value)):
                for k, a in enumerate(layer):
                    flat[f"past_key_values.{i}.{k}"] = a
        elif isinstance(value, (tuple, list)):
            for i, t in enumerate(value):
                flat[f"{name}.{i}"] = t.detach().numpy()
        else:
            flat[name] = value.detach().numpy()
    for key, a in flat.items():
        if not np.all(np.isfinite(a)):
            raise RuntimeError(f"{key} has NaN/inf; choose inputs without undefined rows")
    return flat


def verify_junk_rules(shapes, flat):
    """Assert what README "Undefined entries" says about HF's raw outputs, so the masking rules are checked facts.

    Global slots a row does not have hold HF's uniform softmax over finfo.min scores (1/L_pad); HF-padded key rows
    of real global slots and local-attention columns of global keys a row does not have are exactly 0.
    """
    g, G = shapes["num_global_per_row"], shapes["max_num_global"]
    L, L_pad, lens = shapes["encoder_len"], shapes["encoder_padded_len"], shapes["encoder_len_per_row"]
    seen = 0
    for key, a in flat.items():
        if key.startswith("encoder_global_attentions."):
            assert a.shape[2:] == (L_pad, G), (key, a.shape)
            for b in range(a.shape[0]):
                np.testing.assert_allclose(a[b, :, :, g[b] :], 1.0 / L_pad, rtol=1e-6, err_msg=key)
                real = a[b, :, :, : g[b]]
                assert np.all(real[:, lens[b] :, :] == 0), key  # padded keys (user and HF padding)
                np.testing.assert_allclose(real.sum(1), 1.0, rtol=1e-5, err_msg=key)
                seen += 1
        elif key.startswith("encoder_attentions."):
            assert a.shape[2] == L, (key, a.shape)
            for b in range(a.shape[0]):
                assert np.all(a[b, :, :, g[b] : G] == 0), key
                seen += 1
    return seen


def load_model(case_dir, head, dtype):
    cls = getattr(transformers, HEAD_CLASSES[head])
    model, info = cls.from_pretrained(case_dir, output_loading_info=True, attn_implementation="eager")
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise RuntimeError(f"{case_dir}: loading not clean: {bad}")
    model = model.to(dtype).eval()
    check_weights_equal_file(model, case_dir)
    return model


def check_weights_equal_file(model, case_dir):
    """Every parameter/buffer equals its stored float32 value (tied ones: led.shared.weight)."""
    from safetensors.numpy import load_file

    stored = load_file(os.path.join(case_dir, "model.safetensors"))
    prefix = "led." if "led.shared.weight" in stored else ""
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if name in stored:
            ref = stored[name]
        elif name.endswith("embed_tokens.weight") or name == "lm_head.weight":
            ref = stored[prefix + "shared.weight"]
        else:
            raise RuntimeError(f"{case_dir}: {name} not in model.safetensors")
        if not np.array_equal(t.detach().to(torch.float64).numpy(), ref.astype(np.float64)):
            raise RuntimeError(f"{case_dir}: {name} differs from model.safetensors after loading")


def run(model, inputs, call_kwargs, dtype):
    SOFTMAX_UPCASTS[0] = 0
    with torch.no_grad():
        out = model(**to_call_kwargs(inputs, dtype), **call_kwargs)
    return flatten_outputs(out)


def load_npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def max_rel_diff(a, b):
    """max over shared keys of led_ref.tolerances.relative_error (the project's one metric)."""
    worst, where = 0.0, None
    if set(a) != set(b):
        raise RuntimeError(f"output keys differ: {sorted(set(a) ^ set(b))}")
    for k in a:
        if a[k].shape != b[k].shape:
            raise RuntimeError(f"{k}: shape {a[k].shape} vs {b[k].shape}")
        d = relative_error(a[k], b[k])
        if d > worst:
            worst, where = d, k
    return worst, where


def shapes_meta(cfg, inputs, head):
    am = inputs.get("attention_mask")
    ref = inputs.get("input_ids", inputs.get("inputs_embeds", inputs.get("encoder_outputs.0")))
    B, L = ref.shape[:2]
    if am is None:
        am = np.ones((B, L), dtype=np.int64)
    windows = cfg["attention_window"]
    windows = list(windows) if isinstance(windows, list) else [windows] * cfg["encoder_layers"]
    wmax = max(windows)
    g = inputs.get("global_attention_mask", np.zeros((B, L), dtype=np.int64)) * am
    if head == "lm" and "labels" in inputs and "decoder_input_ids" not in inputs:
        T = inputs["labels"].shape[1]  # HF: decoder_input_ids = shift_tokens_right(labels)
    elif "decoder_input_ids" in inputs:
        T = inputs["decoder_input_ids"].shape[1]
    else:
        T = L  # HF: decoder_input_ids = shift_tokens_right(input_ids)
    meta = {
        "batch": int(B),
        "encoder_len": int(L),
        "encoder_padded_len": int(-(-L // wmax) * wmax),
        "decoder_len": int(T),
        "attention_window": windows,
        "one_sided_window": [w // 2 for w in windows],
        "num_global_per_row": [int(x) for x in g.sum(1)],
        "max_num_global": int(g.sum(1).max()),
        "encoder_len_per_row": [int(x) for x in am.sum(1)],
    }
    if "encoder_outputs.0" in inputs:
        meta["note"] = "encoder not run (encoder_outputs given); encoder fields describe the cross-attention keys"
        meta["past_len"] = int(inputs["past_key_values.0.0"].shape[2])
    return meta


def versions(patches=None, dtype="float32", file=None):
    v = {
        "file": file,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "dtype": dtype,
        "attn_implementation": "eager",
        "command": COMMAND,
    }
    if patches:
        v["patches"] = {p: PATCHES[p] for p in patches}
    return v


def make_case_446(spec, crosscheck_dir=None):
    """transformers 4.x: write config, weights, inputs, outputs_fp32 (and fp64 for seq-cls) of one case."""
    name, head = spec["name"], spec["head"]
    case_dir = os.path.join(OUT_ROOT, name)
    os.makedirs(case_dir, exist_ok=True)
    cfg_dict = dict(BASE_CONFIG, **spec["config"])
    config = transformers.LEDConfig(**cfg_dict)
    torch.manual_seed(spec["seed"])
    cls = getattr(transformers, HEAD_CLASSES[head])
    model = cls(config).eval()
    randomize_(model, spec["seed"])
    model.save_pretrained(case_dir, safe_serialization=True)
    gen_cfg = os.path.join(case_dir, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)

    model32 = load_model(case_dir, head, torch.float32)  # outputs come from the stored weights
    rng = np.random.RandomState(spec["seed"])
    if spec["build"] is case_lm_cache_step:
        inputs, call_kwargs = spec["build"](rng, cfg_dict, model=model32)
    else:
        inputs, call_kwargs = spec["build"](rng, cfg_dict)
    inputs = {
        k: (v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v.astype(np.int64))
        for k, v in inputs.items()
    }
    np.savez(os.path.join(case_dir, "inputs.npz"), **inputs)

    out32 = run(model32, inputs, call_kwargs, torch.float32)
    shapes = shapes_meta(cfg_dict, inputs, head)
    junk_checked = verify_junk_rules(shapes, out32) > 0
    again = run(load_model(case_dir, head, torch.float32), inputs, call_kwargs, torch.float32)
    assert max_rel_diff(again, out32)[0] == 0.0, f"{name}: float32 run not deterministic"
    np.savez(os.path.join(case_dir, "outputs_fp32.npz"), **{k: v.astype(np.float32) for k, v in out32.items()})

    meta = {
        "case": name,
        "description": spec["description"],
        "head": head,
        "hf_class": HEAD_CLASSES[head],
        "inputs": sorted(inputs),
        "call_kwargs": call_kwargs,
        "shapes": shapes,
        "outputs": {"fp32": versions(file="outputs_fp32.npz")},
        "tolerance": {
            "float32": TOLERANCE["float32"],
            "float64": TOLERANCE["float64"],
            "metric": "max|got-ref| / max(1, max|ref|) per output array, over defined entries",
        },
        "seed": spec["seed"],
        "weights": "model.safetensors, float32, written by transformers "
        + transformers.__version__
        + " save_pretrained; the fp64 runs load it and convert to float64",
        "checks": {"fp32_rerun_identical": True, "junk_rules_verified": junk_checked},
    }
    if head == "seq_cls":
        patches = install_fp64_patches()
        m64 = load_model(case_dir, head, torch.float64)
        out64 = run(m64, inputs, call_kwargs, torch.float64)
        verify_junk_rules(shapes, out64)
        assert SOFTMAX_UPCASTS[0] > 0 or "encoder_outputs.0" in inputs, "softmax patch not exercised"
        out64b = run(load_model(case_dir, head, torch.float64), inputs, call_kwargs, torch.float64)
        assert max_rel_diff(out64b, out64)[0] == 0.0, f"{name}: float64 run not deterministic"
        np.savez(os.path.join(case_dir, "outputs_fp64.npz"), **out64)
        meta["outputs"]["fp64"] = versions(patches, "float64", "outputs_fp64.npz")
        meta["outputs"]["fp64"]["why_this_version"] = (
            "transformers 5.x has no LEDForSequenceClassification; made with 4.46.3 + the two documented patches"
        )
        d, k = max_rel_diff(out64, out32)
        meta["checks"].update(fp64_vs_fp32_max_rel_diff=d, fp64_vs_fp32_worst_key=k, fp64_rerun_identical=True)
        uninstall_fp64_patches()
    else:
        meta["outputs"]["fp64"] = {"file": None, "reason": "not written yet: run this script with transformers 5.x"}
        if crosscheck_dir:  # 4.46.3 fp64 (patched) for the 5.x run to compare against; not committed
            install_fp64_patches()
            out64 = run(load_model(case_dir, head, torch.float64), inputs, call_kwargs, torch.float64)
            assert SOFTMAX_UPCASTS[0] > 0 or "encoder_outputs.0" in inputs, "softmax patch not exercised"
            uninstall_fp64_patches()
            os.makedirs(crosscheck_dir, exist_ok=True)
            np.savez(os.path.join(crosscheck_dir, name + ".npz"), **out64)
    with open(os.path.join(case_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=False)
        f.write("\n")
    return meta


_ORIG = {}


def uninstall_fp64_patches():
    modeling_led.nn = torch.nn
    if HF_MAJOR == 4 and "mask" in _ORIG:
        from transformers.modeling_attn_mask_utils import AttentionMaskConverter

        AttentionMaskConverter._make_causal_mask = _ORIG["mask"]


def make_case_5x(spec, cross_check_446_fp64):
    """transformers 5.x: write outputs_fp64 of one case and record cross-checks against the 4.46.3 files."""
    name, head = spec["name"], spec["head"]
    case_dir = os.path.join(OUT_ROOT, name)
    meta_path = os.path.join(case_dir, "meta.json")
    with open(meta_path) as f:
        meta = json.load(f)
    inputs = load_npz(os.path.join(case_dir, "inputs.npz"))
    call_kwargs = meta["call_kwargs"]
    out32_ref = load_npz(os.path.join(case_dir, "outputs_fp32.npz"))
    out32 = run(load_model(case_dir, head, torch.float32), inputs, call_kwargs, torch.float32)
    d32, k32 = max_rel_diff(out32, out32_ref)
    meta["checks"].update({"hf5_fp32_vs_hf4_fp32_max_rel_diff": d32, "hf5_fp32_vs_hf4_fp32_worst_key": k32})

    patches = install_fp64_patches()
    out64 = run(load_model(case_dir, head, torch.float64), inputs, call_kwargs, torch.float64)
    assert SOFTMAX_UPCASTS[0] > 0 or "encoder_outputs.0" in inputs, "softmax patch not exercised"
    verify_junk_rules(meta["shapes"], out64)
    out64b = run(load_model(case_dir, head, torch.float64), inputs, call_kwargs, torch.float64)
    assert max_rel_diff(out64b, out64)[0] == 0.0, f"{name}: float64 run not deterministic"
    uninstall_fp64_patches()
    d, k = max_rel_diff(out64, out32_ref)
    meta["checks"].update(fp64_vs_fp32_max_rel_diff=d, fp64_vs_fp32_worst_key=k, fp64_rerun_identical=True)
    if cross_check_446_fp64 is not None:
        d46, k46 = max_rel_diff(out64, cross_check_446_fp64)
        meta["checks"].update(
            {"hf5_fp64_vs_hf4_patched_fp64_max_rel_diff": d46, "hf5_fp64_vs_hf4_patched_fp64_worst_key": k46}
        )
    np.savez(os.path.join(case_dir, "outputs_fp64.npz"), **out64)
    meta["outputs"]["fp64"] = versions(patches, "float64", "outputs_fp64.npz")
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="*", help="only these case names")
    ap.add_argument(
        "--crosscheck-dir",
        help="4.x: also write patched-4.x float64 outputs here (not goldens); "
        "5.x: compare the float64 goldens against them and record the difference in meta.json",
    )
    args = ap.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    specs = [c for c in CASES if not args.cases or c["name"] in args.cases]
    from transformers.modeling_attn_mask_utils import AttentionMaskConverter

    _ORIG["mask"] = AttentionMaskConverter.__dict__["_make_causal_mask"] if HF_MAJOR == 4 else None
    for spec in specs:
        if HF_MAJOR == 4:
            meta = make_case_446(spec, args.crosscheck_dir)
            print(f"{spec['name']}: fp32 written; checks {meta['checks']}")
        elif spec["head"] == "seq_cls":
            print(f"{spec['name']}: skipped (no LEDForSequenceClassification in {transformers.__version__})")
        else:
            x46 = None
            x46_path = os.path.join(args.crosscheck_dir or "", spec["name"] + ".npz")
            if args.crosscheck_dir and os.path.exists(x46_path):
                x46 = load_npz(x46_path)
            meta = make_case_5x(spec, x46)
            print(f"{spec['name']}: fp64 written; checks {meta['checks']}")
    total = 0
    for root, _, files in os.walk(OUT_ROOT):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"total size of {OUT_ROOT}: {total} bytes ({total / 2**20:.3f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
