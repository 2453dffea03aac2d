"""Decoding for LED: greedy, sampling and beam search, written once over a small step interface.

The semantics are HF transformers 4.46.3's ``generate()`` for an encoder-decoder model (``GenerationMixin._sample``,
``_beam_search``, ``BeamSearchScorer``, ``BeamHypotheses`` and the logits processors), re-stated as small NumPy
functions. Sampling cannot reproduce torch's RNG, so its draw is defined in ``processors.draw_tokens``.
Any backend that implements ``Seq2SeqStepModel`` (the NumPy model, ONNX Runtime, a test fake) reuses this code.
See ``spec/SPEC.md#generation``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import inputs
from ..attention import softmax
from ..errors import check_allocation
from ..outputs import GenerateBeamEncoderDecoderOutput, GenerateEncoderDecoderOutput
from .config import GenerationConfig
from .processors import draw_tokens, log_softmax, process_scores
from .step import as_step_model


# ---------------------------------------------------------------------------------------------------------------------
# Beam hypotheses (HF's BeamHypotheses / BeamSearchScorer, one batch entry each)
# ---------------------------------------------------------------------------------------------------------------------
class BeamHypotheses:
    """The n-best finished hypotheses of one input; scores are sum_logprobs / generated_len ** length_penalty."""

    def __init__(self, num_beams: int, length_penalty: float, early_stopping, max_length: int):
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.max_length = max_length
        self.beams: list[tuple] = []  # (score, token list, beam_indices or None)
        self.worst_score = 1e9

    def __len__(self):
        return len(self.beams)

    def add(self, hyp, sum_logprobs: float, beam_indices, generated_len: int):
        score = sum_logprobs / (generated_len**self.length_penalty)
        if len(self) < self.num_beams or score > self.worst_score:
            self.beams.append((score, hyp, beam_indices))
            if len(self) > self.num_beams:
                ranked = sorted([(s, idx) for idx, (s, _, _) in enumerate(self.beams)])
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs: float, cur_len: int, prompt_len: int) -> bool:
        if len(self) < self.num_beams:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping is False or self.length_penalty <= 0.0:
            # False: HF's heuristic bound from the current length; "never" with length_penalty <= 0 as well.
            best = best_sum_logprobs / (cur_len - prompt_len) ** self.length_penalty
        else:  # "never" with length_penalty > 0: the best score reachable is at max_length
            if self.max_length <= prompt_len:
                raise ValueError("generate: max_length is not larger than the decoder prompt length")
            best = best_sum_logprobs / (self.max_length - prompt_len) ** self.length_penalty
        return self.worst_score >= best


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------
def first_token_global_attention_mask(input_ids: np.ndarray) -> np.ndarray:
    """Global attention on the first token of every row (LED's advice for summarization: the leading ``<s>``)."""
    input_ids = np.asarray(input_ids)
    mask = np.zeros(input_ids.shape, dtype=np.int64)
    if input_ids.ndim == 2 and input_ids.shape[1] > 0:
        mask[:, 0] = 1
    return mask


def _eos_list(eos) -> list[int]:
    if eos is None:
        return []
    return [int(e) for e in eos] if isinstance(eos, (list, tuple, np.ndarray)) else [int(eos)]


def _expand_past(past, n, share_cross):
    """Copy each input's cache row to its n beams; with share_cross the cross-attention entries keep one row
    per input (the backend reads them once for all the input's beams)."""
    expanded = len(past[0]) if not share_cross else 2
    return tuple(tuple(np.repeat(t, n, axis=0) for t in layer[:expanded]) + tuple(layer[expanded:]) for layer in past)


def _reorder_past(past, idx):
    """Beam step: rows of the self-attention cache follow their beams; cross-attention entries stay as they are."""
    return tuple((layer[0][idx], layer[1][idx]) + tuple(layer[2:]) for layer in past)


TOP_K_CHUNK = 256  # scores per chunk maximum in _top_k


def _top_k(row: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k largest scores of a 1-D row, descending, ties to the lower index.

    A full partition of num_beams x vocab scores would be a beam step's largest cost after the model; instead: the
    k-th largest chunk maximum is a lower bound of the k-th largest score (those k maxima are k
    distinct scores), so only the few scores at or above it are sorted. Same result as a stable full sort."""
    starts = np.arange(0, row.size, TOP_K_CHUNK)
    if starts.size >= k:
        bound = np.partition(np.maximum.reduceat(row, starts), starts.size - k)[starts.size - k]
        idx = np.flatnonzero(row >= bound)
        if idx.size < k:  # NaN scores: no order to rely on; the full partition below
            idx = np.arange(row.size)
    else:
        idx = np.arange(row.size)
    vals = row[idx]
    kth = np.partition(vals, vals.size - k)[vals.size - k] if vals.size > k else vals.min()
    idx = idx[vals >= kth]
    return idx[np.argsort(-row[idx], kind="stable")][:k]


class _Stepper:
    """Runs decoder steps for the decoding loops: cache on/off, prefill on the unexpanded batch."""

    def __init__(self, steps, hidden, enc_mask, expand: int, use_cache: bool):
        self.steps, self.use_cache, self.expand = steps, use_cache, expand
        self.hidden_small, self.mask_small = hidden, enc_mask
        self.hidden = np.repeat(hidden, expand, axis=0) if expand > 1 else hidden
        self.enc_mask = np.repeat(enc_mask, expand, axis=0) if expand > 1 else enc_mask
        self.past = None

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        """Logits of the next token for every row of input_ids (N, T) -> (N, V)."""
        if not self.use_cache:
            logits, _ = self.steps.decode(input_ids, self.hidden, self.enc_mask, None)
            return np.asarray(logits)[:, -1, :]
        if self.past is None:
            # First step: every expanded copy of an input has the same prompt, so run the (possibly long) cross
            # attention projections once per input and copy the result per beam / returned sequence.
            small = input_ids[:: self.expand] if self.expand > 1 else input_ids
            logits, past = self.steps.decode(small, self.hidden_small, self.mask_small, None)
            logits = np.asarray(logits)[:, -1, :]
            if self.expand > 1:
                logits = np.repeat(logits, self.expand, axis=0)
                past = _expand_past(past, self.expand, getattr(self.steps, "shares_cross_cache", False))
            self.past = past
            return logits
        logits, self.past = self.steps.decode(input_ids[:, -1:], self.hidden, self.enc_mask, self.past)
        return np.asarray(logits)[:, -1, :]

    def reorder(self, idx):
        if self.past is not None:
            self.past = _reorder_past(self.past, idx)


def _notify(streamer, tokens):
    if streamer is None:
        return
    if hasattr(streamer, "put"):
        streamer.put(tokens)
    else:
        streamer(tokens)


# ---------------------------------------------------------------------------------------------------------------------
# Decoding loops
# ---------------------------------------------------------------------------------------------------------------------
def _greedy_or_sample(stepper, input_ids, gc, eos_ids, pad_id, rng, streamer, step_callback):
    """HF ``_sample``: argmax (or a draw) of the processed scores; rows that finished get pad_token_id."""
    prompt_len = input_ids.shape[1]
    unfinished = np.ones(input_ids.shape[0], dtype=bool)
    scores, raw = [], []
    while True:
        logits = stepper(input_ids)
        processed = process_scores(logits.copy(), input_ids, gc, eos_ids, prompt_len)
        if gc.output_scores:
            scores.append(processed)
        if gc.output_logits:
            raw.append(logits.copy())
        if gc.do_sample:
            nxt = draw_tokens(softmax(processed), 1, rng)[:, 0]
        else:
            nxt = np.argmax(processed, axis=-1).astype(np.int64)
        if eos_ids:
            nxt = np.where(unfinished, nxt, pad_id)
        input_ids = np.concatenate([input_ids, nxt[:, None]], axis=1)
        _notify(streamer, nxt)
        done = np.isin(input_ids[:, -1], eos_ids) | (input_ids.shape[1] >= gc.max_length)
        unfinished &= ~done
        if step_callback is not None:
            step_callback(input_ids.shape[1] - prompt_len, gc.max_length - prompt_len)
        if not unfinished.any():
            break
    return input_ids, scores, raw, None, None


def _beam_search(stepper, input_ids, gc, eos_ids, pad_id, rng, batch_size, step_callback):
    """HF ``_beam_search`` + ``BeamSearchScorer`` (``do_sample`` gives HF's beam sample with led-ref's draw)."""
    nb = gc.num_beams
    prompt_len = input_ids.shape[1]
    track = gc.output_scores
    hyps = [BeamHypotheses(nb, gc.length_penalty, gc.early_stopping, gc.max_length) for _ in range(batch_size)]
    done = [False] * batch_size
    beam_scores = None
    beam_indices: tuple[tuple[int, ...], ...] | None = tuple(() for _ in range(batch_size * nb)) if track else None
    scores, raw = [], []
    n_keep = max(2, 1 + len(eos_ids)) * nb
    while True:
        logits = stepper(input_ids)
        if beam_scores is None:
            # Only the first beam of each input may start (the others are copies): HF's 0 / -1e9 initial scores.
            beam_scores = np.zeros((batch_size, nb), dtype=logits.dtype)
            beam_scores[:, 1:] = -1e9
            beam_scores = beam_scores.reshape(-1)
        logp = log_softmax(logits)
        min_keep = 1 + len(eos_ids) if eos_ids else 2
        processed = process_scores(logp, input_ids, gc, eos_ids, prompt_len, min_tokens_to_keep=min_keep)
        if gc.output_scores:
            scores.append(processed)
        if gc.output_logits:
            raw.append(logits.copy())
        total = (processed + beam_scores[:, None]).astype(logits.dtype, copy=False)
        vocab = total.shape[1]
        total = total.reshape(batch_size, nb * vocab)
        if gc.do_sample:
            cand = draw_tokens(softmax(total), n_keep, rng)
            cand_scores = np.take_along_axis(total, cand, axis=1)
            order = np.argsort(-cand_scores, axis=1, kind="stable")
        else:
            cand = np.stack([_top_k(row, n_keep) for row in total])
            cand_scores = np.take_along_axis(total, cand, axis=1)
            order = np.arange(n_keep)[None, :].repeat(batch_size, 0)
        cand = np.take_along_axis(cand, order, axis=1)
        cand_scores = np.take_along_axis(cand_scores, order, axis=1)
        cand_beam, cand_tok = cand // vocab, cand % vocab

        next_scores = np.zeros((batch_size, nb), dtype=total.dtype)
        next_tokens = np.zeros((batch_size, nb), dtype=np.int64)
        next_rows = np.zeros((batch_size, nb), dtype=np.int64)
        cur_len = input_ids.shape[1] + 1
        for b in range(batch_size):
            if done[b]:
                # HF pads a finished input: score 0, pad token, and row index 0 (of the whole batch).
                next_tokens[b, :] = pad_id if pad_id is not None else 0
                continue
            filled = 0
            for rank in range(n_keep):
                tok, score, row = int(cand_tok[b, rank]), cand_scores[b, rank], b * nb + int(cand_beam[b, rank])
                if tok in eos_ids:
                    if rank >= nb:
                        continue  # an eos outside the top num_beams candidates is not a hypothesis
                    bi = None if beam_indices is None else beam_indices[row] + (row,)
                    hyps[b].add(input_ids[row].tolist(), float(score), bi, cur_len - prompt_len)
                else:
                    next_scores[b, filled], next_tokens[b, filled], next_rows[b, filled] = score, tok, row
                    filled += 1
                if filled == nb:
                    break
            if filled < nb:
                raise ValueError(
                    f"generate: more than {n_keep - nb} of the {n_keep} best candidates are eos tokens "
                    f"for input {b}; cannot continue {nb} beams"
                )
            done[b] = done[b] or hyps[b].is_done(float(cand_scores[b].max()), cur_len, prompt_len)
        beam_scores = next_scores.reshape(-1)
        rows = next_rows.reshape(-1)
        input_ids = np.concatenate([input_ids[rows], next_tokens.reshape(-1, 1)], axis=1)
        stepper.reorder(rows)
        if beam_indices is not None:
            beam_indices = tuple(beam_indices[r] + (int(r),) for r in rows)
        if step_callback is not None:
            step_callback(input_ids.shape[1] - prompt_len, gc.max_length - prompt_len)
        stop = np.isin(input_ids[:, -1], eos_ids) | (input_ids.shape[1] >= gc.max_length)
        if all(done) or stop.all():
            break

    # finalize: open beams of unfinished inputs become hypotheses too
    for b in range(batch_size):
        if done[b]:
            continue
        for j in range(nb):
            row = b * nb + j
            hyps[b].add(
                input_ids[row].tolist(),
                float(beam_scores[row]),
                None if beam_indices is None else beam_indices[row],
                input_ids.shape[1] - prompt_len,
            )
    keep = gc.num_return_sequences
    best, best_scores, best_idx = [], np.zeros(batch_size * keep, dtype=np.float32), []
    for b in range(batch_size):
        ranked = sorted(hyps[b].beams, key=lambda h: h[0])
        for j in range(keep):
            score, hyp, bi = ranked.pop()
            best.append(hyp)
            best_idx.append(bi)
            best_scores[b * keep + j] = score
    lengths = [len(h) for h in best]
    width = min(max(lengths) + 1, gc.max_length)
    seqs = np.full((len(best), width), pad_id if pad_id is not None else 0, dtype=np.int64)
    if min(lengths) != max(lengths) and pad_id is None:
        raise ValueError("generate: pad_token_id must be set to pad hypotheses of different lengths")
    indices = np.full((len(best), width), -1, dtype=np.int64) if track else None
    for i, hyp in enumerate(best):
        seqs[i, : len(hyp)] = hyp
        if indices is not None:
            indices[i, : len(best_idx[i])] = best_idx[i]
        if len(hyp) < width:
            seqs[i, len(hyp)] = eos_ids[0]  # the hypothesis ended with eos (kept out of the stored tokens)
    if not track:
        return seqs, scores, raw, None, indices
    best_scores = best_scores.astype(np.float32 if beam_scores.dtype == np.float32 else beam_scores.dtype)
    return seqs, scores, raw, best_scores, indices


# ---------------------------------------------------------------------------------------------------------------------
# generate()
# ---------------------------------------------------------------------------------------------------------------------
def resolve_generation_config(model, generation_config=None, **kwargs) -> tuple[GenerationConfig, dict[str, Any]]:
    """HF's ``_prepare_generation_config``: copy of the base config (argument or the model's), updated by kwargs.

    Returns the config and the kwargs that are not generation fields.
    """
    base_default = GenerationConfig.for_model(model)
    if generation_config is None:
        gc = base_default.copy()
    else:
        if not isinstance(generation_config, GenerationConfig):
            raise TypeError(
                f"generate: generation_config must be a GenerationConfig, got {type(generation_config).__name__}"
            )
        gc = generation_config.copy()
    unused = gc.update(**kwargs)
    if generation_config is not None:
        for name in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
            if getattr(gc, name) is None:
                setattr(gc, name, getattr(base_default, name))
    return gc, unused


def check_decoder_length(gc: GenerationConfig, config, prompt_len: int = 1) -> None:
    """ValueError, before any decoding step, when the requested length passes the decoder's position limit."""
    max_positions = getattr(config, "max_decoder_position_embeddings", None)
    length = gc.max_new_tokens + prompt_len if gc.max_new_tokens is not None else gc.max_length
    # the last token of a sequence is returned, never fed back: the decoder reads positions 0 .. length - 2
    fed = length - 1
    if max_positions is not None and fed > max_positions:
        # the decoder has no position embedding past max_positions
        raise ValueError(
            f"generate: max_new_tokens / max_length ask for {length} tokens, so the decoder would read {fed} "
            f"positions (counting the start token), more than its max_decoder_position_embeddings={max_positions}; "
            f"use max_new_tokens <= {max_positions - prompt_len + 1}"
        )


def generate(
    model,
    input_ids,
    attention_mask=None,
    global_attention_mask=None,
    generation_config=None,
    *,
    global_attention: str | None = None,
    streamer=None,
    seed: int | None = None,
    generator: np.random.Generator | None = None,
    step_callback: Callable[[int, int], None] | None = None,
    **kwargs,
):
    """Generate token ids with HF's semantics; see ``spec/SPEC.md#generation``.

    ``model``: a ``Seq2SeqStepModel`` or led_ref's ``LEDForConditionalGeneration``. ``kwargs``: GenerationConfig
    fields (max_length, max_new_tokens, num_beams, ...); anything else is a TypeError.
    ``global_attention="first"`` puts global attention on each row's first token when no mask is given (LED's
    summarization advice; the default None is HF's: no global attention). ``streamer``: an object with
    ``put(ids)``/``end()`` (HF's protocol: first the (B, 1) start ids, then each step's (B,) tokens) or a callable
    getting each step's (B,) tokens; greedy/sampling only. ``seed`` / ``generator``: the sampling RNG.
    ``step_callback(done_steps, max_steps)``: called after every decoding step (progress display).
    Returns int64 (B * num_return_sequences, T), or an output object when ``return_dict_in_generate``.
    """
    steps = as_step_model(model)
    gc, unused = resolve_generation_config(steps, generation_config, **kwargs)
    if unused:
        raise TypeError(
            f"generate: unknown argument(s) {sorted(unused)}; expected GenerationConfig fields "
            "(max_length, max_new_tokens, num_beams, do_sample, ...) or input_ids, attention_mask, "
            "global_attention_mask, generation_config, global_attention, streamer, seed, generator, "
            "step_callback"
        )
    gc.validate()

    if input_ids is None:
        raise ValueError("generate: input_ids is required (B, S) int64")
    vocab_size = getattr(steps.config, "vocab_size", None)
    # the input checks of every backend (led_ref.inputs): the same bad input, the same error
    input_ids = inputs.token_ids("input_ids", input_ids, vocab_size)
    batch, src_len = input_ids.shape

    # special tokens (HF ``_prepare_special_tokens``)
    eos_ids = _eos_list(gc.eos_token_id)
    pad_id = gc.pad_token_id if gc.pad_token_id is not None else (eos_ids[0] if eos_ids else None)
    start_id = gc.decoder_start_token_id if gc.decoder_start_token_id is not None else gc.bos_token_id
    if start_id is None:
        raise ValueError(
            "generate: decoder_start_token_id or bos_token_id must be set (config.json or "
            "generation_config.json, or pass decoder_start_token_id=...)"
        )
    if vocab_size is not None:
        for name, ids in (
            ("eos_token_id", eos_ids),
            ("decoder_start_token_id", [start_id]),
            ("pad_token_id", [pad_id] if pad_id is not None else []),
            ("forced_bos_token_id", [gc.forced_bos_token_id] if gc.forced_bos_token_id is not None else []),
            ("forced_eos_token_id", _eos_list(gc.forced_eos_token_id)),
            ("bad_words_ids", [t for s in (gc.bad_words_ids or []) for t in s]),
        ):
            bad = [i for i in ids if i >= vocab_size]
            if bad:
                raise ValueError(f"generate: {name} contains {bad}, outside the vocabulary (vocab_size={vocab_size})")

    if attention_mask is None:
        # HF: infer the mask from padding when the pad token occurs and is not also an eos token
        if pad_id is not None and np.any(input_ids == pad_id) and pad_id not in eos_ids:
            attention_mask = (input_ids != pad_id).astype(np.int64)
        else:
            attention_mask = np.ones_like(input_ids)
    else:
        attention_mask = inputs.mask("attention_mask", attention_mask, input_ids.shape)
    if global_attention is not None:
        if global_attention != "first":
            raise ValueError(f"generate: global_attention must be None or 'first', got {global_attention!r}")
        if global_attention_mask is not None:
            raise ValueError("generate: give either global_attention_mask or global_attention='first', not both")
        global_attention_mask = first_token_global_attention_mask(input_ids)
    if global_attention_mask is not None:
        global_attention_mask = inputs.mask(
            "global_attention_mask", global_attention_mask, input_ids.shape, inputs.GLOBAL_ATTENTION_MASK_VALUES
        )

    prompt_len = 1
    if gc.max_new_tokens is not None:
        gc.max_length = gc.max_new_tokens + prompt_len
    if gc.min_new_tokens is not None:
        gc.min_length = gc.min_new_tokens + prompt_len  # HF: min_new_tokens takes precedence over min_length
    if prompt_len >= gc.max_length:
        raise ValueError(
            f"generate: max_length={gc.max_length} leaves no room to generate: the decoder starts with "
            f"{prompt_len} token (decoder_start_token_id) which counts toward max_length; use "
            "max_length >= 2 or max_new_tokens >= 1"
        )
    check_decoder_length(gc, steps.config)
    if gc.num_beams > 1 and streamer is not None:
        raise ValueError(
            "generate: streamer works with num_beams=1 only (beam hypotheses change until the end); "
            "use step_callback for progress"
        )
    rng = None
    if not gc.do_sample and (seed is not None or generator is not None):
        raise ValueError("generate: seed/generator only apply to sampling; pass do_sample=True or drop them")
    if gc.do_sample:
        if generator is not None and seed is not None:
            raise ValueError("generate: give seed or generator, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"generate: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        rng = generator if generator is not None else np.random.default_rng(seed)

    expand = gc.num_beams if gc.num_beams > 1 else gc.num_return_sequences
    d_model, vocab = getattr(steps.config, "d_model", 0), vocab_size or 0
    # every row is expanded num_beams / num_return_sequences times: encoder states and per-step logits
    check_allocation(
        8 * batch * expand * (src_len * d_model + 2 * vocab),
        f"generate with batch {batch} x {expand} (num_beams / num_return_sequences)",
    )
    hidden, enc_mask = steps.encode(input_ids, attention_mask, global_attention_mask)
    stepper = _Stepper(steps, np.asarray(hidden), np.asarray(enc_mask), expand, gc.use_cache)
    dec = np.full((batch * expand, prompt_len), start_id, dtype=np.int64)

    if gc.num_beams == 1:
        if streamer is not None and hasattr(streamer, "put"):
            streamer.put(dec[:, :1].copy())
        seqs, scores, raw, seq_scores, beam_idx = _greedy_or_sample(
            stepper, dec, gc, eos_ids, pad_id, rng, streamer, step_callback
        )
        if streamer is not None and hasattr(streamer, "end"):
            streamer.end()
    else:
        seqs, scores, raw, seq_scores, beam_idx = _beam_search(
            stepper, dec, gc, eos_ids, pad_id, rng, batch, step_callback
        )

    if not gc.return_dict_in_generate:
        return seqs
    scores_t = tuple(scores) if gc.output_scores else None
    logits_t = tuple(raw) if gc.output_logits else None
    if gc.num_beams == 1:
        return GenerateEncoderDecoderOutput(
            sequences=seqs, scores=scores_t, logits=logits_t, past_key_values=stepper.past
        )
    return GenerateBeamEncoderDecoderOutput(
        sequences=seqs,
        sequences_scores=seq_scores,
        scores=scores_t,
        logits=logits_t,
        beam_indices=beam_idx,
        past_key_values=stepper.past,
    )


def stream(model, input_ids, attention_mask=None, global_attention_mask=None, **kwargs):
    """Iterator over the (B,) int64 tokens of each step of greedy/sampling generation (``num_beams=1``).

    Runs ``generate`` in a background thread; the iterator ends when generation ends and re-raises its errors.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue()  # unbounded: a consumer that stops early must not block the worker
    end = object()
    errors = []

    def work():
        try:
            generate(
                model,
                input_ids,
                attention_mask,
                global_attention_mask,
                streamer=lambda toks: q.put(np.array(toks)),
                **kwargs,
            )
        except BaseException as exc:  # re-raised in the consumer
            errors.append(exc)
        finally:
            q.put(end)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    while True:
        item = q.get()
        if item is end:
            break
        yield item
    t.join()
    if errors:
        raise errors[0]
