"""Byte-level BPE core shared by LEDTokenizer and LEDTokenizerFast (GPT-2 / BART / LED).

Pure functions in the style of openai/gpt-2 ``encoder.py`` (bytes_to_unicode, get_pairs, bpe) plus
``ByteLevelBPE``, which holds the vocabulary and merge ranks and caches the BPE of every distinct
pre-tokenized word, so that encoding text is one regex pass plus dictionary look-ups.
Normative description: spec/SPEC.md#tokenizer
"""

import heapq
import os
from itertools import accumulate, chain
from operator import itemgetter

import numpy as np
import regex

from .errors import read_json, read_text, shown

# GPT-2's pre-tokenization pattern, exactly as HF's BartTokenizer / LEDTokenizer compile it. The
# alternatives cover every character, so the matches of a string tile it without gaps.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PAT = regex.compile(GPT2_PATTERN)
_SURROGATES = regex.compile(r"[\ud800-\udfff]")
SPACE_CHAR = "\u0120"  # 'Ġ': the byte-level character of b" "

# A cache of distinct words; cleared (not evicted one by one) when it grows past this size.
_CACHE_LIMIT = 1 << 18
# Words longer than this (in bytes) use the O(n log n) bpe_long; shorter ones the simpler, faster-when-short bpe.
_LONG_WORD = 64


def bytes_to_unicode():
    """Map each byte 0..255 to a printable unicode character (spec/SPEC.md#tokenizer-byte-level).

    Printable latin-1 bytes map to themselves; the other 68 bytes map to chr(256 + n) in order,
    so no byte becomes whitespace or a control character.
    """
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {c: b for b, c in BYTE_ENCODER.items()}
# str.translate table: latin-1 char (one per byte) -> byte-level char, so the mapping runs in C.
_TO_BYTE_LEVEL = dict(BYTE_ENCODER)
_FIRST = itemgetter(0)


def get_pairs(word):
    """Set of adjacent symbol pairs of ``word`` (a tuple of symbols)."""
    return set(zip(word, word[1:]))


def bpe(token, bpe_ranks):
    """Apply merges to one byte-level word: repeatedly merge the adjacent pair of lowest rank.

    Returns the tuple of symbols; identical to HF's BartTokenizer.bpe (spec/SPEC.md#tokenizer-bpe).
    """
    word = tuple(token)
    if len(word) < 2:
        return word
    pairs = get_pairs(word)
    while True:
        bigram = min(pairs, key=lambda pair: bpe_ranks.get(pair, float("inf")))
        if bigram not in bpe_ranks:
            break
        first, second = bigram
        new_word: list[str] = []
        i = 0
        while i < len(word):
            try:
                j = word.index(first, i)
            except ValueError:
                new_word.extend(word[i:])
                break
            new_word.extend(word[i:j])
            i = j
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new_word.append(first + second)
                i += 2
            else:
                new_word.append(word[i])
                i += 1
        word = tuple(new_word)
        if len(word) == 1:
            break
        pairs = get_pairs(word)
    return word


def bpe_long(token, bpe_ranks):
    """``bpe`` in O(n log n) for long words (``bpe`` is quadratic: a 100 kB word without spaces would hang it).

    Same result as ``bpe``: merges are applied in rounds of one rank at a time (the lowest rank present),
    each round left to right over the occurrences that existed when it started, exactly like ``bpe``'s pass.
    A merge cannot create another occurrence of the pair being merged (its result is longer than both
    halves), so a round never needs a second pass.
    """
    sym = list(token)
    n = len(sym)
    if n < 2:
        return tuple(sym)
    nxt = list(range(1, n)) + [-1]
    prv = list(range(-1, n - 1))
    heap = []
    for i in range(n - 1):
        r = bpe_ranks.get((sym[i], sym[i + 1]))
        if r is not None:
            heap.append((r, i, sym[i], sym[i + 1]))
    heapq.heapify(heap)
    while heap:
        rank = heap[0][0]
        batch = []
        while heap and heap[0][0] == rank:
            batch.append(heapq.heappop(heap))
        batch.sort(key=lambda e: e[1])
        for _, i, left, right in batch:
            j = nxt[i]
            if sym[i] != left or j < 0 or sym[j] != right:
                continue  # stale: position i or its neighbour changed since this entry was pushed
            sym[i] = left + right
            sym[j] = None
            nxt[i] = nxt[j]
            if nxt[j] >= 0:
                prv[nxt[j]] = i
            for a, b in ((prv[i], i), (i, nxt[i])):
                if a >= 0 and b >= 0:
                    r = bpe_ranks.get((sym[a], sym[b]))
                    if r is not None:
                        heapq.heappush(heap, (r, a, sym[a], sym[b]))
    return tuple(s for s in sym if s is not None)


def to_byte_level(text):
    """UTF-8 bytes of ``text`` as byte-level characters. Lone surrogates (which have no UTF-8
    form) are encoded as U+FFFD, the way errors="replace" decoding would show them."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raw = _SURROGATES.sub("\ufffd", text).encode("utf-8")
    return raw.decode("latin-1").translate(_TO_BYTE_LEVEL)


def load_vocab(vocab_file):
    """Read vocab.json (token -> id) with clear errors for a missing or malformed file."""
    vocab_file = os.fspath(vocab_file)
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(f"vocab_file not found: {vocab_file!r} (expected a vocab.json mapping token -> id)")
    vocab = read_json(vocab_file, "vocab.json (token -> id)", expect=None)
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError(f"vocab_file {vocab_file!r} must hold a non-empty JSON object mapping token -> id")
    for tok, idx in vocab.items():
        if type(idx) is not int or not 0 <= idx < 2**31:
            raise ValueError(
                f"vocab_file {vocab_file!r}: id of token {shown(tok)} must be an integer in [0, 2**31), "
                f"got {shown(idx)}"
            )
        if not tok:
            raise ValueError(f"vocab_file {vocab_file!r}: the empty string is not a token (id {idx})")
    if len(set(vocab.values())) != len(vocab):
        raise ValueError(f"vocab_file {vocab_file!r}: ids are not unique")
    return vocab


def load_merges(merges_file, vocab=None):
    """Read merges.txt -> list of (left, right) pairs in rank order.

    A first line starting with "#version" is a header; blank lines are skipped. Every other line must
    hold exactly two symbols; when ``vocab`` is given, both symbols and their concatenation must be
    vocabulary tokens (the rule HF's Rust BPE enforces).
    """
    merges_file = os.fspath(merges_file)
    if not os.path.isfile(merges_file):
        raise FileNotFoundError(f"merges_file not found: {merges_file!r} (expected a merges.txt of BPE merges)")
    lines = read_text(merges_file, "merges.txt (BPE merges)").split("\n")
    merges = []
    for lineno, line in enumerate(lines, 1):
        if lineno == 1 and line.startswith("#version"):
            continue
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(
                f"merges_file {merges_file!r} line {lineno}: expected two space-separated symbols, got {shown(line)}"
            )
        if vocab is not None:
            for sym in (parts[0], parts[1], parts[0] + parts[1]):
                if sym not in vocab:
                    raise ValueError(
                        f"merges_file {merges_file!r} line {lineno}: symbol {shown(sym)} is not in the vocabulary"
                    )
        merges.append((parts[0], parts[1]))
    return merges


def _cached_per_word(cache, words, compute):
    """``[compute(w) for w in words]`` through ``cache``, computing each new word once; the cache
    is emptied when it would grow past _CACHE_LIMIT, so memory stays bounded on any input."""
    missing = set(words).difference(cache)
    if missing:
        if len(cache) + len(missing) > _CACHE_LIMIT:
            cache.clear()
            missing = set(words)
        for w in missing:
            cache[w] = compute(w)
    return list(map(cache.__getitem__, words))


class ByteLevelBPE:
    """Vocabulary + merge ranks + per-word caches: the hot path of both tokenizer classes."""

    def __init__(self, vocab, merges, unk_token="<unk>"):
        self.encoder = vocab
        self.decoder = {v: k for k, v in vocab.items()}
        self.merges = list(merges)
        self.bpe_ranks = dict(zip(self.merges, range(len(self.merges))))
        self.unk_token = unk_token
        self._ids = {}  # word -> tuple of ids
        self._spans = {}  # word -> (ids, token strings, rel char starts, rel char ends)

    def bpe_tokens(self, word):
        """Byte-level BPE token strings of one pre-tokenized word."""
        token = to_byte_level(word)
        return (bpe if len(token) <= _LONG_WORD else bpe_long)(token, self.bpe_ranks)

    def _word_ids(self, word):
        unk = self.encoder.get(self.unk_token)
        get = self.encoder.get
        return tuple(get(t, unk) for t in self.bpe_tokens(word))

    def words(self, text):
        """GPT-2 pre-tokenization of ``text``."""
        return PAT.findall(text)

    def tokenize(self, text):
        """Token strings of ``text`` (no special-token handling)."""
        return list(chain.from_iterable(map(self.bpe_tokens, PAT.findall(text))))

    def encode(self, text):
        """Token ids of ``text`` (no special-token handling): a regex pass and cached dict look-ups."""
        words = PAT.findall(text)
        entries = _cached_per_word(self._ids, words, self._word_ids)
        return list(chain.from_iterable(entries))

    def _word_spans(self, word):
        toks = self.bpe_tokens(word)
        unk = self.encoder.get(self.unk_token)
        ids = tuple(self.encoder.get(t, unk) for t in toks)
        # byte index -> index of the character that byte belongs to
        byte_char = []
        for ci, ch in enumerate(word):
            # a lone surrogate is encoded as U+FFFD: 3 bytes
            n = 3 if "\ud800" <= ch <= "\udfff" else len(ch.encode("utf-8"))
            byte_char.extend([ci] * n)
        starts, ends = [], []
        b = 0
        for t in toks:
            starts.append(byte_char[b])
            b += len(t)
            ends.append(byte_char[b - 1] + 1)
        lead = tuple(len(t) - len(t.lstrip(SPACE_CHAR)) for t in toks)
        trail = tuple(len(t) - len(t.rstrip(SPACE_CHAR)) for t in toks)
        return ids, tuple(starts), tuple(ends), lead, trail

    def encode_with_spans(self, text):
        """Ids plus, per token, character start/end in ``text`` and its count of leading/trailing
        'Ġ' characters (for offset trimming): a list and four int64 arrays."""
        words = PAT.findall(text)
        entries = _cached_per_word(self._spans, words, self._word_spans)
        ids = list(chain.from_iterable(map(_FIRST, entries)))
        n = len(ids)
        counts = np.fromiter(map(len, map(_FIRST, entries)), dtype=np.int64, count=len(entries))
        word_starts = np.fromiter(accumulate(map(len, words), initial=0), dtype=np.int64, count=len(words) + 1)
        base = np.repeat(word_starts[:-1], counts)

        def column(k):
            return np.fromiter(chain.from_iterable(map(itemgetter(k), entries)), dtype=np.int64, count=n)

        return ids, base + column(1), base + column(2), column(3), column(4)
