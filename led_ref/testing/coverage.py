"""What a run of the conformance kit drew: the regions of the input space its cases reached.

A pass says only as much as the cases behind it, so ``led-ref verify`` reports, per property, what its cases
held: the longest encoder and decoder inputs and cached prefixes, how rows were padded (right, left, both sides,
holes; batches mixing sides), how many global tokens rows had, and masks that disagree with the pad ids (real
tokens masked, pad ids attended). Everything is read back from the case arrays, not from the strategies'
choices, so the summary holds for any case source (drawn, replayed, hand-written).
"""

import numpy as np

from .strategies import PADDING_SIDES

__all__ = ["Coverage", "case_facts", "padding_side", "DECODER_MARKS"]

# Decoder lengths the summary counts cases beyond.
DECODER_MARKS = (8, 16)

_GLOBAL_KINDS = ("0", "1", "many", "all", "non_prefix")


def padding_side(mask_row):
    """Where one row's padding sits: "none", "right", "left", "both" (around one block of attended tokens) or
    "inner" (holes between attended tokens)."""
    real = np.flatnonzero(np.asarray(mask_row) == 1)
    seq = len(mask_row)
    if len(real) == seq:
        return "none"
    if len(real) == 0:
        return "empty"
    first, last = int(real[0]), int(real[-1])
    if last - first + 1 != len(real):
        return "inner"
    if first == 0:
        return "right"
    if last == seq - 1:
        return "left"
    return "both"


def _decoder_lengths(case):
    """(decoder length, cached prefix length or None) of a case: the positions the decoder runs over."""
    a = case.arrays
    if case.prop == "cache":
        past = int(a["decoder_prefix_ids"].shape[1])
        return past + int(a["decoder_input_ids"].shape[1]), past
    if case.prop == "loss":
        return int(a["labels"].shape[1]), None
    if case.prop == "generate":
        return 1 + int(case.max_new_tokens), None
    return int(a["decoder_input_ids"].shape[1]), None


def case_facts(case, pad_token_id=None):
    """The regions one case reaches, as a dict (see ``Coverage.summary`` for the fields)."""
    a = case.arrays
    ids, mask = np.asarray(a["input_ids"]), np.asarray(a["attention_mask"])
    glob = np.asarray(a["global_attention_mask"])
    pad = int(case.config.pad_token_id if pad_token_id is None else pad_token_id)
    sides = [padding_side(row) for row in mask]
    globals_ = []
    for m, g in zip(mask, glob):
        real = np.flatnonzero(m == 1)
        flags = g[real] == 1
        n = int(flags.sum())
        kind = "0" if n == 0 else "all" if n == len(real) and n > 1 else "1" if n == 1 else "many"
        globals_.append(kind)
        if n and not flags[:n].all():
            globals_.append("non_prefix")
    dec, past = _decoder_lengths(case)
    return {
        "encoder_length": int(ids.shape[1]),
        "decoder_length": dec,
        "cache_prefix": past,
        "sides": sides,
        "mixed_sides": len({s for s in sides if s != "none"}) > 1,
        "globals": globals_,
        "real_tokens_masked": bool(np.any((mask == 0) & (ids != pad))),
        "pad_ids_attended": bool(np.any((mask == 1) & (ids == pad))),
    }


class Coverage:
    """Accumulates ``case_facts`` over the cases of one property."""

    def __init__(self):
        self.cases = 0
        self.max_encoder = 0
        self.max_decoder = 0
        self.max_prefix = None
        self.decoder_over = dict.fromkeys(DECODER_MARKS, 0)
        self.prefix_over = dict.fromkeys(DECODER_MARKS, 0)
        self.rows = dict.fromkeys(("none", *PADDING_SIDES), 0)
        self.cases_with_side = dict.fromkeys(PADDING_SIDES, 0)
        self.mixed = 0
        self.globals = dict.fromkeys(_GLOBAL_KINDS, 0)
        self.masked_real = 0
        self.attended_pad = 0

    def add(self, case):
        f = case_facts(case)
        self.cases += 1
        self.max_encoder = max(self.max_encoder, f["encoder_length"])
        self.max_decoder = max(self.max_decoder, f["decoder_length"])
        for mark in DECODER_MARKS:
            self.decoder_over[mark] += f["decoder_length"] > mark
        if f["cache_prefix"] is not None:
            self.max_prefix = max(self.max_prefix or 0, f["cache_prefix"])
            for mark in DECODER_MARKS:
                self.prefix_over[mark] += f["cache_prefix"] > mark
        for side in f["sides"]:
            if side in self.rows:
                self.rows[side] += 1
        for side in set(f["sides"]) & set(PADDING_SIDES):
            self.cases_with_side[side] += 1
        self.mixed += f["mixed_sides"]
        for kind in f["globals"]:
            self.globals[kind] += 1
        self.masked_real += f["real_tokens_masked"]
        self.attended_pad += f["pad_ids_attended"]

    def summary(self):
        """JSON-ready dict: counts of *cases* unless the key says rows."""
        out = {
            "cases": self.cases,
            "max_encoder_length": self.max_encoder,
            "max_decoder_length": self.max_decoder,
            **{f"decoder_length_over_{m}": n for m, n in self.decoder_over.items()},
            "max_cache_prefix": self.max_prefix,
        }
        if self.max_prefix is not None:
            out.update({f"cache_prefix_over_{m}": n for m, n in self.prefix_over.items()})
        out.update(
            {
                "padded_rows_by_side": dict(self.rows),
                "cases_with_side": dict(self.cases_with_side),
                "mixed_side_batches": self.mixed,
                "global_tokens_rows": dict(self.globals),
                "real_tokens_masked": self.masked_real,
                "pad_ids_attended": self.attended_pad,
            }
        )
        return out

    # column header and one row of the short table printed under verify's results
    HEADER = (
        f"{'coverage':<12}{'max S':>7}{'max T':>7}{'max P':>7}{'T>8':>6}{'T>16':>6}{'left':>6}{'mixed':>7}"
        f"{'masked real':>13}{'pad attended':>14}  global rows 0/1/many/all"
    )

    def short(self, name):
        g = self.globals
        prefix = "-" if self.max_prefix is None else str(self.max_prefix)
        left = self.cases_with_side["left"]
        return (
            f"{name:<12}{self.max_encoder:>7}{self.max_decoder:>7}{prefix:>7}{self.decoder_over[8]:>6}"
            f"{self.decoder_over[16]:>6}{left:>6}{self.mixed:>7}{self.masked_real:>13}{self.attended_pad:>14}"
            f"  {g['0']}/{g['1']}/{g['many']}/{g['all']}"
        )
