"""Summarizing documents in length-sorted, token-budget batches; shared by the local engine and the Ray actors.

A batch is right-padded (the tokenizer's padding side for LED) to its longest document, with an attention mask,
and run through ``led_ref.generation.generate`` with global attention on each row's first token, like
``led-ref generate``. Each document's summary equals what ``generate`` gives for it alone: padded positions are
masked everywhere, and the rows of a batch do not interact in decoding (tests/app/test_summarize.py checks it).
Sampling draws from one RNG over the batch, so with ``do_sample`` each document runs alone with ``seed``.
"""

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...generation import generate
from ..genflags import load_backend, resolved_generation_config

__all__ = [
    "Prepared",
    "JobSpec",
    "Summarizer",
    "prepare",
    "make_batches",
    "checked_generation_config",
    "DEFAULT_BATCH_TOKENS",
]

DEFAULT_BATCH_TOKENS = 16384
# at most this fraction of a batch's (documents x longest) tokens may be padding: on CPU, padded positions cost
# encoder time like real ones, and batching gains less than that (see the corpus benchmark)
MAX_PADDING = 0.25


@dataclass
class Prepared:
    """A document ready for the model: its position in the input, token ids (truncated), the original length."""

    index: int
    ids: list[int]
    truncated: bool


@dataclass
class JobSpec:
    """Everything a worker needs to build its Summarizer (picklable: it is shipped to Ray actors)."""

    model_dir: str
    backend: str = "numpy"
    dtype: str = "float32"
    precision: str = "float32"  # --precision: bf16 runs the ONNX export on OpenVINO
    gen_kwargs: Optional[dict] = None
    global_attention: bool = True
    seed: Optional[int] = None


def prepare(tokenizer, text, limit, truncate=True):
    """(token ids, truncated) for one text, tokenized exactly as ``led-ref generate`` does; raises ValueError
    when the text is longer than ``limit`` tokens and truncation is off."""
    ids = tokenizer(text)["input_ids"]
    if limit is not None and len(ids) > limit:
        if not truncate:
            raise ValueError(f"too long: {len(ids)} tokens > --max-input-tokens {limit} (truncation is off)")
        return tokenizer(text, truncation=True, max_length=limit)["input_ids"], True
    return ids, False


def make_batches(prepared: list[Prepared], batch_tokens: int, one_at_a_time=False) -> list[list[Prepared]]:
    """Longest first, greedily packed while (documents x longest length) stays within ``batch_tokens`` and padding
    stays within MAX_PADDING of the batch's tokens; a document longer than the budget gets a batch of its own.
    Longest first: the peak memory comes first, and the ETA only gets better."""
    order = sorted(prepared, key=lambda p: (-len(p.ids), p.index))
    batches, cur, real = [], [], 0
    for p in order:
        if cur:
            padded = (len(cur) + 1) * len(cur[0].ids)
            if one_at_a_time or padded > batch_tokens or padded - (real + len(p.ids)) > MAX_PADDING * padded:
                batches.append(cur)
                cur, real = [], 0
        cur.append(p)
        real += len(p.ids)
    if cur:
        batches.append(cur)
    return batches


def _generated_length(row, eos_ids):
    """Tokens generated for one row: after the decoder start token, up to and including the first eos (a batch
    pads finished rows after their eos; alone, the same row would have stopped there)."""
    body = row[1:]
    for i, t in enumerate(body):
        if int(t) in eos_ids:
            return i + 1
    return len(body)


def checked_generation_config(spec: JobSpec):
    """The job's generation config (checkpoint defaults + flags), validated before any work."""
    gc = resolved_generation_config(spec.model_dir, dict(spec.gen_kwargs or {}))
    if gc.num_return_sequences != 1:
        raise ValueError(
            "summarize writes one summary per document: --num-return-sequences must be 1, got "
            f"{gc.num_return_sequences}"
        )
    if spec.seed is not None and not gc.do_sample:
        raise ValueError("--seed only applies to sampling; add --do-sample or drop --seed")
    return gc


class Summarizer:
    """Loads the tokenizer and model once, then summarizes batches of token ids."""

    def __init__(self, spec: JobSpec, tokenizer=None, model=None, threads=None):
        from ...tokenizer import LEDTokenizerFast

        self.spec = spec
        self.gc = checked_generation_config(spec)
        self.tokenizer = tokenizer or LEDTokenizerFast.from_pretrained(spec.model_dir)
        self.model = model or load_backend(
            spec.model_dir, spec.backend, spec.dtype, threads=threads, precision=spec.precision
        )
        eos = self.gc.eos_token_id
        self.eos_ids = set(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None)
        self.pad_id = int(self.tokenizer.pad_token_id)

    @property
    def one_at_a_time(self):
        return bool(self.gc.do_sample)

    def run_batch(self, batch: list[Prepared]):
        """-> list of (index, {"summary", "input_tokens", "truncated", "generated_tokens", "seconds"}). Raises if
        the batch as a whole fails (the caller then tries its documents one by one)."""
        t0 = time.perf_counter()
        longest = max(len(p.ids) for p in batch)
        ids = np.full((len(batch), longest), self.pad_id, dtype=np.int64)  # (B, S) right-padded
        mask = np.zeros((len(batch), longest), dtype=np.int64)
        for r, p in enumerate(batch):
            ids[r, : len(p.ids)] = p.ids
            mask[r, : len(p.ids)] = 1
        out = generate(
            self.model,
            ids,
            mask,
            None,
            generation_config=self.gc,
            global_attention="first" if self.spec.global_attention else None,
            seed=self.spec.seed,
        )
        seconds = (time.perf_counter() - t0) / len(batch)  # each document's share of the batch's time
        results = []
        for p, row in zip(batch, out):
            n = _generated_length(row, self.eos_ids)
            results.append(
                (
                    p.index,
                    {
                        "summary": self.tokenizer.decode(row[: n + 1].tolist(), skip_special_tokens=True).strip(),
                        "input_tokens": len(p.ids),
                        "truncated": p.truncated,
                        "generated_tokens": n,
                        "seconds": round(seconds, 4),
                    },
                )
            )
        return results

    def run_batch_safe(self, batch: list[Prepared]):
        """Like run_batch, but a failing batch is retried one document at a time; a document that fails alone gets
        (index, {"error": ...})."""
        try:
            return self.run_batch(batch)
        except (ValueError, TypeError, MemoryError, FloatingPointError, RuntimeError) as exc:
            if len(batch) == 1:
                return [(batch[0].index, {"error": f"generation failed: {type(exc).__name__}: {exc}"})]
        results = []
        for p in batch:
            results.extend(self.run_batch_safe([p]))
        return results
