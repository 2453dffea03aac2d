"""led_ref.export.hf_tokenizers (transformers subclasses around led_ref's BPE) against led_ref's reference
tokenizers: HF 4.46.3's own outputs in the tokenizer goldens (spec/goldens/tokenizer/goldens.json), drawn texts, and
files each side writes for the other. Needs the hf extra (transformers); skipped without it."""

import copy
import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref.testing.strategies import tokenizer_texts
from led_ref.tokenizer import LEDTokenizer, LEDTokenizerFast
from tests.conformance.tokenizer_api import hf_tokenizers, same_outcome, to_jsonable
from tests.testlib import DATA, GOLDENS

hf = hf_tokenizers()
transformers = pytest.importorskip("transformers")

TOKENIZER_GOLDENS = json.loads((GOLDENS / "tokenizer" / "goldens.json").read_text(encoding="utf-8"))
CASES = [(cls, case) for case in TOKENIZER_GOLDENS["cases"] for cls in ("slow", "fast") if cls in case]
HF = {"slow": hf.LEDTokenizer, "fast": hf.LEDTokenizerFast}
OURS = {"slow": LEDTokenizer, "fast": LEDTokenizerFast}
VOCAB, MERGES = str(DATA / "vocab.json"), str(DATA / "merges.txt")


def checkpoint(d, extra_file, content):
    for name in ("vocab.json", "merges.txt"):
        (d / name).write_bytes((DATA / name).read_bytes())
    (d / extra_file).write_text(json.dumps(content), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    """The goldens' tokenizers (tests/conformance/test_tokenizer_goldens.py), built from the HF subclasses."""
    out = {}
    for name, file, content in (
        ("added", "added_tokens.json", TOKENIZER_GOLDENS["added_tokens_json"]),
        ("special_added", "tokenizer_config.json", TOKENIZER_GOLDENS["special_added_config"]),
    ):
        d = checkpoint(tmp_path_factory.mktemp(name), file, content)
        out[name] = {cls: klass.from_pretrained(d) for cls, klass in HF.items()}
    for name, kw in TOKENIZER_GOLDENS["tokenizers"].items():
        out[name] = {}
        for cls, klass in HF.items():
            k = {key: v for key, v in kw.items() if cls == "fast" or key != "trim_offsets"}
            out[name][cls] = klass(VOCAB, MERGES, **k)
    return out


@pytest.mark.parametrize("cls,case", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_golden_case(toks, cls, case):
    """HF's own result for each golden case (or HF's kind of error)."""
    fn = getattr(toks[case["tokenizer"]][cls], case["method"])
    try:
        got = {"result": to_jsonable(fn(*copy.deepcopy(case["args"]), **copy.deepcopy(case["kwargs"])))}
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # compared with HF's recorded error kind (tokenizers' PanicException included)
        got = {"error": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__]}
    expected = {k: v for k, v in case[cls].items() if k != "message"}
    assert same_outcome(got, expected), (got, expected)


@pytest.fixture(scope="module")
def pairs():
    """(HF subclass, led_ref class) per kind, default and add_prefix_space."""
    return {
        (cls, prefix): (
            HF[cls](VOCAB, MERGES, add_prefix_space=prefix),
            OURS[cls](VOCAB, MERGES, add_prefix_space=prefix),
        )
        for cls in ("slow", "fast")
        for prefix in (False, True)
    }


def assigned(text):
    """No character unassigned in Python's own Unicode tables: for characters that newer Unicode versions
    assigned, the regex module (led_ref's BPE, HF's slow tokenizer) and tokenizers' Rust regex classify letters
    differently, so HF's slow and fast tokenizers split words differently there (docs/hf.md)."""
    return all(unicodedata.category(c) != "Cn" for c in text)


@settings(max_examples=150, deadline=None)
@given(
    text=tokenizer_texts().filter(assigned),
    pair=st.none() | tokenizer_texts(max_pieces=2).filter(assigned),
    cls=st.sampled_from(["slow", "fast"]),
    prefix=st.booleans(),
)
def test_drawn_texts_encode_alike(pairs, text, pair, cls, prefix):
    ours_hf, ours = pairs[(cls, prefix)]
    kwargs = {"return_special_tokens_mask": True}
    if cls == "fast":
        kwargs["return_offsets_mapping"] = True
    got = ours_hf(text, pair, **kwargs)
    want = ours(text, pair, **kwargs)
    assert dict(got) == dict(want)
    assert ours_hf.tokenize(text) == ours.tokenize(text)
    assert ours_hf.decode(got["input_ids"]) == ours.decode(want["input_ids"])
    if cls == "fast":
        assert got.word_ids() == want.word_ids() and got.sequence_ids() == want.sequence_ids()


def alignment_answers(enc, n_rows, n_tokens, n_chars, n_words):
    """Every alignment method of a BatchEncoding at every row, token, character and word index (one past each end
    and -1 included), for both sequence indices: its result, or its kind of error."""

    def answer(name, *args):
        try:
            out = getattr(enc, name)(*args)
        except Exception as e:  # compared by kind with HF's
            return name, args, type(e).__name__
        return name, args, tuple(out) if isinstance(out, tuple) else out

    out = []
    for b in range(-1, n_rows + 1):
        out.append(answer("tokens", b))
        for t in range(-1, n_tokens + 1):
            out += [answer(m, b, t) for m in ("token_to_sequence", "token_to_word", "token_to_chars")]
        for s in (0, 1):
            out += [answer(m, b, c, s) for c in range(-1, n_chars + 1) for m in ("char_to_token", "char_to_word")]
            out += [answer(m, b, w, s) for w in range(-1, n_words + 1) for m in ("word_to_tokens", "word_to_chars")]
    return out


@settings(max_examples=60, deadline=None)
@given(
    text=tokenizer_texts(max_pieces=3).filter(assigned),
    pair=st.none() | tokenizer_texts(max_pieces=2).filter(assigned),
    prefix=st.booleans(),
    options=st.sampled_from(
        [
            {},
            {"add_special_tokens": False},
            {"padding": "max_length", "max_length": 24, "padding_side": "left"},
            {"max_length": 8, "truncation": True, "return_overflowing_tokens": True, "stride": 2},
        ]
    ),
)
def test_drawn_alignment_methods_answer_alike(pairs, text, pair, prefix, options):
    """tokens / token_to_* / char_to_* / word_to_* of led_ref's fast BatchEncoding against transformers' (the Rust
    Encoding's) on drawn texts and pairs, at every index, errors included."""
    ours_hf, ours = pairs[("fast", prefix)]
    try:
        got = ours_hf(text, pair, **options)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # a stride too long for the room a pair leaves (tokenizers panics): an error here too
        with pytest.raises(ValueError, match="stride"):
            ours(text, pair, **options)
        return
    want = ours(text, pair, **options)
    rows = got["input_ids"] if got["input_ids"] and isinstance(got["input_ids"][0], list) else [got["input_ids"]]
    n_words = max([w for r in range(len(rows)) for w in got.word_ids(r) if w is not None], default=0) + 1
    sizes = (len(rows), max(map(len, rows)), max(len(text), len(pair or "")), n_words)
    assert alignment_answers(want, *sizes) == alignment_answers(got, *sizes)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(tokenizer_texts(max_pieces=3).filter(assigned), min_size=1, max_size=4), st.sampled_from(["left", "right"])
)
def test_drawn_batches_pad_alike(pairs, texts, side):
    for cls in ("slow", "fast"):
        ours_hf, ours = pairs[(cls, False)]
        got = ours_hf(texts, padding=True, padding_side=side, return_tensors="np")
        want = ours(texts, padding=True, padding_side=side, return_tensors="np")
        assert {k: v.tolist() for k, v in got.items()} == {k: v.tolist() for k, v in want.items()}
        gam = {"input_ids": [[5, 6, 7], [8]], "global_attention_mask": [[1, 0, 0], [1]]}
        assert dict(ours_hf.pad(gam)) == dict(ours.pad(gam))


@pytest.mark.parametrize("legacy_format", [None, False])
def test_led_ref_saved_tokenizer_loads_in_transformers(tmp_path, legacy_format):
    """save_pretrained of led_ref's fast tokenizer (tokenizer.json included) loads in transformers' own classes."""
    ours = LEDTokenizerFast(VOCAB, MERGES, add_prefix_space=True)
    ours.add_tokens(["<new>"])
    ours.add_special_tokens({"additional_special_tokens": ["<ent>"]})
    ours.save_pretrained(tmp_path, legacy_format=legacy_format)
    text = "Hello <new> world <ent> x <mask>"
    want = ours(text, return_offsets_mapping=True)
    for theirs in (
        transformers.LEDTokenizerFast.from_pretrained(tmp_path),
        transformers.PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json")),
        hf.LEDTokenizerFast.from_pretrained(tmp_path),
    ):
        assert dict(theirs(text, return_offsets_mapping=True, return_token_type_ids=False)) == dict(want)
        assert theirs.decode(want["input_ids"], skip_special_tokens=True) == ours.decode(
            want["input_ids"], skip_special_tokens=True
        )
    if legacy_format is None:
        assert (
            transformers.LEDTokenizer.from_pretrained(tmp_path)(text)["input_ids"]
            == LEDTokenizer.from_pretrained(tmp_path)(text)["input_ids"]
        )


def test_transformers_saved_tokenizer_loads_in_led_ref(tmp_path):
    theirs = transformers.LEDTokenizerFast(VOCAB, MERGES, trim_offsets=False)
    theirs.add_tokens(["<new>"])
    theirs.save_pretrained(tmp_path, legacy_format=False)  # tokenizer.json only
    ours = LEDTokenizerFast.from_pretrained(tmp_path)
    text = "a <new> b  <mask>"
    assert dict(ours(text, return_offsets_mapping=True)) == dict(theirs(text, return_offsets_mapping=True))
    assert ours.trim_offsets is False and ours.get_added_vocab() == theirs.get_added_vocab()


def test_hf_subclasses_are_transformers_tokenizers():
    slow, fast = hf.LEDTokenizer(VOCAB, MERGES), hf.LEDTokenizerFast(VOCAB, MERGES)
    assert isinstance(slow, transformers.PreTrainedTokenizer) and isinstance(fast, transformers.PreTrainedTokenizerFast)
    assert isinstance(fast("a"), transformers.BatchEncoding)
    assert fast.backend_tokenizer.to_str() == transformers.LEDTokenizerFast(VOCAB, MERGES).backend_tokenizer.to_str()
