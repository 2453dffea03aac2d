"""LED tokenizers: HF's ``LEDTokenizer`` (slow, Python) and ``LEDTokenizerFast`` (Rust) semantics in Python
(+ NumPy for offsets and ``return_tensors="np"``) over the shared byte-level BPE core in ``led_ref/bpe.py``.

``LEDTokenizer`` follows transformers 4.46.3 ``LEDTokenizer``; ``LEDTokenizerFast`` follows
``LEDTokenizerFast`` (tokenizers' ByteLevel + RobertaProcessing) where the two differ: offsets, overflow
windows, prefix space, whitespace stripped by ``<mask>``, truncation errors. Both produce HF's exact ids.
Normative description: spec/SPEC.md#tokenizer
"""

import copy
import functools
import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import regex

from .bpe import ByteLevelBPE, check_merge, check_vocab, load_merges, load_vocab, token_bytes, tokens_to_text
from .errors import InputFileError, read_json, shown
from .hub import resolve_pretrained_dir
from .inputs import pad_global_attention_mask

logger = logging.getLogger(__name__)

ERROR_HANDLERS = ("strict", "replace", "ignore", "backslashreplace", "surrogateescape")  # accepted ``errors``
VERY_LARGE_INTEGER = int(1e30)  # HF's "no model max length"
LARGE_INTEGER = int(1e20)  # HF: a model_max_length above this means "none" when padding/truncating
VOCAB_FILES_NAMES = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
SPECIAL_TOKENS_ATTRIBUTES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]
_PADDING = {"longest", "max_length", "do_not_pad"}
_TRUNCATION = {"longest_first", "only_first", "only_second", "do_not_truncate"}
# Rust's char::is_whitespace (Unicode White_Space); Python's str.isspace also counts U+001C..U+001F.
_RUST_TRAILING_WS = regex.compile(r"\p{White_Space}+\Z")
_RUST_LEADING_WS = regex.compile(r"\A\p{White_Space}+")


@dataclass
class AddedToken:
    """A token matched verbatim in raw text before BPE: HF's (tokenizers') AddedToken fields and defaults."""

    content: str
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool = True
    special: bool = False

    def __str__(self):
        return self.content

    def __getstate__(self):
        """HF's serialized form (tokenizer_config.json's added_tokens_decoder entries)."""
        return asdict(self)


def _as_added_token(value):
    """A copy of ``value`` as led_ref's AddedToken: led_ref's own, or any object with HF's AddedToken fields
    (``transformers.AddedToken`` / ``tokenizers.AddedToken``, accepted like HF accepts its own)."""
    fields = {f: getattr(value, f, default) for f, default in _ADDED_TOKEN_DEFAULTS.items()}
    return AddedToken(value.content, **fields)


_ADDED_TOKEN_DEFAULTS = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": False}


def _is_added_token(value):
    return isinstance(value, AddedToken) or (
        not isinstance(value, str) and isinstance(getattr(value, "content", None), str)
    )


def _tensor_type(value):
    """None, "np" or "pt" from a ``return_tensors`` value (a str or HF's TensorType enum); ValueError otherwise."""
    name = getattr(value, "value", value)  # TensorType.PYTORCH -> "pt"
    if value is None or name in ("np", "pt"):
        return name
    raise ValueError(f"return_tensors must be None, 'np' (NumPy arrays) or 'pt' (torch tensors), got {value!r}")


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "return_tensors='pt' needs torch, which is not installed (pip install torch); "
            "return_tensors='np' gives NumPy arrays"
        ) from None
    return torch


class CharSpan(NamedTuple):
    """A character span of the original text: ``text[start:end]`` (HF's CharSpan)."""

    start: int
    end: int


class TokenSpan(NamedTuple):
    """A span of tokens of an encoded row: ``tokens[start:end]`` (HF's TokenSpan)."""

    start: int
    end: int


class _Alignment:
    """Which sequence, word and characters each token of a fast tokenizer's rows comes from (HF: the Rust
    ``tokenizers.Encoding`` of each row). Rows are kept as layouts, ``[("special" | "pad", n, id) | ("seq", index,
    (input, split_special_tokens), positions)]``; tokens, word indices and offsets are computed only when asked
    for (offsets and tokens once per row)."""

    def __init__(self, tokenizer, rows):
        self.tokenizer = tokenizer
        self.rows = rows
        self.version = tokenizer._added_version  # word ids depend on the added tokens of encoding time
        self._cache: dict = {}

    def _parts(self, batch_index, method, tokenized=True):
        """Row ``batch_index``'s layout; a list index, as HF indexes its list of encodings (negative counts from
        the end, past the end is an IndexError). ``tokenized``: the caller re-tokenizes the row's text, which needs
        the added tokens of encoding time."""
        if tokenized and self.tokenizer._added_version != self.version:
            raise ValueError(f"{method}(): the tokenizer's added tokens changed since this encoding; encode again")
        return self.rows[batch_index]

    def _ids(self, batch_index, method, of_part, tokenized=True):
        out = []
        for part in self._parts(batch_index, method, tokenized):
            if part[0] == "seq":
                out.extend(of_part(part))
            else:
                out.extend([None] * part[1])
        return out

    def sequence_ids(self, batch_index):
        return self._ids(batch_index, "sequence_ids", lambda part: [part[1]] * len(part[3]), tokenized=False)

    def word_ids(self, batch_index):
        return self._ids(batch_index, "word_ids", lambda part: self.tokenizer._word_ids(part[2])[part[3]].tolist())

    def _cached(self, what, batch_index, method, compute):
        parts = self._parts(batch_index, method)
        key = (what, id(parts))
        if key not in self._cache:
            self._cache[key] = compute(parts)
        return self._cache[key]

    def tokens(self, batch_index):
        """The token strings of a row (HF: ``Encoding.tokens``; an added token's includes the whitespace it
        stripped)."""
        tok = self.tokenizer

        def compute(parts):
            out = []
            for part in parts:
                if part[0] != "seq":
                    out.extend([tok._id_to_token[part[2]]] * part[1])
                    continue
                text, split = part[2]
                if isinstance(text, str):
                    strings = tok._text_tokens(text, split)
                else:
                    strings = tok.convert_ids_to_tokens(tok._input_ids(text, "text"))
                out.extend(strings[i] for i in part[3])
            return out

        return self._cached("tokens", batch_index, "tokens", compute)

    def offsets(self, batch_index, method):
        """(start, end) in its sequence's text of each token of a row, as ``return_offsets_mapping`` gives them
        ((0, 0) for special and padding tokens)."""
        tok = self.tokenizer

        def compute(parts):
            out = []
            for part in parts:
                if part[0] != "seq":
                    out.extend([(0, 0)] * part[1])
                    continue
                text, split = part[2]
                # the piece exactly as _post trimmed it (trimming depends on the piece's first token)
                enc = tok._sequence(text, "text", True, split)
                pos = part[3]
                starts, ends = tok._trim([[enc[0][i] for i in pos]] + [col[pos] for col in enc[1:5]])
                out.extend(zip(starts, ends))
            return out

        return self._cached("offsets", batch_index, method, compute)

    def sequence_range(self, batch_index, sequence_index, method):
        """(start, stop) of a sequence's tokens in a row; the whole row for a sequence the row does not have
        (tokenizers' ``Encoding.sequence_range``)."""
        n, span = 0, None
        for part in self._parts(batch_index, method, tokenized=False):
            size = len(part[3]) if part[0] == "seq" else part[1]
            if part[0] == "seq" and part[1] == sequence_index:
                span = (n, n + size)
            n += size
        return span if span is not None else (0, n)


class BatchEncoding(dict):
    """The dict HF returns from ``__call__``/``pad``; keys are also attributes. A fast tokenizer's encodings also
    answer ``sequence_ids`` / ``word_ids`` (and the deprecated ``words``) per row, as HF's Rust-backed ones do."""

    def __init__(self, data=None, tensor_type=None, prepend_batch_axis=False, alignment=None):
        super().__init__(data or {})
        self._alignment = alignment  # None: from a slow tokenizer, which has no alignment (HF: no encodings)
        self.convert_to_tensors(tensor_type, prepend_batch_axis)

    def __getattr__(self, item):
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None

    @property
    def data(self):
        return dict(self)

    @property
    def is_fast(self):
        """Whether the encodings come from a fast tokenizer (and so have word and sequence ids)."""
        return self._alignment is not None

    def _aligned(self, method):
        if self._alignment is None:
            raise ValueError(
                f"{method}() is not available when using non-fast tokenizers (e.g. instance of a `XxxTokenizerFast` "
                "class)."
            )
        return self._alignment

    def sequence_ids(self, batch_index=0):
        """Per token of row ``batch_index``: the index of the sequence it belongs to (0, or 1 for a pair's second
        text); None for special and padding tokens."""
        return self._aligned("sequence_ids").sequence_ids(batch_index)

    def word_ids(self, batch_index=0):
        """Per token of row ``batch_index``: the index of the word (pre-tokenizer split or added token) it comes
        from, counted per sequence; None for special and padding tokens."""
        return self._aligned("word_ids").word_ids(batch_index)

    def words(self, batch_index=0):
        """Deprecated alias of ``word_ids`` (as in HF)."""
        warnings.warn(
            "`BatchEncoding.words()` property is deprecated and should be replaced with the identical, "
            "but more self-explanatory `BatchEncoding.word_ids()` property.",
            FutureWarning,
            stacklevel=2,
        )
        return self.word_ids(batch_index)

    # Alignment between characters, words and tokens, with HF's signatures and results (its Python wrappers over
    # the Rust Encoding). A call with one index means row 0. Indices follow HF 4.46's rules: the row index is a
    # list index (negative counts from the end) except in token_to_sequence / token_to_word / word_to_tokens,
    # which refuse any negative index with an AttributeError (HF: its missing `_batch_size` / `_seq_len`); other
    # negative token, word, character or sequence indices are an OverflowError (Rust's unsigned integers); a
    # token, word or character the row does not have gives None (word_to_chars: a TypeError, as in HF).
    def tokens(self, batch_index=0):
        """The token strings of row ``batch_index`` (special and padding tokens included)."""
        return self._aligned("tokens").tokens(batch_index)

    def _row(self, method, batch_index):
        """The alignment, once row ``batch_index`` is known to exist: HF indexes its list of encodings before the
        Rust side checks the other arguments."""
        alignment = self._aligned(method)
        alignment._parts(batch_index, method, tokenized=False)
        return alignment

    def token_to_sequence(self, batch_or_token_index, token_index=None):
        """The sequence (0, or 1 for a pair's second text) a token belongs to; None for special and padding
        tokens. ``token_to_sequence(token_index)`` or ``token_to_sequence(batch_index, token_index)``."""
        return self._token_lookup("token_to_sequence", "sequence_ids", batch_or_token_index, token_index)

    def token_to_word(self, batch_or_token_index, token_index=None):
        """The word (counted per sequence) a token comes from; None for special and padding tokens."""
        return self._token_lookup("token_to_word", "word_ids", batch_or_token_index, token_index)

    def _token_lookup(self, method, ids_of, batch_or_token_index, token_index):
        """Row b's ``ids_of`` (sequence_ids / word_ids) at token t; None past the row's end."""
        b, t = _row_and_index(batch_or_token_index, token_index)
        self._aligned(method)  # a slow tokenizer's encoding: HF's ValueError comes first
        b = _hf_index(method, "batch_index", b, AttributeError)
        t = _hf_index(method, "token_index", t, AttributeError)
        ids = getattr(self._row(method, b), ids_of)(b)
        return ids[t] if t < len(ids) else None

    def word_to_tokens(self, batch_or_word_index, word_index=None, sequence_index=0):
        """TokenSpan of the tokens of word ``word_index`` of sequence ``sequence_index``; None if the sequence has
        no such word."""
        b, w = _row_and_index(batch_or_word_index, word_index)
        self._aligned("word_to_tokens")  # a slow tokenizer's encoding: HF's ValueError comes first
        b = _hf_index("word_to_tokens", "batch_index", b, AttributeError)
        _hf_index("word_to_tokens", "word_index", w, AttributeError, bits=None)
        self._row("word_to_tokens", b)
        w = _hf_index("word_to_tokens", "word_index", w, bits=32)
        s = _hf_index("word_to_tokens", "sequence_index", sequence_index)
        return self._word_tokens("word_to_tokens", b, w, s)

    def _word_tokens(self, method, b, w, s):
        alignment = self._aligned(method)
        start, stop = alignment.sequence_range(b, s, method)
        first = last = None
        # tokenizers: scan while the word index is at most w (None, for special tokens, counts as smaller)
        for i, word in enumerate(alignment.word_ids(b)[start:stop]):
            if word is not None and word > w:
                break
            if word == w:
                first = i if first is None else first
                last = i
        return None if first is None else TokenSpan(start + first, start + last + 1)

    def token_to_chars(self, batch_or_token_index, token_index=None):
        """CharSpan of a token in its sequence's text; None for special and padding tokens."""
        b, t = _row_and_index(batch_or_token_index, token_index)
        alignment = self._row("token_to_chars", b)
        t = _hf_index("token_to_chars", "token_index", t)
        sequence_ids = alignment.sequence_ids(b)
        if t >= len(sequence_ids) or sequence_ids[t] is None:
            return None
        return CharSpan(*alignment.offsets(b, "token_to_chars")[t])

    def char_to_token(self, batch_or_char_index, char_index=None, sequence_index=0):
        """The token whose characters include ``char_index`` of sequence ``sequence_index``'s text; None if none
        does (a space between words, past the end)."""
        b, c = _row_and_index(batch_or_char_index, char_index)
        self._row("char_to_token", b)
        c = _hf_index("char_to_token", "char_index", c)
        s = _hf_index("char_to_token", "sequence_index", sequence_index)
        return self._char_token("char_to_token", b, c, s)

    def _char_token(self, method, b, c, s):
        alignment = self._aligned(method)
        start, stop = alignment.sequence_range(b, s, method)
        for i, (lo, hi) in enumerate(alignment.offsets(b, method)[start:stop]):
            if lo <= c < hi:
                return start + i
        return None

    def word_to_chars(self, batch_or_word_index, word_index=None, sequence_index=0):
        """CharSpan of word ``word_index`` of sequence ``sequence_index`` in that sequence's text (from its first
        token's start to its last token's end)."""
        b, w = _row_and_index(batch_or_word_index, word_index)
        alignment = self._row("word_to_chars", b)
        w = _hf_index("word_to_chars", "word_index", w, bits=32)
        s = _hf_index("word_to_chars", "sequence_index", sequence_index)
        span = self._word_tokens("word_to_chars", b, w, s)
        if span is None:
            raise TypeError(f"word_to_chars(): sequence {s} of row {b} has no word {w}")
        offsets = alignment.offsets(b, "word_to_chars")
        return CharSpan(offsets[span.start][0], offsets[span.end - 1][1])

    def char_to_word(self, batch_or_char_index, char_index=None, sequence_index=0):
        """The word whose characters include ``char_index`` of sequence ``sequence_index``'s text; None if none."""
        b, c = _row_and_index(batch_or_char_index, char_index)
        alignment = self._row("char_to_word", b)
        c = _hf_index("char_to_word", "char_index", c)
        s = _hf_index("char_to_word", "sequence_index", sequence_index)
        t = self._char_token("char_to_word", b, c, s)
        return None if t is None else alignment.word_ids(b)[t]

    def to(self, device):
        """Move torch tensors to ``device`` (HF's ``BatchEncoding.to``); other values stay as they are."""
        for key, value in self.items():
            if type(value).__module__.startswith("torch"):
                self[key] = value.to(device=device)
        return self

    def convert_to_tensors(self, tensor_type=None, prepend_batch_axis=False):
        tensor_type = _tensor_type(tensor_type)
        if tensor_type is None:
            return self
        torch = _torch() if tensor_type == "pt" else None
        for key, value in list(self.items()):
            if torch is not None and torch.is_tensor(value):
                continue
            if not isinstance(value, np.ndarray):
                if prepend_batch_axis:
                    value = [value]
                try:
                    value = np.asarray(value)
                    if value.dtype == object:
                        raise ValueError
                except ValueError:
                    raise ValueError(
                        f"Unable to create a tensor for {key!r}: sequences have different lengths; "
                        "use padding=True (and truncation=True) to return equal-length arrays"
                    ) from None
                if value.dtype.kind in "iub":
                    value = value.astype(np.int64)
            self[key] = value if torch is None else torch.from_numpy(value)
        return self


def _row_and_index(batch_or_index, index):
    """HF's two call forms: ``f(index)`` (row 0) or ``f(batch_index, index)``."""
    return (0, batch_or_index) if index is None else (batch_or_index, index)


def _hf_index(method, name, value, negative=OverflowError, bits=64):
    """An index argument of BatchEncoding's alignment methods as HF takes it: an int (TypeError otherwise), refused
    below 0 with ``negative`` (HF's kind for that method) and at or above 2**bits (OverflowError: Rust's u32 /
    usize; ``bits=None``: no upper limit checked yet)."""
    if not isinstance(value, (int, np.integer)):
        raise TypeError(f"{method}(): {name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise negative(f"{method}(): {name} must be >= 0 (negative indices are not supported), got {value}")
    if bits is not None and value >= 2**bits:
        raise OverflowError(f"{method}(): {name} must be below 2**{bits}, got {value}")
    return int(value)


def _special_value(value, name, error=TypeError):
    """A special-token attribute's value as HF stores it: None, a str, or an AddedToken (HF: the str or AddedToken
    the user gave). Anything else is ``error`` (HF: TypeError at construction, ValueError from a setter)."""
    if value is None or isinstance(value, str):
        return value
    if _is_added_token(value):
        return _as_added_token(value)
    if error is TypeError:
        raise TypeError(f"Special token {name} has to be either str or AddedToken but got: {type(value)}")
    raise error(f"Cannot set a non-string value as the {name}")


def _file_token_value(value, name):
    """A special token read from a tokenizer file: a str or a ``{"content": ..., flags}`` object."""
    if isinstance(value, dict) and "content" in value:
        if not isinstance(value["content"], str) or not value["content"]:
            raise TypeError(f"{name}: 'content' must be a non-empty str, got {value['content']!r}")
        fields = {}
        for flag, default in _ADDED_TOKEN_DEFAULTS.items():
            v = value.get(flag, default)
            if not isinstance(v, bool):
                raise TypeError(f"{name}: {flag!r} must be true or false, got {v!r}")
            fields[flag] = v
        return AddedToken(value["content"], **fields)
    if isinstance(value, str):
        return value
    raise TypeError(
        f"{name} must be a str or a {{'content': str, ...}} object, got {type(value).__name__} {shown(value)}"
    )


def _additional_tokens(value):
    """``additional_special_tokens`` as HF takes them: a list or tuple of str / AddedToken."""
    if not isinstance(value, (list, tuple)):
        raise TokenizerArgumentError(f"Value {value} is not a list or tuple")
    if not all(isinstance(t, str) or _is_added_token(t) for t in value):
        raise TokenizerArgumentError("One of the tokens is not a string or an AddedToken")
    return [t if isinstance(t, str) else _as_added_token(t) for t in value]


class TokenizerArgumentError(ValueError, AssertionError):
    """A bad argument HF refuses with an ``assert`` (so an AssertionError): both a ValueError, as every led_ref
    argument error is, and an AssertionError, as HF's is, so that code catching either keeps working."""


def _check_int(value, name, minimum=0, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _is_ids(t):
    return isinstance(t, (list, tuple)) and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in t)


# ---------------------------------------------------------------------------------------------------------------
# LED's special-token layout (BART / RoBERTa): the one home of these rules, used by led_ref's tokenizers and by the
# transformers subclasses in led_ref.export.hf_tokenizers.


def with_special_tokens(first_id, sep_id, token_ids_0, token_ids_1=None):
    """``<s> A </s>`` or ``<s> A </s></s> B </s>`` as ids. ``first_id`` is cls_token_id for the slow tokenizer and
    bos_token_id for the fast one (HF's two classes differ there; both are ``<s>`` unless a user changes one)."""
    if token_ids_1 is None:
        return [first_id] + list(token_ids_0) + [sep_id]
    return [first_id] + list(token_ids_0) + [sep_id, sep_id] + list(token_ids_1) + [sep_id]


def special_tokens_mask(token_ids_0, token_ids_1=None):
    """1 where ``with_special_tokens`` puts a special token, 0 over the sequences' own tokens."""
    if token_ids_1 is None:
        return [1] + [0] * len(token_ids_0) + [1]
    return [1] + [0] * len(token_ids_0) + [1, 1] + [0] * len(token_ids_1) + [1]


def token_type_ids(token_ids_0, token_ids_1=None):
    """LED does not use token types: all zeros over the sequence ``with_special_tokens`` builds."""
    n = len(token_ids_0) + 2 if token_ids_1 is None else len(token_ids_0) + len(token_ids_1) + 4
    return [0] * n


def with_prefix_space(text):
    """The slow tokenizer's ``add_prefix_space`` rule: a space before text that does not start with whitespace, so
    the first word is tokenized like any other word (``" Hello"`` -> ``ĠHello``)."""
    return " " + text if text and not text[0].isspace() else text


def write_vocab_files(save_directory, encoder, merges, filename_prefix=None, by_id=False):
    """Write vocab.json and merges.txt byte for byte as HF's slow LEDTokenizer.save_vocabulary does (``by_id``:
    vocab.json as tokenizers writes it, HF fast: in id order on one line); returns the two paths."""
    save_directory = os.fspath(save_directory)
    if not os.path.isdir(save_directory):
        raise FileNotFoundError(f"save_directory {save_directory!r} is not a directory")
    prefix = filename_prefix + "-" if filename_prefix else ""
    vocab_file = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["vocab_file"])
    merge_file = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["merges_file"])
    with open(vocab_file, "w", encoding="utf-8") as f:
        if by_id:
            f.write(
                json.dumps(
                    dict(sorted(encoder.items(), key=lambda kv: kv[1])), ensure_ascii=False, separators=(",", ":")
                )
            )
        else:
            f.write(json.dumps(encoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    with open(merge_file, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(a + " " + b + "\n")
    return vocab_file, merge_file


def _special_token_property(attr):
    def get(self):
        value = self._special[attr]
        return None if value is None else str(value)

    def set(self, value):
        self._special[attr] = _special_value(value, attr, error=ValueError)
        self._refresh_special()

    return property(get, set, doc=f"The {attr} string (None when unset). Setting it adds nothing to the vocabulary.")


def _special_id_property(attr):
    def get(self):
        value = self._special[attr]
        return None if value is None else self._token_id(str(value))

    def set(self, value):
        # HF: an id sets the token it stands for; None unsets the token
        self._special[attr] = None if value is None else self.convert_ids_to_tokens(value)
        self._refresh_special()

    return property(get, set, doc=f"The id of {attr} (None when unset); setting None unsets {attr}.")


class LEDTokenizer:
    """HF ``LEDTokenizer``: byte-level BPE with GPT-2 merges, BART/LED special tokens and LED's padding rule
    for ``global_attention_mask`` (padded with -1). spec/SPEC.md#tokenizer

    HF's constructor: besides LED's own arguments, every keyword HF's tokenizers take (``model_max_length``,
    ``padding_side``, ``truncation_side``, ``model_input_names``, ``additional_special_tokens``,
    ``split_special_tokens``, ``clean_up_tokenization_spaces``, ``added_tokens_decoder``, ``verbose``, ...). Other
    keywords are accepted and kept in ``init_kwargs`` (and so in a saved tokenizer_config.json), as HF keeps them; one
    that names a method is an AttributeError, as in HF.
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "right"
    truncation_side = "right"
    is_fast = False

    # the special tokens as HF's attributes: the token string and its id, each settable (None unsets)
    bos_token, bos_token_id = _special_token_property("bos_token"), _special_id_property("bos_token")
    eos_token, eos_token_id = _special_token_property("eos_token"), _special_id_property("eos_token")
    unk_token, unk_token_id = _special_token_property("unk_token"), _special_id_property("unk_token")
    sep_token, sep_token_id = _special_token_property("sep_token"), _special_id_property("sep_token")
    pad_token, pad_token_id = _special_token_property("pad_token"), _special_id_property("pad_token")
    cls_token, cls_token_id = _special_token_property("cls_token"), _special_id_property("cls_token")
    mask_token, mask_token_id = _special_token_property("mask_token"), _special_id_property("mask_token")

    def __init__(
        self,
        vocab_file,
        merges_file,
        errors="replace",
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        add_prefix_space=False,
        **kwargs,
    ):
        named = dict(
            errors=errors,
            bos_token=bos_token,
            eos_token=eos_token,
            sep_token=sep_token,
            cls_token=cls_token,
            unk_token=unk_token,
            pad_token=pad_token,
            mask_token=mask_token,
            add_prefix_space=add_prefix_space,
        )
        vocab, merges = self._read_model(vocab_file, merges_file, kwargs)
        self._setup(vocab, merges, named, kwargs)

    def _read_model(self, vocab_file, merges_file, kwargs):
        """(vocab, merges) from vocab.json + merges.txt."""
        if vocab_file is None or merges_file is None:
            raise TypeError(f"{type(self).__name__} needs vocab_file and merges_file")
        vocab = load_vocab(vocab_file)
        merges = load_merges(merges_file, vocab)
        self.vocab_file, self.merges_file = os.fspath(vocab_file), os.fspath(merges_file)
        return vocab, merges

    def _setup(self, vocab, merges, named, kwargs):
        """HF's PreTrainedTokenizerBase / PreTrainedTokenizer construction over led_ref's BPE."""
        for key in kwargs:
            if callable(getattr(self, key, None)):
                raise AttributeError(f"{key} conflicts with the method {key} in {type(self).__name__}")
        self.init_inputs = ()  # HF: positional constructor arguments beyond the files (LED has none)
        self.init_kwargs = copy.deepcopy({**named, **kwargs})
        kwargs = dict(kwargs)
        if named["errors"] not in ERROR_HANDLERS:
            raise ValueError(f"errors must be a bytes.decode error handler such as 'replace', got {named['errors']!r}")
        self.errors = named["errors"]
        self.add_prefix_space = bool(named["add_prefix_space"])
        self.name_or_path = kwargs.pop("name_or_path", "")
        model_max_length = kwargs.pop("model_max_length", kwargs.pop("max_len", None))
        model_max_length = VERY_LARGE_INTEGER if model_max_length is None else model_max_length
        _check_int(model_max_length, "model_max_length", 1, allow_none=False)
        self.model_max_length = int(model_max_length)
        for side in ("padding_side", "truncation_side"):
            value = kwargs.pop(side, getattr(type(self), side))
            if value not in ("left", "right"):
                raise ValueError(f"{side} must be 'left' or 'right', got {value!r}")
            setattr(self, side, value)
        self.model_input_names = list(kwargs.pop("model_input_names", type(self).model_input_names))
        self.clean_up_tokenization_spaces = bool(kwargs.pop("clean_up_tokenization_spaces", False))
        self.split_special_tokens = bool(kwargs.pop("split_special_tokens", False))
        # kept and saved (HF's format: several named templates as a list in the file); rendering a template needs
        # jinja2, so apply_chat_template is in led_ref.export.hf_tokenizers only
        self.chat_template = kwargs.pop("chat_template", None)
        if isinstance(self.chat_template, (list, tuple)):
            self.chat_template = {t["name"]: t["template"] for t in self.chat_template}
        self.verbose = bool(kwargs.pop("verbose", False))
        self.deprecation_warnings = {}
        self.pad_token_type_id = 0
        added_tokens_decoder = kwargs.pop("added_tokens_decoder", None) or {}
        additional = kwargs.pop("additional_special_tokens", None)
        self.core = ByteLevelBPE(vocab, merges, unk_token=str(named["unk_token"]))
        self.encoder = self.core.encoder
        self._special = {}
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            value = named[attr]
            if isinstance(value, str):
                # HF's LED: special tokens strip nothing, except the mask token, which behaves like a normal word:
                # it takes the space before it
                value = AddedToken(value, lstrip=attr == "mask_token", special=True)
            self._special[attr] = _special_value(value, attr)
        self._additional = [] if additional is None else _additional_tokens(additional)
        self._added = {}
        for idx, tok in added_tokens_decoder.items():
            if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or idx < 0:
                raise ValueError(f"added_tokens_decoder keys must be token ids (int >= 0), got {idx!r}")
            tok = _file_token_value(tok, f"added_tokens_decoder[{idx}]") if isinstance(tok, dict) else tok
            if not _is_added_token(tok):
                raise TypeError(f"added_tokens_decoder[{idx}] must be an AddedToken, got {type(tok).__name__}")
            self._added[int(idx)] = _as_added_token(tok)
        self._rebuild_added()
        # special tokens missing from the added vocabulary are added (with new ids when not in vocab.json)
        missing = [t for t in self.all_special_tokens_extended if str(t) not in self._added_encoder]
        LEDTokenizer._add_tokens(self, missing, special_tokens=True)

    # ---------------------------------------------------------------- vocabulary
    def _rebuild_added(self):
        self._added_version = getattr(self, "_added_version", 0) + 1
        self._added_encoder = {t.content: i for i, t in self._added.items()}
        self._added_by_content = {t.content: t for t in self._added.values()}
        self._added_patterns = {}  # split_special_tokens -> compiled regex of the added tokens text matches
        self._id_to_token = dict(self.core.decoder)
        for i, t in self._added.items():
            self._id_to_token[i] = t.content
        self._id_bytes = {i: token_bytes(tok) for i, tok in self._id_to_token.items()}
        self._n_ids = max(self._id_to_token) + 1
        self._refresh_special()

    def _added_pattern(self, split_special_tokens):
        """The regex of the added tokens matched whole in text, longest first, or None. With
        ``split_special_tokens`` the slow tokenizer matches none (HF: no added token is kept whole) and the fast one
        only the added tokens that are not special (tokenizers' ``encode_special_tokens``)."""
        key = bool(split_special_tokens)
        if key not in self._added_patterns:
            contents = list(self._added_encoder)
            if key:
                contents = [c for c in contents if self.is_fast and not self._added_by_content[c].special]
            contents.sort(key=len, reverse=True)
            self._added_patterns[key] = (
                regex.compile("(" + "|".join(map(regex.escape, contents)) + ")") if contents else None
            )
        return self._added_patterns[key]

    def _refresh_special(self):
        """The id sets the hot paths read, after any change to the special tokens or the added vocabulary."""
        special_tokens = set(self.all_special_tokens)
        self._all_special_ids = set(self.all_special_ids)
        if self.is_fast:
            # Rust skips (decode) the added tokens marked special, whatever the special-token attributes say
            self._skip_ids = {i for i, t in self._added.items() if t.special}
        else:
            self._skip_ids = set(self._all_special_ids)
            self._cls_sep = (self.cls_token_id, self.sep_token_id)
        # HF slow decode: non-special added tokens, and additional special tokens outside vocab.json, are emitted
        # verbatim and joined to the decoded byte-level pieces with spaces
        legacy = {c for c in self._added_encoder if c not in special_tokens}
        legacy |= {t for t in self.additional_special_tokens or [] if self._token_id(t) >= self.vocab_size}
        self._legacy_ids = {self._added_encoder[c] for c in legacy if c in self._added_encoder}

    @property
    def vocab_size(self):
        """Size of the base vocabulary (vocab.json), without added tokens."""
        return len(self.encoder)

    def __len__(self):
        return len(self.get_vocab())

    def get_vocab(self):
        return dict(self.encoder, **self._added_encoder)

    @property
    def added_tokens_decoder(self):
        """id -> AddedToken of the added vocabulary (special tokens included), by id."""
        return {i: copy.copy(self._added[i]) for i in sorted(self._added)}

    @property
    def added_tokens_encoder(self):
        """content -> id of the added vocabulary, by id."""
        return {self._added[i].content: i for i in sorted(self._added)}

    def get_added_vocab(self):
        return self.added_tokens_encoder

    # ---------------------------------------------------------------- special tokens
    @property
    def special_tokens_map_extended(self):
        """attribute -> str or AddedToken as set, for the special tokens that are set (HF)."""
        out = {a: v for a, v in self._special.items() if v is not None}
        if self._additional:
            out["additional_special_tokens"] = list(self._additional)
        return out

    @property
    def special_tokens_map(self):
        """attribute -> token string, for the special tokens that are set."""
        out = {a: str(v) for a, v in self._special.items() if v is not None}
        if self._additional:
            out["additional_special_tokens"] = self.additional_special_tokens
        return out

    @property
    def all_special_tokens_extended(self):
        """The special tokens (attributes in HF's order, then the additional ones) as set, each content once."""
        out, seen = [], set()
        for value in [*self._special.values(), *(self._additional or [])]:
            if value is not None and str(value) not in seen:
                seen.add(str(value))
                out.append(value)
        return out

    @property
    def all_special_tokens(self):
        return [str(t) for t in self.all_special_tokens_extended]

    @property
    def all_special_ids(self):
        return [self._token_id(t) for t in self.all_special_tokens]

    @property
    def additional_special_tokens(self):
        """The additional special tokens' strings (None once set to None, as in HF)."""
        return None if self._additional is None else [str(t) for t in self._additional]

    @additional_special_tokens.setter
    def additional_special_tokens(self, value):
        self._additional = None if value is None else _additional_tokens(value)
        self._refresh_special()

    @property
    def additional_special_tokens_ids(self):
        tokens = self.additional_special_tokens
        return None if tokens is None else [self._token_id(t) for t in tokens]

    @additional_special_tokens_ids.setter
    def additional_special_tokens_ids(self, value):
        self.additional_special_tokens = None if value is None else [self.convert_ids_to_tokens(i) for i in value]

    @property
    def max_len_single_sentence(self):
        """The most tokens one sequence can have once its special tokens are added (HF)."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=False)

    @property
    def max_len_sentences_pair(self):
        """The most tokens a pair of sequences can have once their special tokens are added (HF)."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=True)

    def num_special_tokens_to_add(self, pair=False):
        return len(self.build_inputs_with_special_tokens([], [] if pair else None))

    def add_tokens(self, new_tokens, special_tokens=False):
        """Add tokens (str or AddedToken, or a list of them) to the vocabulary: each is then matched whole in text
        and gets an id after the existing ones (a token already in vocab.json keeps its id). Returns how many HF
        counts as added. ``special_tokens=True`` marks them special (``decode(skip_special_tokens=True)`` drops
        them)."""
        if not new_tokens:
            return 0
        if not isinstance(new_tokens, (list, tuple)):
            new_tokens = [new_tokens]
        for token in new_tokens:
            if not isinstance(token, str) and not _is_added_token(token):
                raise TypeError(f"Token {token} is not a string but a {type(token)}.")
            if getattr(token, "single_word", False):
                raise ValueError(f"added token {str(token)!r}: single_word=True is not supported by led-ref")
        return self._add_tokens(new_tokens, special_tokens=special_tokens)

    def _add_tokens(self, new_tokens, special_tokens=False):
        """HF's slow rule: a str already added is skipped; a new token gets id len(vocabulary); only tokens that
        get a new id are counted; a special one joins additional_special_tokens unless it already is special."""
        current = self.get_vocab()
        new_idx = len(current)
        added = 0
        for token in new_tokens:
            if str(token) == "":
                continue
            if isinstance(token, str):
                if token in self._added_encoder:
                    continue
                is_special = token in self.all_special_tokens or special_tokens
                token = AddedToken(token, normalized=not is_special, special=is_special)
            else:
                token = _as_added_token(token)
                token.special = token.special or special_tokens
            if token.content in current:
                idx = current[token.content]
            else:
                idx = current[token.content] = new_idx + added
                added += 1
            if token.special and token.content not in self.all_special_tokens:
                self._additional = [*(self._additional or []), token]
            self._added[idx] = token
            self._added_encoder[token.content] = idx
        self._rebuild_added()
        return added

    def add_special_tokens(self, special_tokens_dict, replace_additional_special_tokens=True):
        """Set special-token attributes (``{"bos_token": ..., "additional_special_tokens": [...]}``) and add the
        tokens to the vocabulary (HF's add_special_tokens); returns the count ``add_tokens`` gives. With
        ``replace_additional_special_tokens=False`` new additional special tokens are appended to the existing
        ones instead of replacing them (the replaced ones stay in the vocabulary)."""
        if not special_tokens_dict:
            return 0
        for key, value in special_tokens_dict.items():
            if key not in SPECIAL_TOKENS_ATTRIBUTES and key != "additional_special_tokens":
                raise TokenizerArgumentError(f"Key {key} is not a special token")
            if key == "additional_special_tokens":
                if not isinstance(value, (list, tuple)) or not all(
                    isinstance(t, str) or _is_added_token(t) for t in value
                ):
                    raise TokenizerArgumentError(
                        f"Tokens {value} for key {key} should all be str or AddedToken instances"
                    )
            elif not isinstance(value, str) and not _is_added_token(value):
                raise ValueError(f"Token {value} for key {key} should be a str or an AddedToken instance")

        def token(value):
            # HF: a str given here is special and strips nothing
            return (
                AddedToken(value, normalized=False, special=True) if isinstance(value, str) else _as_added_token(value)
            )

        added_tokens = []
        for key, value in special_tokens_dict.items():
            if key == "additional_special_tokens":
                to_add = [token(t) for t in value]
                if not replace_additional_special_tokens:
                    to_add = [t for t in to_add if str(t) not in (self.additional_special_tokens or [])]
                if replace_additional_special_tokens and to_add:
                    self._additional = list(to_add)
                else:
                    self._additional = [*(self._additional or []), *to_add]
                added_tokens += to_add
            else:
                self._special[key] = token(value)
                if self._special[key] not in added_tokens:
                    added_tokens.append(self._special[key])
        self._refresh_special()
        return self.add_tokens(added_tokens, special_tokens=True)

    def _token_id(self, token):
        """The id of one token string: added vocabulary, then vocab.json, then the unknown token's id."""
        idx = self._added_encoder.get(token)
        if idx is None:
            idx = self.encoder.get(token)
        if idx is None and self._special["unk_token"] is not None:
            unk = str(self._special["unk_token"])
            idx = self._added_encoder.get(unk, self.encoder.get(unk))
        return idx

    # ---------------------------------------------------------------- tokenization
    def _strip_left(self, s):
        return s.rstrip()

    def _strip_right(self, s):
        return s.lstrip()

    def _split_added(self, text, split_special_tokens=False):
        """Split raw text on added/special tokens: list of [segment, start, end, is_added, matched], applying
        each token's lstrip/rstrip to its neighbours (HF PreTrainedTokenizer.tokenize); ``matched`` is an added
        token's text including the whitespace it stripped (the token string HF fast reports)."""
        pattern = self._added_pattern(split_special_tokens)
        if pattern is None or pattern.search(text) is None:
            return [[text, 0, len(text), False, None]] if text else []
        parts = []
        pos = 0
        for m in pattern.finditer(text):
            parts.append([text[pos : m.start()], pos, m.start(), False, None])
            parts.append([m.group(), m.start(), m.end(), True, m.group()])
            pos = m.end()
        parts.append([text[pos:], pos, len(text), False, None])
        for i, (seg, _start, _end, added, _) in enumerate(parts):
            if not added:
                continue
            tok = self._added_by_content[seg]
            if tok.rstrip and i + 1 < len(parts) and not parts[i + 1][3]:
                right = parts[i + 1]
                new = self._strip_right(right[0])
                parts[i][4] += right[0][: len(right[0]) - len(new)]
                right[1] += len(right[0]) - len(new)
                right[0] = new
            if tok.lstrip and i > 0 and not parts[i - 1][3]:
                left = parts[i - 1]
                new = self._strip_left(left[0])
                parts[i][4] = left[0][len(new) :] + parts[i][4]
                left[2] -= len(left[0]) - len(new)
                left[0] = new
        return [p for p in parts if p[0]]

    def _text_options(self, kwargs, split_special_tokens=None):
        """HF slow's ``tokenize`` keywords: (split_special_tokens, add_prefix_space). Others are not used and, as
        in HF, only logged."""
        split = kwargs.pop("split_special_tokens", split_special_tokens)
        prefix = kwargs.pop("add_prefix_space", self.add_prefix_space) or kwargs.pop("is_split_into_words", False)
        if kwargs:
            logger.warning(f"Keyword arguments {kwargs} not recognized.")
        return (self.split_special_tokens if split is None else bool(split)), bool(prefix)

    def _segments(self, text, split_special_tokens, add_prefix_space):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self._split_added(with_prefix_space(text) if add_prefix_space else text, split_special_tokens)

    def tokenize(self, text, **kwargs):
        """Byte-level token strings of ``text``; added/special tokens found in the text are kept whole. Keywords as
        HF slow: ``split_special_tokens``, ``add_prefix_space``."""
        split, prefix = self._text_options(kwargs)
        out: list[str] = []
        for seg, _, _, added, _ in self._segments(text, split, prefix):
            out.extend([seg] if added else self.core.tokenize(seg))
        return out

    def _text_to_ids(self, text, split_special_tokens=False, add_prefix_space=None):
        prefix = self.add_prefix_space if add_prefix_space is None else add_prefix_space
        ids = []
        for seg, _, _, added, _ in self._segments(text, split_special_tokens, prefix):
            if added:
                ids.append(self._added_encoder[seg])
            else:
                ids.extend(self.core.encode(seg))
        return ids

    def convert_tokens_to_ids(self, tokens):
        if tokens is None:
            return None

        def one(t):
            if not isinstance(t, str):
                raise TypeError(f"tokens must be str or a list of str, got an item of type {type(t).__name__}")
            return self._token_id(t)

        if isinstance(tokens, str):
            return one(tokens)
        return [one(t) for t in tokens]

    def _check_ids(self, ids, name="token_ids"):
        """ids -> list[int], with a clear error for non-integers or ids outside [0, len(self))."""
        if isinstance(ids, np.ndarray):
            if ids.dtype.kind not in "iu":
                raise TypeError(f"{name} must hold integers, got an array of dtype {ids.dtype}")
            if ids.ndim > 1:
                raise ValueError(
                    f"{name} must be 1-D (one sequence), got an array of shape {ids.shape}; "
                    "use batch_decode for a (batch, length) array"
                )
            ids = ids.reshape(-1).tolist()
        elif isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
            ids = [int(ids)]
        elif type(ids).__module__.startswith("torch") and hasattr(ids, "tolist"):  # a torch tensor
            arr = np.asarray(ids.tolist())
            return self._check_ids(arr.astype(np.int64) if arr.size == 0 else arr, name)
        elif isinstance(ids, (list, tuple)):
            kinds = set(map(type, ids))
            if not kinds <= {int}:
                if any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in ids):
                    bad = next(i for i in ids if isinstance(i, bool) or not isinstance(i, (int, np.integer)))
                    raise TypeError(f"{name} must hold integers, got {type(bad).__name__} {bad!r}")
                ids = [int(i) for i in ids]
        else:
            raise TypeError(f"{name} must be an int, a list of ints or a 1-D integer array, got {type(ids).__name__}")
        if ids and (min(ids) < 0 or max(ids) >= self._n_ids):
            bad = next(i for i in ids if i < 0 or i >= self._n_ids)
            raise ValueError(f"{name} contains id {bad}, outside the vocabulary range [0, {self._n_ids})")
        if len(self._id_to_token) != self._n_ids:  # vocabulary with holes
            for i in ids:
                if i not in self._id_to_token:
                    raise ValueError(f"{name} contains id {i}, which no token in the vocabulary has")
        return ids

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        if isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
            return self._id_to_token[self._check_ids(ids, "ids")[0]]
        ids = self._check_ids(ids, "ids")
        special = self._all_special_ids if skip_special_tokens else ()
        return [self._id_to_token[i] for i in ids if i not in special]

    def convert_tokens_to_string(self, tokens):
        """Join byte-level tokens and decode their bytes as UTF-8 with ``self.errors``."""
        return tokens_to_text(tokens, self.errors)

    # ---------------------------------------------------------------- special tokens
    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        """``<s> A </s>`` or ``<s> A </s></s> B </s>``."""
        return with_special_tokens(self.cls_token_id, self.sep_token_id, token_ids_0, token_ids_1)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        """1 where build_inputs_with_special_tokens puts a special token; with already_has_special_tokens,
        1 for every id that is a special-token id."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError(
                    "token_ids_1 must be None when already_has_special_tokens=True (the ids are already one sequence)"
                )
            special = set(self.all_special_ids)
            return [1 if t in special else 0 for t in token_ids_0]
        return special_tokens_mask(token_ids_0, token_ids_1)

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        """LED does not use token types: all zeros over the built sequence."""
        return token_type_ids(token_ids_0, token_ids_1)

    # ---------------------------------------------------------------- strategies
    def _strategies(self, padding=False, truncation=None, max_length=None, pad_to_multiple_of=None):
        """HF's _get_padding_truncation_strategies (the deprecated arguments are applied by ``_call_options``)."""
        _check_int(max_length, "max_length")
        _check_int(pad_to_multiple_of, "pad_to_multiple_of", 1)
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"  # HF: max_length alone activates truncation
        if padding is True:
            pad = "longest"
        elif padding is False or padding is None:
            pad = "do_not_pad"
        elif isinstance(padding, str) and padding in _PADDING:
            pad = padding
        else:
            raise ValueError(f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', got {padding!r}")
        if truncation is True:
            trunc = "longest_first"
        elif truncation is False or truncation is None:
            trunc = "do_not_truncate"
        elif isinstance(truncation, str) and truncation in _TRUNCATION:
            trunc = truncation
        else:
            raise ValueError(
                "truncation must be True, False, 'longest_first', 'only_first', 'only_second' or 'do_not_truncate', "
                f"got {truncation!r}"
            )
        if max_length is None:
            if pad == "max_length":
                if self.model_max_length > LARGE_INTEGER:
                    pad = "do_not_pad"  # HF: no length to pad to
                else:
                    max_length = self.model_max_length
            if trunc != "do_not_truncate":
                if self.model_max_length > LARGE_INTEGER:
                    trunc = "do_not_truncate"
                else:
                    max_length = self.model_max_length
        if pad != "do_not_pad" and (self.pad_token is None or self.pad_token_id < 0):
            raise ValueError(
                "Asking to pad but the tokenizer does not have a padding token. Please select a token to use as "
                "`pad_token` `(tokenizer.pad_token = tokenizer.eos_token e.g.)` or add a new pad token via "
                "`tokenizer.add_special_tokens({'pad_token': '[PAD]'})`."
            )
        if (
            trunc != "do_not_truncate"
            and pad != "do_not_pad"
            and pad_to_multiple_of is not None
            and max_length is not None
            and max_length % pad_to_multiple_of != 0
        ):
            raise ValueError(
                f"Truncation and padding are both activated but truncation length ({max_length}) is not a "
                f"multiple of pad_to_multiple_of ({pad_to_multiple_of})."
            )
        return pad, trunc, max_length

    # ---------------------------------------------------------------- encode
    def _input_ids(self, text, name, text_options=(False, None)):
        if isinstance(text, str):
            return self._text_to_ids(text, *text_options)
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            return self.convert_tokens_to_ids(list(text))
        if isinstance(text, (list, tuple)) and _is_ids(text):
            return self._check_ids(list(text), name)
        raise TypeError(f"{name} must be a str, a list of token strings or a list of ids, got {type(text).__name__}")

    def _validate_call(self, text, text_pair, name="text"):
        def valid(t):
            return isinstance(t, str) or (isinstance(t, (list, tuple)) and all(isinstance(x, str) for x in t))

        if not valid(text):
            raise TypeError(f"{name} must be a str or a list of str, got {type(text).__name__}")
        if text_pair is not None and not valid(text_pair):
            raise TypeError(f"{name}_pair must be a str or a list of str, got {type(text_pair).__name__}")
        batched = isinstance(text, (list, tuple))
        if batched:
            if isinstance(text_pair, str):
                raise TypeError(f"when {name} is a batch (list), {name}_pair must be a list of the same length")
            if text_pair is not None and len(text) != len(text_pair):
                raise ValueError(f"batch length of {name} ({len(text)}) does not match {name}_pair ({len(text_pair)})")
            if len(text) == 0:
                raise ValueError(f"{name} is an empty batch: pass at least one str")
        elif text_pair is not None and not isinstance(text_pair, str):
            raise TypeError(f"when {name} is a str, {name}_pair must be a str")
        return batched

    def _call_options(self, kwargs):
        """(options, text options) from the keywords of ``__call__`` / ``encode`` / ``encode_plus`` /
        ``batch_encode_plus``: HF's defaults filled in, HF's deprecated ``pad_to_max_length`` and
        ``truncation_strategy`` applied as HF applies them; ``split_special_tokens`` and the tokenizer's own text
        keywords go to the text options (``_text_options``)."""
        kwargs = dict(kwargs)
        kwargs.pop("verbose", None)
        if kwargs.pop("is_split_into_words", False):
            raise ValueError("is_split_into_words=True is not supported by led-ref; pass raw text")
        split = kwargs.pop("split_special_tokens", None)
        pad_to_max_length = kwargs.pop("pad_to_max_length", False)
        old_truncation = kwargs.pop("truncation_strategy", "do_not_truncate")
        text_options = self._text_options({k: kwargs.pop(k) for k in list(kwargs) if k not in _CALL_DEFAULTS}, split)
        opts = {**_CALL_DEFAULTS, **kwargs}
        _validate_opts(opts)
        if opts["max_length"] is not None and opts["padding"] is False and opts["truncation"] is None:
            opts["truncation"] = "longest_first"  # HF: max_length alone activates truncation
        if opts["padding"] is False and pad_to_max_length:
            warnings.warn(
                "The `pad_to_max_length` argument is deprecated and will be removed in a future version, use "
                "`padding=True` or `padding='longest'` to pad to the longest sequence in the batch, or use "
                "`padding='max_length'` to pad to a max length.",
                FutureWarning,
                stacklevel=3,
            )
            opts["padding"] = "longest" if opts["max_length"] is None else "max_length"
        if opts["truncation"] is None and old_truncation != "do_not_truncate":
            warnings.warn(
                "The `truncation_strategy` argument is deprecated and will be removed in a future version, use "
                "`truncation=True` to truncate examples to a max length.",
                FutureWarning,
                stacklevel=3,
            )
            opts["truncation"] = old_truncation
        return opts, text_options

    def __call__(
        self,
        text=None,
        text_pair=None,
        text_target=None,
        text_pair_target=None,
        add_special_tokens=True,
        padding=False,
        truncation=None,
        max_length=None,
        stride=0,
        is_split_into_words=False,
        pad_to_multiple_of=None,
        padding_side=None,
        return_tensors=None,
        return_token_type_ids=None,
        return_attention_mask=None,
        return_overflowing_tokens=False,
        return_special_tokens_mask=False,
        return_offsets_mapping=False,
        return_length=False,
        verbose=True,
        **kwargs,
    ):
        """Encode a str, a pair, or batches of them (HF ``__call__``). ``text_target`` (and
        ``text_pair_target``) are encoded the same way: alone, their encoding is returned; with ``text``, their
        ``input_ids`` come back as ``labels``. spec/SPEC.md#tokenizer-call"""
        if text is None and text_target is None:
            raise ValueError("You need to specify either `text` or `text_target`.")
        kwargs.update(
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            is_split_into_words=is_split_into_words,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            return_token_type_ids=return_token_type_ids,
            return_attention_mask=return_attention_mask,
            return_overflowing_tokens=return_overflowing_tokens,
            return_special_tokens_mask=return_special_tokens_mask,
            return_offsets_mapping=return_offsets_mapping,
            return_length=return_length,
        )
        opts, text_options = self._call_options(kwargs)
        encodings = None if text is None else self._call_one(text, text_pair, text_options, opts, "text")
        if text_target is None:
            return encodings
        targets = self._call_one(text_target, text_pair_target, text_options, opts, "text_target")
        if encodings is None:
            return targets
        encodings["labels"] = targets["input_ids"]
        return encodings

    def _call_one(self, text, text_pair, text_options, opts, name):
        if self._validate_call(text, text_pair, name):
            pairs = list(zip(text, text_pair)) if text_pair is not None else [(t, None) for t in text]
            return self._batch_encode(pairs, text_options=text_options, **opts)
        return self._encode_single(text, text_pair, text_options=text_options, **opts)

    def encode_plus(self, text, text_pair=None, **kwargs):
        opts, text_options = self._call_options(kwargs)
        return self._encode_single(text, text_pair, text_options=text_options, **opts)

    def batch_encode_plus(self, batch_text_or_text_pairs, **kwargs):
        pairs = [
            tuple(x) if isinstance(x, (list, tuple)) and len(x) == 2 and not _is_ids(x) else (x, None)
            for x in batch_text_or_text_pairs
        ]
        opts, text_options = self._call_options(kwargs)
        return self._batch_encode(pairs, text_options=text_options, **opts)

    def encode(self, text, text_pair=None, **kwargs):
        """Ids of one text (or pair): ``self.encode_plus(text, text_pair, **kwargs)['input_ids']``."""
        return self.encode_plus(text, text_pair, **kwargs)["input_ids"]

    def prepare_seq2seq_batch(
        self,
        src_texts,
        tgt_texts=None,
        max_length=None,
        max_target_length=None,
        padding="longest",
        return_tensors=None,
        truncation=True,
        **kwargs,
    ):
        """HF's deprecated helper: ``self(src_texts, ...)`` with the targets' ``input_ids`` as ``labels``
        (``max_length`` defaults to model_max_length, ``max_target_length`` to ``max_length``)."""
        warnings.warn(
            "`prepare_seq2seq_batch` is deprecated: call the tokenizer with `text_target=` instead.",
            FutureWarning,
            stacklevel=2,
        )
        kwargs.pop("src_lang", None)  # mBART's keywords, ignored by other models (HF)
        kwargs.pop("tgt_lang", None)
        max_length = self.model_max_length if max_length is None else max_length
        opts = dict(add_special_tokens=True, return_tensors=return_tensors, padding=padding, truncation=truncation)
        inputs = self(src_texts, max_length=max_length, **opts, **kwargs)
        if tgt_texts is not None:
            max_target_length = max_length if max_target_length is None else max_target_length
            inputs["labels"] = self(tgt_texts, max_length=max_target_length, **opts, **kwargs)["input_ids"]
        return inputs

    def _encode_single(self, text, text_pair, *, return_offsets_mapping=False, text_options=(False, None), **opts):
        if return_offsets_mapping:
            raise NotImplementedError(
                "return_offsets_mapping needs LEDTokenizerFast (HF's slow tokenizer has no offsets)"
            )
        first = self._input_ids(text, "text", text_options)
        second = self._input_ids(text_pair, "text_pair", text_options) if text_pair is not None else None
        return self.prepare_for_model(first, second, prepend_batch_axis=True, **opts)

    def _batch_encode(self, pairs, *, return_offsets_mapping=False, text_options=(False, None), **opts):
        if return_offsets_mapping:
            raise NotImplementedError(
                "return_offsets_mapping needs LEDTokenizerFast (HF's slow tokenizer has no offsets)"
            )
        pad, trunc, max_length = self._strategies(
            opts["padding"], opts["truncation"], opts["max_length"], opts["pad_to_multiple_of"]
        )
        batch: dict[str, list] = {}
        for a, b in pairs:
            first = self._input_ids(a, "text", text_options)
            second = self._input_ids(b, "text_pair", text_options) if b is not None else None
            out = self.prepare_for_model(
                first,
                second,
                add_special_tokens=opts["add_special_tokens"],
                padding=False,
                truncation=trunc,
                max_length=max_length,
                stride=opts["stride"],
                return_attention_mask=False,
                return_token_type_ids=opts["return_token_type_ids"],
                return_overflowing_tokens=opts["return_overflowing_tokens"],
                return_special_tokens_mask=opts["return_special_tokens_mask"],
                return_length=opts["return_length"],
            )
            for k, v in out.items():
                batch.setdefault(k, []).append(v)
        return self.pad(
            batch,
            padding=pad,
            max_length=max_length,
            pad_to_multiple_of=opts["pad_to_multiple_of"],
            padding_side=opts["padding_side"],
            return_attention_mask=opts["return_attention_mask"],
            return_tensors=opts["return_tensors"],
        )

    def prepare_for_model(
        self,
        ids,
        pair_ids=None,
        add_special_tokens=True,
        padding=False,
        truncation=None,
        max_length=None,
        stride=0,
        pad_to_multiple_of=None,
        padding_side=None,
        return_tensors=None,
        return_token_type_ids=None,
        return_attention_mask=None,
        return_overflowing_tokens=False,
        return_special_tokens_mask=False,
        return_length=False,
        prepend_batch_axis=False,
        verbose=True,
    ):
        """Truncate, add special tokens and pad one sequence (pair) of ids (HF prepare_for_model)."""
        pad, trunc, max_length = self._strategies(padding, truncation, max_length, pad_to_multiple_of)
        pair = pair_ids is not None
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_token_type_ids and not add_special_tokens:
            raise ValueError("return_token_type_ids=True needs add_special_tokens=True")
        if return_overflowing_tokens and trunc == "longest_first" and pair:
            raise ValueError(
                "Not possible to return overflowing tokens for a pair of sequences with truncation='longest_first'; "
                "use 'only_first' or 'only_second'"
            )
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        total_len = (
            len(ids)
            + (len(pair_ids) if pair else 0)
            + (self.num_special_tokens_to_add(pair=pair) if add_special_tokens else 0)
        )
        overflowing = []
        if trunc != "do_not_truncate" and max_length and total_len > max_length:
            ids, pair_ids, overflowing = self.truncate_sequences(
                ids, pair_ids, num_tokens_to_remove=total_len - max_length, truncation_strategy=trunc, stride=stride
            )
        encoded: dict[str, Any] = {}
        if return_overflowing_tokens:
            if max_length is None:
                raise ValueError(
                    "return_overflowing_tokens=True needs max_length (or truncation with model_max_length)"
                )
            encoded["overflowing_tokens"] = overflowing
            encoded["num_truncated_tokens"] = total_len - max_length
        if add_special_tokens:
            sequence = self.build_inputs_with_special_tokens(ids, pair_ids)
            token_type_ids = self.create_token_type_ids_from_sequences(ids, pair_ids)
        else:
            sequence = list(ids) + list(pair_ids) if pair else list(ids)
            token_type_ids = [0] * len(sequence)
        encoded["input_ids"] = sequence
        if return_token_type_ids:
            encoded["token_type_ids"] = token_type_ids
        if return_special_tokens_mask:
            encoded["special_tokens_mask"] = (
                self.get_special_tokens_mask(ids, pair_ids) if add_special_tokens else [0] * len(sequence)
            )
        if pad != "do_not_pad" or return_attention_mask:
            encoded = self.pad(
                encoded,
                padding=pad,
                max_length=max_length,
                pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side,
                return_attention_mask=return_attention_mask,
            )
            encoded = dict(encoded)
        self._warn_if_too_long(encoded["input_ids"], max_length)
        if return_length:
            encoded["length"] = len(encoded["input_ids"])
        return BatchEncoding(encoded, tensor_type=return_tensors, prepend_batch_axis=prepend_batch_axis)

    def _warn_if_too_long(self, ids, max_length):
        """HF's warning (once per tokenizer) when an untruncated sequence is longer than model_max_length."""
        if max_length is None and len(ids) > self.model_max_length:
            if not self.deprecation_warnings.get("sequence-length-is-longer-than-the-specified-maximum", False):
                logger.warning(
                    "Token indices sequence length is longer than the specified maximum sequence length for this "
                    f"model ({len(ids)} > {self.model_max_length}). Running this sequence through the model will "
                    "result in indexing errors"
                )
            self.deprecation_warnings["sequence-length-is-longer-than-the-specified-maximum"] = True

    def truncate_sequences(
        self, ids, pair_ids=None, num_tokens_to_remove=0, truncation_strategy="longest_first", stride=0
    ):
        """HF's truncate_sequences: returns (ids, pair_ids, overflowing_tokens)."""
        if num_tokens_to_remove <= 0:
            return ids, pair_ids, []
        overflowing = []
        left = self.truncation_side == "left"
        if truncation_strategy == "only_first" or (truncation_strategy == "longest_first" and pair_ids is None):
            if len(ids) > num_tokens_to_remove:
                window = min(len(ids), stride + num_tokens_to_remove)
                if left:
                    overflowing, ids = ids[:window], ids[num_tokens_to_remove:]
                else:
                    overflowing, ids = ids[-window:], ids[:-num_tokens_to_remove]
            # else: HF logs an error and leaves the sequence untruncated
        elif truncation_strategy == "longest_first":
            n_pair, n_ids = len(pair_ids), len(ids)
            first_remove = min(abs(n_pair - n_ids), num_tokens_to_remove)
            second_remove = num_tokens_to_remove - first_remove
            if n_ids > n_pair:
                ids_to_move = first_remove + second_remove // 2
                pair_to_move = second_remove - second_remove // 2
            else:
                ids_to_move = second_remove // 2
                pair_to_move = first_remove + second_remove - second_remove // 2
            if left:
                ids, pair_ids = ids[ids_to_move:], pair_ids[pair_to_move:]
            else:
                ids = ids[:-ids_to_move] if ids_to_move > 0 else ids
                pair_ids = pair_ids[:-pair_to_move] if pair_to_move > 0 else pair_ids
        elif truncation_strategy == "only_second" and pair_ids is not None:
            if len(pair_ids) > num_tokens_to_remove:
                window = min(len(pair_ids), stride + num_tokens_to_remove)
                if left:
                    overflowing, pair_ids = pair_ids[:window], pair_ids[num_tokens_to_remove:]
                else:
                    overflowing, pair_ids = pair_ids[-window:], pair_ids[:-num_tokens_to_remove]
        return ids, pair_ids, overflowing

    # ---------------------------------------------------------------- padding
    def pad(
        self,
        encoded_inputs,
        padding=True,
        max_length=None,
        pad_to_multiple_of=None,
        padding_side=None,
        return_attention_mask=None,
        return_tensors=None,
        verbose=True,
    ):
        """Pad one encoding or a batch (dict of lists, or list of dicts) to the longest / max_length.

        LED rule: ``global_attention_mask`` is padded with -1 (0 already means "local attention"), on the
        tokenizer's own ``padding_side`` (HF reads self.padding_side there, not the argument).
        spec/SPEC.md#tokenizer-padding
        """
        if padding_side not in (None, "left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and isinstance(encoded_inputs[0], dict):
            encoded_inputs = {k: [ex[k] for ex in encoded_inputs] for k in encoded_inputs[0]}
        name = self.model_input_names[0]  # the key padded with pad_token_id (HF: model_input_names[0])
        if not isinstance(encoded_inputs, dict):
            raise TypeError(f"encoded_inputs must be a dict of lists or a list of dicts holding {name!r}")
        if name not in encoded_inputs:
            raise ValueError(
                "You should supply an encoding or a list of encodings to this method that includes "
                f"{name}, but you provided {list(encoded_inputs)}"
            )
        encoded_inputs = dict(encoded_inputs)
        required = encoded_inputs[name]
        if required is None or len(required) == 0:
            if return_attention_mask:
                encoded_inputs["attention_mask"] = []
            return BatchEncoding(encoded_inputs)
        # NumPy / torch input (arrays, or lists of arrays) comes back as such unless return_tensors says otherwise
        first = required[0]
        if isinstance(first, (list, tuple)):
            first = next((row[0] for row in required if len(row)), first)
        kind = (
            "pt"
            if type(first).__module__.startswith("torch") or type(required).__module__.startswith("torch")
            else None
        )
        if kind or isinstance(required, np.ndarray) or isinstance(first, (np.ndarray, np.integer)):
            return_tensors = (kind or "np") if return_tensors is None else return_tensors
            encoded_inputs = {k: _to_py(v) for k, v in encoded_inputs.items()}
            required = encoded_inputs[name]
        pad, _, max_length = self._strategies(padding, None, max_length, None)
        _check_int(pad_to_multiple_of, "pad_to_multiple_of", 1)
        if not isinstance(required[0], (list, tuple)):
            out = self._pad(encoded_inputs, max_length, pad, pad_to_multiple_of, padding_side, return_attention_mask)
            return BatchEncoding(out, tensor_type=return_tensors)
        n = len(required)
        for k, v in encoded_inputs.items():
            if len(v) != n:
                raise ValueError(f"encoded_inputs[{k!r}] has batch size {len(v)}, but {name} has {n}")
        if pad == "longest":
            max_length = max(len(x) for x in required)
            pad = "max_length"
        batch: dict[str, list] = {}
        for i in range(n):
            item = {k: list(v[i]) if isinstance(v[i], (list, tuple)) else v[i] for k, v in encoded_inputs.items()}
            out = self._pad(item, max_length, pad, pad_to_multiple_of, padding_side, return_attention_mask)
            for k, v in out.items():
                batch.setdefault(k, []).append(v)
        return BatchEncoding(batch, tensor_type=return_tensors)

    def _pad(self, encoded, max_length, pad, pad_to_multiple_of, padding_side, return_attention_mask):
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        name = self.model_input_names[0]
        required = encoded[name]
        if pad == "longest":
            max_length = len(required)
        if max_length is not None and pad_to_multiple_of is not None and max_length % pad_to_multiple_of != 0:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        needs = pad != "do_not_pad" and len(required) != max_length
        if return_attention_mask and "attention_mask" not in encoded:
            encoded["attention_mask"] = [1] * len(required)
        if needs:
            diff = max_length - len(required)
            side = padding_side if padding_side is not None else self.padding_side
            fills = {
                "attention_mask": 0,
                "token_type_ids": self.pad_token_type_id,
                "special_tokens_mask": 1,
                name: self.pad_token_id,
            }
            for key, fill in fills.items():
                if key not in encoded or (key == "attention_mask" and not return_attention_mask):
                    continue
                if side == "right":
                    encoded[key] = list(encoded[key]) + [fill] * diff
                else:
                    encoded[key] = [fill] * diff + list(encoded[key])
        if return_attention_mask and "global_attention_mask" in encoded:
            # HF pads it on the tokenizer's own padding_side (not the argument), as here
            encoded["global_attention_mask"] = pad_global_attention_mask(
                encoded["global_attention_mask"], len(encoded[name]), self.padding_side
            )
        return encoded

    # ---------------------------------------------------------------- decode
    def decode(
        self,
        token_ids,
        skip_special_tokens=False,
        clean_up_tokenization_spaces=None,
        spaces_between_special_tokens=True,
    ):
        """Text of ``token_ids``: bytes of the byte-level tokens decoded as UTF-8 with ``errors``.
        spec/SPEC.md#tokenizer-decode"""
        ids = self._check_ids(token_ids)
        if skip_special_tokens:
            special = self._skip_ids
            ids = [i for i in ids if i not in special]
        legacy = self._legacy_ids
        if legacy and not self.is_fast and any(i in legacy for i in ids):
            # HF slow: non-special added tokens are emitted verbatim, pieces joined with " "
            pieces: list[str] = []
            cur: list[int] = []
            for i in ids:
                if i in legacy:
                    if cur:
                        s = b"".join(map(self._id_bytes.__getitem__, cur)).decode("utf-8", errors=self.errors)
                        if s:
                            pieces.append(s)
                        cur = []
                    pieces.append(self._id_to_token[i])
                else:
                    cur.append(i)
            if cur:
                pieces.append(b"".join(map(self._id_bytes.__getitem__, cur)).decode("utf-8", errors=self.errors))
            text = (" " if spaces_between_special_tokens else "").join(pieces)
        else:
            text = b"".join(map(self._id_bytes.__getitem__, ids)).decode("utf-8", errors=self.errors)
        clean = clean_up_tokenization_spaces
        if clean is None:
            clean = self.clean_up_tokenization_spaces
        return self.clean_up_tokenization(text) if clean else text

    def batch_decode(self, sequences, skip_special_tokens=False, clean_up_tokenization_spaces=None, **kwargs):
        if isinstance(sequences, np.ndarray):
            if sequences.ndim != 2:
                raise ValueError(f"sequences must be 2-D (batch, length), got shape {sequences.shape}")
        elif not isinstance(sequences, (list, tuple)):
            raise TypeError(f"sequences must be a list of id lists or a 2-D array, got {type(sequences).__name__}")
        return [
            self.decode(
                s,
                skip_special_tokens=skip_special_tokens,
                clean_up_tokenization_spaces=clean_up_tokenization_spaces,
                **kwargs,
            )
            for s in sequences
        ]

    @staticmethod
    def clean_up_tokenization(out_string):
        """HF's clean_up_tokenization: drop spaces before punctuation and English contractions."""
        return (
            out_string.replace(" .", ".")
            .replace(" ?", "?")
            .replace(" !", "!")
            .replace(" ,", ",")
            .replace(" ' ", "'")
            .replace(" n't", "n't")
            .replace(" 'm", "'m")
            .replace(" 's", "'s")
            .replace(" 've", "'ve")
            .replace(" 're", "'re")
        )

    # ---------------------------------------------------------------- files
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *init_inputs, **kwargs):
        """Load a tokenizer directory (or a Hugging Face Hub id, through huggingface_hub's cache when it is
        installed) as HF does: vocab.json + merges.txt (the fast class: or tokenizer.json), with
        tokenizer_config.json, special_tokens_map.json and added_tokens.json when present. Keyword arguments
        override the files; HF's download keywords (``cache_dir``, ``revision``, ``token``, ...) are accepted."""
        for key in _HUB_KEYWORDS:
            kwargs.pop(key, None)
        subfolder = kwargs.pop("subfolder", None) or ""
        d = os.path.join(resolve_pretrained_dir(pretrained_model_name_or_path), subfolder)
        if not os.path.isdir(d):
            raise FileNotFoundError(f"tokenizer directory not found: {d!r}")
        files = {k: os.path.join(d, name) for k, name in cls.vocab_files_names.items()}
        files = {k: p for k, p in files.items() if os.path.isfile(p)}
        if not ({"vocab_file", "merges_file"} <= set(files) or "tokenizer_file" in files):
            raise FileNotFoundError(
                f"{d!r}: an LED tokenizer directory needs vocab.json and merges.txt"
                + (" (or tokenizer.json)" if "tokenizer_file" in cls.vocab_files_names else "")
                + f"; found {sorted(os.listdir(d))}"
            )
        init = {}
        cfg_path = os.path.join(d, "tokenizer_config.json")
        if os.path.isfile(cfg_path):
            init = _read_config(cfg_path)
        init.update(kwargs)
        for key, path in files.items():
            init.setdefault(key, path)
        init["name_or_path"] = os.fspath(pretrained_model_name_or_path)
        if init.get("added_tokens_decoder") is None:
            init["added_tokens_decoder"] = _legacy_added_tokens(d, init, kwargs)
        else:
            _legacy_files(d)  # not used (HF), but a malformed file is still reported
        # special tokens take their flags from the added token of the same content
        by_content = {t.content: t for t in init["added_tokens_decoder"].values()}
        for key in SPECIAL_TOKENS_ATTRIBUTES:
            if init.get(key) is not None and str(init[key]) in by_content:
                init[key] = by_content[str(init[key])]
        return cls(*init_inputs, **init)

    def save_vocabulary(self, save_directory, filename_prefix=None):
        """Write vocab.json and merges.txt the way HF's slow tokenizer does; returns the two paths."""
        return write_vocab_files(save_directory, self.encoder, self.core.merges, filename_prefix)

    def save_pretrained(self, save_directory, legacy_format=None, filename_prefix=None, push_to_hub=False, **kwargs):
        """Write the tokenizer as HF does: tokenizer_config.json (the constructor's keywords, unknown ones
        included, and the added tokens), special_tokens_map.json, vocab.json + merges.txt and, for added tokens
        outside vocab.json, added_tokens.json; the fast class also tokenizer.json (``legacy_format=False``: only
        tokenizer.json; ``True``: not it). HF transformers loads the directory. Returns the paths HF returns."""
        if push_to_hub:
            raise ValueError("save_pretrained(push_to_hub=True): led-ref never uploads; push the directory yourself")
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise FileExistsError(f"save_directory {save_directory!r} is a file, not a directory")
        os.makedirs(save_directory, exist_ok=True)
        prefix = filename_prefix + "-" if filename_prefix else ""
        paths = []
        for name, obj in (
            ("tokenizer_config.json", self._config_to_save()),
            ("special_tokens_map.json", _serialized(self.special_tokens_map_extended, type_field=False)),
        ):
            paths.append(os.path.join(save_directory, prefix + name))
            with open(paths[-1], "w", encoding="utf-8") as f:
                f.write(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return tuple(paths) + self._save_model_files(save_directory, legacy_format, filename_prefix)

    def _config_to_save(self):
        """tokenizer_config.json as HF writes it."""
        cfg = copy.deepcopy(self.init_kwargs)
        for key in set(cfg) | {"model_max_length", "clean_up_tokenization_spaces"}:
            if key != "added_tokens_decoder" and hasattr(self, key):
                cfg[key] = getattr(self, key)
        cfg.update(self.special_tokens_map)
        if isinstance(self.chat_template, dict):
            cfg["chat_template"] = [{"name": k, "template": v} for k, v in self.chat_template.items()]
        elif self.chat_template is not None:
            cfg["chat_template"] = self.chat_template
        for key in self.vocab_files_names:
            cfg.pop(key, None)
        cfg = _serialized(cfg, type_field=True)
        cfg["added_tokens_decoder"] = {i: t.__getstate__() for i, t in sorted(self._added.items())}
        name = type(self).__name__
        cfg["tokenizer_class"] = name[:-4] if name.endswith("Fast") else name  # HF: the slow class's name
        if "name_or_path" in cfg:
            for key in ("name_or_path", "special_tokens_map_file", "tokenizer_file"):
                cfg.pop(key, None)
        return cfg

    def _save_model_files(self, save_directory, legacy_format, filename_prefix):
        """HF slow: vocab.json, merges.txt and the added_tokens.json path (written when there are added tokens
        outside vocab.json)."""
        if legacy_format is False:
            raise ValueError(
                "Only fast tokenizers (instances of PreTrainedTokenizerFast) can be saved in non legacy format."
            )
        return self._save_legacy_files(save_directory, filename_prefix)

    def _save_legacy_files(self, save_directory, filename_prefix):
        prefix = filename_prefix + "-" if filename_prefix else ""
        added_file = os.path.join(save_directory, prefix + "added_tokens.json")
        added = {t.content: i for i, t in self._added.items() if i >= self.vocab_size}
        if added:
            with open(added_file, "w", encoding="utf-8") as f:
                f.write(json.dumps(added, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return tuple(self.save_vocabulary(save_directory, filename_prefix)) + (added_file,)

    def __repr__(self):
        return (
            f"{type(self).__name__}(vocab_size={self.vocab_size}, add_prefix_space={self.add_prefix_space}, "
            f"padding_side={self.padding_side!r}, model_max_length={self.model_max_length})"
        )


def _to_py(value):
    """NumPy arrays/scalars and torch tensors (also inside lists) -> Python lists/ints."""
    if isinstance(value, (np.ndarray, np.generic)) or type(value).__module__.startswith("torch"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_to_py(v) for v in value]
    return value


def _read_json(path):
    return read_json(path, f"tokenizer file ({os.path.basename(path)})")


# tokenizer_config.json fields: key -> (check, what is allowed)
_CONFIG_FIELDS = {
    "errors": (lambda v: v in ERROR_HANDLERS, f"a bytes.decode error handler: one of {', '.join(ERROR_HANDLERS)}"),
    "add_prefix_space": (lambda v: isinstance(v, bool), "true or false"),
    "clean_up_tokenization_spaces": (lambda v: isinstance(v, bool), "true or false"),
    "trim_offsets": (lambda v: isinstance(v, bool), "true or false"),
    "padding_side": (lambda v: v in ("left", "right"), "'left' or 'right'"),
    "truncation_side": (lambda v: v in ("left", "right"), "'left' or 'right'"),
    "model_max_length": (
        lambda v: (
            (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
            or (isinstance(v, float) and v >= 1 and v.is_integer())
        ),
        "an integer >= 1",
    ),
}


def _config_value(path, key, value):
    """A tokenizer_config.json value checked against what the tokenizer accepts (InputFileError naming both)."""
    if key in SPECIAL_TOKENS_ATTRIBUTES:
        return _file_token(path, key, value)
    check, allowed = _CONFIG_FIELDS[key]
    if not check(value):
        raise InputFileError(f"{path}: {key} must be {allowed}, got {shown(value)}")
    return int(value) if key == "model_max_length" else value


def _file_token(path, key, value, special=None):
    """A token from a tokenizer file (a str or a token object), InputFileError naming the file when malformed;
    ``special`` overrides the object's flag (HF: special_tokens_map.json's tokens are special)."""
    try:
        token = _file_token_value(value, key)
    except TypeError as e:
        raise InputFileError(f"{path}: {e}") from None
    if special is not None and isinstance(token, AddedToken):
        token.special = special
    return token


def _file_id(path, what, value):
    """A token id read from a tokenizer file: an int >= 0 (JSON object keys: its decimal string)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise InputFileError(f"{path}: {what} must be a token id (an integer in [0, 2**31)), got {shown(value)}")
    return value


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer files: HF's tokenizer_config.json / special_tokens_map.json / added_tokens.json rules and tokenizers'
# tokenizer.json (the layout transformers' LEDTokenizerFast writes: ByteLevel + BPE + RobertaProcessing).

# from_pretrained keywords that only steer HF's download (led_ref resolves hub ids through huggingface_hub)
_HUB_KEYWORDS = (
    "cache_dir",
    "force_download",
    "resume_download",
    "proxies",
    "token",
    "use_auth_token",
    "local_files_only",
    "revision",
    "trust_remote_code",
    "_from_auto",
    "_from_pipeline",
    "_commit_hash",
    "from_pipeline",
    "from_auto_class",
    "gguf_file",
)


def _serialized(obj, type_field):
    """HF's convert_added_tokens(save=True): AddedTokens as JSON objects (with "__type" in tokenizer_config.json,
    without "special" in special_tokens_map.json)."""
    if isinstance(obj, AddedToken):
        state = obj.__getstate__()
        if type_field:
            state["__type"] = "AddedToken"
        else:
            state.pop("special")
        return state
    if isinstance(obj, (list, tuple)):
        return [_serialized(v, type_field) for v in obj]
    if isinstance(obj, dict):
        return {k: _serialized(v, type_field) for k, v in obj.items()}
    return obj


def _read_config(path):
    """tokenizer_config.json as constructor keywords: the fields led_ref checks are checked (InputFileError
    naming the file), AddedToken objects become AddedTokens, the rest is kept as HF keeps it."""
    cfg = _read_json(path)  # a JSON object (read_json refuses anything else)
    for key in ("tokenizer_class", "init_inputs", "tokenizer_file"):
        cfg.pop(key, None)
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if value is None:
            out[key] = None
        elif key in _CONFIG_FIELDS or key in SPECIAL_TOKENS_ATTRIBUTES:
            out[key] = _config_value(path, key, value)
        elif key == "additional_special_tokens":
            if not isinstance(value, list):
                raise InputFileError(f"{path}: additional_special_tokens must be a list, got {shown(value)}")
            out[key] = [_file_token(path, f"{key}[{i}]", v) for i, v in enumerate(value)]
        elif key == "added_tokens_decoder":
            if not isinstance(value, dict):
                raise InputFileError(
                    f"{path}: added_tokens_decoder must map ids to token objects, got {type(value).__name__}"
                )
            decoder = {}
            for idx, tok in value.items():
                tok = _file_token(path, f"added_tokens_decoder[{idx!r}]", tok)
                if isinstance(tok, str):
                    raise InputFileError(f"{path}: added_tokens_decoder[{idx!r}] must be a token object")
                decoder[_file_id(path, f"added_tokens_decoder key {shown(idx)}", idx)] = tok
            out[key] = decoder
        else:
            out[key] = value
    if out.get("model_max_length") is not None and out["model_max_length"] > VERY_LARGE_INTEGER:
        out["model_max_length"] = VERY_LARGE_INTEGER
    return out


def _legacy_files(directory):
    """special_tokens_map.json (attribute -> token or list of tokens) and added_tokens.json (content -> id) of a
    tokenizer directory, each None when absent. Both are read and checked whenever present (a malformed file is an
    InputFileError naming it), though HF uses them only for a directory whose tokenizer_config.json has no
    added_tokens_decoder (``_legacy_added_tokens``)."""
    special_map = added = None
    stm_path = os.path.join(directory, "special_tokens_map.json")
    if os.path.isfile(stm_path):
        stm = _read_json(stm_path)  # a JSON object (read_json refuses anything else)
        special_map = {}
        for key, value in stm.items():
            if value is None or (key not in SPECIAL_TOKENS_ATTRIBUTES and key != "additional_special_tokens"):
                continue
            if key == "additional_special_tokens":
                if not isinstance(value, list):
                    raise InputFileError(f"{stm_path}: additional_special_tokens must be a list, got {shown(value)}")
                special_map[key] = [_file_token(stm_path, f"{key}[{i}]", v, special=True) for i, v in enumerate(value)]
            else:
                special_map[key] = _file_token(stm_path, key, value, special=True)
    at_path = os.path.join(directory, "added_tokens.json")
    if os.path.isfile(at_path):
        table = _read_json(at_path)  # a JSON object (read_json refuses anything else)
        added = {}
        for content, idx in table.items():
            if not content:
                raise InputFileError(f"{at_path}: an added token must be a non-empty string")
            added[content] = _file_id(at_path, f"id of {shown(content)}", idx)
    return special_map, added


def _legacy_added_tokens(directory, init, kwargs):
    """HF's reading of a directory whose tokenizer_config.json has no added_tokens_decoder: special tokens from
    special_tokens_map.json (unless given as keywords), added_tokens.json's tokens, tokenizer.json's added tokens
    (when the tokenizer reads that file). Updates ``init``; returns the added tokens by id."""
    special_map, table = _legacy_files(directory)
    for key, value in (special_map or {}).items():
        if kwargs.get(key):
            continue
        if key == "additional_special_tokens":
            tokens = list(init.get(key) or [])
            tokens += [t for t in value if str(t) not in map(str, tokens)]
            value = tokens
        init[key] = value
    special = {str(init[k]) for k in SPECIAL_TOKENS_ATTRIBUTES if init.get(k) is not None}
    special |= {str(t) for t in init.get("additional_special_tokens") or []}
    added = {
        idx: AddedToken(content, normalized=content not in special, special=content in special)
        for content, idx in (table or {}).items()
    }
    if init.get("tokenizer_file") is not None:
        added.update(read_tokenizer_json(init["tokenizer_file"])[2])
    return added


def read_tokenizer_json(path):
    """tokenizer.json (tokenizers' format, a BPE model) -> (vocab, merges, added tokens by id, (cls id, sep id)
    of its post-processor or None), checked like vocab.json / merges.txt (ValueError naming the file)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tokenizer_file not found: {path!r} (expected a tokenizers tokenizer.json)")
    data = _read_json(path)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("type", "BPE") != "BPE":
        raise InputFileError(f"tokenizer_file {path!r}: needs a BPE model ('model': {{'type': 'BPE', ...}})")
    vocab = check_vocab(model.get("vocab"), f"tokenizer_file {path!r} model.vocab")
    raw = model.get("merges")
    if not isinstance(raw, list):
        raise InputFileError(f"tokenizer_file {path!r}: model.merges must be a list, got {type(raw).__name__}")
    merges = [
        check_merge(m.split(" ") if isinstance(m, str) else m, vocab, f"tokenizer_file {path!r} model.merges[{i}]")
        for i, m in enumerate(raw)
    ]
    added = {}
    for i, entry in enumerate(data.get("added_tokens") or []):
        if not isinstance(entry, dict):
            raise InputFileError(f"tokenizer_file {path!r}: added_tokens[{i}] must be an object")
        entry = dict(entry)
        idx = _file_id(path, f"added_tokens[{i}].id", entry.pop("id", None))
        added[idx] = _file_token(path, f"added_tokens[{i}]", entry)
    cls_sep = None
    post = data.get("post_processor")
    if isinstance(post, dict) and isinstance(post.get("cls"), list) and isinstance(post.get("sep"), list):
        cls_sep = (
            _file_id(path, "post_processor.cls id", post["cls"][-1]),
            _file_id(path, "post_processor.sep id", post["sep"][-1]),
        )
    return vocab, merges, added, cls_sep


def write_tokenizer_json(path, tokenizer):
    """tokenizer.json byte for byte as transformers' LEDTokenizerFast writes it (tokenizers' pretty JSON)."""
    added = [
        {"id": i, "content": t.content, **{k: getattr(t, k) for k in _ADDED_TOKEN_DEFAULTS}}
        for i, t in sorted(tokenizer._added.items())
    ]
    cls, sep = tokenizer._cls_sep
    aps = tokenizer.add_prefix_space
    data = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": aps, "trim_offsets": True, "use_regex": True},
        "post_processor": {
            "type": "RobertaProcessing",
            "sep": [tokenizer._id_to_token[sep], sep],
            "cls": [tokenizer._id_to_token[cls], cls],
            "trim_offsets": tokenizer.trim_offsets,
            "add_prefix_space": aps,
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": dict(sorted(tokenizer.encoder.items(), key=lambda kv: kv[1])),
            "merges": [list(m) for m in tokenizer.core.merges],
        },
    }
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2, ensure_ascii=False))


_CALL_DEFAULTS = dict(
    add_special_tokens=True,
    padding=False,
    truncation=None,
    max_length=None,
    stride=0,
    pad_to_multiple_of=None,
    padding_side=None,
    return_tensors=None,
    return_token_type_ids=None,
    return_attention_mask=None,
    return_overflowing_tokens=False,
    return_special_tokens_mask=False,
    return_offsets_mapping=False,
    return_length=False,
)


def _validate_opts(opts):
    if opts["padding_side"] not in (None, "left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {opts['padding_side']!r}")
    _tensor_type(opts["return_tensors"])
    _check_int(opts["stride"], "stride", 0, allow_none=False)


class LEDTokenizerFast(LEDTokenizer):
    """HF ``LEDTokenizerFast`` semantics (tokenizers' ByteLevel pre-tokenizer + RobertaProcessing), sharing the
    cached BPE core with ``LEDTokenizer``. Same ids as the slow class except where HF's fast tokenizer itself
    differs (documented in spec/SPEC.md#tokenizer-fast); adds ``return_offsets_mapping``, and encodings that know
    each token's word and sequence (``BatchEncoding.word_ids`` / ``sequence_ids``).

    Differences from the slow class, all following HF fast: ``<mask>`` strips only Unicode White_Space on its
    left (not U+001C..U+001F); ``add_prefix_space`` adds a space to every text segment between added tokens
    that does not start with " "; overflowing tokens come back as extra rows with
    ``overflow_to_sample_mapping``; truncation that cannot be satisfied raises instead of logging; the special
    tokens around a sequence are the ``<s>`` / ``</s>`` of construction time (tokenizers' post-processor); unknown
    call keywords are a TypeError; ``save_pretrained`` also writes tokenizer.json, and ``from_pretrained`` reads it.
    """

    is_fast = True
    vocab_files_names = {**VOCAB_FILES_NAMES, "tokenizer_file": "tokenizer.json"}

    def __init__(
        self,
        vocab_file=None,
        merges_file=None,
        tokenizer_file=None,
        errors="replace",
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        add_prefix_space=False,
        trim_offsets=True,
        **kwargs,
    ):
        named = dict(
            errors=errors,
            bos_token=bos_token,
            eos_token=eos_token,
            sep_token=sep_token,
            cls_token=cls_token,
            unk_token=unk_token,
            pad_token=pad_token,
            mask_token=mask_token,
            add_prefix_space=add_prefix_space,
            trim_offsets=trim_offsets,
        )
        if tokenizer_file is not None:
            kwargs["tokenizer_file"] = tokenizer_file
        self.trim_offsets = bool(trim_offsets)
        vocab, merges = self._read_model(vocab_file, merges_file, kwargs)
        self._setup(vocab, merges, named, kwargs)
        # tokenizers' RobertaProcessing keeps the <s> / </s> (and ids) it was built with
        cls_sep = self._file_cls_sep or (self.cls_token_id, self.sep_token_id)
        if None in cls_sep:
            raise TypeError("LEDTokenizerFast needs cls_token and sep_token: they surround every encoded sequence")
        self._cls_sep = cls_sep

    def _read_model(self, vocab_file, merges_file, kwargs):
        """(vocab, merges) from tokenizer.json when ``tokenizer_file`` is given (as HF prefers it), else from
        vocab.json + merges.txt; tokenizer.json's added tokens join ``added_tokens_decoder``."""
        self._file_cls_sep = None
        tokenizer_file = kwargs.get("tokenizer_file")
        if tokenizer_file is None:
            return super()._read_model(vocab_file, merges_file, kwargs)
        vocab, merges, added, self._file_cls_sep = read_tokenizer_json(tokenizer_file)
        self.vocab_file = None if vocab_file is None else os.fspath(vocab_file)
        self.merges_file = None if merges_file is None else os.fspath(merges_file)
        kwargs["added_tokens_decoder"] = {**added, **(kwargs.get("added_tokens_decoder") or {})}
        return vocab, merges

    @property
    def mask_token(self):
        value = self._special["mask_token"]
        return None if value is None else str(value)

    @mask_token.setter
    def mask_token(self, value):
        # HF fast: a mask token given as a str takes the space before it
        if isinstance(value, str):
            value = AddedToken(value, lstrip=True, rstrip=False)
        self._special["mask_token"] = _special_value(value, "mask_token", error=ValueError)
        self._refresh_special()

    def _add_tokens(self, new_tokens, special_tokens=False):
        """tokenizers' AddedVocabulary rule: a token equal (content and flags) to one already added, or empty, is
        ignored; any other is counted, keeps the id its content has (vocab.json or added) or gets the next one."""
        tokens = []
        for token in new_tokens:
            if isinstance(token, str):
                token = AddedToken(token, normalized=not special_tokens, special=special_tokens)
            else:
                token = _as_added_token(token)
                token.special = token.special or special_tokens
            tokens.append(token)
        count = 0
        for token in tokens:
            if not token.content or token in self._added.values():
                continue
            idx = self._added_encoder.get(token.content, self.encoder.get(token.content))
            if idx is None:
                top = max(self._added, default=-1)
                idx = top + 1 if top >= len(self.encoder) else len(self.encoder)
            self._added[idx] = token
            self._added_encoder[token.content] = idx
            count += 1
        self._rebuild_added()
        return count

    def _text_options(self, kwargs, split_special_tokens=None):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: got an unexpected keyword argument {sorted(kwargs)[0]!r}")
        split = self.split_special_tokens if split_special_tokens is None else bool(split_special_tokens)
        return split, None

    def _strip_left(self, s):
        return _RUST_TRAILING_WS.sub("", s)

    def _strip_right(self, s):
        return _RUST_LEADING_WS.sub("", s)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        return with_special_tokens(self.bos_token_id, self.eos_token_id, token_ids_0, token_ids_1)

    # ------------------------------------------------------------ encoding with offsets
    def _prefixed(self, seg):
        """tokenizers' ByteLevel add_prefix_space: a space before every segment that does not start with one."""
        return " " + seg if self.add_prefix_space and not seg.startswith(" ") else seg

    def _text_encoding(self, text, split_special_tokens=False):
        """One sequence before post-processing: [ids, starts, ends, lead, trail] (a list and int64 arrays),
        offsets in characters of ``text``, untrimmed; lead/trail count the token's leading/trailing whitespace
        characters."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids: list[int] = []
        cols: list[list[np.ndarray]] = [[], [], [], []]  # starts, ends, lead, trail: int64 pieces
        for seg, s0, e0, added, matched in self._split_added(text, split_special_tokens):
            if added:
                # the span includes the whitespace an lstrip/rstrip token consumed; trimming removes it
                s0 -= matched.index(seg)
                e0 = s0 + len(matched)
                lead = len(matched) - len(_RUST_LEADING_WS.sub("", matched))
                trail = len(matched) - len(_RUST_TRAILING_WS.sub("", matched))
                ids.append(self._added_encoder[seg])
                for col, v in zip(cols, (s0, e0, lead, trail)):
                    col.append(np.array([v], dtype=np.int64))
                continue
            prefixed = self.add_prefix_space and not seg.startswith(" ")
            i, s, e, lt, tr = self.core.encode_with_spans(" " + seg if prefixed else seg)
            if prefixed:
                # the added space is aligned with the segment's first character
                s = np.maximum(s - 1, 0)
                e = np.maximum(e - 1, 1)
            ids.extend(i)
            for col, v in zip(cols, (s + s0, e + s0, lt, tr)):
                col.append(v)
        return [ids] + [np.concatenate(c) if c else np.zeros(0, dtype=np.int64) for c in cols]

    def _fast_ids(self, text, split_special_tokens=False):
        """Ids only (no offsets): the same segmentation as _text_encoding without the span bookkeeping."""
        ids = []
        for seg, _, _, added, _ in self._split_added(text, split_special_tokens):
            if added:
                ids.append(self._added_encoder[seg])
            else:
                ids.extend(self.core.encode(self._prefixed(seg)))
        return ids

    def _word_ids(self, ref):
        """(tokens,) int64 word index of each token of one sequence (``ref``: (input, split_special_tokens)):
        each pre-tokenizer word and each added token is one word, counted from 0 (tokenizers' word ids). A
        pre-tokenized input (token strings or ids) has one word per token."""
        text, split = ref
        if not isinstance(text, str):
            return np.arange(len(text), dtype=np.int64)
        words, n = [], 0
        for seg, _, _, added, _ in self._split_added(text, split):
            counts = np.ones(1, dtype=np.int64) if added else self.core.word_token_counts(self._prefixed(seg))
            words.append(n + np.repeat(np.arange(len(counts), dtype=np.int64), counts))
            n += len(counts)
        return np.concatenate(words) if words else np.zeros(0, dtype=np.int64)

    def _sequence(self, text, name, offsets=True, split_special_tokens=False):
        """One sequence as columns [ids, starts, ends, lead, trail, positions]: positions index its tokens before
        truncation (for word ids)."""
        if isinstance(text, str) and offsets:
            enc = self._text_encoding(text, split_special_tokens)
            return enc + [np.arange(len(enc[0]), dtype=np.int64)]
        ids = self._fast_ids(text, split_special_tokens) if isinstance(text, str) else self._input_ids(text, name)
        positions = np.arange(len(ids), dtype=np.int64)
        # without offsets the four span columns are never read (only sliced along): positions stand in for them
        return [ids, positions, positions, positions, positions, positions]

    def tokenize(self, text, pair=None, add_special_tokens=False, **kwargs):
        """Token strings as HF fast gives them (the tokens of ``encode(text, pair, add_special_tokens)``; an added
        token's string includes the whitespace it stripped)."""
        split = kwargs.pop("split_special_tokens", None)
        split, _ = self._text_options(kwargs, split)
        pair = pair or None  # HF fast (encode_plus): a falsy pair, "" included, means no pair
        tokens = [self._text_tokens(t, split) for t in ([text] if pair is None else [text, pair])]
        if not add_special_tokens:
            return [t for seq in tokens for t in seq]
        cls, sep = (self._id_to_token[i] for i in self._cls_sep)
        out = [cls, *tokens[0], sep]
        return out if pair is None else out + [sep, *tokens[1], sep]

    def _text_tokens(self, text, split_special_tokens):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        out: list[str] = []
        for seg, _, _, added, matched in self._split_added(text, split_special_tokens):
            out.extend([matched] if added else self.core.tokenize(self._prefixed(seg)))
        return out

    def _text_to_ids(self, text, split_special_tokens=False, add_prefix_space=None):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self._fast_ids(text, split_special_tokens)

    def _trim(self, enc):
        """tokenizers' ByteLevel process_offsets (trim_offsets): drop leading/trailing spaces from offsets."""
        ids, s, e, lead, trail = enc[:5]
        if not ids:
            return [], []
        s = np.asarray(s, dtype=np.int64)
        e = np.asarray(e, dtype=np.int64)
        lead = np.asarray(lead, dtype=np.int64)
        trail = np.asarray(trail, dtype=np.int64)
        if self.trim_offsets:
            lead_eff = lead.copy()
            if self.add_prefix_space:
                first = (np.arange(len(ids)) == 0) | (s == 0)
                lead_eff[first & (lead == 1)] = 0  # keep the space add_prefix_space put there
            s = np.minimum(s + lead_eff, e)
            e = np.where((trail > 0) & (e >= trail), np.maximum(e - trail, s), e)
        return s.tolist(), e.tolist()

    @staticmethod
    def _window(enc, max_len, stride, left):
        """tokenizers' Encoding.truncate: the kept part and the overflowing windows (stride overlap)."""
        n = len(enc[0])
        if max_len >= n:
            return [enc]
        if max_len == 0:
            return [[part[:0] for part in enc], enc]
        if stride >= max_len:
            raise ValueError(
                f"stride ({stride}) must be smaller than the room left for tokens ({max_len}: max_length minus "
                "special tokens)"
            )
        step = max_len - stride
        ranges = []
        if not left:
            for start in range(0, n, step):
                stop = min(start + max_len, n)
                ranges.append((start, stop))
                if stop == n:
                    break
        else:
            for stop in range(n, -1, -step):
                start = max(stop - max_len, 0)
                if start < stop:
                    ranges.append((start, stop))
                    if start == 0:
                        break
        return [[part[a:b] for part in enc] for a, b in ranges]

    def _truncate(self, first, second, trunc, max_length, stride, add_special_tokens):
        """tokenizers' truncate_encodings -> (list of first pieces, list of second pieces or None)."""
        pair = second is not None
        left = self.truncation_side == "left"
        if trunc == "do_not_truncate" or max_length is None:
            return [first], ([second] if pair else None)
        n_special = self.num_special_tokens_to_add(pair) if add_special_tokens else 0
        if max_length < n_special:
            # tokenizers subtracts the special tokens from max_length in unsigned arithmetic: below their count the
            # limit wraps around to "no limit", so HF returns the input untruncated (as the slow class does)
            return [first], ([second] if pair else None)
        room = max_length - n_special
        n1, n2 = len(first[0]), len(second[0]) if pair else 0
        if room == 0:
            return self._window(first, 0, stride, left), (self._window(second, 0, stride, left) if pair else None)
        if n1 + n2 <= room:
            return [first], ([second] if pair else None)
        to_remove = n1 + n2 - room
        if trunc == "longest_first":
            if not pair:
                return self._window(first, n1 - to_remove, stride, left), None
            a, b, swap = n1, n2, False
            if a > b:
                a, b, swap = b, a, True
            b = a if a > room else max(a, room - a)
            if a + b > room:
                a = room // 2
                b = a + room % 2
            if swap:
                a, b = b, a
            return self._window(first, a, stride, left), self._window(second, b, stride, left)
        if trunc == "only_second" and not pair:
            raise ValueError("truncation='only_second' needs a text_pair")
        target_len = n1 if trunc == "only_first" else n2
        if target_len <= to_remove:
            raise ValueError(
                f"Truncation error: the {'first' if trunc == 'only_first' else 'second'} sequence has "
                f"{target_len} tokens, too few to remove {to_remove} and respect max_length={max_length}"
            )
        if trunc == "only_first":
            return self._window(first, n1 - to_remove, stride, left), ([second] if pair else None)
        return [first], self._window(second, n2 - to_remove, stride, left)

    def _post(self, a, b, add_special_tokens, with_offsets=True, refs=(None, None)):
        """RobertaProcessing on one (first, second) piece pair -> row dict (offsets only when asked for). The row's
        ``_layout`` records where each sequence's tokens sit (``_Alignment``)."""
        pieces = [a] if b is None else [a, b]
        seqs: list[tuple] = [("seq", k, refs[k], piece[5]) for k, piece in enumerate(pieces)]
        if add_special_tokens:
            cls, sep = self._cls_sep
            ids = [cls] + list(a[0]) + [sep]
            stm = [1] + [0] * len(a[0]) + [1]
            layout = [("special", 1, cls), seqs[0], ("special", 1, sep)]
            if b is not None:
                ids += [sep] + list(b[0]) + [sep]
                stm += [1] + [0] * len(b[0]) + [1]
                layout += [("special", 1, sep), seqs[1], ("special", 1, sep)]
        else:
            ids = list(a[0]) + (list(b[0]) if b is not None else [])
            stm = [0] * len(ids)
            layout = seqs
        row = {
            "input_ids": ids,
            "token_type_ids": [0] * len(ids),
            "attention_mask": [1] * len(ids),
            "special_tokens_mask": stm,
            "_layout": layout,
        }
        if with_offsets:
            offsets = []
            for piece in pieces:
                s, e = self._trim(piece)
                if add_special_tokens:
                    offsets += [(0, 0)] + list(zip(s, e)) + [(0, 0)]
                else:
                    offsets += list(zip(s, e))
            row["offset_mapping"] = offsets
        return row

    def _encode_single(self, text, text_pair, **opts):
        # HF fast: a falsy text_pair ("" included) means "no pair" for a single input
        out = self._batch_encode([(text, text_pair or None)], **opts)
        if opts.get("return_tensors") is None and not opts.get("return_overflowing_tokens"):
            out = BatchEncoding(
                {k: (v[0] if v and isinstance(v[0], list) else v) for k, v in out.items()}, alignment=out._alignment
            )
        return out

    def _batch_encode(  # type: ignore[override]  # the options as named parameters, not **opts
        self,
        pairs,
        *,
        add_special_tokens=True,
        padding=False,
        truncation=None,
        max_length=None,
        stride=0,
        pad_to_multiple_of=None,
        padding_side=None,
        return_tensors=None,
        return_token_type_ids=None,
        return_attention_mask=None,
        return_overflowing_tokens=False,
        return_special_tokens_mask=False,
        return_offsets_mapping=False,
        return_length=False,
        text_options=(False, None),
    ):
        _validate_opts(dict(padding_side=padding_side, return_tensors=return_tensors, stride=stride))
        pad, trunc, max_length = self._strategies(padding, truncation, max_length, pad_to_multiple_of)
        split = text_options[0]
        items = []  # per input: list of rows (main first, then overflow)
        for a, b in pairs:
            first = self._sequence(a, "text", return_offsets_mapping, split)
            second = self._sequence(b, "text_pair", return_offsets_mapping, split) if b is not None else None
            fa, fb = self._truncate(first, second, trunc, max_length, stride, add_special_tokens)
            post = functools.partial(
                self._post,
                add_special_tokens=add_special_tokens,
                with_offsets=return_offsets_mapping,
                refs=((a, split), (b, split)),
            )
            if fb is None:
                rows = [post(x, None) for x in fa]
            else:
                # tokenizers' Encoding.merge_with: main pair, then each first-overflow with the second
                # (and its overflows), then the first with each second-overflow
                rows = [post(fa[0], fb[0])]
                for xa in fa[1:]:
                    rows.append(post(xa, fb[0]))
                    for xb in fb[1:]:
                        rows.append(post(xa, xb))
                for xb in fb[1:]:
                    rows.append(post(fa[0], xb))
            items.append(rows)
        if pad != "do_not_pad":
            target = max(len(r[0]["input_ids"]) for r in items) if pad == "longest" else max_length
            if pad_to_multiple_of and target % pad_to_multiple_of:
                target = (target // pad_to_multiple_of + 1) * pad_to_multiple_of
            side = padding_side if padding_side is not None else self.padding_side
            fills = {
                "input_ids": self.pad_token_id,
                "token_type_ids": self.pad_token_type_id,
                "attention_mask": 0,
                "special_tokens_mask": 1,
                "offset_mapping": (0, 0),
            }
            for rows in items:
                for row in rows:
                    diff = target - len(row["input_ids"])
                    if diff > 0:
                        for k, fill in fills.items():
                            if k in row:
                                row[k] = row[k] + [fill] * diff if side == "right" else [fill] * diff + row[k]
                        pad_part = [("pad", diff, self.pad_token_id)]
                        row["_layout"] = row["_layout"] + pad_part if side == "right" else pad_part + row["_layout"]
        if not return_overflowing_tokens:
            items = [rows[:1] for rows in items]
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        keep = ["input_ids"]
        if return_token_type_ids:
            keep.append("token_type_ids")
        if return_attention_mask:
            keep.append("attention_mask")
        if return_special_tokens_mask:
            keep.append("special_tokens_mask")
        if return_offsets_mapping:
            keep.append("offset_mapping")
        out = {k: [row[k] for rows in items for row in rows] for k in keep}
        if return_length:
            out["length"] = [len(row["input_ids"]) for rows in items for row in rows]
        if return_overflowing_tokens:
            out["overflow_to_sample_mapping"] = [i for i, rows in enumerate(items) for _ in rows]
        for ids in out["input_ids"]:
            self._warn_if_too_long(ids, max_length)
        alignment = _Alignment(self, [row["_layout"] for rows in items for row in rows])
        return BatchEncoding(out, tensor_type=return_tensors, alignment=alignment)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        """As LEDTokenizer (HF's fast class only supports already_has_special_tokens=True and asserts
        otherwise; led-ref gives the slow class's answer instead of failing)."""
        return super().get_special_tokens_mask(token_ids_0, token_ids_1, already_has_special_tokens)

    # ------------------------------------------------------------ files
    def save_vocabulary(self, save_directory, filename_prefix=None):
        """vocab.json and merges.txt as tokenizers writes them (HF fast)."""
        return write_vocab_files(save_directory, self.encoder, self.core.merges, filename_prefix, by_id=True)

    def _save_model_files(self, save_directory, legacy_format, filename_prefix):
        """HF fast: the slow files unless ``legacy_format=False``, tokenizer.json unless ``legacy_format=True``."""
        paths: tuple[str, ...] = ()
        if legacy_format is None or legacy_format is True:
            paths += self._save_legacy_files(save_directory, filename_prefix)
        if legacy_format is None or legacy_format is False:
            prefix = filename_prefix + "-" if filename_prefix else ""
            paths += (os.path.join(save_directory, prefix + "tokenizer.json"),)
            write_tokenizer_json(paths[-1], self)
        return paths
