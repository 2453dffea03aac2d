"""Hypothesis strategies for LED: configs, encoder/decoder inputs, caches, labels, tokenizer texts.

Every strategy draws *valid* inputs (the reference accepts them) and leans on the edges where LED/Longformer
implementations are known to break: lengths just around multiples of the attention window, exactly
``2 * window``, shorter than one window, right padding, and per-row global-attention patterns with 0, 1, many,
all or non-prefix global tokens (plus the tokenizer's ``-1`` padding of ``global_attention_mask``).
Structure (batch, lengths, which rows are padded, where the global tokens are) is drawn with hypothesis so a
failure shrinks to a small case; bulk values (token ids, weights) come from a drawn seed.

Arrays are NumPy int64, shapes: B batch, S encoder length, T decoder length, P cached decoder length.
"""

import numpy as np
from hypothesis import strategies as st

from ..activations import ACT2FN
from ..config import LEDConfig

__all__ = [
    "GLOBAL_PATTERNS",
    "configs",
    "encoder_lengths",
    "encoder_inputs",
    "decoder_inputs",
    "cache_inputs",
    "labels",
    "SPECIAL_STRINGS",
    "tokenizer_texts",
]

# Per-row global-attention patterns drawn by encoder_inputs.
GLOBAL_PATTERNS = ("none", "first", "one", "many", "all", "non_prefix")

# Special token ids of the drawn configs (HF's LED defaults); ordinary tokens are drawn from [3, vocab).
_SPECIAL = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)


@st.composite
def configs(
    draw,
    max_layers=2,
    max_heads=3,
    max_head_dim=4,
    max_half_window=4,
    activations=None,
    max_vocab=48,
    hf_runnable=False,
):
    """Small valid ``LEDConfig``s: 1..max_layers layers, per-encoder-layer even windows (a list, or one int for
    every layer), encoder/decoder heads dividing d_model, any activation of ``activations`` (default: all of
    led_ref.activations), position limits tight enough that lengths near the limit are drawn too.

    ``hf_runnable``: only configs HF transformers can run (spec/SPEC.md, "Configurations HF cannot run"): windows
    >= 4, each dividing the largest one."""
    enc_layers = draw(st.integers(1, max_layers))
    dec_layers = draw(st.integers(1, max_layers))
    enc_heads = draw(st.integers(1, max_heads))
    dec_heads = draw(st.integers(1, max_heads))
    # d_model must be a multiple of both head counts: lcm(enc, dec) * k. At least 4: with 1 or 2 features the
    # post-layer-norm states hardly depend on the input (d=1: the bias; d=2: a sign), hiding most bugs.
    lcm = int(np.lcm(enc_heads, dec_heads))
    low = -(-4 // lcm)
    d_model = lcm * draw(st.integers(low, max(low, max_head_dim * max_heads // lcm)))
    if hf_runnable:
        top = 2 * draw(st.integers(2, max(2, max_half_window)))
        divisors = [w for w in range(4, top + 1, 2) if top % w == 0]
        windows = draw(st.lists(st.sampled_from(divisors), min_size=enc_layers, max_size=enc_layers))
        windows[draw(st.integers(0, enc_layers - 1))] = top
    else:
        halves = draw(st.lists(st.integers(1, max_half_window), min_size=enc_layers, max_size=enc_layers))
        windows = [2 * h for h in halves]
    # a per-layer list, or one int for every layer (both are valid configs)
    window = windows if draw(st.booleans()) else windows[0]
    max_window = max(windows) if isinstance(window, list) else window
    names = sorted(ACT2FN) if activations is None else list(activations)
    return LEDConfig(
        vocab_size=draw(st.integers(8, max_vocab)),
        d_model=d_model,
        encoder_layers=enc_layers,
        decoder_layers=dec_layers,
        encoder_attention_heads=enc_heads,
        decoder_attention_heads=dec_heads,
        encoder_ffn_dim=draw(st.integers(1, 24)),
        decoder_ffn_dim=draw(st.integers(1, 24)),
        attention_window=window,
        activation_function=draw(st.sampled_from(names)),
        # room for lengths up to 3-4 windows: past 2 * window and a few multiples
        max_encoder_position_embeddings=max_window * draw(st.integers(3, 4)),
        max_decoder_position_embeddings=draw(st.integers(4, 12)),
        **_SPECIAL,
    )


def _max_length(config):
    """Longest encoder input: its padded length (next multiple of the largest window) must have positions."""
    w = max(config.layer_attention_windows())
    return (int(config.max_encoder_position_embeddings) // w) * w


def encoder_lengths(config):
    """Lengths S: around every multiple k W of the largest window W (k W - 1, k W, k W + 1), ``2 * W``,
    ``W // 2`` (one side of the band), shorter than one window, or any valid length."""
    w = max(config.layer_attention_windows())
    top = _max_length(config)
    near = {s for k in range(1, top // w + 1) for s in (k * w - 1, k * w, k * w + 1)}
    edges = sorted(s for s in near | {2 * w, w // 2, w // 2 + 1, 1} if 1 <= s <= top)
    return st.one_of(st.sampled_from(edges), st.integers(1, top))


@st.composite
def encoder_inputs(draw, config, max_batch=3):
    """``{"input_ids", "attention_mask", "global_attention_mask"}`` (B, S) int64 for ``config``.

    Per row: right padding (pad_token_id, attention_mask 0; every row keeps >= 1 real token) and one of
    GLOBAL_PATTERNS: none, first token, one token anywhere, many, all, non-prefix (global tokens that do not
    start at position 0). On padded positions global_attention_mask holds 0, the tokenizer's -1, or even 1
    (HF merges the masks: a global flag on padding is no global token).
    """
    bsz = draw(st.integers(1, max_batch))
    seq = draw(encoder_lengths(config))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vocab = int(config.vocab_size)
    ids = rng.integers(3, vocab, size=(bsz, seq)).astype(np.int64)
    mask = np.ones((bsz, seq), np.int64)
    glob = np.zeros((bsz, seq), np.int64)
    for b in range(bsz):
        keep = seq if draw(st.booleans()) else draw(st.integers(1, seq))
        pattern = draw(st.sampled_from(GLOBAL_PATTERNS))
        if pattern == "first":
            glob[b, 0] = 1
        elif pattern == "one":
            glob[b, draw(st.integers(0, keep - 1))] = 1
        elif pattern == "many":
            glob[b, :keep] = rng.random(keep) < 0.4
        elif pattern == "all":
            glob[b, :keep] = 1
        elif pattern == "non_prefix" and keep > 1:
            start = draw(st.integers(1, keep - 1))
            glob[b, start : start + draw(st.integers(1, keep - start))] = 1
        if keep < seq:
            mask[b, keep:] = 0
            ids[b, keep:] = int(config.pad_token_id)
            glob[b, keep:] = draw(st.sampled_from([0, -1, 1]))
    return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}


def _token_ids(rng, config, shape):
    return rng.integers(3, int(config.vocab_size), size=shape).astype(np.int64)


@st.composite
def decoder_inputs(draw, config, batch, max_length=4):
    """``{"decoder_input_ids"}`` (batch, T), T in 1..min(max_length, max_decoder_position_embeddings), starting
    with decoder_start_token_id like every generation step."""
    top = min(max_length, int(config.max_decoder_position_embeddings))
    tgt = draw(st.integers(1, top))
    ids = _token_ids(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), config, (batch, tgt))
    ids[:, 0] = int(config.decoder_start_token_id)
    return {"decoder_input_ids": ids}


@st.composite
def cache_inputs(draw, config, batch, max_past=4, max_new=2):
    """An incremental decoding step: ``{"decoder_prefix_ids" (batch, P), "decoder_input_ids" (batch, T)}`` with
    P >= 1 tokens already decoded (their cache is built by the reference, see ``led_ref.testing.build_cache``)
    and T new tokens, P + T <= max_decoder_position_embeddings."""
    limit = int(config.max_decoder_position_embeddings)
    past = draw(st.integers(1, min(max_past, limit - 1)))
    new = draw(st.integers(1, min(max_new, limit - past)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    prefix = _token_ids(rng, config, (batch, past))
    prefix[:, 0] = int(config.decoder_start_token_id)
    return {"decoder_prefix_ids": prefix, "decoder_input_ids": _token_ids(rng, config, (batch, new))}


@st.composite
def labels(draw, config, batch, max_length=5):
    """``{"labels"}`` (batch, T), T >= 2: token ids with -100 (ignored by the loss; shift_tokens_right turns it
    into pad_token_id) on right-padded tails and at random positions; at least one label counts."""
    top = min(max_length, int(config.max_decoder_position_embeddings))
    tgt = draw(st.integers(2, max(2, top)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lab = _token_ids(rng, config, (batch, tgt))
    for b in range(batch):
        keep = draw(st.integers(1, tgt))
        lab[b, keep:] = -100
        if draw(st.booleans()):
            lab[b, draw(st.integers(0, tgt - 1))] = -100
    if np.all(lab == -100):
        lab[0, 0] = 3  # the loss of no counted label is undefined (torch: NaN, led-ref: 0)
    return {"labels": lab}


# Pieces a byte-level BPE tokenizer must get right: contractions, whitespace runs, digits, punctuation,
# non-ASCII (accents, CJK, emoji, combining marks, no-break space), control characters.
_TEXT_PIECES = (
    "Hello",
    " world",
    "'s",
    "'ll",
    "n't",
    "  ",
    "\n\n",
    "\t",
    " 2024",
    "3.14",
    "--",
    "...",
    "café",
    " naïve",
    "日本語",
    " 🙂",
    "e\u0301",
    "\u00a0",
    "\r\n",
    "A" * 30,
)
# LED's special-token strings (the tokenizer matches them in text; "<mask>" strips the space before it).
SPECIAL_STRINGS = ("<s>", "</s>", "<pad>", "<unk>", "<mask>")


def tokenizer_texts(specials=True, max_pieces=6):
    """Texts for tokenizer tests: concatenations of arbitrary unicode and the tricky pieces above, plus (with
    ``specials``) LED's special-token strings; without, no special-token string occurs anywhere in the text."""
    pieces = _TEXT_PIECES + ((SPECIAL_STRINGS + (" <mask>",)) if specials else ())
    segment = st.one_of(st.text(max_size=60), st.sampled_from(pieces))
    texts = st.lists(segment, max_size=max_pieces).map("".join)
    if not specials:
        texts = texts.filter(lambda s: not any(sp in s for sp in SPECIAL_STRINGS))
    return texts
