"""LED tokenizers: HF's ``LEDTokenizer`` (slow, Python) and ``LEDTokenizerFast`` (Rust) semantics in Python
(+ NumPy for offsets and ``return_tensors="np"``) over the shared byte-level BPE core in ``led_ref/bpe.py``.

``LEDTokenizer`` follows transformers 4.46.3 ``LEDTokenizer``; ``LEDTokenizerFast`` follows
``LEDTokenizerFast`` (tokenizers' ByteLevel + RobertaProcessing) where the two differ: offsets, overflow
windows, prefix space, whitespace stripped by ``<mask>``, truncation errors. Both produce HF's exact ids.
Normative description: spec/SPEC.md#tokenizer
"""

import functools
import json
import os
from dataclasses import asdict, dataclass
from itertools import chain
from typing import Any

import numpy as np
import regex

from .bpe import BYTE_DECODER, ByteLevelBPE, load_merges, load_vocab
from .errors import InputFileError, read_json, shown
from .inputs import GLOBAL_MASK_PAD

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
    """A token matched verbatim in raw text before BPE (HF's AddedToken fields)."""

    content: str
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False
    normalized: bool = False
    special: bool = True

    def __str__(self):
        return self.content


class BatchEncoding(dict):
    """The dict HF returns from ``__call__``/``pad``; keys are also attributes."""

    def __init__(self, data=None, tensor_type=None, prepend_batch_axis=False):
        super().__init__(data or {})
        self.convert_to_tensors(tensor_type, prepend_batch_axis)

    def __getattr__(self, item):
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None

    @property
    def data(self):
        return dict(self)

    def convert_to_tensors(self, tensor_type=None, prepend_batch_axis=False):
        if tensor_type is None:
            return self
        if tensor_type != "np":
            raise ValueError(f"return_tensors must be None or 'np' (led-ref is NumPy only), got {tensor_type!r}")
        for key, value in list(self.items()):
            if isinstance(value, np.ndarray):
                continue
            if prepend_batch_axis:
                value = [value]
            try:
                arr = np.asarray(value)
                if arr.dtype == object:
                    raise ValueError
                if arr.dtype.kind in "iub":
                    arr = arr.astype(np.int64)
            except ValueError:
                raise ValueError(
                    f"Unable to create a tensor for {key!r}: sequences have different lengths; "
                    "use padding=True (and truncation=True) to return equal-length arrays"
                ) from None
            self[key] = arr
        return self


def _to_token(value, name, default_lstrip=False):
    if value is None:
        return None
    if isinstance(value, AddedToken):
        return value
    if isinstance(value, dict) and "content" in value:
        if not isinstance(value["content"], str) or not value["content"]:
            raise TypeError(f"{name}: 'content' must be a non-empty str, got {value['content']!r}")
        for flag in ("lstrip", "rstrip", "single_word", "normalized", "special"):
            if not isinstance(value.get(flag, False), bool):
                raise TypeError(f"{name}: {flag!r} must be true or false, got {value[flag]!r}")
        return AddedToken(
            value["content"],
            lstrip=bool(value.get("lstrip", False)),
            rstrip=bool(value.get("rstrip", False)),
            single_word=bool(value.get("single_word", False)),
            normalized=bool(value.get("normalized", False)),
            special=bool(value.get("special", True)),
        )
    if isinstance(value, str):
        return AddedToken(value, lstrip=default_lstrip)
    raise TypeError(
        f"{name} must be a str, an AddedToken or a {{'content': str, ...}} object, got "
        f"{type(value).__name__} {shown(value)}"
    )


def _check_int(value, name, minimum=0, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _is_ids(t):
    return isinstance(t, (list, tuple)) and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in t)


class LEDTokenizer:
    """HF ``LEDTokenizer``: byte-level BPE with GPT-2 merges, BART/LED special tokens and LED's padding rule
    for ``global_attention_mask`` (padded with -1). spec/SPEC.md#tokenizer"""

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]
    is_fast = False

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
        *,
        model_max_length=VERY_LARGE_INTEGER,
        padding_side="right",
        truncation_side="right",
        clean_up_tokenization_spaces=False,
        added_tokens_decoder=None,
        **kwargs,
    ):
        kwargs.pop("trim_offsets", None)  # fast-only option, accepted for config compatibility
        for k in ("tokenizer_class", "name_or_path", "tokenizer_file", "special_tokens_map_file", "auto_map"):
            kwargs.pop(k, None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown argument(s) {sorted(kwargs)}")
        if errors not in ERROR_HANDLERS:
            raise ValueError(f"errors must be a bytes.decode error handler such as 'replace', got {errors!r}")
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if truncation_side not in ("left", "right"):
            raise ValueError(f"truncation_side must be 'left' or 'right', got {truncation_side!r}")
        _check_int(model_max_length, "model_max_length", 1, allow_none=False)
        vocab = load_vocab(vocab_file)
        merges = load_merges(merges_file, vocab)
        self.vocab_file, self.merges_file = os.fspath(vocab_file), os.fspath(merges_file)
        self.errors = errors
        self.add_prefix_space = bool(add_prefix_space)
        self.model_max_length = int(model_max_length)
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.clean_up_tokenization_spaces = bool(clean_up_tokenization_spaces)
        self.pad_token_type_id = 0
        self.core = ByteLevelBPE(vocab, merges, unk_token=str(unk_token))
        self.encoder = self.core.encoder
        # The mask token "behaves like a normal word": it eats the whitespace before it.
        given = dict(
            bos_token=bos_token,
            eos_token=eos_token,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
        )
        self._special = {}
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            self._special[attr] = _to_token(given[attr], attr, default_lstrip=(attr == "mask_token"))
        # Added tokens: id -> AddedToken. Special tokens missing from the vocabulary get new ids at the end.
        self._added = {}
        for idx, tok in (added_tokens_decoder or {}).items():
            tok = _to_token(tok, "added_tokens_decoder")
            self._added[int(idx)] = tok
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            tok = self._special[attr]
            if tok is None or tok.content in {t.content for t in self._added.values()}:
                continue
            idx = vocab.get(tok.content)
            if idx is None:
                idx = max(chain(vocab.values(), self._added)) + 1
            self._added[idx] = tok
        self._rebuild_added()

    # ---------------------------------------------------------------- vocabulary
    def _rebuild_added(self):
        for tok in self._added.values():
            if tok.single_word:
                raise ValueError(f"added token {tok.content!r}: single_word=True is not supported by led-ref")
        self._added_encoder = {t.content: i for i, t in self._added.items()}
        self._added_by_content = {t.content: t for t in self._added.values()}
        contents = sorted(self._added_encoder, key=len, reverse=True)
        self._added_re = regex.compile("(" + "|".join(map(regex.escape, contents)) + ")") if contents else None
        self._id_to_token = dict(self.core.decoder)
        for i, t in self._added.items():
            self._id_to_token[i] = t.content
        self._id_bytes = {}
        for i, tok in self._id_to_token.items():
            if all(c in BYTE_DECODER for c in tok):
                self._id_bytes[i] = bytes(BYTE_DECODER[c] for c in tok)
            else:  # not a byte-level string (only possible for added tokens): its own UTF-8 bytes
                self._id_bytes[i] = tok.encode("utf-8", "surrogatepass")
        self._n_ids = max(self._id_to_token) + 1
        self._all_special_ids = {self._added_encoder[t.content] for t in self._special.values() if t is not None}
        self._all_special_tokens = {t.content for t in self._special.values() if t is not None}
        self._cls_sep = (self.cls_token_id, self.sep_token_id)
        # ids decode(skip_special_tokens=True) drops: HF slow drops the special-token attributes only; HF fast
        # (Rust) also drops added tokens declared special=True (e.g. in tokenizer_config's added_tokens_decoder)
        self._skip_ids = set(self._all_special_ids)
        if self.is_fast:
            self._skip_ids |= {i for i, t in self._added.items() if t.special}

    @property
    def vocab_size(self):
        """Size of the base vocabulary (vocab.json), without added tokens."""
        return len(self.encoder)

    def __len__(self):
        return len(self.get_vocab())

    def get_vocab(self):
        return dict(self.encoder, **self._added_encoder)

    def get_added_vocab(self):
        return dict(self._added_encoder)

    def __getattr__(self, name):
        # bos_token / bos_token_id / ... are derived from the special-token table.
        special = self.__dict__.get("_special")
        if special is not None:
            if name in special:
                tok = special[name]
                return None if tok is None else tok.content
            if name.endswith("_id") and name[:-3] in special:
                tok = special[name[:-3]]
                return None if tok is None else self._added_encoder[tok.content]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def all_special_tokens(self):
        seen = []
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            tok = self._special[attr]
            if tok is not None and tok.content not in seen:
                seen.append(tok.content)
        return seen

    @property
    def all_special_ids(self):
        return [self._added_encoder[t] for t in self.all_special_tokens]

    @property
    def special_tokens_map(self):
        return {a: t.content for a, t in self._special.items() if t is not None}

    def num_special_tokens_to_add(self, pair=False):
        return len(self.build_inputs_with_special_tokens([], [] if pair else None))

    # ---------------------------------------------------------------- tokenization
    def _strip_left(self, s):
        return s.rstrip()

    def _strip_right(self, s):
        return s.lstrip()

    def _split_added(self, text):
        """Split raw text on added/special tokens: list of [segment, start, end, is_added, matched], applying
        each token's lstrip/rstrip to its neighbours (HF PreTrainedTokenizer.tokenize); ``matched`` is an added
        token's text including the whitespace it stripped (the token string HF fast reports)."""
        if self._added_re is None or self._added_re.search(text) is None:
            return [[text, 0, len(text), False, None]] if text else []
        parts = []
        pos = 0
        for m in self._added_re.finditer(text):
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

    def _prepare_text(self, text):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self.add_prefix_space and text and not text[0].isspace():
            text = " " + text
        return text

    def tokenize(self, text, **kwargs):
        """Byte-level token strings of ``text``; added/special tokens found in the text are kept whole."""
        if kwargs:
            raise TypeError(f"tokenize: unknown argument(s) {sorted(kwargs)}")
        out: list[str] = []
        for seg, _, _, added, _ in self._split_added(self._prepare_text(text)):
            out.extend([seg] if added else self.core.tokenize(seg))
        return out

    def _text_to_ids(self, text):
        ids = []
        for seg, _, _, added, _ in self._split_added(self._prepare_text(text)):
            if added:
                ids.append(self._added_encoder[seg])
            else:
                ids.extend(self.core.encode(seg))
        return ids

    def convert_tokens_to_ids(self, tokens):
        if tokens is None:
            return None
        unk = self.unk_token_id

        def one(t):
            if not isinstance(t, str):
                raise TypeError(f"tokens must be str or a list of str, got an item of type {type(t).__name__}")
            i = self._added_encoder.get(t)
            return i if i is not None else self.encoder.get(t, unk)

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
        table = BYTE_DECODER
        out = bytearray()
        for t in tokens:
            if all(c in table for c in t):
                out.extend(table[c] for c in t)
            else:
                out.extend(t.encode("utf-8", "surrogatepass"))
        return bytes(out).decode("utf-8", errors=self.errors)

    # ---------------------------------------------------------------- special tokens
    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        """``<s> A </s>`` or ``<s> A </s></s> B </s>``."""
        if token_ids_1 is None:
            return [self.cls_token_id] + list(token_ids_0) + [self.sep_token_id]
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        return cls + list(token_ids_0) + sep + sep + list(token_ids_1) + sep

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
        if token_ids_1 is None:
            return [1] + [0] * len(token_ids_0) + [1]
        return [1] + [0] * len(token_ids_0) + [1, 1] + [0] * len(token_ids_1) + [1]

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        """LED does not use token types: all zeros over the built sequence."""
        n = len(token_ids_0) + 2 if token_ids_1 is None else len(token_ids_0) + len(token_ids_1) + 4
        return [0] * n

    # ---------------------------------------------------------------- strategies
    def _strategies(self, padding=False, truncation=None, max_length=None, pad_to_multiple_of=None):
        """HF's _get_padding_truncation_strategies (without deprecated arguments)."""
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
    def _input_ids(self, text, name):
        if isinstance(text, str):
            return self._text_to_ids(text)
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            return self.convert_tokens_to_ids(list(text))
        if isinstance(text, (list, tuple)) and _is_ids(text):
            return self._check_ids(list(text), name)
        raise TypeError(f"{name} must be a str, a list of token strings or a list of ids, got {type(text).__name__}")

    def _validate_call(self, text, text_pair, padding_side, return_tensors, stride, is_split_into_words):
        if is_split_into_words:
            raise ValueError("is_split_into_words=True is not supported by led-ref; pass raw text")
        if padding_side not in (None, "left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if return_tensors not in (None, "np"):
            raise ValueError(f"return_tensors must be None or 'np' (led-ref is NumPy only), got {return_tensors!r}")
        _check_int(stride, "stride", 0, allow_none=False)

        def valid(t):
            return isinstance(t, str) or (isinstance(t, (list, tuple)) and all(isinstance(x, str) for x in t))

        if not valid(text):
            raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")
        if text_pair is not None and not valid(text_pair):
            raise TypeError(f"text_pair must be a str or a list of str, got {type(text_pair).__name__}")
        batched = isinstance(text, (list, tuple))
        if batched:
            if isinstance(text_pair, str):
                raise TypeError("when text is a batch (list), text_pair must be a list of the same length")
            if text_pair is not None and len(text) != len(text_pair):
                raise ValueError(f"batch length of text ({len(text)}) does not match text_pair ({len(text_pair)})")
        elif text_pair is not None and not isinstance(text_pair, str):
            raise TypeError("when text is a str, text_pair must be a str")
        return batched

    def __call__(
        self,
        text=None,
        text_pair=None,
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
    ):
        """Encode a str, a pair, or batches of them (HF ``__call__``). spec/SPEC.md#tokenizer-call"""
        if text is None:
            raise ValueError("text must be given (a str or a list of str)")
        batched = self._validate_call(text, text_pair, padding_side, return_tensors, stride, is_split_into_words)
        opts = dict(
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
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
        if batched:
            if len(text) == 0:
                raise ValueError("text is an empty batch: pass at least one str")
            pairs = list(zip(text, text_pair)) if text_pair is not None else [(t, None) for t in text]
            return self._batch_encode(pairs, **opts)
        return self._encode_single(text, text_pair, **opts)

    def encode_plus(self, text, text_pair=None, **kwargs):
        return self._encode_single(text, text_pair, **_call_defaults(kwargs))

    def batch_encode_plus(self, batch_text_or_text_pairs, **kwargs):
        pairs = [
            tuple(x) if isinstance(x, (list, tuple)) and len(x) == 2 and not _is_ids(x) else (x, None)
            for x in batch_text_or_text_pairs
        ]
        return self._batch_encode(pairs, **_call_defaults(kwargs))

    def encode(
        self,
        text,
        text_pair=None,
        add_special_tokens=True,
        padding=False,
        truncation=None,
        max_length=None,
        stride=0,
        padding_side=None,
        return_tensors=None,
    ):
        """Ids of one text (or pair): ``self(text, text_pair, ...)['input_ids']``."""
        out = self._encode_single(
            text,
            text_pair,
            **_call_defaults(
                dict(
                    add_special_tokens=add_special_tokens,
                    padding=padding,
                    truncation=truncation,
                    max_length=max_length,
                    stride=stride,
                    padding_side=padding_side,
                    return_tensors=return_tensors,
                )
            ),
        )
        return out["input_ids"]

    def _encode_single(self, text, text_pair, *, return_offsets_mapping=False, **opts):
        if return_offsets_mapping:
            raise ValueError("return_offsets_mapping needs LEDTokenizerFast (HF's slow tokenizer has no offsets)")
        _validate_opts(opts)
        first = self._input_ids(text, "text")
        second = self._input_ids(text_pair, "text_pair") if text_pair is not None else None
        return self.prepare_for_model(first, second, prepend_batch_axis=True, **opts)

    def _batch_encode(self, pairs, return_offsets_mapping=False, **opts):
        if return_offsets_mapping:
            raise ValueError("return_offsets_mapping needs LEDTokenizerFast (HF's slow tokenizer has no offsets)")
        _validate_opts(opts)
        pad, trunc, max_length = self._strategies(
            opts["padding"], opts["truncation"], opts["max_length"], opts["pad_to_multiple_of"]
        )
        batch: dict[str, list] = {}
        for a, b in pairs:
            first = self._input_ids(a, "text")
            second = self._input_ids(b, "text_pair") if b is not None else None
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
        if return_token_type_ids and not add_special_tokens:
            raise ValueError("return_token_type_ids=True needs add_special_tokens=True")
        if return_overflowing_tokens and trunc == "longest_first" and pair:
            raise ValueError(
                "Not possible to return overflowing tokens for a pair of sequences with truncation='longest_first'; "
                "use 'only_first' or 'only_second'"
            )
        if return_attention_mask is None:
            return_attention_mask = True
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
        if return_length:
            encoded["length"] = len(encoded["input_ids"])
        return BatchEncoding(encoded, tensor_type=return_tensors, prepend_batch_axis=prepend_batch_axis)

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
        if not isinstance(encoded_inputs, dict):
            raise TypeError("encoded_inputs must be a dict of lists or a list of dicts holding 'input_ids'")
        if "input_ids" not in encoded_inputs:
            raise ValueError(f"encoded_inputs must include 'input_ids', got keys {list(encoded_inputs)}")
        encoded_inputs = dict(encoded_inputs)
        required = encoded_inputs["input_ids"]
        if required is None or len(required) == 0:
            if return_attention_mask:
                encoded_inputs["attention_mask"] = []
            return BatchEncoding(encoded_inputs)
        # NumPy input (arrays, or lists of arrays) comes back as NumPy unless return_tensors says otherwise
        first = required[0]
        if isinstance(first, (list, tuple)):
            first = next((row[0] for row in required if len(row)), first)
        if isinstance(required, np.ndarray) or isinstance(first, (np.ndarray, np.integer)):
            return_tensors = "np" if return_tensors is None else return_tensors
            encoded_inputs = {k: _to_py(v) for k, v in encoded_inputs.items()}
            required = encoded_inputs["input_ids"]
        pad, _, max_length = self._strategies(padding, None, max_length, None)
        _check_int(pad_to_multiple_of, "pad_to_multiple_of", 1)
        if not isinstance(required[0], (list, tuple)):
            out = self._pad(encoded_inputs, max_length, pad, pad_to_multiple_of, padding_side, return_attention_mask)
            return BatchEncoding(out, tensor_type=return_tensors)
        n = len(required)
        for k, v in encoded_inputs.items():
            if len(v) != n:
                raise ValueError(f"encoded_inputs[{k!r}] has batch size {len(v)}, but input_ids has {n}")
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
            return_attention_mask = True
        required = encoded["input_ids"]
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
                "input_ids": self.pad_token_id,
            }
            for key, fill in fills.items():
                if key not in encoded or (key == "attention_mask" and not return_attention_mask):
                    continue
                if side == "right":
                    encoded[key] = list(encoded[key]) + [fill] * diff
                else:
                    encoded[key] = [fill] * diff + list(encoded[key])
        if return_attention_mask and "global_attention_mask" in encoded:
            gam = list(encoded["global_attention_mask"])
            diff = len(encoded["input_ids"]) - len(gam)
            if diff:
                # -1, not 0: 0 in global_attention_mask means local attention, not "no attention"
                if self.padding_side == "right":
                    gam = gam + [GLOBAL_MASK_PAD] * diff
                else:
                    gam = [GLOBAL_MASK_PAD] * diff + gam
            encoded["global_attention_mask"] = gam
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
        legacy = {i for i, t in self._added.items() if t.content not in self._all_special_tokens}
        if legacy and self._legacy_join and any(i in legacy for i in ids):
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

    _legacy_join = True

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
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Load from a directory with vocab.json + merges.txt (and tokenizer_config.json,
        special_tokens_map.json, added_tokens.json when present). Keyword arguments override the files."""
        d = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(d):
            raise FileNotFoundError(f"tokenizer directory not found: {d!r} (led-ref loads local directories only)")
        vocab_file, merges_file = os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt")
        for f in (vocab_file, merges_file):
            if not os.path.isfile(f):
                raise FileNotFoundError(
                    f"{f!r} not found: an LED tokenizer directory needs vocab.json and merges.txt "
                    "(tokenizer.json alone is not supported)"
                )
        init = {}
        added_decoder = {}
        cfg_path = os.path.join(d, "tokenizer_config.json")
        if os.path.isfile(cfg_path):
            cfg = _read_json(cfg_path)
            for key in (
                "errors",
                "add_prefix_space",
                "model_max_length",
                "padding_side",
                "truncation_side",
                "clean_up_tokenization_spaces",
                "trim_offsets",
                *SPECIAL_TOKENS_ATTRIBUTES,
            ):
                if key in cfg and cfg[key] is not None:
                    init[key] = _config_value(cfg_path, key, cfg[key])
            decoder = cfg.get("added_tokens_decoder") or {}
            if not isinstance(decoder, dict):
                raise InputFileError(
                    f"{cfg_path}: added_tokens_decoder must map ids to token objects, got {type(decoder).__name__}"
                )
            for idx, tok in decoder.items():
                added_decoder[_file_id(cfg_path, f"added_tokens_decoder key {shown(idx)}", idx)] = _file_token(
                    cfg_path, f"added_tokens_decoder[{idx!r}]", tok
                )
        stm_path = os.path.join(d, "special_tokens_map.json")
        if os.path.isfile(stm_path):
            for key, val in _read_json(stm_path).items():
                if key in SPECIAL_TOKENS_ATTRIBUTES and val is not None:
                    tok = _file_token(stm_path, key, val)  # checked even where tokenizer_config.json wins
                    init.setdefault(key, tok)
        at_path = os.path.join(d, "added_tokens.json")
        if os.path.isfile(at_path):
            for content, idx in _read_json(at_path).items():
                idx = _file_id(at_path, f"id of {shown(content)}", idx)
                if not content:
                    raise InputFileError(f"{at_path}: an added token must be a non-empty string")
                if idx not in added_decoder:
                    added_decoder[idx] = AddedToken(content, special=False)
        if "model_max_length" in init and init["model_max_length"] > VERY_LARGE_INTEGER:
            init["model_max_length"] = VERY_LARGE_INTEGER
        init.update(kwargs)
        if added_decoder and "added_tokens_decoder" not in init:
            init["added_tokens_decoder"] = added_decoder
        if cls is LEDTokenizer:
            init.pop("trim_offsets", None)
        return cls(vocab_file, merges_file, **init)

    def save_vocabulary(self, save_directory, filename_prefix=None):
        """Write vocab.json and merges.txt the way HF's slow tokenizer does; returns the two paths."""
        save_directory = os.fspath(save_directory)
        if not os.path.isdir(save_directory):
            raise FileNotFoundError(f"save_directory {save_directory!r} is not a directory")
        prefix = filename_prefix + "-" if filename_prefix else ""
        vocab_file = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["vocab_file"])
        merge_file = os.path.join(save_directory, prefix + VOCAB_FILES_NAMES["merges_file"])
        with open(vocab_file, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.encoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        with open(merge_file, "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in self.core.merges:
                f.write(a + " " + b + "\n")
        return vocab_file, merge_file

    def save_pretrained(self, save_directory, filename_prefix=None):
        """Write vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json (and added_tokens.json
        for added tokens outside vocab.json); HF can load the directory. Returns the written paths."""
        save_directory = os.fspath(save_directory)
        os.makedirs(save_directory, exist_ok=True)
        prefix = filename_prefix + "-" if filename_prefix else ""
        special_map = {}
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            tok = self._special[attr]
            if tok is not None:
                special_map[attr] = {
                    "content": tok.content,
                    "lstrip": tok.lstrip,
                    "normalized": tok.normalized,
                    "rstrip": tok.rstrip,
                    "single_word": tok.single_word,
                }
        cfg = {
            "add_prefix_space": self.add_prefix_space,
            "added_tokens_decoder": {str(i): asdict(t) for i, t in sorted(self._added.items())},
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "errors": self.errors,
            "model_max_length": self.model_max_length,
            "padding_side": self.padding_side,
            "tokenizer_class": type(self).__name__,
            "truncation_side": self.truncation_side,
        }
        if getattr(self, "trim_offsets", None) is not None:
            cfg["trim_offsets"] = self.trim_offsets
        for attr in SPECIAL_TOKENS_ATTRIBUTES:
            if self._special[attr] is not None:
                cfg[attr] = self._special[attr].content
        paths = []
        for name, obj in (("tokenizer_config.json", cfg), ("special_tokens_map.json", special_map)):
            p = os.path.join(save_directory, prefix + name)
            with open(p, "w", encoding="utf-8") as f:
                f.write(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            paths.append(p)
        extra = {t.content: i for i, t in self._added.items() if t.content not in self.encoder}
        if extra:
            p = os.path.join(save_directory, prefix + "added_tokens.json")
            with open(p, "w", encoding="utf-8") as f:
                f.write(json.dumps(extra, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            paths.append(p)
        paths.extend(self.save_vocabulary(save_directory, filename_prefix))
        return tuple(paths)

    def __repr__(self):
        return (
            f"{type(self).__name__}(vocab_size={self.vocab_size}, add_prefix_space={self.add_prefix_space}, "
            f"padding_side={self.padding_side!r}, model_max_length={self.model_max_length})"
        )


def _to_py(value):
    """NumPy arrays/scalars (also inside lists) -> Python lists/ints."""
    if isinstance(value, (np.ndarray, np.generic)):
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


def _file_token(path, key, value):
    try:
        return _to_token(value, key)
    except TypeError as e:
        raise InputFileError(f"{path}: {e}") from None


def _file_id(path, what, value):
    """A token id read from a tokenizer file: an int >= 0 (JSON object keys: its decimal string)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise InputFileError(f"{path}: {what} must be a token id (an integer in [0, 2**31)), got {shown(value)}")
    return value


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


def _call_defaults(kwargs):
    kwargs = dict(kwargs)
    kwargs.pop("verbose", None)
    unknown = set(kwargs) - set(_CALL_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown argument(s) {sorted(unknown)}")
    return {**_CALL_DEFAULTS, **kwargs}


def _validate_opts(opts):
    if opts["padding_side"] not in (None, "left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {opts['padding_side']!r}")
    if opts["return_tensors"] not in (None, "np"):
        raise ValueError(f"return_tensors must be None or 'np' (led-ref is NumPy only), got {opts['return_tensors']!r}")
    _check_int(opts["stride"], "stride", 0, allow_none=False)


class LEDTokenizerFast(LEDTokenizer):
    """HF ``LEDTokenizerFast`` semantics (tokenizers' ByteLevel pre-tokenizer + RobertaProcessing), sharing the
    cached BPE core with ``LEDTokenizer``. Same ids as the slow class except where HF's fast tokenizer itself
    differs (documented in spec/SPEC.md#tokenizer-fast); adds ``return_offsets_mapping``.

    Differences from the slow class, all following HF fast: ``<mask>`` strips only Unicode White_Space on its
    left (not U+001C..U+001F); ``add_prefix_space`` adds a space to every text segment between added tokens
    that does not start with " "; overflowing tokens come back as extra rows with
    ``overflow_to_sample_mapping``; truncation that cannot be satisfied raises instead of logging.
    """

    is_fast = True

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
        trim_offsets=True,
        **kwargs,
    ):
        super().__init__(
            vocab_file,
            merges_file,
            errors=errors,
            bos_token=bos_token,
            eos_token=eos_token,
            sep_token=sep_token,
            cls_token=cls_token,
            unk_token=unk_token,
            pad_token=pad_token,
            mask_token=mask_token,
            add_prefix_space=add_prefix_space,
            **kwargs,
        )
        self.trim_offsets = bool(trim_offsets)

    _legacy_join = False  # Rust decodes added tokens through the byte-level decoder like any token

    def _strip_left(self, s):
        return _RUST_TRAILING_WS.sub("", s)

    def _strip_right(self, s):
        return _RUST_LEADING_WS.sub("", s)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        output = [self.bos_token_id] + list(token_ids_0) + [self.eos_token_id]
        if token_ids_1 is None:
            return output
        return output + [self.eos_token_id] + list(token_ids_1) + [self.eos_token_id]

    # ------------------------------------------------------------ encoding with offsets
    def _text_encoding(self, text):
        """One sequence before post-processing: [ids, starts, ends, lead, trail] (a list and int64 arrays),
        offsets in characters of ``text``, untrimmed; lead/trail count the token's leading/trailing whitespace
        characters."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids: list[int] = []
        cols: list[list[np.ndarray]] = [[], [], [], []]  # starts, ends, lead, trail: int64 pieces
        for seg, s0, e0, added, matched in self._split_added(text):
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

    def _fast_ids(self, text):
        """Ids only (no offsets): the same segmentation as _text_encoding without the span bookkeeping."""
        ids = []
        for seg, _, _, added, _ in self._split_added(text):
            if added:
                ids.append(self._added_encoder[seg])
            else:
                ids.extend(self.core.encode(" " + seg if self.add_prefix_space and not seg.startswith(" ") else seg))
        return ids

    def _sequence(self, text, name, offsets=True):
        if isinstance(text, str):
            if not offsets:
                ids = self._fast_ids(text)
                zeros = np.zeros(len(ids), dtype=np.int64)
                return [ids, zeros, zeros, zeros, zeros]
            return self._text_encoding(text)
        ids = self._input_ids(text, name)
        zeros = np.zeros(len(ids), dtype=np.int64)
        return [ids, zeros, zeros, zeros, zeros]

    def tokenize(self, text, **kwargs):
        """Token strings as HF fast gives them (``encode(text, add_special_tokens=False)`` tokens)."""
        if kwargs:
            raise TypeError(f"tokenize: unknown argument(s) {sorted(kwargs)}")
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        out = []
        for seg, _, _, added, matched in self._split_added(text):
            if added:
                out.append(matched)
            else:
                out.extend(self.core.tokenize(" " + seg if self.add_prefix_space and not seg.startswith(" ") else seg))
        return out

    def _text_to_ids(self, text):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self._fast_ids(text)

    def _trim(self, enc):
        """tokenizers' ByteLevel process_offsets (trim_offsets): drop leading/trailing spaces from offsets."""
        ids, s, e, lead, trail = enc
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
        room = max(max_length - n_special, 0)
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

    def _post(self, a, b, add_special_tokens, with_offsets=True):
        """RobertaProcessing on one (first, second) piece pair -> row dict (offsets only when asked for)."""
        pieces = [a] if b is None else [a, b]
        if add_special_tokens:
            cls, sep = self._cls_sep
            ids = [cls] + list(a[0]) + [sep]
            stm = [1] + [0] * len(a[0]) + [1]
            if b is not None:
                ids += [sep] + list(b[0]) + [sep]
                stm += [1] + [0] * len(b[0]) + [1]
        else:
            ids = list(a[0]) + (list(b[0]) if b is not None else [])
            stm = [0] * len(ids)
        row = {
            "input_ids": ids,
            "token_type_ids": [0] * len(ids),
            "attention_mask": [1] * len(ids),
            "special_tokens_mask": stm,
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
            out = BatchEncoding({k: (v[0] if v and isinstance(v[0], list) else v) for k, v in out.items()})
        return out

    def _batch_encode(  # type: ignore[override]  # the options as named parameters, not **opts
        self,
        pairs,
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
    ):
        _validate_opts(dict(padding_side=padding_side, return_tensors=return_tensors, stride=stride))
        pad, trunc, max_length = self._strategies(padding, truncation, max_length, pad_to_multiple_of)
        items = []  # per input: list of rows (main first, then overflow)
        for a, b in pairs:
            first = self._sequence(a, "text", return_offsets_mapping)
            second = self._sequence(b, "text_pair", return_offsets_mapping) if b is not None else None
            fa, fb = self._truncate(first, second, trunc, max_length, stride, add_special_tokens)
            post = functools.partial(
                self._post, add_special_tokens=add_special_tokens, with_offsets=return_offsets_mapping
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
                            if k not in row:
                                continue
                            row[k] = row[k] + [fill] * diff if side == "right" else [fill] * diff + row[k]
        if not return_overflowing_tokens:
            items = [rows[:1] for rows in items]
        keep = ["input_ids"]
        if return_token_type_ids:
            keep.append("token_type_ids")
        if return_attention_mask is None or return_attention_mask:
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
        return BatchEncoding(out, tensor_type=return_tensors)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        """As LEDTokenizer (HF's fast class only supports already_has_special_tokens=True and asserts
        otherwise; led-ref gives the slow class's answer instead of failing)."""
        return super().get_special_tokens_mask(token_ids_0, token_ids_1, already_has_special_tokens)
