"""Score processing (HF's logits processors, same order) and led-ref's sampling draw.

scores: (N, V) float; input_ids: (N, T) int64. Each processor is a plain function returning new scores.
"""

from __future__ import annotations

import numpy as np

from ..attention import softmax
from .config import GenerationConfig


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
        prefix = tuple(row[cur_len + 1 - n :])
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
        match = np.all(input_ids[:, cur_len - (len(seq) - 1) :] == np.asarray(seq[:-1]), axis=1)
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
    kth = -np.partition(-scores, k - 1, axis=-1)[:, k - 1 : k]
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


def process_scores(
    scores, input_ids, gc: GenerationConfig, eos_ids: list[int], prompt_len: int, min_tokens_to_keep: int = 1
):
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
def draw_tokens(probs: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
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
                raise ValueError(
                    "generate: sampling distribution has no probability mass left (all scores -inf or "
                    "NaN); relax the filters (top_k, top_p, bad_words_ids, ...)"
                )
            idx = int(np.searchsorted(cum, rng.random() * total, side="right"))
            idx = min(idx, p.shape[0] - 1)
            while p[idx] == 0:  # u * total landed on a zero-width bin edge: take the next token with mass
                idx -= 1
            out[i, j] = idx
            p[idx] = 0.0
    return out
