"""Make the tokenizer API goldens: HF transformers 4.46.3 LEDTokenizer and LEDTokenizerFast (built from the bundled
led_ref/data/vocab.json + merges.txt) run scenarios of HF API calls that change or query a tokenizer (init keywords,
add_tokens / add_special_tokens, special-token setters, text_target, pad_to_max_length, word_ids / sequence_ids,
truncation edge cases, save_pretrained). Writes spec/goldens/tokenizer/api.json.

Run with the scratch environment that has transformers (never a led-ref dependency; spec/GOLDENS.md), from the
repository root:
    $LED_REF_HF_PYTHON spec/make_tokenizer_api_goldens.py
Each scenario records, per HF class ("slow", "fast"), the construction's and every step's outcome
({"result": ...} or {"error": exception type}); tests/conformance/test_tokenizer_api_goldens.py replays the same
steps (tests/conformance/tokenizer_api.py) on led_ref's classes.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "led_ref", "data")
OUT = os.path.join(HERE, "goldens", "tokenizer", "api.json")

TEXT = "Hello world! It's <mask> time"
TEXTS = ["Hello world!", "a <new> b", "x<new>y and <mask> z", " spaced  out ", "</s> in <s> text"]


def tok(content, **flags):
    return {"AddedToken": dict(content=content, **flags)}


def call(*args, **kwargs):
    return ["call", list(args), kwargs]


def m(name, *args, **kwargs):
    return ["m", name, list(args), kwargs]


def get(*names):
    return [["get", n] for n in names]


# a padded batch of pairs for the alignment methods
ALIGN_PAIRS = ([["Wonderful no inspiration", "x"], ["Amazing  example", "y"]], {"padding": True})


def enc(args, kwargs, name, *margs):
    return ["enc", [list(args), kwargs], name, list(margs)]


SPECIALS = get(
    "all_special_tokens",
    "all_special_ids",
    "special_tokens_map",
    "additional_special_tokens",
    "additional_special_tokens_ids",
)

SCENARIOS = [
    # ---------------------------------------------------------------- init keywords
    {
        "name": "init_hf_keywords",
        "init": {
            "do_lower_case": True,
            "verbose": False,
            "use_fast": False,
            "random_argument": 3,
            "split_special_tokens": False,
        },
        "steps": [call("Hello WORLD <mask>"), m("tokenize", "Hello WORLD"), *get("model_max_length", "padding_side")],
    },
    {
        "name": "init_additional_special_tokens",
        "init": {"additional_special_tokens": ["<ent>", "<rel>"]},
        "steps": [
            *SPECIALS,
            m("__len__"),
            m("tokenize", "a <ent> b<rel>c"),
            call("a <ent> b<rel>c"),
            m("decode", [0, 50261, 50262, 2]),
            m("decode", [0, 50261, 50262, 2], skip_special_tokens=True),
            m("get_added_vocab"),
        ],
    },
    {
        "name": "init_additional_special_tokens_in_vocab",
        "init": {"additional_special_tokens": ["Hello", tok("<ent>", lstrip=True, rstrip=True)]},
        "steps": [*SPECIALS, m("__len__"), call("Hello there <ent>  x"), m("get_added_vocab")],
    },
    {
        "name": "init_split_special_tokens",
        "init": {"split_special_tokens": True},
        "steps": [
            m("tokenize", "a <s> b </s> <mask>"),
            call("a <s> b </s> <mask>"),
            call("a <s> b", split_special_tokens=False),
            get("split_special_tokens")[0],
        ],
    },
    {
        "name": "init_model_input_names",
        "init": {"model_input_names": ["input_ids"]},
        "steps": [call("Hello world"), call(["a", "b c"], padding=True), get("model_input_names")[0]],
    },
    {
        "name": "init_model_max_length",
        "init": {"model_max_length": 6, "truncation_side": "left", "padding_side": "left"},
        "steps": [
            call("one two three four five six seven", truncation=True),
            call(["one", "one two"], padding="max_length"),
            *get("max_len_single_sentence", "max_len_sentences_pair"),
        ],
    },
    {"name": "init_bad_padding_side", "init": {"padding_side": "middle"}, "steps": []},
    {"name": "init_bad_truncation_side", "init": {"truncation_side": "up"}, "steps": []},
    {"name": "init_special_token_int", "init": {"bos_token": 3}, "steps": []},
    {"name": "init_conflicting_key", "init": {"add_special_tokens": True}, "steps": []},
    {"name": "init_additional_special_tokens_str", "init": {"additional_special_tokens": "<x>"}, "steps": []},
    {"name": "init_special_token_none", "init": {"sep_token": None, "mask_token": None}, "steps": [*SPECIALS]},
    {
        "name": "init_new_special_token",
        "init": {"bos_token": "<bos>", "pad_token": tok("<p>", rstrip=True)},
        "steps": [*SPECIALS, *get("bos_token_id", "pad_token_id"), call("x <bos> <p>  y")],
    },
    # ---------------------------------------------------------------- add_tokens / add_special_tokens
    {
        "name": "add_tokens",
        "steps": [
            m("add_tokens", ["<new>", "Hello", "", "<new>", "brandnewword"]),
            m("__len__"),
            m("get_added_vocab"),
            *SPECIALS,
            *[m("tokenize", t) for t in TEXTS],
            *[call(t) for t in TEXTS],
            m("decode", [0, 50261, 50262, 2]),
            m("decode", [0, 50261, 50262, 2], skip_special_tokens=True),
            m("decode", [0, 50261, 50262, 2], spaces_between_special_tokens=False),
            m("convert_ids_to_tokens", [50261, 50262]),
            m("convert_tokens_to_ids", ["<new>", "brandnewword", "Hello"]),
            m("add_tokens", "<another>"),
            m("add_tokens", []),
            m("__len__"),
        ],
    },
    {
        "name": "add_tokens_added_token_flags",
        "steps": [
            m("add_tokens", [tok("<l>", lstrip=True), tok("<r>", rstrip=True), tok("<n>", normalized=False)]),
            *[m("tokenize", t) for t in ["a <l> b", "a <r>  b", "a  <l>  <r>  b", "a<n>b"]],
            *[call(t) for t in ["a <l> b", "a <r>  b", "a  <l>  <r>  b"]],
            m("get_added_vocab"),
            m("decode", [0, 50261, 50262, 50263, 2]),
        ],
    },
    {
        "name": "add_tokens_special",
        "steps": [
            m("add_tokens", ["<sp1>", tok("<sp2>", rstrip=True)], special_tokens=True),
            *SPECIALS,
            m("tokenize", "a <sp1> b <sp2>  c"),
            call("a <sp1> b <sp2>  c"),
            m("decode", [0, 50261, 50262, 2], skip_special_tokens=True),
            m("decode", [0, 50261, 50262, 2]),
            call("a <sp1>", return_special_tokens_mask=True),
        ],
    },
    {"name": "add_tokens_not_str", "steps": [m("add_tokens", ["ok", 5]), m("__len__")]},
    {
        "name": "add_special_tokens",
        "steps": [
            m("add_special_tokens", {"bos_token": "<bos>", "additional_special_tokens": ["<a>", "<b>"]}),
            *SPECIALS,
            *get("bos_token", "bos_token_id"),
            m("__len__"),
            call("x <a> y <bos>"),
            m("add_special_tokens", {"additional_special_tokens": ["<c>"]}, replace_additional_special_tokens=False),
            *SPECIALS,
            m("add_special_tokens", {"additional_special_tokens": ["<d>"]}),
            *SPECIALS,
            m("tokenize", "<a><c><d>"),
            m("add_special_tokens", {}),
            m("add_special_tokens", {"cls_token": "<s>"}),
            m("add_special_tokens", {"mask_token": tok("<m2>", lstrip=True)}),
            call("x <m2>"),
            get("mask_token")[0],
        ],
    },
    {"name": "add_special_tokens_bad_key", "steps": [m("add_special_tokens", {"not_a_token": "<x>"})]},
    {"name": "add_special_tokens_bad_value", "steps": [m("add_special_tokens", {"bos_token": 7})]},
    {
        "name": "add_special_tokens_bad_list",
        "steps": [m("add_special_tokens", {"additional_special_tokens": "<x>"})],
    },
    # ---------------------------------------------------------------- special-token setters
    {
        "name": "unset_bos_token_id",
        "steps": [
            ["set", "bos_token_id", None],
            *get("bos_token", "bos_token_id"),
            *SPECIALS,
            ["set", "bos_token_id", 2],
            *get("bos_token", "bos_token_id"),
            ["set", "eos_token", None],
            *get("eos_token", "eos_token_id"),
            *SPECIALS,
            ["set", "pad_token", "<newpad>"],
            *get("pad_token", "pad_token_id"),
            call(["a", "b c"], padding=True),
            ["set", "additional_special_tokens_ids", [15500]],
            *get("additional_special_tokens", "additional_special_tokens_ids"),
            ["set", "additional_special_tokens", ["Hello", "<mask>"]],
            *SPECIALS,
            ["set", "additional_special_tokens", None],
            *SPECIALS,
            ["set", "mask_token", "<m>"],
            *get("mask_token", "mask_token_id"),
        ],
    },
    {"name": "set_special_token_int", "steps": [["set", "bos_token", 5], *get("bos_token")]},
    # ---------------------------------------------------------------- text_target, pad_to_max_length
    {
        "name": "text_target",
        "steps": [
            call("source text here", text_target="target"),
            call(["a b", "c"], text_target=["t1 t2 t3", "t4"], padding=True),
            call(text_target="only the target"),
            call("src", "pair", text_target="tgt", text_pair_target="tgt pair"),
            call(["x", "y y"], text_target=["t"] * 2, padding=True, return_tensors="np"),
            call(),
            call("a", text_target="target words", max_length=3, truncation=True),
            m("prepare_seq2seq_batch", ["a b c d", "e"], ["t1 t2 t3", "t"], max_length=4, src_lang="en_XX"),
            m("prepare_seq2seq_batch", ["a b c d", "e"], ["t1 t2 t3", "t"], max_length=4, max_target_length=3),
        ],
    },
    {
        "name": "pad_to_max_length",
        "steps": [
            call(["a", "b c d"], pad_to_max_length=True),
            call(["a", "b c d"], pad_to_max_length=True, max_length=6),
            call("a b", pad_to_max_length=True, max_length=5),
            m("encode", "a b", pad_to_max_length=True, max_length=5),
            m("encode_plus", "a b", pad_to_max_length=True, max_length=5),
            m("batch_encode_plus", ["a", "a b c"], pad_to_max_length=True),
            call(["a", "b c d"], padding=True, pad_to_max_length=True, max_length=6),
        ],
    },
    # ---------------------------------------------------------------- BatchEncoding alignment
    {
        "name": "word_and_sequence_ids",
        "steps": [
            enc(["Hello world, it's me"], {}, "word_ids"),
            enc(["Hello world, it's me"], {}, "words"),
            enc(["Hello world, it's me"], {}, "sequence_ids"),
            enc(["a  b  c", "d e"], {}, "word_ids"),
            enc(["a  b  c", "d e"], {}, "sequence_ids"),
            enc(["hi <mask> there</s>x  y"], {}, "word_ids"),
            enc([["one two", "three"]], {"padding": True}, "word_ids", 1),
            enc([["one two", "three"]], {"padding": True}, "sequence_ids", 1),
            enc([["one two", "three"], ["x", "y z w"]], {"padding": True}, "sequence_ids", 0),
            enc([["one two", "three"], ["x", "y z w"]], {"padding": True}, "word_ids", 1),
            enc(["a b"], {"add_special_tokens": False}, "word_ids"),
            enc(["Hello world"], {"padding": "max_length", "max_length": 6}, "word_ids"),
            enc(["Hello world"], {"padding": "max_length", "max_length": 6, "padding_side": "left"}, "sequence_ids"),
            enc(
                ["one two three four"],
                {"max_length": 4, "truncation": True, "return_overflowing_tokens": True, "stride": 1},
                "word_ids",
                1,
            ),
            enc([""], {}, "word_ids"),
            enc(["Hello"], {}, "word_ids", 1),
        ],
    },
    {
        "name": "word_ids_prefix_space",
        "init": {"add_prefix_space": True},
        "steps": [enc(["Hello world <mask>x"], {}, "word_ids"), enc(["a", "b c"], {}, "word_ids")],
    },
    {
        "name": "alignment_methods",
        "steps": [
            *[
                enc(*ALIGN_PAIRS, name, *margs)
                for name, margs in [
                    ("tokens", [1]),
                    ("tokens", [-1]),
                    ("token_to_sequence", [5]),
                    ("token_to_sequence", [1, 6]),
                    ("token_to_word", [0, 4]),
                    ("token_to_word", [1, 99]),
                    ("word_to_tokens", [0, 0]),
                    ("word_to_tokens", [0, 1, 1]),
                    ("word_to_tokens", [0, 9]),
                    ("token_to_chars", [0, 4]),
                    ("token_to_chars", [0, 8]),
                    ("token_to_chars", [-1, 6]),
                    ("char_to_token", [0, 9]),
                    ("char_to_token", [0, 9, 1]),
                    ("char_to_token", [1, 0, 2]),
                    ("char_to_word", [0, 12]),
                    ("char_to_word", [0, 14, 0]),
                    ("word_to_chars", [0, 2]),
                    ("word_to_chars", [0, 1, 1]),
                    # HF's kinds of error: negative indices, a missing row or word, non-int indices
                    ("token_to_sequence", [-1]),
                    ("token_to_word", [0, -1]),
                    ("word_to_tokens", [-1, 0]),
                    ("token_to_chars", [0, -1]),
                    ("char_to_token", [0, 0, -1]),
                    ("char_to_word", [2, 0]),
                    ("word_to_chars", [0, 5]),
                    ("word_to_chars", [0, 2**32]),
                    ("char_to_token", [0.5]),
                ]
            ],
            enc(["hi <mask> there</s>x  y"], {}, "tokens"),
            enc(["hi <mask> there</s>x  y"], {}, "token_to_chars", 2),
            enc(["hi <mask> there</s>x  y"], {"return_offsets_mapping": True}, "word_to_chars", 3),
            enc(
                ["one two three four"],
                {"max_length": 4, "truncation": True, "return_overflowing_tokens": True, "stride": 1},
                "char_to_token",
                1,
                8,
            ),
            enc(["Hello world"], {"padding": "max_length", "max_length": 6, "padding_side": "left"}, "char_to_word", 7),
            m("tokenize", "a", "", add_special_tokens=True),
        ],
    },
    # ---------------------------------------------------------------- truncation edge cases
    {
        "name": "truncation_small_max_length",
        "steps": [
            call(t, *p, truncation=tr, max_length=n, add_special_tokens=sp)
            for n in (0, 1, 2, 3, 4)
            for sp in (True, False)
            for tr in (True, "only_first")
            for t, p in (("a b c", ()), ("a b c", ("d e",)))
        ],
    },
    # ---------------------------------------------------------------- call keywords
    {
        "name": "call_keywords",
        "steps": [
            call("a b", foo=1),
            m("encode", "a b", foo=1),
            call("a b", verbose=False),
            call("a <s> b", split_special_tokens=True),
            m("tokenize", "a <s> b", split_special_tokens=True),
            call("a b", return_tensors="xx"),
        ],
    },
    # ---------------------------------------------------------------- pad with model_input_names
    {
        "name": "pad_model_input_names",
        "steps": [
            ["set", "model_input_names", ["inputs", "attention_mask"]],
            m("pad", {"inputs": [[5, 6, 7], [8]]}),
            m("pad", [{"inputs": [5, 6, 7]}, {"inputs": [8]}], padding="max_length", max_length=5),
            m("pad", {"inputs": [[5, 6, 7], [8]], "global_attention_mask": [[1, 0, 0], [1]]}),
            m("pad", {"input_ids": [[5, 6, 7], [8]]}),
        ],
    },
    {
        "name": "pad_without_attention_mask_name",
        "init": {"model_input_names": ["input_ids"]},
        "steps": [
            m("pad", {"input_ids": [[5, 6, 7], [8]], "global_attention_mask": [[1, 0, 0], [1]]}),
            m("pad", {"input_ids": [[5, 6, 7], [8]]}, return_attention_mask=True),
        ],
    },
    # ---------------------------------------------------------------- save_pretrained
    {
        "name": "save_pretrained",
        "steps": [
            ["save", {}, TEXTS],
            m("add_tokens", ["<new>"]),
            m("add_special_tokens", {"additional_special_tokens": ["<ent>"]}),
            ["save", {}, TEXTS],
            ["save", {"legacy_format": True}, TEXTS],
            ["save", {"legacy_format": False}, TEXTS],
            ["save", {"filename_prefix": "pre"}, TEXTS],
        ],
    },
    {
        "name": "save_chat_template",
        "steps": [
            ["set", "chat_template", {"template1": "{{'a'}}", "template2": "{{'b'}}"}],
            ["save", {}, TEXTS[:1]],
            ["set", "chat_template", "{{'one'}}"],
            ["save", {}, TEXTS[:1]],
        ],
    },
    {
        "name": "save_pretrained_settings",
        "init": {"add_prefix_space": True, "model_max_length": 64, "padding_side": "left", "trim_offsets": False},
        "steps": [["save", {}, TEXTS]],
    },
]


def main():
    import tokenizers
    import transformers
    from transformers import AddedToken, LEDTokenizer, LEDTokenizerFast

    sys.path.insert(0, ROOT)
    from tests.conformance.tokenizer_api import run_scenario

    vf, mf = os.path.join(DATA, "vocab.json"), os.path.join(DATA, "merges.txt")
    classes = {"slow": LEDTokenizer, "fast": LEDTokenizerFast}
    out = []
    for scenario in SCENARIOS:
        rec = dict(scenario)
        for name, cls in classes.items():
            init = dict(scenario.get("init", {}))
            if name == "slow":
                init.pop("trim_offsets", None)
            outcomes = run_scenario(lambda cls=cls, **kw: cls(vf, mf, **kw), dict(scenario, init=init), AddedToken)
            for outcome in outcomes:
                outcome.pop("mro", None)
            rec[name] = outcomes
        out.append(rec)
    meta = {
        "script": "spec/make_tokenizer_api_goldens.py",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "python": sys.version.split()[0],
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "scenarios": out}, f, ensure_ascii=True, indent=0)
        f.write("\n")
    n_steps = sum(len(s["steps"]) for s in SCENARIOS)
    print(f"wrote {len(out)} scenarios ({n_steps} steps) to {OUT}")


if __name__ == "__main__":
    main()
