"""led_ref's LEDTokenizer / LEDTokenizerFast take HF's tokenizer API: one test (or more) per API item. HF's exact
results for these items are pinned by tests/conformance/test_tokenizer_api_goldens.py; here are the properties
and the paths the goldens cannot hold (drawn texts, torch tensors, warnings, files transformers must load)."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref.bpe import PAT
from led_ref.testing.strategies import tokenizer_texts
from led_ref.tokenizer import AddedToken, BatchEncoding, LEDTokenizer, LEDTokenizerFast, TokenizerArgumentError
from tests.testlib import DATA, ROOT

VOCAB, MERGES = DATA / "vocab.json", DATA / "merges.txt"
CLASSES = [LEDTokenizer, LEDTokenizerFast]


@pytest.fixture(scope="module")
def fast():
    return LEDTokenizerFast(VOCAB, MERGES)


@pytest.fixture(scope="module")
def slow():
    return LEDTokenizer(VOCAB, MERGES)


def make(klass, **kwargs):
    return klass(VOCAB, MERGES, **kwargs)


# ------------------------------------------------------------------ constructor keywords


@pytest.mark.parametrize("klass", CLASSES)
def test_hf_init_keywords_are_accepted_kept_and_saved(tmp_path, klass):
    tok = make(
        klass,
        do_lower_case=True,
        verbose=False,
        use_fast=False,
        random_argument={"kept": [1, 2]},
        additional_special_tokens=["<ent>"],
        split_special_tokens=True,
        model_input_names=["input_ids"],
    )
    assert tok.additional_special_tokens == ["<ent>"] and tok.additional_special_tokens_ids == [len(tok) - 1]
    # split_special_tokens: "<s>" in the text is ordinary text, not the special token
    assert tok.tokenize("a<s>") == ["a", "<", "s", ">"]
    assert list(tok("Hello")) == ["input_ids"]  # no attention_mask: not among model_input_names
    tok.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert cfg["random_argument"] == {"kept": [1, 2]} and cfg["do_lower_case"] is True
    again = klass.from_pretrained(tmp_path)
    assert again.init_kwargs["random_argument"] == {"kept": [1, 2]}
    assert again.split_special_tokens and again.additional_special_tokens == ["<ent>"]
    assert again.model_input_names == ["input_ids"]


@pytest.mark.parametrize("klass", CLASSES)
@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"padding_side": "middle"}, ValueError, "padding_side"),
        ({"truncation_side": "up"}, ValueError, "truncation_side"),
        ({"bos_token": 3}, TypeError, "bos_token has to be either str or AddedToken"),
        ({"add_special_tokens": True}, AttributeError, "conflicts with the method add_special_tokens"),
        ({"additional_special_tokens": "<x>"}, AssertionError, "not a list or tuple"),
        ({"additional_special_tokens": ["<x>", 3]}, AssertionError, "not a string or an AddedToken"),
        ({"model_max_length": 0}, ValueError, "model_max_length"),
    ],
)
def test_init_keywords_hf_refuses_get_hf_error_kind(klass, kwargs, error, match):
    with pytest.raises(error, match=match):
        make(klass, **kwargs)


def test_assertion_like_errors_are_value_errors_too():
    """HF asserts on these; led_ref's error is an AssertionError (HF's kind) and a ValueError (led_ref's)."""
    with pytest.raises(ValueError):
        make(LEDTokenizer, additional_special_tokens="<x>")
    assert issubclass(TokenizerArgumentError, AssertionError) and issubclass(TokenizerArgumentError, ValueError)


def test_foreign_added_token_objects_are_taken_like_hf_takes_its_own():
    """Any object with AddedToken's fields (transformers.AddedToken, tokenizers.AddedToken) works."""

    class Foreign:
        content, lstrip, rstrip, single_word, normalized, special = "<ent>", True, False, False, False, True

    tok = make(LEDTokenizer)
    assert tok.add_tokens([Foreign()]) == 1
    assert tok.added_tokens_decoder[50261] == AddedToken("<ent>", lstrip=True, normalized=False, special=True)
    assert tok("x <ent>")["input_ids"] == [0, 91, 50261, 2]  # lstrip: the space before it is taken


# ------------------------------------------------------------------ add_tokens / add_special_tokens


@pytest.mark.parametrize("klass", CLASSES)
def test_added_tokens_encode_decode_and_survive_save(tmp_path, klass):
    tok = make(klass)
    n = len(tok)
    assert tok.add_tokens(["<new>", AddedToken("<r>", rstrip=True)]) == 2
    assert tok.add_special_tokens({"additional_special_tokens": ["<ent>"], "pad_token": "<p>"}) == 2
    assert len(tok) == n + 4 and tok.pad_token == "<p>" and tok.pad_token_id == n + 3
    text = "a <new> b <r>   c <ent> <mask>"
    ids = tok(text)["input_ids"]
    assert {n, n + 1, n + 2, 50260} <= set(ids)
    # (HF slow joins added tokens to their neighbours with a space, HF fast does not)
    assert "".join(tok.decode(ids, skip_special_tokens=True).split()) == "a<new>b<r>c"
    tok.save_pretrained(tmp_path)
    again = klass.from_pretrained(tmp_path)
    assert again(text) == tok(text)
    assert again.get_added_vocab() == tok.get_added_vocab()
    assert again.additional_special_tokens == ["<ent>"] and again.pad_token == "<p>"


@pytest.mark.parametrize("klass", CLASSES)
def test_add_tokens_bad_input(klass):
    tok = make(klass)
    with pytest.raises(TypeError, match="is not a string"):
        tok.add_tokens(["<ok>", 5])
    with pytest.raises(ValueError, match="single_word"):
        tok.add_tokens(AddedToken("<w>", single_word=True))
    assert "<ok>" not in tok.get_vocab() and "<w>" not in tok.get_vocab()  # nothing half-added
    with pytest.raises(AssertionError, match="not a special token"):
        tok.add_special_tokens({"not_a_token": "<x>"})
    with pytest.raises(ValueError, match="should be a str or an AddedToken"):
        tok.add_special_tokens({"bos_token": 7})


# ------------------------------------------------------------------ special-token attributes


@pytest.mark.parametrize("klass", CLASSES)
def test_setting_an_id_to_none_unsets_the_token(klass):
    tok = make(klass)
    tok.bos_token_id = None
    assert tok.bos_token is None and tok.bos_token_id is None
    assert "bos_token" not in tok.special_tokens_map
    tok.bos_token_id = 2
    assert tok.bos_token == "</s>"
    tok.additional_special_tokens = None
    assert tok.additional_special_tokens is None and tok.additional_special_tokens_ids is None
    with pytest.raises(ValueError, match="Cannot set a non-string value as the eos_token"):
        tok.eos_token = 5
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.eos_token_id = 10**9


def test_unset_pad_token_refuses_padding(slow):
    tok = make(LEDTokenizer)
    tok.pad_token = None
    with pytest.raises(ValueError, match="Asking to pad but the tokenizer does not have a padding token"):
        tok(["a", "b c"], padding=True)
    assert tok(["a", "b c"])["input_ids"] == slow(["a", "b c"])["input_ids"]


# ------------------------------------------------------------------ call keywords


@pytest.mark.parametrize("klass", CLASSES)
def test_text_target_gives_labels(klass):
    tok = make(klass)
    out = tok(["a b", "c"], text_target=["t1 t2", "t3"], padding=True)
    assert out["labels"] == tok(["t1 t2", "t3"], padding=True)["input_ids"]
    assert out["input_ids"] == tok(["a b", "c"], padding=True)["input_ids"]
    assert tok(text_target="only") == tok("only")
    with pytest.raises(ValueError, match="either `text` or `text_target`"):
        tok()
    with pytest.raises(TypeError, match="text_target"):
        tok("a", text_target=5)


@pytest.mark.parametrize("klass", CLASSES)
def test_pad_to_max_length_is_hf_deprecated_padding(klass):
    tok = make(klass)
    with pytest.warns(FutureWarning, match="pad_to_max_length"):
        out = tok(["a", "b c d"], pad_to_max_length=True, max_length=7)
    assert out == tok(["a", "b c d"], padding="max_length", max_length=7)
    with pytest.warns(FutureWarning, match="pad_to_max_length"):
        assert tok.encode("a", pad_to_max_length=True) == tok.encode("a")  # max_length None: "longest"


def test_prepare_seq2seq_batch(slow):
    with pytest.warns(FutureWarning, match="prepare_seq2seq_batch"):
        out = slow.prepare_seq2seq_batch(["a b c d", "e"], ["t1 t2 t3 t4 t5"], max_length=4, return_tensors="np")
    assert out["input_ids"].shape == (2, 4) and out["labels"].shape == (1, 4)


@pytest.mark.parametrize("max_length", [0, 1])
def test_fast_truncation_below_the_special_tokens_is_no_truncation_like_hf(fast, slow, max_length):
    """HF fast with truncation=True and a max_length below its 2 (pair: 4) special tokens returns the input
    untruncated (HF slow too for max_length=0); so does led_ref's, never a silently different shorter row."""
    for args in (("a b",), ("a b c", "d e")):
        want = fast(*args)["input_ids"]
        assert fast(*args, truncation=True, max_length=max_length)["input_ids"] == want
        if max_length == 0:
            assert slow(*args, truncation=True, max_length=max_length)["input_ids"] == want
    assert fast("a b", truncation=True, max_length=2)["input_ids"] == [0, 2]  # exactly the special tokens: room 0


def test_split_special_tokens_per_call(slow, fast):
    """split_special_tokens=True in a call: "<s>" in the text is BPE-encoded text (HF: 'Ġ<', 's', '>')."""
    for tok in (slow, fast):
        assert tok("a <s>")["input_ids"] == [0, 68, 224, 0, 2]
        assert tok("a <s>", split_special_tokens=True)["input_ids"] == [0, 68, 1283, 86, 33, 2]
    assert slow.tokenize("a <s>", split_special_tokens=True) == ["a", "\u0120<", "s", ">"]


def test_too_long_sequence_is_logged_once(caplog):
    tok = make(LEDTokenizerFast, model_max_length=4)
    with caplog.at_level("WARNING", logger="led_ref.tokenizer"):
        tok("one two three four five")
        tok("one two three four five six")
    assert caplog.text.count("Token indices sequence length is longer than the specified maximum") == 1
    assert "(7 > 4)" in caplog.text


# ------------------------------------------------------------------ BatchEncoding: word_ids / sequence_ids


@settings(max_examples=60, deadline=None)
@given(st.lists(tokenizer_texts(specials=False, max_pieces=4), min_size=1, max_size=3))
def test_word_ids_group_each_pre_tokenized_word(fast, texts):
    """Tokens that share a word id decode to exactly one GPT-2 pre-tokenized word, in order."""
    enc = fast(texts, padding=True)
    for row, text in enumerate(texts):
        ids, words = enc["input_ids"][row], enc.word_ids(row)
        assert len(words) == len(ids) and words[0] is None  # <s>
        groups = {}
        for token_id, word in zip(ids, words):
            if word is not None:
                groups.setdefault(word, []).append(token_id)
        assert sorted(groups) == list(range(len(groups)))
        assert [fast.decode(groups[w]) for w in sorted(groups)] == PAT.findall(text)
        assert enc.sequence_ids(row) == [None if w is None else 0 for w in words]


def test_sequence_ids_of_pairs_padding_and_overflow(fast):
    enc = fast(["one two", "x"], ["three", "y z w"], padding=True)
    assert enc.sequence_ids(0) == [None, 0, 0, None, None, 1, None, None]
    assert enc.sequence_ids(1) == [None, 0, None, None, 1, 1, 1, None]
    assert enc.word_ids(1) == [None, 0, None, None, 0, 1, 2, None]
    over = fast("one two three four", max_length=4, truncation=True, return_overflowing_tokens=True, stride=1)
    assert [over.word_ids(i) for i in range(len(over["input_ids"]))] == [
        [None, 0, 1, None],
        [None, 1, 2, None],
        [None, 2, 3, None],
    ]
    with pytest.raises(IndexError):
        fast("x").word_ids(1)


def test_word_ids_after_adding_tokens_ask_to_encode_again():
    tok = make(LEDTokenizerFast)
    enc = tok("a<new>b")
    assert enc.word_ids() == [None, 0, 1, 2, 3, 4, None]
    tok.add_tokens(["<new>"])
    with pytest.raises(ValueError, match="added tokens changed since this encoding"):
        enc.word_ids()
    assert tok("a<new>b").word_ids() == [None, 0, 1, 2, None]


def test_word_ids_need_the_fast_tokenizer(slow):
    enc = slow("Hello world")
    for method in ("word_ids", "sequence_ids", "words"):
        with pytest.raises(ValueError, match="not available when using non-fast tokenizers"):
            getattr(enc, method)()
    assert not enc.is_fast


def test_words_is_the_deprecated_word_ids(fast):
    enc = fast("Hello world")
    with pytest.warns(FutureWarning, match="words"):
        assert enc.words() == enc.word_ids() == [None, 0, 1, None]


# ------------------------------------------------------------------ BatchEncoding: char / word / token alignment


@settings(max_examples=40, deadline=None)
@given(text=tokenizer_texts(max_pieces=3), pair=st.none() | tokenizer_texts(max_pieces=2))
def test_alignment_methods_agree_with_offsets_and_word_ids(fast, text, pair):
    """Each method is the lookup its name says over the row's offset_mapping / word_ids / sequence_ids."""
    enc = fast(text, pair, return_offsets_mapping=True)
    offsets, words, seqs = enc["offset_mapping"], enc.word_ids(), enc.sequence_ids()
    texts = [text, pair]
    assert enc.tokens() == fast.tokenize(text, pair, add_special_tokens=True)
    for t, (seq, word, span) in enumerate(zip(seqs, words, offsets)):
        assert enc.token_to_sequence(t) == enc.token_to_sequence(0, t) == seq
        assert enc.token_to_word(t) == word
        assert enc.token_to_chars(t) == (None if seq is None else tuple(span))
    for s in {x for x in seqs if x is not None}:
        for w in {words[t] for t in range(len(words)) if seqs[t] == s}:
            tokens = [t for t in range(len(words)) if seqs[t] == s and words[t] == w]
            assert tuple(enc.word_to_tokens(w, sequence_index=s)) == (tokens[0], tokens[-1] + 1)
            assert enc.word_to_chars(0, w, s) == (offsets[tokens[0]][0], offsets[tokens[-1]][1])
        for c in range(len(texts[s]) + 1):
            hits = [t for t in range(len(words)) if seqs[t] == s and offsets[t][0] <= c < offsets[t][1]]
            assert enc.char_to_token(c, sequence_index=s) == (hits[0] if hits else None)
            assert enc.char_to_word(0, c, s) == (words[hits[0]] if hits else None)


def test_alignment_methods_on_a_padded_pair_batch(fast):
    enc = fast(["Wonderful no inspiration", "x"], ["Amazing  example", "y"], padding=True)
    assert enc.tokens(1) == ["<s>", "x", "</s>", "</s>", "y", "</s>"] + ["<pad>"] * 5
    assert enc.tokens(-1) == enc.tokens(1)  # a list index, as HF's list of encodings
    assert enc.word_to_tokens(0, 0) == (1, 3) and enc.word_to_tokens(0, 1, sequence_index=1) == (8, 9)
    assert enc.word_to_chars(0, 2) == (13, 24) and enc.word_to_chars(0, 1, 1) == (8, 8)  # "  ": an empty span
    assert enc.char_to_token(0, 9) is None and enc.char_to_token(0, 9, 1) == 9  # "Ġexample" starts at 9
    assert enc.char_to_word(0, 12) is None  # the space before "inspiration"
    assert enc.token_to_chars(1, 6) is None and enc.token_to_sequence(1, 6) is None  # padding
    assert enc.token_to_word(1, 99) is None and enc.word_to_tokens(0, 9) is None
    # a sequence index the row does not have searches the whole row (tokenizers' sequence_range)
    assert fast("ab cd").char_to_token(3, sequence_index=1) == 2


def test_alignment_methods_refuse_indices_as_hf_does(fast):
    enc = fast(["Hello world", "x"], padding=True)
    for method in ("token_to_sequence", "token_to_word", "word_to_tokens"):  # HF 4.46: AttributeError
        for args in ((-1,), (-1, 0), (0, -1)):
            with pytest.raises(AttributeError, match="negative indices are not supported"):
                getattr(enc, method)(*args)
    for method in ("token_to_chars", "char_to_token", "char_to_word", "word_to_chars"):  # Rust's unsigned ints
        with pytest.raises(OverflowError, match="must be >= 0"):
            getattr(enc, method)(0, -1)
        with pytest.raises(IndexError):
            getattr(enc, method)(2, 0)
        assert getattr(enc, method)(-1, 0) == getattr(enc, method)(1, 0)
    with pytest.raises(OverflowError, match="sequence_index must be >= 0"):
        enc.char_to_token(0, 0, -1)
    with pytest.raises(OverflowError, match="below 2\\*\\*32"):
        enc.word_to_chars(0, 2**32)
    with pytest.raises(TypeError, match="char_index must be an int, got float"):
        enc.char_to_token(1.5)
    with pytest.raises(TypeError, match="sequence 0 of row 0 has no word 5"):  # HF: CharSpan(*None)
        enc.word_to_chars(0, 5)
    with pytest.raises(ValueError, match="not available when using non-fast tokenizers"):
        make(LEDTokenizer)("Hello").char_to_token(0)


# ------------------------------------------------------------------ pad() and model_input_names


@pytest.mark.parametrize("klass", CLASSES)
def test_pad_follows_a_custom_model_input_names(klass):
    tok = make(klass)
    tok.model_input_names = ["inputs", "attention_mask"]
    out = tok.pad({"inputs": [[5, 6, 7], [8]], "global_attention_mask": [[1, 0, 0], [1]]})
    assert out["inputs"] == [[5, 6, 7], [8, 1, 1]] and out["attention_mask"] == [[1, 1, 1], [1, 0, 0]]
    assert out["global_attention_mask"] == [[1, 0, 0], [1, -1, -1]]
    with pytest.raises(ValueError, match="includes inputs, but you provided \\['input_ids'\\]"):
        tok.pad({"input_ids": [[5]]})


# ------------------------------------------------------------------ return_tensors="pt"


@pytest.mark.parametrize("klass", CLASSES)
def test_return_tensors_pt(klass):
    torch = pytest.importorskip("torch", reason="return_tensors='pt' needs torch (the export extra)")
    tok = make(klass)
    out = tok(["Hello world", "a"], padding=True, return_tensors="pt")
    assert isinstance(out, BatchEncoding) and out.input_ids.dtype == torch.int64
    assert out.input_ids.tolist() == tok(["Hello world", "a"], padding=True)["input_ids"]
    assert out.to("cpu") is out and out["attention_mask"].device.type == "cpu"
    assert tok.decode(out.input_ids[0]) == "<s>Hello world</s>"
    padded = tok.pad({"input_ids": [torch.tensor([5, 6]), torch.tensor([7])]})
    assert torch.is_tensor(padded["input_ids"]) and padded["input_ids"].tolist() == [[5, 6], [7, 1]]


def test_return_tensors_pt_without_torch_is_one_clear_line():
    """In a process where torch cannot be imported: led_ref.tokenizer imports, "np" works, "pt" is one ImportError
    line naming the fix. Where torch is installed, encoding without "pt" does not import it."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from led_ref.tokenizer import LEDTokenizerFast\n"
        f"t = LEDTokenizerFast({str(VOCAB)!r}, {str(MERGES)!r})\n"
        "assert t('a', return_tensors='np')['input_ids'].shape == (1, 3)\n"
        "try:\n    t('a', return_tensors='pt')\nexcept ImportError as e:\n    print(repr(str(e)))\n"
    )
    loaded = "import sys\nfrom led_ref.tokenizer import LEDTokenizerFast as T\n"
    loaded += f"T({str(VOCAB)!r}, {str(MERGES)!r})(['a'], return_tensors='np')\nprint('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True, cwd=ROOT).stdout == "False\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    message = eval(out.stdout)  # the repr printed above
    assert "\n" not in message and "return_tensors='pt' needs torch" in message and "pip install torch" in message


# ------------------------------------------------------------------ files: tokenizer.json, hub ids


@pytest.fixture(scope="module")
def saved_and_reloaded(tmp_path_factory):
    """A fast tokenizer (add_prefix_space, one added token) saved with legacy_format=False and loaded back."""
    d = tmp_path_factory.mktemp("tokenizer_json")
    tok = make(LEDTokenizerFast, add_prefix_space=True)
    tok.add_tokens(["<new>"])
    tok.save_pretrained(d, legacy_format=False)
    assert sorted(os.listdir(d)) == ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    return tok, LEDTokenizerFast.from_pretrained(d)


@settings(max_examples=30, deadline=None)
@given(text=tokenizer_texts())
def test_tokenizer_json_alone_loads_the_same_tokenizer(saved_and_reloaded, text):
    tok, again = saved_and_reloaded
    text = text + " <new>"
    assert again(text, return_offsets_mapping=True) == tok(text, return_offsets_mapping=True)


def test_legacy_format_false_is_for_fast_tokenizers_only(slow, tmp_path):
    with pytest.raises(ValueError, match="Only fast tokenizers"):
        slow.save_pretrained(tmp_path, legacy_format=False)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda d: d["model"].update(type="WordPiece"), "BPE model"),
        (lambda d: d["model"].update(merges=[["Ġ", "notavocabtoken"]]), "not in the vocabulary"),
        (lambda d: d["added_tokens"].append({"id": "x", "content": "y"}), "added_tokens\\[.*id"),
        (lambda d: d["model"].update(vocab={"a": -1}), "integer in"),
    ],
)
def test_bad_tokenizer_json_names_the_file(fast, tmp_path, edit, match):
    fast.save_pretrained(tmp_path, legacy_format=False)
    path = tmp_path / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=match) as e:
        LEDTokenizerFast.from_pretrained(tmp_path)
    assert "tokenizer.json" in str(e.value)


def test_chat_template_round_trips_in_hf_format(tmp_path):
    tok = make(LEDTokenizer)
    tok.chat_template = {"a": "{{'a'}}", "b": "{{'b'}}"}
    tok.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert cfg["chat_template"] == [{"name": "a", "template": "{{'a'}}"}, {"name": "b", "template": "{{'b'}}"}]
    assert LEDTokenizer.from_pretrained(tmp_path).chat_template == tok.chat_template


def test_hub_id_loads_from_the_huggingface_hub_cache(tmp_path):
    """from_pretrained("org/name") resolves through huggingface_hub's cache, as HF's does (offline here)."""
    pytest.importorskip("huggingface_hub", reason="hub ids need huggingface_hub (installed with transformers)")
    snapshot = tmp_path / "models--org--tok" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for name in ("vocab.json", "merges.txt"):
        (snapshot / name).write_bytes((DATA / name).read_bytes())
    (tmp_path / "models--org--tok" / "refs").mkdir()
    (tmp_path / "models--org--tok" / "refs" / "main").write_text("0" * 40)
    code = (
        "from led_ref.tokenizer import LEDTokenizerFast\n"
        "print(LEDTokenizerFast.from_pretrained('org/tok', revision='main')('Hello world!')['input_ids'])"
    )
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path), HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 15500, 999, 4, 2]"


def test_no_warnings_on_plain_calls(fast, slow):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for tok in (fast, slow):
            tok(["a b", "c"], ["d", "e f"], padding=True, truncation=True, max_length=6, return_tensors="np")
    assert np.array_equal(fast("a", return_tensors="np")["input_ids"], [[0, 68, 2]])


def test_hf_subclasses_without_transformers_are_one_clear_import_error():
    """led_ref.export.hf_tokenizers needs the hf extra; without transformers its import names the fix."""
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "try:\n    import led_ref.export.hf_tokenizers\nexcept ImportError as e:\n    print(str(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == (
        "led_ref.export.hf_tokenizers needs transformers: pip install 'led-ref[hf]' (transformers==4.46.3)"
    )
