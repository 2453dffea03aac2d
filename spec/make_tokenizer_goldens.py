"""Make the tokenizer goldens: run HF transformers 4.46.3 LEDTokenizer and LEDTokenizerFast, built from the
bundled led_ref/data/vocab.json + merges.txt, on a fixed corpus and call matrix; write
spec/goldens/tokenizer/{goldens.json,meta.json}.

Run with the scratch environment that has transformers (never a led-ref dependency):
    $LED_REF_HF_PYTHON spec/make_tokenizer_goldens.py
Every case records both HF classes' result ("slow", "fast"); an exception is recorded as {"error": type}.
tests/test_tokenizer_goldens.py replays each case on led_ref.LEDTokenizer / LEDTokenizerFast.
"""

import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "led_ref", "data")
OUT = os.path.join(HERE, "goldens", "tokenizer")

CORPUS = [
    "Hello world!",
    "It's <mask> time, isn't it?",
    "",
    " ",
    "   ",
    "  leading spaces",
    "trailing spaces   ",
    "multiple   internal    spaces  and a  b",
    "tabs\tand\t\ttabs",
    "CRLF line\r\nnext line\r\n",
    "\n\n\nnewlines\n",
    "mixed \t \n whitespace \u00a0nbsp \u3000ideographic \u2003em",
    "Unicode: café naïve résumé Zürich Ωmega ﬁligature",
    "中文字符和日本語のテキスト、句読点。",
    "한국어 텍스트",
    "Emoji 😀😃 thumbs 👍🏽 family 👨\u200d👩\u200d👧\u200d👦 flags 🇩🇪🇯🇵 rainbow 🏳️\u200d🌈",
    "Control \x00 NUL \x01\x02\x1b[31m esc \x7f del \x85 nel",
    "\x1c\x1d\x1e\x1f seps \x1c<mask>",
    "special </s> inside <s> text <pad> and <unk> end",
    "<mask><mask> <mask>  <mask>\t<mask>\n<mask>",
    "word<mask>word <mask>.",
    "</s></s><s>",
    "<s>Hello",
    "<mas k> <MASK> </ s> <s",
    "contractions: I'm you're we've they'll he'd it's can't won't",
    "UPPER'S CASE'LL 'quoted' \"double\"",
    "numbers 123 4567 3.14159 1,000,000 ١٢٣ ½",
    "punct!!! ??? ... --- ((())) ,,, ;;",
    "https://example.com/path?q=1&x=2#frag user@example.org",
    "code: def f(x):\n    return x**2  # comment\n",
    "math ∑ ∫ √ ≠ ≤ ∞",
    "Arabic مرحبا بالعالم Hebrew שלום",
    "Devanagari नमस्ते दुनिया",
    "combining e\u0301 a\u0308 zero\u200bwidth\u200d joiner",
    "right-to-left \u202e override",
    "\ufeffBOM at start",
    "<mask>",
    " <mask>",
    "a \x1c<mask>",
    "a\u3000 <mask>b",
    "<s>Hello  </s> x",
    "replacement \ufffd char",
    "private use \ue000 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀",
    " Hello",
    "\tHello",
]

PARAGRAPH = (
    "The Longformer-Encoder-Decoder (LED) handles long documents: it uses sliding-window attention with "
    "global tokens. Résumé of 2020's results — 16,384 tokens!  Ünïcödé, 中文, emoji 🙂, and\ttabs.\n"
)
LONG = "".join(PARAGRAPH.replace("LED", f"LED-{i}") for i in range(12))  # ~2.5k characters

# Pieces for the seeded fuzz corpus: every class of character the pre-tokenizer, the added-token split and
# the offset code treat differently.
FUZZ_PIECES = [
    "a",
    "Z",
    "word",
    " word",
    "  ",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\u00a0",
    "\u3000",
    "\x1c",
    "\x85",
    "\x00",
    "\x7f",
    "1",
    "2024",
    " 3.5",
    "'s",
    "'ll",
    "'T",
    "n't",
    "!",
    "...",
    ",",
    "-",
    "(",
    ")",
    '"',
    "é",
    "e\u0301",
    "ß",
    "Ω",
    "中文",
    "日本",
    "한",
    "ع",
    "\u05e9",
    "😀",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "🇩🇪",
    "\u200b",
    "\ufeff",
    "\ufffd",
    "𝔘",
    "<s>",
    "</s>",
    "<pad>",
    "<unk>",
    "<mask>",
    " <mask>",
    "<mas",
    "k>",
    "<",
    ">",
    "/",
]


def long_words(seed=99):
    """Words of about a thousand bytes without spaces (led-ref switches to its O(n log n) BPE above 64 bytes)."""
    import random

    rng = random.Random(seed)
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(1200)),
        "a" * 1201,
        "ab" * 600 + "a",
        "".join(rng.choice("0123456789") for _ in range(800)),
        "".join(rng.choice(b64) for _ in range(1000)) + "==",
        "".join(rng.choice("thequickbrownfoxjumpsoverthelazydog") for _ in range(800)),
        "".join(rng.choice("éàüößçñ中文字😀") for _ in range(300)),
        "x" + "-" * 300 + "y",
    ]


def fuzz_corpus(n=150, seed=1234):
    import random

    rng = random.Random(seed)
    return ["".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(0, 14))) for _ in range(n)]


PAIRS = [
    ("Hello world!", "How are you?"),
    ("", "second only"),
    ("first only", ""),
    ("a </s> b", "c d"),
    ("Question: where is <mask>?", " Context: the mask is here.\n"),
    ("😀 emoji", "🇩🇪 flag"),
]

ADDED_TOKENS = {"<ent>": 50261, "new token": 50262}
ADDED_TEXTS = ["an <ent> here", "x<ent>y<ent><ent>", "a new token b", "new tokens", " <ent> <mask> </s>", "<ent>"]

SPECIAL_ADDED_CONFIG = {
    "added_tokens_decoder": {
        "50261": {
            "content": "<ent>",
            "lstrip": False,
            "rstrip": True,
            "normalized": False,
            "single_word": False,
            "special": True,
        }
    }
}
SPECIAL_ADDED_TEXTS = ["a <ent>  b", "<ent>\tx", "x <ent> <mask> y", "x<ent>", "<ent>\u3000\x1c z"]

TOKENIZERS = {
    "default": {},
    "prefix": {"add_prefix_space": True},
    "left": {"padding_side": "left", "truncation_side": "left"},
    "max512": {"model_max_length": 24},
    "notrim": {"trim_offsets": False},
    "prefix_notrim": {"add_prefix_space": True, "trim_offsets": False},
}


def to_jsonable(x):
    if isinstance(x, np.ndarray):
        return {"__ndarray__": x.tolist(), "dtype": str(x.dtype), "shape": list(x.shape)}
    if isinstance(x, dict) or hasattr(x, "items"):
        return {k: to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def byte_id(vocab, b):
    from transformers.models.led.tokenization_led import bytes_to_unicode

    return vocab[bytes_to_unicode()[b]]


def main():
    import tokenizers
    import torch
    import transformers
    from transformers import LEDTokenizer, LEDTokenizerFast

    vf, mf = os.path.join(DATA, "vocab.json"), os.path.join(DATA, "merges.txt")
    toks = {}
    for name, kw in TOKENIZERS.items():
        slow_kw = {k: v for k, v in kw.items() if k != "trim_offsets"}
        toks[name] = {"slow": LEDTokenizer(vf, mf, **slow_kw), "fast": LEDTokenizerFast(vf, mf, **kw)}
    vocab = toks["default"]["slow"].encoder
    tmps = []  # kept alive until the cases are made

    def checkpoint_with(extra_file, content):
        """Both HF tokenizers loaded from a directory with the bundled vocab/merges plus one extra file."""
        tmps.append(tempfile.TemporaryDirectory())
        path = tmps[-1].name
        for name in ("vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(DATA, name), os.path.join(path, name))
        with open(os.path.join(path, extra_file), "w", encoding="utf-8") as f:
            json.dump(content, f)
        return {"slow": LEDTokenizer.from_pretrained(path), "fast": LEDTokenizerFast.from_pretrained(path)}

    # "added": a checkpoint directory whose added_tokens.json adds two non-special tokens
    toks["added"] = checkpoint_with("added_tokens.json", ADDED_TOKENS)
    # "special_added": tokenizer_config.json's added_tokens_decoder declares a special token with rstrip
    toks["special_added"] = checkpoint_with("tokenizer_config.json", SPECIAL_ADDED_CONFIG)

    cases = []

    def add(kind, tok, method, args=(), kwargs=None, classes=("slow", "fast")):
        kwargs = kwargs or {}
        case = {
            "kind": kind,
            "tokenizer": tok,
            "method": method,
            "args": copy.deepcopy(list(args)),
            "kwargs": copy.deepcopy(kwargs),
        }
        for cls in classes:
            t = toks[tok][cls]
            try:
                res = getattr(t, method)(*copy.deepcopy(args), **copy.deepcopy(kwargs))
                case[cls] = {"result": to_jsonable(res)}
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:
                case[cls] = {"error": type(e).__name__, "message": str(e)[:200]}
        cases.append(case)

    # --- encoding of the corpus
    for text in CORPUS + [LONG]:
        add("call", "default", "__call__", [text])
        add("call", "default", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("tokenize", "default", "tokenize", [text])
    for text in CORPUS:
        add("call", "prefix", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("call", "prefix", "__call__", [text])
        add("call", "notrim", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("call", "prefix_notrim", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("call", "default", "__call__", [text], {"add_special_tokens": False, "return_special_tokens_mask": True})
    # --- long words (BPE complexity)
    for text in long_words():
        add("long_word", "default", "__call__", [text], {"add_special_tokens": False})
    # --- seeded fuzz corpus
    for text in fuzz_corpus():
        add("fuzz", "default", "__call__", [text], {"add_special_tokens": False})
        add("fuzz", "default", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("fuzz", "prefix", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("fuzz", "prefix", "__call__", [text], {}, classes=("slow",))
    # --- pairs
    for a, b in PAIRS:
        add("call", "default", "__call__", [a, b], {"return_special_tokens_mask": True, "return_token_type_ids": True})
        add("call", "default", "__call__", [a, b], {"return_offsets_mapping": True}, classes=("fast",))
        add("call", "prefix", "__call__", [a, b], {"return_offsets_mapping": True}, classes=("fast",))
        add("call", "default", "__call__", [a, b], {"add_special_tokens": False})
    # --- batches, padding
    batch = CORPUS[:12]
    add("call", "default", "__call__", [batch])
    add("call", "default", "__call__", [batch], {"padding": True})
    add("call", "default", "__call__", [batch], {"padding": "longest", "return_tensors": "np"})
    add(
        "call",
        "default",
        "__call__",
        [batch],
        {"padding": True, "padding_side": "left", "return_special_tokens_mask": True, "return_length": True},
    )
    add("call", "left", "__call__", [batch], {"padding": True, "return_offsets_mapping": True}, classes=("fast",))
    add("call", "left", "__call__", [batch], {"padding": True, "return_length": True})
    add(
        "call",
        "default",
        "__call__",
        [batch],
        {"padding": True, "pad_to_multiple_of": 8, "return_token_type_ids": True, "return_length": True},
    )
    add(
        "call",
        "default",
        "__call__",
        [batch],
        {"padding": "max_length", "max_length": 20, "truncation": True, "return_special_tokens_mask": True},
    )
    add("call", "default", "__call__", [batch], {"padding": "max_length", "max_length": 40})
    add("call", "default", "__call__", [batch], {"padding": True, "return_attention_mask": False})
    add(
        "call",
        "default",
        "__call__",
        [["short", "a bit longer text"]],
        {"padding": True, "return_offsets_mapping": True, "return_tensors": "np"},
        classes=("fast",),
    )
    add(
        "call",
        "default",
        "__call__",
        ["single", None],
        {"padding": "max_length", "max_length": 7, "return_tensors": "np"},
    )
    add("call", "default", "__call__", ["single"], {"padding": True, "pad_to_multiple_of": 4, "return_length": True})
    add(
        "call",
        "default",
        "__call__",
        [[a for a, _ in PAIRS], [b for _, b in PAIRS]],
        {"padding": True, "return_special_tokens_mask": True},
    )
    add(
        "call",
        "default",
        "__call__",
        [[a for a, _ in PAIRS], [b for _, b in PAIRS]],
        {"padding": True, "return_offsets_mapping": True},
        classes=("fast",),
    )
    add("call", "max512", "__call__", [batch], {"padding": "max_length", "truncation": True})
    add("call", "max512", "__call__", [LONG], {"truncation": True})
    add("call", "default", "__call__", [[]])
    # --- truncation
    for trunc in (True, "longest_first", "only_first", "only_second"):
        for ml in (8, 12, 20):
            add(
                "call",
                "default",
                "__call__",
                [LONG[:300], "a short second text here"],
                {"truncation": trunc, "max_length": ml},
            )
            add(
                "call",
                "left",
                "__call__",
                [LONG[:300], "a short second text here"],
                {"truncation": trunc, "max_length": ml},
            )
        add("call", "default", "__call__", ["x y", LONG[:200]], {"truncation": trunc, "max_length": 30})
        add("call", "default", "__call__", [LONG[:200], LONG[100:400]], {"truncation": trunc, "max_length": 33})
    add("call", "default", "__call__", [LONG], {"max_length": 16})  # max_length alone truncates
    add(
        "call",
        "default",
        "__call__",
        [LONG],
        {"truncation": True, "max_length": 16, "return_offsets_mapping": True},
        classes=("fast",),
    )
    add("call", "default", "__call__", [LONG], {"truncation": "do_not_truncate", "max_length": 16})
    add(
        "call",
        "default",
        "__call__",
        [batch],
        {"truncation": True, "max_length": 6, "padding": True, "pad_to_multiple_of": 3},
    )
    add(
        "call",
        "default",
        "__call__",
        [batch],
        {"truncation": True, "max_length": 7, "padding": True, "pad_to_multiple_of": 4},
    )
    add("call", "default", "__call__", ["x y", LONG[:200]], {"truncation": "only_first", "max_length": 5})
    add("call", "default", "__call__", [LONG[:100]], {"truncation": "only_second", "max_length": 5})
    # --- overflow with stride
    for stride in (0, 2, 5):
        for trunc in (True, "only_first"):
            add(
                "call",
                "default",
                "__call__",
                [LONG[:400]],
                {"truncation": trunc, "max_length": 16, "stride": stride, "return_overflowing_tokens": True},
            )
            add(
                "call",
                "left",
                "__call__",
                [LONG[:400]],
                {"truncation": trunc, "max_length": 16, "stride": stride, "return_overflowing_tokens": True},
            )
        add(
            "call",
            "default",
            "__call__",
            [LONG[:300], "question?"],
            {
                "truncation": "only_first",
                "max_length": 24,
                "stride": stride,
                "return_overflowing_tokens": True,
                "return_offsets_mapping": True,
                "padding": True,
            },
        )
        add(
            "call",
            "default",
            "__call__",
            ["question?", LONG[:300]],
            {
                "truncation": "only_second",
                "max_length": 24,
                "stride": stride,
                "return_overflowing_tokens": True,
                "return_offsets_mapping": True,
                "padding": True,
            },
        )
        add(
            "call",
            "default",
            "__call__",
            [[LONG[:200], "tiny", LONG[50:150]]],
            {
                "truncation": True,
                "max_length": 12,
                "stride": stride,
                "return_overflowing_tokens": True,
                "padding": True,
                "return_length": True,
            },
        )
    add(
        "call",
        "prefix",
        "__call__",
        [LONG[:200]],
        {
            "truncation": True,
            "max_length": 10,
            "stride": 3,
            "return_overflowing_tokens": True,
            "return_offsets_mapping": True,
        },
        classes=("fast",),
    )
    add(
        "call",
        "default",
        "__call__",
        [LONG[:300], LONG[:100]],
        {"truncation": "longest_first", "max_length": 20, "return_overflowing_tokens": True},
    )
    add(
        "call",
        "default",
        "__call__",
        [LONG[:300]],
        {"truncation": True, "max_length": 10, "stride": 8, "return_overflowing_tokens": True},
    )
    # --- encode
    add("encode", "default", "encode", ["Hello world!"])
    add("encode", "default", "encode", ["Hello world!", "pair text"], {"add_special_tokens": False})
    add("encode", "default", "encode", [LONG], {"truncation": True, "max_length": 10})
    add("encode", "default", "encode", [LONG], {"max_length": 10, "padding": "max_length", "truncation": True})
    add("encode", "default", "encode", [[15500, 999]], classes=("slow",))
    # --- pad with LED's global_attention_mask
    feats = {"input_ids": [[0, 15500, 2], [0, 15500, 999, 4, 2]], "global_attention_mask": [[1, 0, 0], [1, 0, 0, 1, 0]]}
    for kw in (
        {},
        {"padding_side": "left"},
        {"max_length": 8, "padding": "max_length"},
        {"pad_to_multiple_of": 4},
        {"return_attention_mask": False},
        {"return_tensors": "np"},
        {"padding": False},
    ):
        add("pad", "default", "pad", [feats], kw)
        add("pad", "left", "pad", [feats], kw)
    add(
        "pad",
        "default",
        "pad",
        [
            [
                {"input_ids": [0, 5, 2], "global_attention_mask": [1, 0, 0]},
                {"input_ids": [0, 2], "global_attention_mask": [1, 0], "attention_mask": [1, 1]},
            ]
        ],
    )
    add(
        "pad",
        "default",
        "pad",
        [{"input_ids": [0, 5, 2], "global_attention_mask": [1, 0, 0]}],
        {"padding": "max_length", "max_length": 6},
    )
    add(
        "pad",
        "default",
        "pad",
        [{"input_ids": [0, 5, 2], "special_tokens_mask": [1, 0, 1], "token_type_ids": [0, 0, 0]}],
        {"padding": "max_length", "max_length": 5},
    )
    # --- decode
    enc = [toks["default"]["slow"](t)["input_ids"] for t in CORPUS + [LONG]]
    for ids in enc:
        add("decode", "default", "decode", [ids])
        add("decode", "default", "decode", [ids], {"skip_special_tokens": True})
    for text in ["Hello , world ! It 's a test . Isn 't it ? I 'm sure they 're , we 've", "a ' b"]:
        ids = toks["default"]["slow"](text)["input_ids"]
        add("decode", "default", "decode", [ids], {"clean_up_tokenization_spaces": True})
        add("decode", "default", "decode", [ids], {"clean_up_tokenization_spaces": False})
    bad_utf8 = [
        [0xF0, 0x9F],
        [0x80],
        [0xBF, 0x80, 0x41],
        [0xC0, 0xAF],
        [0xED, 0xA0, 0x80],
        [0xF5, 0x41],
        [0xE2, 0x82],
        [0xF0, 0x9F, 0x98, 0x80, 0xF0, 0x9F, 0x98],
        [0xFF, 0xFE],
        [0x00, 0x41],
    ]
    for bs in bad_utf8:
        add("decode", "default", "decode", [[byte_id(vocab, b) for b in bs]])
    add("decode", "default", "decode", [[0, 1, 2, 3, 50260]])
    add("decode", "default", "decode", [[0, 1, 2, 3, 50260]], {"skip_special_tokens": True})
    add("decode", "default", "decode", [15500])
    add("decode", "default", "decode", [[]])
    add("batch_decode", "default", "batch_decode", [enc[:6]], {"skip_special_tokens": True})
    # --- added (non-special) tokens from added_tokens.json
    for text in ADDED_TEXTS:
        add("call", "added", "__call__", [text])
        add("call", "added", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("tokenize", "added", "tokenize", [text])
    for ids in ([0, 50261, 2], [0, 15500, 50261, 50262, 999, 2], [50262, 50262], [50261, 5, 50260, 1]):
        add("decode", "added", "decode", [ids])
        add("decode", "added", "decode", [ids], {"skip_special_tokens": True})
        add("decode", "added", "decode", [ids], {"spaces_between_special_tokens": False}, classes=("slow",))
    add("convert", "added", "convert_ids_to_tokens", [[50261, 50262, 0]])
    for text in SPECIAL_ADDED_TEXTS:
        add("call", "special_added", "__call__", [text], {"return_special_tokens_mask": True})
        add("call", "special_added", "__call__", [text], {"return_offsets_mapping": True}, classes=("fast",))
        add("tokenize", "special_added", "tokenize", [text])
    add("decode", "special_added", "decode", [[0, 50261, 15500, 2]])
    add("decode", "special_added", "decode", [[0, 50261, 15500, 2]], {"skip_special_tokens": True})
    add(
        "special",
        "special_added",
        "get_special_tokens_mask",
        [[0, 50261, 15500, 2]],
        {"already_has_special_tokens": True},
    )
    # --- special-token helpers and conversions
    for args in (([5, 6],), ([5, 6], [7]), ([],), ([], [])):
        add("special", "default", "build_inputs_with_special_tokens", list(args))
        add("special", "default", "create_token_type_ids_from_sequences", list(args))
        add("special", "default", "get_special_tokens_mask", list(args))
    add(
        "special",
        "default",
        "get_special_tokens_mask",
        [[0, 5, 2, 1, 50260, 3, 7]],
        {"already_has_special_tokens": True},
    )
    add("special", "default", "num_special_tokens_to_add", [], {"pair": False})
    add("special", "default", "num_special_tokens_to_add", [], {"pair": True})
    add("convert", "default", "convert_ids_to_tokens", [enc[15]])
    add("convert", "default", "convert_ids_to_tokens", [[0, 15500, 2, 1]], {"skip_special_tokens": True})
    add("convert", "default", "convert_ids_to_tokens", [50260])
    add("convert", "default", "convert_tokens_to_ids", [["<s>", "Hello", "Ġworld", "not-a-token", "<mask>"]])
    add("convert", "default", "convert_tokens_to_ids", ["<pad>"])
    sizes = {}
    for cls, name in (
        ("slow", "default"),
        ("fast", "default"),
        ("slow", "added"),
        ("fast", "added"),
        ("slow", "special_added"),
        ("fast", "special_added"),
    ):
        t = toks[name][cls]
        cls = cls if name == "default" else cls + "-" + name
        sizes[cls] = {
            "len": len(t),
            "vocab_size": t.vocab_size,
            "all_special_ids": t.all_special_ids,
            "all_special_tokens": t.all_special_tokens,
            "pad_token_id": t.pad_token_id,
            "mask_token_id": t.mask_token_id,
            "special_tokens_map": t.special_tokens_map,
        }

    # save_vocabulary output, byte-exact (slow)
    with tempfile.TemporaryDirectory() as d:
        paths = toks["default"]["slow"].save_vocabulary(d, filename_prefix="pre")
        saved = {os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths}

    os.makedirs(OUT, exist_ok=True)
    # HF's own saved config files (vocab/merges left out: they are the bundled ones), for from_pretrained tests
    saved_dir = os.path.join(OUT, "hf_saved")
    with tempfile.TemporaryDirectory() as d:
        t = LEDTokenizerFast(vf, mf, add_prefix_space=True, model_max_length=16384)
        t.save_pretrained(d)
        os.makedirs(saved_dir, exist_ok=True)
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            with open(os.path.join(d, name), "rb") as src, open(os.path.join(saved_dir, name), "wb") as dst:
                dst.write(src.read())
        with open(os.path.join(saved_dir, "expected.json"), "w", encoding="utf-8") as f:
            json.dump({text: t(text, return_offsets_mapping=True).data for text in CORPUS[:12]}, f, ensure_ascii=True)
    goldens = {
        "corpus": CORPUS,
        "long": LONG,
        "tokenizers": TOKENIZERS,
        "added_tokens_json": ADDED_TOKENS,
        "special_added_config": SPECIAL_ADDED_CONFIG,
        "sizes": sizes,
        "save_vocabulary_sha256": saved,
        "cases": cases,
    }
    with open(os.path.join(OUT, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(goldens, f, ensure_ascii=True, separators=(",", ":"))
    meta = {
        "script": "spec/make_tokenizer_goldens.py",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "vocab": "led_ref/data/vocab.json + merges.txt (GPT-2 merges in BART/LED id layout)",
        "classes": ["LEDTokenizer", "LEDTokenizerFast"],
        "n_cases": len(cases),
    }
    with open(os.path.join(OUT, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    n_diff = sum(1 for c in cases if "slow" in c and "fast" in c and c["slow"] != c["fast"])
    print(f"wrote {len(cases)} cases ({n_diff} where slow and fast differ) to {OUT}")


if __name__ == "__main__":
    main()
