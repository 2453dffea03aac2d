"""Hypothesis strategies for LED: configs, encoder/decoder inputs, caches, labels, tokenizer texts.

Every strategy draws *valid* inputs (the reference accepts them) and leans on the edges where LED/Longformer
implementations are known to break: lengths just around multiples of the attention window, exactly
``2 * window``, shorter than one window; right, left, both-sided and inner padding, alone or mixed in one batch;
attention masks that disagree with the pad ids both ways (real tokens masked, pad ids attended: the mask, not the
ids, says what is padding); per-row global-attention patterns with 0, 1, many, all or non-prefix global tokens
(plus the tokenizer's ``-1`` padding of ``global_attention_mask``); decoder inputs and cached prefixes up to the
config's decoder positions, with lengths around 8 and 16 (where blocked kernels switch paths).
Structure (batch, lengths, padding layout, where the global tokens are) is drawn with hypothesis so a failure
shrinks to a small case; bulk values (token ids, weights) come from a drawn seed.

Arrays are NumPy int64, shapes: B batch, S encoder length, T decoder length, P cached decoder length.
"""

import numpy as np
from hypothesis import strategies as st

from ..activations import ACT2FN
from ..config import LEDConfig

__all__ = [
    "GLOBAL_PATTERNS",
    "PADDING_SIDES",
    "MASK_PAD_RELATIONS",
    "DECODER_EDGES",
    "DEFAULT_MAX_SEQ_LEN",
    "DEFAULT_MAX_DECODER_LEN",
    "DEFAULT_MAX_LAYERS",
    "configs",
    "boundary_config",
    "lengths",
    "encoder_lengths",
    "longest_encoder_input",
    "longest_decoder_input",
    "encoder_inputs",
    "decoder_inputs",
    "cache_inputs",
    "labels",
    "generation_lengths",
    "SPECIAL_STRINGS",
    "tokenizer_texts",
]

# Per-row global-attention patterns drawn by encoder_inputs.
GLOBAL_PATTERNS = ("none", "first", "one", "many", "all", "non_prefix")

# Where a row's padding (attention_mask 0) sits: after the real tokens, before them, on both sides of one block
# of real tokens, or in holes between them. The spec accepts any 0/1 mask; tokenizers pad right or left.
PADDING_SIDES = ("right", "left", "both", "inner")

# How a row's ids relate to its mask: ids == pad_token_id exactly where the mask is 0 ("agree"), masked positions
# holding real token ids ("masked_real"), attended positions holding pad_token_id ("attended_pad"), or both.
MASK_PAD_RELATIONS = ("agree", "masked_real", "attended_pad", "both")

# Decoder lengths drawn often: around 8 and 16 (block sizes of tiled kernels, fast paths for short inputs).
DECODER_EDGES = (7, 8, 9, 15, 16, 17)

# Default limits of drawn configs (``led-ref verify --max-seq-len / --max-decoder-len / --max-layers``).
DEFAULT_MAX_SEQ_LEN = 32
DEFAULT_MAX_DECODER_LEN = 24
DEFAULT_MAX_LAYERS = 2

# Special token ids of the drawn configs (HF's LED defaults); ordinary tokens are drawn from [3, vocab).
_SPECIAL = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)


def lengths(low, high, edges=DECODER_EDGES):
    """Integers in [low, high], half of the draws from the edges: ``low``, ``high - 1``, ``high`` and ``edges``
    in range."""
    if high < low:
        raise ValueError(f"empty length range [{low}, {high}]")
    picks = sorted({low, max(low, high - 1), high} | {e for e in edges if low <= e <= high})
    return st.one_of(st.sampled_from(picks), st.integers(low, high))


@st.composite
def configs(
    draw,
    max_layers=DEFAULT_MAX_LAYERS,
    max_heads=3,
    max_head_dim=4,
    max_half_window=4,
    activations=None,
    max_vocab=48,
    hf_runnable=False,
    max_seq_len=DEFAULT_MAX_SEQ_LEN,
    max_decoder_len=DEFAULT_MAX_DECODER_LEN,
):
    """Small valid ``LEDConfig``s: 1..max_layers layers, per-encoder-layer even windows (a list, or one int for
    every layer), encoder/decoder heads dividing d_model, any activation of ``activations`` (default: all of
    led_ref.activations), position limits tight enough that lengths near the limit are drawn too:
    ``max_encoder_position_embeddings`` a multiple (>= 3 where it fits) of the largest window, at most
    ``max_seq_len``; ``max_decoder_position_embeddings`` in [4, max_decoder_len], often 9, 17 or the maximum.

    ``hf_runnable``: only configs HF transformers can run (spec/SPEC.md, "Configurations HF cannot run"): windows
    >= 4, each dividing the largest one (needs ``max_seq_len >= 4``)."""
    enc_layers = draw(st.integers(1, max_layers))
    dec_layers = draw(st.integers(1, max_layers))
    enc_heads = draw(st.integers(1, max_heads))
    dec_heads = draw(st.integers(1, max_heads))
    # d_model must be a multiple of both head counts: lcm(enc, dec) * k. At least 4: with 1 or 2 features the
    # post-layer-norm states hardly depend on the input (d=1: the bias; d=2: a sign), hiding most bugs.
    lcm = int(np.lcm(enc_heads, dec_heads))
    low = -(-4 // lcm)
    d_model = lcm * draw(st.integers(low, max(low, max_head_dim * max_heads // lcm)))
    max_half = max(1, min(max_half_window, max_seq_len // 2))
    if hf_runnable:
        if max_half < 2:
            raise ValueError(f"hf_runnable configs need max_seq_len >= 4 (windows >= 4), got {max_seq_len}")
        top = 2 * draw(st.integers(2, max_half))
        divisors = [w for w in range(4, top + 1, 2) if top % w == 0]
        windows = draw(st.lists(st.sampled_from(divisors), min_size=enc_layers, max_size=enc_layers))
        windows[draw(st.integers(0, enc_layers - 1))] = top
    else:
        halves = draw(st.lists(st.integers(1, max_half), min_size=enc_layers, max_size=enc_layers))
        windows = [2 * h for h in halves]
    # a per-layer list, or one int for every layer (both are valid configs)
    window = windows if draw(st.booleans()) else windows[0]
    max_window = max(windows) if isinstance(window, list) else window
    # room for lengths up to several windows: past 2 * window and a few multiples
    most = max(1, max_seq_len // max_window)
    multiple = draw(st.integers(min(3, most), most))
    low_dec = min(4, max_decoder_len)
    long_dec = sorted({max_decoder_len} | {n for n in (9, 17) if low_dec <= n <= max_decoder_len})
    dec_positions = draw(st.one_of(st.sampled_from(long_dec), st.integers(low_dec, max_decoder_len)))
    names = sorted(ACT2FN) if activations is None else list(activations)
    if "gelu" in names:  # LED's activation (every released checkpoint's): about a third of the draws
        names = ["gelu"] * (len(names) // 2) + names
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
        max_encoder_position_embeddings=max_window * multiple,
        max_decoder_position_embeddings=dec_positions,
        **_SPECIAL,
    )


def boundary_config(
    max_seq_len=DEFAULT_MAX_SEQ_LEN,
    max_decoder_len=DEFAULT_MAX_DECODER_LEN,
    max_layers=DEFAULT_MAX_LAYERS,
    hf_runnable=False,
):
    """The small fixed config of the boundary cases (``led_ref.testing.boundary_cases``) within the drawn limits:
    d_model 8, 2 heads, up to 2 layers, per-layer windows (the largest of 8 / 4 / 2 with room for 3 windows, and
    half of it where allowed), all positions the limits give, LED's GELU."""
    low = 4 if hf_runnable else 2
    w = next((w for w in (8, 4) if 3 * w <= max_seq_len and w >= low), max(low, min(8, max_seq_len - max_seq_len % 2)))
    layers = min(2, max_layers)
    windows = [w, w // 2] if layers == 2 and w // 2 >= low and w // 2 % 2 == 0 else [w] * layers
    return LEDConfig(
        vocab_size=32,
        d_model=8,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=12,
        decoder_ffn_dim=12,
        attention_window=windows,
        activation_function="gelu",
        max_encoder_position_embeddings=(max_seq_len // w) * w,
        max_decoder_position_embeddings=max_decoder_len,
        **_SPECIAL,
    )


def longest_encoder_input(config, max_length=None):
    """Longest encoder input: its padded length (next multiple of the largest window) must have positions;
    at most ``max_length``."""
    w = max(config.layer_attention_windows())
    top = (int(config.max_encoder_position_embeddings) // w) * w
    return top if max_length is None else min(top, int(max_length))


def encoder_lengths(config, max_length=None):
    """Lengths S: around every multiple k W of the largest window W (k W - 1, k W, k W + 1), ``2 * W``,
    ``W // 2`` (one side of the band), shorter than one window, or any valid length (at most ``max_length``)."""
    w = max(config.layer_attention_windows())
    top = longest_encoder_input(config, max_length)
    near = {s for k in range(1, top // w + 1) for s in (k * w - 1, k * w, k * w + 1)}
    edges = sorted(s for s in near | {2 * w, w // 2, w // 2 + 1, 1} if 1 <= s <= top)
    return st.one_of(st.sampled_from(edges), st.integers(1, top))


def _real_positions(draw, rng, side, keep, seq):
    """Sorted positions of a row's ``keep`` attended tokens among ``seq`` for a padding ``side``."""
    if keep == seq or side == "right":
        return np.arange(keep)
    if side == "left":
        return np.arange(seq - keep, seq)
    if side == "both":
        start = draw(st.integers(0, seq - keep))
        return np.arange(start, start + keep)
    return np.sort(rng.choice(seq, size=keep, replace=False))  # inner: holes anywhere


@st.composite
def encoder_inputs(draw, config, max_batch=3, max_length=None):
    """``{"input_ids", "attention_mask", "global_attention_mask"}`` (B, S) int64 for ``config``, S at most
    ``max_length`` (default: the config's positions).

    Per batch a padding layout: every row padded on the right, every row on the left, or mixed (each row its own
    side of PADDING_SIDES, the first two rows on different sides). Per row: >= 1 attended token; one of
    MASK_PAD_RELATIONS (pad ids on exactly the masked positions, or not); one of GLOBAL_PATTERNS over the row's
    attended tokens: none, first, one anywhere, many, all, non-prefix (global tokens that do not start at the
    first attended token). On masked positions global_attention_mask holds 0, the tokenizer's -1, or even 1 (HF
    merges the masks: a global flag on padding is no global token). Where the length allows, the first row of a
    left-padded batch, the first two of a mixed one and every row whose masked positions hold real ids are padded,
    so that those regions are reached in most draws rather than by chance.
    """
    bsz = draw(st.integers(1, max_batch))
    seq = draw(encoder_lengths(config, max_length))
    layout = draw(st.sampled_from(("right", "left", "mixed")))
    if layout == "mixed" and seq > 1:
        bsz = max(bsz, min(2, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vocab, pad = int(config.vocab_size), int(config.pad_token_id)
    ids = rng.integers(3, vocab, size=(bsz, seq)).astype(np.int64)
    mask = np.zeros((bsz, seq), np.int64)
    glob = np.zeros((bsz, seq), np.int64)
    first_side = None
    for b in range(bsz):
        relation = draw(st.sampled_from(MASK_PAD_RELATIONS))
        lead = {"right": 0, "left": 1, "mixed": 2}[layout]
        if seq > 1 and (b < lead or relation in ("masked_real", "both")):
            keep = draw(st.integers(1, seq - 1))
        else:
            keep = seq if draw(st.booleans()) else draw(st.integers(1, seq))
        if layout != "mixed":
            side = layout
        elif b == 1:
            side = draw(st.sampled_from([s for s in PADDING_SIDES if s != first_side]))
        else:
            side = draw(st.sampled_from(PADDING_SIDES))
        first_side = side if b == 0 else first_side
        real = _real_positions(draw, rng, side, keep, seq)
        mask[b, real] = 1
        pattern = draw(st.sampled_from(GLOBAL_PATTERNS))
        if pattern == "first":
            glob[b, real[0]] = 1
        elif pattern == "one":
            glob[b, real[draw(st.integers(0, keep - 1))]] = 1
        elif pattern == "many":
            glob[b, real] = rng.random(keep) < 0.4
        elif pattern == "all":
            glob[b, real] = 1
        elif pattern == "non_prefix" and keep > 1:
            start = draw(st.integers(1, keep - 1))
            glob[b, real[start : start + draw(st.integers(1, keep - start))]] = 1
        masked = mask[b] == 0
        if relation in ("agree", "attended_pad"):
            ids[b, masked] = pad  # else masked positions keep their real ids: the mask says they are padding
        if relation in ("attended_pad", "both"):
            chosen = real[rng.random(keep) < 0.3]
            ids[b, np.union1d(chosen, real[draw(st.integers(0, keep - 1))])] = pad
        if masked.any():
            glob[b, masked] = draw(st.sampled_from([0, -1, 1]))
    return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}


def _token_ids(rng, config, shape):
    return rng.integers(3, int(config.vocab_size), size=shape).astype(np.int64)


def longest_decoder_input(config, max_length=None):
    """Longest decoder input (cached prefix included): the config's positions, at most ``max_length``."""
    top = int(config.max_decoder_position_embeddings)
    return top if max_length is None else min(top, int(max_length))


@st.composite
def decoder_inputs(draw, config, batch, max_length=None):
    """``{"decoder_input_ids"}`` (batch, T), T in 1..min(max_length, max_decoder_position_embeddings), often the
    limit or around 8 and 16 (DECODER_EDGES), starting with decoder_start_token_id like every generation step."""
    tgt = draw(lengths(1, longest_decoder_input(config, max_length)))
    ids = _token_ids(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), config, (batch, tgt))
    ids[:, 0] = int(config.decoder_start_token_id)
    return {"decoder_input_ids": ids}


@st.composite
def cache_inputs(draw, config, batch, max_length=None):
    """An incremental decoding step: ``{"decoder_prefix_ids" (batch, P), "decoder_input_ids" (batch, T)}`` with
    P >= 1 tokens already decoded (their cache is built by the reference, see ``led_ref.testing.build_cache``)
    and T new tokens, P + T <= min(max_length, max_decoder_position_embeddings). P is often long (the limit minus
    one, around 8 and 16) and T often 1 (a generation step)."""
    limit = longest_decoder_input(config, max_length)
    if limit < 2:
        raise ValueError(f"a cached step needs >= 2 decoder positions, got {limit}")
    past = draw(lengths(1, limit - 1))
    new = draw(lengths(1, limit - past))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    prefix = _token_ids(rng, config, (batch, past))
    prefix[:, 0] = int(config.decoder_start_token_id)
    return {"decoder_prefix_ids": prefix, "decoder_input_ids": _token_ids(rng, config, (batch, new))}


@st.composite
def labels(draw, config, batch, max_length=None):
    """``{"labels"}`` (batch, T), 2 <= T <= min(max_length, max_decoder_position_embeddings): token ids with -100
    (ignored by the loss; shift_tokens_right turns it into pad_token_id) on right-padded tails and at random
    positions; at least one label counts."""
    top = longest_decoder_input(config, max_length)
    tgt = draw(lengths(min(2, top), top))
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


def generation_lengths(config, max_length=None):
    """``max_new_tokens`` of a greedy generation: the sequence (start token + new tokens) fits
    min(max_length, max_decoder_position_embeddings)."""
    top = longest_decoder_input(config, max_length)
    if top < 2:
        raise ValueError(f"generation needs >= 2 decoder positions, got {top}")
    return lengths(1, top - 1)


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
