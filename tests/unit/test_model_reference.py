"""The tuned LED forward pass (led_ref.model) is the plain one of led_ref.reference, head by head.

Property tests over drawn configurations (heads, head size, layers, per-layer windows, feed-forward sizes,
activations), inputs (lengths, padding, global sets), decoder inputs, decoder masks and key/value caches, for the
four heads. float64 throughout: the two must agree to the float64 tolerance (led_ref.tolerances).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref import model as M
from led_ref import reference
from led_ref.heads import HEADS
from led_ref.testing import strategies
from led_ref.tolerances import TOLERANCE, relative_error
from led_ref.weights import init_params

TOL = TOLERANCE["float64"]


@st.composite
def model_case(draw, head=None):
    """(config, head, params, inputs): a random tiny LED of a drawn shape (led_ref.testing.strategies: heads,
    layers, per-layer windows, activations) and a batch for it: padded rows (now and then one that is all
    padding), global patterns, decoder inputs with or without a decoder mask, and ``cached`` decoder positions
    that run first and are handed back as past_key_values."""
    head = head or draw(st.sampled_from(sorted(HEADS)))
    config = draw(strategies.configs())
    config.num_labels = draw(st.integers(1, 3))
    if head == "seq_cls":  # its decoder runs on shift_tokens_right(input_ids): as many positions as the encoder
        config.max_decoder_position_embeddings = config.max_encoder_position_embeddings
    params = init_params(config, head, seed=draw(st.integers(0, 2**16)), dtype=np.float64)
    x = draw(strategies.encoder_inputs(config))
    ids, mask = x["input_ids"], x["attention_mask"]
    bsz = ids.shape[0]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # sequence classification pools at the last eos: one at every row's last real token
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)  # rows may be padded on either side
    ids[np.arange(bsz), last] = config.eos_token_id
    if bsz > 1 and draw(st.booleans()):
        mask[draw(st.integers(0, bsz - 1))] = 0  # a row of padding only (its cross-attention is uniform)
    if draw(st.booleans()):
        step = draw(strategies.cache_inputs(config, bsz))
        decoder_ids = np.concatenate([step["decoder_prefix_ids"], step["decoder_input_ids"]], axis=1)
        cached = step["decoder_prefix_ids"].shape[1]
    else:
        decoder_ids, cached = draw(strategies.decoder_inputs(config, bsz))["decoder_input_ids"], 0
    decoder_mask = None
    if draw(st.booleans()):
        decoder_mask = (rng.random(decoder_ids.shape) < 0.8).astype(np.int64)
    return (
        config,
        head,
        params,
        {**x, "decoder_input_ids": decoder_ids, "decoder_attention_mask": decoder_mask, "cached": cached},
    )


def _close(got, ref, what):
    err = relative_error(got, ref)
    assert err <= TOL, f"{what}: relative error {err:.2e} > {TOL:.0e}"


def _close_cache(got, ref):
    assert len(got) == len(ref)
    for i, (g_layer, r_layer) in enumerate(zip(got, ref)):
        assert len(g_layer) == len(r_layer) == 4
        for j, (g, r) in enumerate(zip(g_layer, r_layer)):
            _close(g, r, f"past_key_values[{i}][{j}]")


@settings(max_examples=100, deadline=None)
@given(model_case())
def test_every_head_equals_the_plain_reference(case):
    """One call of each head's class against led_ref.reference; with ``cached`` > 0 the decoder first runs on the
    first ``cached`` positions and the call continues from that past (the cross-attention cache reused as is)."""
    config, head, params, x = case
    model = M.model_class(head)(config, params)
    enc_args = dict(
        input_ids=x["input_ids"], attention_mask=x["attention_mask"], global_attention_mask=x["global_attention_mask"]
    )
    dec_ids, dmask, cached = x["decoder_input_ids"], x["decoder_attention_mask"], x["cached"]
    if head == "seq_cls":  # pools at input_ids' eos positions: the decoder runs on shift_tokens_right(input_ids)
        out = model(**enc_args)
        hidden, enc_hidden, _ = reference.led_model(params, config, **enc_args)
        _close(out.logits, reference.sequence_classification_logits(params, config, hidden, x["input_ids"]), "logits")
        _close(out.encoder_last_hidden_state, enc_hidden, "encoder_last_hidden_state")
        return

    past = None
    if cached:
        first = model(
            **enc_args,
            decoder_input_ids=dec_ids[:, :cached],
            decoder_attention_mask=None if dmask is None else dmask[:, :cached],
            use_cache=True,
        )
        _, _, ref_past = reference.led_model(
            params,
            config,
            **enc_args,
            decoder_input_ids=dec_ids[:, :cached],
            decoder_attention_mask=None if dmask is None else dmask[:, :cached],
        )
        _close_cache(first.past_key_values, ref_past)
        past = ref_past
    out = model(
        **enc_args,
        decoder_input_ids=dec_ids[:, cached:],
        decoder_attention_mask=dmask,
        past_key_values=past,
        use_cache=True,
    )
    hidden, enc_hidden, ref_cache = reference.led_model(
        params, config, **enc_args, decoder_input_ids=dec_ids[:, cached:], decoder_attention_mask=dmask, past=past
    )
    _close(out.encoder_last_hidden_state, enc_hidden, "encoder_last_hidden_state")
    _close_cache(out.past_key_values, ref_cache)
    if head == "base":
        _close(out.last_hidden_state, hidden, "last_hidden_state")
    elif head == "lm":
        _close(out.logits, reference.lm_logits(params, hidden), "logits")
    else:
        start, end = reference.question_answering_logits(params, hidden)
        _close(out.start_logits, start, "start_logits")
        _close(out.end_logits, end, "end_logits")


@settings(max_examples=30, deadline=None)
@given(model_case(head="base"), st.integers(1, 3))
def test_decoder_attentions_and_shared_cross_rows_equal_the_reference(case, beams):
    """The decoder's self and cross probabilities (HF's additive masks: causal only when T > 1, -inf for masked
    future keys, uniform fully masked rows), and a cross-attention cache of one row per input shared by its beams
    (as beam search passes it) against the reference's repeated rows."""
    config, _, params, x = case
    att = x["attention_mask"]
    enc = reference.encoder(params, config, x["input_ids"], att, x["global_attention_mask"])
    # each input's rows repeated for its beams, as generate() expands them
    rows = np.repeat(np.arange(enc.shape[0]), beams)
    enc_b, att_b = enc[rows], None if att is None else att[rows]
    dec_ids, dmask, cached = x["decoder_input_ids"][rows], x["decoder_attention_mask"], x["cached"]
    dmask = None if dmask is None else dmask[rows]
    past = None
    if cached:
        prefix_mask = None if dmask is None else dmask[:, :cached]
        _, past, _, _ = reference.decoder(params, config, dec_ids[:, :cached], enc_b, att_b, prefix_mask)
    shared = None if past is None else tuple((sk, sv, ck[::beams], cv[::beams]) for sk, sv, ck, cv in past)
    ref_hidden, ref_cache, ref_self, ref_cross = reference.decoder(
        params, config, dec_ids[:, cached:], enc_b, att_b, dmask, past
    )
    for given_past in (past,) if past is None else (past, shared):
        got = M.decoder(
            params,
            config,
            dec_ids[:, cached:],
            enc_b,
            att_b,
            dmask,
            given_past,
            use_cache=True,
            output_attentions=True,
        )
        _close(got.last_hidden_state, ref_hidden, "last_hidden_state")
        for i in range(config.decoder_layers):
            _close(got.attentions[i], ref_self[i], f"attentions[{i}]")
            _close(got.cross_attentions[i], ref_cross[i], f"cross_attentions[{i}]")
            _close(got.past_key_values[i][:2], ref_cache[i][:2], f"past_key_values[{i}] (self)")
        if given_past is shared is not None:  # the shared rows come back as they were given
            for i, layer in enumerate(got.past_key_values):
                np.testing.assert_array_equal(layer[2], shared[i][2])
        assert all(np.isfinite(a).all() for a in got.attentions + got.cross_attentions)
