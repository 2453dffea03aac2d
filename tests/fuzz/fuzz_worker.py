"""Fuzz worker: runs one family of hostile-input cases in this process and prints one JSON report.

Run by tests/fuzz/test_fuzz.py in a subprocess with RLIMIT_AS (about 4 GB) and a wall-clock timeout;
each case also has its own alarm. A case is an action on mutated files or random arguments; its
outcome is one of

* ``ok``    the action returned (and, where the inputs were invalid by construction, that is a failure:
            ``silent`` -- the input was accepted instead of refused),
* ``clear`` the action raised ValueError / TypeError / FileNotFoundError whose innermost frame is in
            led-ref (not NumPy, json, protobuf...) and whose message names the file or argument,
* anything else is a failure (``bad``): another exception type (MemoryError, RecursionError, IndexError,
  KeyError, ...), a third-party error passed through, a message naming nothing, a timeout.

usage: fuzz_worker.py FAMILY N SEED BASE_DIR [--block-torch-onnx]
"""

import copy
import importlib.util
import io
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUR_CODE = (os.path.join(REPO, "led_ref") + os.sep, os.path.join(REPO, "export") + os.sep)
CLEAR_TYPES = (ValueError, TypeError, FileNotFoundError)
CASE_SECONDS = 30
MEMORY_LIMIT = 4 << 30


class CaseTimeout(BaseException):
    """Raised by the per-case alarm (a BaseException so that no `except Exception` in the code swallows it)."""


# -- classification ---------------------------------------------------------------------------------------------------
def _innermost_file(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1].filename if frames else ""


def classify(exc, names):
    """'clear' or 'bad: why' for an exception raised by a case."""
    if isinstance(exc, CaseTimeout):
        return f"bad: no answer within {CASE_SECONDS} s"
    if not isinstance(exc, CLEAR_TYPES):
        return f"bad: {type(exc).__module__}.{type(exc).__name__} is not ValueError/TypeError/FileNotFoundError"
    if (
        isinstance(exc, (UnicodeError, json.JSONDecodeError))
        or type(exc).__module__ not in ("builtins",)
        and not type(exc).__module__.startswith("led_ref")
    ):
        return f"bad: third-party exception {type(exc).__module__}.{type(exc).__name__} reached the user"
    where = _innermost_file(exc)
    python_call_check = isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc)
    if not where.startswith(OUR_CODE) and not python_call_check:
        return f"bad: raised inside {where}, not by led-ref's own checks"
    msg = str(exc)
    if names and not any(n in msg for n in names):
        return f"bad: message names none of {names}"
    if len(msg) - sum(len(n) for n in names if n and n in msg) > 4000:  # a long path named in full is fine
        return f"bad: message is {len(msg)} characters long"
    return "clear"


def run_case(thunk, names, expect_error):
    signal.alarm(CASE_SECONDS)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            result = thunk()
    except BaseException as exc:  # noqa: B036 -- every outcome is classified
        signal.alarm(0)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(exc, SystemExit):
            raise
        outcome = classify(exc, names)
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        if outcome != "clear":
            detail += " | " + "".join(traceback.format_exception(exc)[-3:])[-600:]
        return outcome, detail
    signal.alarm(0)
    if isinstance(result, str) and result.startswith("bad:"):
        return result, ""
    if expect_error:
        return "bad: silent -- invalid input accepted", repr(result)[:200]
    return "ok", str(result)[:200]


def _on_alarm(signum, frame):
    raise CaseTimeout()


# -- hostile values and mutations -------------------------------------------------------------------------------------
def deep(n, leaf=1):
    out = leaf
    for _ in range(n):
        out = [out]
    return out


HOSTILE = [
    10**12,
    2**62,
    2**63,
    2**64 + 1,
    10**30,
    -1,
    0,
    -(10**12),
    1e12,
    1.5,
    -0.5,
    float("nan"),
    float("inf"),
    "abc",
    "",
    "1",
    None,
    True,
    False,
    [],
    [1, 2],
    [[1]],
    {},
    {"a": 1},
    "x" * 5000,
    "\udcff",
]


def hostile_value(rng, for_json=True):
    """A hostile value; for files, deep nesting is a marker that json_dumps expands in the text (json.dumps itself
    would recurse on it)."""
    r = rng.random()
    if r < 0.05:
        n = rng.choice([70, 500, 5000])
        return f"__DEEP_{n}__" if for_json else deep(n)
    if r < 0.1:
        return {"a": "__DEEP_80__" if for_json else deep(80)}
    return copy.deepcopy(rng.choice(HOSTILE))


def json_dumps(obj):
    # allow_nan: hostile files may hold NaN / Infinity (Python's json reads them)
    text = json.dumps(obj, allow_nan=True, ensure_ascii=False)
    for n in (70, 80, 500, 5000):
        text = text.replace(f'"__DEEP_{n}__"', "[" * n + "1" + "]" * n)
    return text.encode("utf-8", "surrogatepass")


def mutate_json(rng, obj, keys):
    """A mutated JSON document (bytes) from ``obj`` (dict): fields set to hostile values, removed, or byte damage."""
    obj = copy.deepcopy(obj)
    r = rng.random()
    if r < 0.55 and isinstance(obj, dict):
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            key = rng.choice(list(keys) + list(obj)) if (keys or obj) else "x"
            if rng.random() < 0.2:
                obj.pop(key, None)
            else:
                obj[key] = hostile_value(rng)
        return json_dumps(obj)
    raw = json_dumps(obj)
    return mutate_bytes(rng, raw, text=True)


def mutate_bytes(rng, raw, text=False):
    raw = bytearray(raw)
    r = rng.random()
    if r < 0.2 and raw:
        return bytes(raw[: rng.randrange(len(raw))])  # truncated
    if r < 0.4 and raw:
        for _ in range(rng.choice([1, 2, 8])):
            i = rng.randrange(len(raw))
            raw[i] ^= 1 << rng.randrange(8)
        return bytes(raw)
    if r < 0.5:
        return b"\xff\xfe" + bytes(raw) if text else bytes(rng.randrange(256) for _ in range(rng.choice([0, 7, 64])))
    if r < 0.6:
        return b"[" * 100_000 + b"]" * 100_000 if text else b"\x00" * rng.choice([0, 8, 16])
    if r < 0.7:
        return b""
    if r < 0.8:
        return bytes(raw) + bytes(rng.randrange(256) for _ in range(16))
    if r < 0.9 and raw:
        i = rng.randrange(len(raw))
        return bytes(raw[:i]) + b"\x80\xc3" + bytes(raw[i:])  # invalid UTF-8 inside
    return os.urandom(rng.choice([1, 100, 5000]))


# -- the base files (made once per run by the parent, copied per case) -------------------------------------------------
_TEMP_DIRS = []


def copy_base(base, name):
    d = tempfile.mkdtemp(prefix="fuzz-")
    _TEMP_DIRS.append(d)
    shutil.copytree(os.path.join(base, name), os.path.join(d, name))
    return os.path.join(d, name)


def names_for(path):
    return [os.path.basename(path), os.path.dirname(path)]


def _smoke(run):
    """Use what loaded: any clear error is fine here (the loaded config may legitimately refuse this input)."""
    try:
        return run()
    except CaseTimeout:
        raise
    except Exception as exc:
        outcome = classify(exc, [])
        return "ok" if outcome == "clear" else f"{outcome} (using what loaded: {type(exc).__name__}: {exc})"[:500]


def smoke_model(model):
    def run():
        ids = np.array([[0, 5, 6, 7, 2]], dtype=np.int64)
        out = model(input_ids=ids, decoder_input_ids=np.array([[2, 5]], dtype=np.int64))
        return "ok" if out is not None else "bad: no output"

    return _smoke(run)


def smoke_tokenizer(tok):
    def run():
        enc = tok("Hello world, this is a test.", padding="max_length", max_length=12, truncation=True)
        text = tok.decode(enc["input_ids"], skip_special_tokens=True)
        tok.batch_decode([enc["input_ids"]])
        return "ok" if isinstance(text, str) else "bad: decode returned no str"

    return _smoke(run)


CONFIG_KEYS = [
    "vocab_size",
    "d_model",
    "encoder_layers",
    "decoder_layers",
    "encoder_attention_heads",
    "decoder_attention_heads",
    "encoder_ffn_dim",
    "decoder_ffn_dim",
    "max_encoder_position_embeddings",
    "max_decoder_position_embeddings",
    "attention_window",
    "pad_token_id",
    "eos_token_id",
    "bos_token_id",
    "decoder_start_token_id",
    "activation_function",
    "tie_word_embeddings",
    "id2label",
    "label2id",
    "num_labels",
    "model_type",
    "use_cache",
    "num_hidden_layers",
    "hidden_size",
    "dropout",
    "architectures",
    "max_length",
    "num_beams",
    "problem_type",
    "torch_dtype",
]
GEN_KEYS = [
    "max_length",
    "max_new_tokens",
    "min_length",
    "num_beams",
    "eos_token_id",
    "pad_token_id",
    "decoder_start_token_id",
    "no_repeat_ngram_size",
    "length_penalty",
    "early_stopping",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "bad_words_ids",
    "forced_eos_token_id",
    "num_return_sequences",
]
TOKENIZER_CONFIG_KEYS = [
    "model_max_length",
    "errors",
    "add_prefix_space",
    "padding_side",
    "truncation_side",
    "clean_up_tokenization_spaces",
    "bos_token",
    "eos_token",
    "pad_token",
    "unk_token",
    "mask_token",
    "added_tokens_decoder",
    "trim_offsets",
]


def _load_lm(d):
    from led_ref.model import LEDForConditionalGeneration

    return smoke_model(LEDForConditionalGeneration.from_pretrained(d))


def case_checkpoint(rng, base):
    """Mutate config.json / generation_config.json / model.safetensors of the tiny checkpoint, then load + run."""
    d = copy_base(base, "ckpt")
    target = rng.choice(["config.json"] * 3 + ["model.safetensors"] * 4 + ["generation_config.json"])
    path = os.path.join(d, target)
    raw = open(path, "rb").read()
    if target == "model.safetensors":
        data = mutate_safetensors(rng, raw)
    else:
        data = mutate_json(rng, json.loads(raw), CONFIG_KEYS if target == "config.json" else GEN_KEYS)
    open(path, "wb").write(data)

    def thunk():
        if target == "generation_config.json":
            from led_ref.generation import GenerationConfig

            GenerationConfig.for_model(d)
        return _load_lm(d)

    return f"{target}", thunk, names_for(path), False


def mutate_safetensors(rng, raw):
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    r = rng.random()
    if r < 0.6:
        names = [k for k in header if k != "__metadata__"]
        name = rng.choice(names)
        entry = header[name]
        field = rng.choice(["shape", "shape", "dtype", "data_offsets", "entry", "rename", "metadata"])
        if field == "shape":
            entry["shape"] = rng.choice(
                [
                    [0, 2**62, 2**62],
                    [2**62, 2**62],
                    [-1, 4],
                    [2**63],
                    ["a"],
                    [1.5],
                    [],
                    [1] * 100,
                    entry["shape"][::-1],
                    entry["shape"] + [1],
                    [10**12, 64],
                    [0],
                    [2**31, 2**31, 4],
                ]
            )
        elif field == "dtype":
            entry["dtype"] = rng.choice(["F64", "F16", "BF16", "I32", "I8", "BOOL", "U8", "Q4", "", 7, None])
        elif field == "data_offsets":
            b, e = entry["data_offsets"]
            entry["data_offsets"] = rng.choice(
                [[e, b], [b, e + 4], [-4, e], [b, 2**63], [0, 0], [b], "x", [b + 1, e + 1], [1.0, 2.0]]
            )
        elif field == "entry":
            header[name] = hostile_value(rng)
        elif field == "rename":
            header[rng.choice(["", "x" * 1000, "led.shared.weight", "encoder.layers.99.fc1.weight"])] = header.pop(name)
        else:
            header["__metadata__"] = hostile_value(rng)
        text = json_dumps(header)
        text += b" " * (-len(text) % 8)
        return len(text).to_bytes(8, "little") + text + body
    if r < 0.75:
        return rng.choice([2**63, 2**40, 0, n + 8, len(raw)]).to_bytes(8, "little", signed=False) + raw[8:]
    return mutate_bytes(rng, raw)


def case_sharded(rng, base):
    d = copy_base(base, "sharded")
    files = sorted(os.listdir(d))
    target = rng.choice([f for f in files if f.endswith(".json")] * 2 + [f for f in files if ".safetensors" in f])
    path = os.path.join(d, target)
    raw = open(path, "rb").read()
    if target.endswith(".index.json"):
        obj = json.loads(raw)
        if rng.random() < 0.5:
            k = rng.choice(list(obj["weight_map"]))
            obj["weight_map"][rng.choice([k, "ghost.weight"])] = rng.choice(
                ["../config.json", "/etc/passwd", "missing.safetensors", "", 3, None, "config.json"]
            )
            data = json_dumps(obj)
        else:
            data = mutate_json(rng, obj, ["weight_map", "metadata"])
    elif target.endswith(".safetensors"):
        data = mutate_safetensors(rng, raw)
    else:
        data = mutate_json(rng, json.loads(raw), CONFIG_KEYS)
    open(path, "wb").write(data)
    return f"sharded/{target}", lambda: _load_lm(d), names_for(path), False


def case_bin(rng, base):
    d = copy_base(base, "bin")
    path = os.path.join(d, "pytorch_model.bin")
    raw = open(path, "rb").read()
    if rng.random() < 0.5:
        open(path, "wb").write(mutate_bytes(rng, raw))
        return "pytorch_model.bin", lambda: _load_lm(d), names_for(path), False
    # repack with a mutated data.pkl (valid zip CRCs), so the mutation reaches the restricted unpickler itself
    import zipfile

    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        records = [(i.filename, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            if name.endswith("/data.pkl"):
                data = bytearray(data)
                for _ in range(rng.choice([1, 2, 4])):
                    i = rng.randrange(len(data))
                    data[i] = rng.choice([data[i] ^ (1 << rng.randrange(8)), 0x7F, 0xFF, 0x00, ord("K"), ord("J")])
                data = bytes(data)
            z.writestr(name, data)
    return "pytorch_model.bin/data.pkl", lambda: _load_lm(d), names_for(path), False


def case_tokenizer(rng, base):
    d = copy_base(base, "ckpt")
    target = rng.choice(
        [
            "vocab.json",
            "merges.txt",
            "tokenizer_config.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "added_tokens.json",
        ]
    )
    path = os.path.join(d, target)
    raw = open(path, "rb").read()
    if target == "merges.txt":
        lines = raw.decode().split("\n")
        r = rng.random()
        if r < 0.5:
            i = rng.randrange(1, len(lines))
            lines[i] = rng.choice(
                ["a b c", "", "zz qq", "\u0120 \u0120", "a", " ", "#version: 0.2", lines[i][::-1], lines[i] + " x"]
            )
            data = "\n".join(lines).encode()
        else:
            data = mutate_bytes(rng, raw, text=True)
    elif target == "vocab.json":
        obj = json.loads(raw)
        if rng.random() < 0.5:
            key = rng.choice(list(obj) + ["<s>", "new"])
            obj[key] = hostile_value(rng)
            data = json_dumps(obj)
        else:
            data = mutate_bytes(rng, raw, text=True)
    elif target == "added_tokens.json":
        obj = json.loads(raw)
        if rng.random() < 0.6:
            obj[rng.choice(list(obj) + ["<extra>", ""])] = hostile_value(rng)
            data = json_dumps(obj)
        else:
            data = mutate_bytes(rng, raw, text=True)
    else:
        keys = TOKENIZER_CONFIG_KEYS if target == "tokenizer_config.json" else TOKENIZER_CONFIG_KEYS[6:11]
        data = mutate_json(rng, json.loads(raw), keys)
    open(path, "wb").write(data)
    fast = rng.random() < 0.5

    def thunk():
        from led_ref.tokenizer import LEDTokenizer, LEDTokenizerFast

        return smoke_tokenizer((LEDTokenizerFast if fast else LEDTokenizer).from_pretrained(d))

    return target, thunk, names_for(path), False


# -- random arguments -------------------------------------------------------------------------------------------------
class Args:
    """Draws arguments that are valid, or invalid by construction (then the call must refuse them)."""

    def __init__(self, rng, p_bad):
        self.rng, self.p_bad, self.bad = rng, p_bad, []

    def pick(self, name, valid, invalid):
        if invalid and self.rng.random() < self.p_bad:
            self.bad.append(name)
            v = self.rng.choice(invalid)
            return v() if callable(v) else v
        v = self.rng.choice(valid)
        return v() if callable(v) else v


def bad_int_arrays(shape, vocab):
    B, S = shape
    return [
        lambda: np.zeros(shape, np.float32),
        lambda: np.zeros(S, np.int64) + 3,
        lambda: np.zeros((B, S, 2), np.int64) + 3,
        lambda: np.zeros((0, S), np.int64),
        lambda: np.zeros((B, 0), np.int64),
        lambda: np.full(shape, -1, np.int64),
        lambda: np.full(shape, vocab, np.int64),
        lambda: np.full(shape, 2**40, np.int64),
        lambda: np.array([["a"] * S] * B),
        lambda: np.array([[None] * S] * B, dtype=object),
        lambda: [[1, 2], [3]],
        lambda: "hello",
        lambda: np.array(3),
    ]


def case_model_call(rng, base, p_bad=0.25):
    from led_ref import model as M

    cls = rng.choice(
        [M.LEDModel, M.LEDForConditionalGeneration, M.LEDForSequenceClassification, M.LEDForQuestionAnswering]
    )
    if cls.__name__ not in _MODELS:
        from led_ref.config import LEDConfig
        from led_ref.weights import init_params

        config = LEDConfig.from_pretrained(os.path.join(base, "ckpt"))
        _MODELS[cls.__name__] = cls(config, init_params(config, cls.head, seed=1))
    model = _MODELS[cls.__name__]
    cfg = model.config
    V = cfg.vocab_size
    a = Args(rng, p_bad)
    B, S = rng.choice([1, 2]), rng.choice([3, 9, 20, 56])
    ids = np.array(np.random.default_rng(rng.randrange(1 << 30)).integers(4, V, (B, S)), dtype=np.int64)
    ids[:, -1] = cfg.eos_token_id  # sequence classification pools at the eos token
    input_ids = a.pick(
        "input_ids",
        [ids, ids.astype(np.int32), ids.tolist()],
        bad_int_arrays((B, S), V) + [lambda: np.full((B, 80), 5, np.int64)],
    )
    mask = a.pick(
        "attention_mask",
        [None, np.ones((B, S), np.int64), np.ones((B, S), bool)],
        [
            np.full((B, S), 2),
            np.full((B, S), -1),
            np.ones((B, S + 1), np.int64),
            np.ones(S, np.int64),
            np.full((B, S), 0.5),
            "mask",
        ],
    )
    glob = a.pick(
        "global_attention_mask",
        [None, np.zeros((B, S), np.int64)],
        [np.full((B, S), 5), np.full((B, S), -2), np.zeros((B + 1, S), np.int64), np.zeros((B, S, 1))],
    )
    T = rng.choice([1, 4])
    dec = a.pick(
        "decoder_input_ids",
        [None, np.full((B, T), 2, np.int64)],
        bad_int_arrays((B, T), V) + [lambda: np.full((B, 40), 2, np.int64)],
    )
    flags = {}
    for flag in ("output_attentions", "output_hidden_states", "use_cache"):
        if rng.random() < 0.3:
            flags[flag] = a.pick(flag, [True, False, None], ["yes", 2, 0.5, [1]])
    if rng.random() < 0.1:
        a.bad.append("unexpected_argument")
        flags["unexpected_argument"] = 1

    def thunk():
        out = model(
            input_ids=input_ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=dec, **flags
        )
        for value in out.values() if hasattr(out, "values") else [out]:
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                return "bad: non-finite output for valid input"
        return out.__class__.__name__

    # a shape mismatch between two arrays may be reported under either name
    arrays = ["input_ids", "attention_mask", "global_attention_mask", "decoder_input_ids"]
    names = a.bad + (arrays if set(a.bad) & set(arrays) else [])
    return f"{cls.__name__}({', '.join(a.bad) or 'valid'})", thunk, names, bool(a.bad)


_MODELS = {}


def generate_args(rng, a, V, max_dec):
    kw = {}
    choices = {
        "max_new_tokens": ([1, 3, None], [0, -1, max_dec + 5, 10**9, "3", 2.5]),
        "num_beams": ([1, 2], [0, -1, 10**9, "2", 1.5]),
        "num_return_sequences": ([1], [0, -3, "1"]),
        "temperature": ([1.0, 0.7], [0, -1.0, float("nan"), "hot"]),
        "top_k": ([50, 0], [-1, "k", 1.5]),
        "top_p": ([1.0, 0.9], [1.5, -0.1, "p"]),
        "length_penalty": ([1.0, 2.0], [float("nan"), "long"]),
        "no_repeat_ngram_size": ([0, 2], [-1, "n"]),
        "eos_token_id": ([2], [-5, V + 10, "eos", []]),
        "early_stopping": ([True, False, "never"], ["sometimes", 2]),
        "max_length": ([5, 10], [0, -2, max_dec + 20, "long"]),
    }
    for name, (valid, invalid) in choices.items():
        if rng.random() < 0.3:
            kw[name] = a.pick(name, valid, invalid)
    if rng.random() < 0.05:
        a.bad.append("not_a_generation_option")
        kw["not_a_generation_option"] = 1
    if "max_new_tokens" not in kw and "max_length" not in kw:
        kw["max_new_tokens"] = 3
    return kw


def case_generate(rng, base, p_bad=0.3):
    from led_ref.generation import generate
    from led_ref.model import LEDForConditionalGeneration

    model = _MODELS.setdefault("gen", LEDForConditionalGeneration.from_pretrained(os.path.join(base, "ckpt")))
    return _generate_case(rng, model, generate, p_bad)


def _generate_case(rng, model, generate, p_bad, values_checked=True):
    cfg = model.config
    a = Args(rng, p_bad)
    B, S = rng.choice([1, 2]), rng.choice([4, 12])
    ids = np.array(np.random.default_rng(rng.randrange(1 << 30)).integers(4, cfg.vocab_size, (B, S)), np.int64)
    input_ids = a.pick("input_ids", [ids], bad_int_arrays((B, S), cfg.vocab_size))
    mask = a.pick(
        "attention_mask",
        [None, np.ones((B, S), np.int64)],
        [np.ones((B, S + 2))] + ([np.full((B, S), 2)] if values_checked else []),
    )
    kw = generate_args(rng, a, cfg.vocab_size, cfg.max_decoder_position_embeddings)

    def thunk():
        out = generate(model, input_ids, mask, **kw)
        out = np.asarray(out.sequences if hasattr(out, "sequences") else out)
        if out.ndim != 2 or out.dtype != np.int64 or out.min() < 0 or out.max() >= cfg.vocab_size:
            return f"bad: generate returned {out.dtype} {out.shape} outside the vocabulary"
        if out.shape[1] > cfg.max_decoder_position_embeddings:
            return f"bad: generated {out.shape[1]} positions > max_decoder_position_embeddings"
        return out.shape

    return f"generate({', '.join(a.bad) or 'valid'})", thunk, a.bad, bool(a.bad)


def case_past(rng, base):
    """Decoder calls with a past_key_values that does not fit (cross length, layers, shapes)."""
    from led_ref.model import LEDForConditionalGeneration

    model = _MODELS.setdefault("gen", LEDForConditionalGeneration.from_pretrained(os.path.join(base, "ckpt")))
    ids = np.array([[0, 5, 6, 7, 8, 9, 2]], np.int64)
    enc = model.get_encoder()(input_ids=ids)
    out = model(encoder_outputs=enc, decoder_input_ids=np.array([[2]]), use_cache=True)
    past = [list(layer) for layer in out.past_key_values]
    kind = rng.choice(["cross_len", "layers", "self_len", "heads", "none"])
    if kind == "cross_len":
        past = [[k, v, ck[:, :, :-2], cv[:, :, :-2]] for k, v, ck, cv in past]
    elif kind == "layers":
        past = past[:-1]
    elif kind == "self_len":
        past[0][0] = past[0][0][:, :, :0]
        past[0][1] = past[0][1][:, :, :0]
    elif kind == "heads":
        past = [[k[:, :1], v[:, :1], ck, cv] for k, v, ck, cv in past]

    def thunk():
        return type(model(encoder_outputs=enc, decoder_input_ids=np.array([[5]]), past_key_values=past)).__name__

    return f"past_key_values({kind})", thunk, ["past_key_values"], kind != "none"


def case_tokenizer_call(rng, base, p_bad=0.35):
    from led_ref.tokenizer import LEDTokenizer, LEDTokenizerFast

    cls = rng.choice([LEDTokenizer, LEDTokenizerFast])
    tok = _MODELS.setdefault(cls.__name__, cls.from_pretrained(os.path.join(base, "ckpt")))
    a = Args(rng, p_bad)
    what = rng.choice(["call", "decode", "batch_decode"])
    n = len(tok)
    if what == "call":
        text = a.pick("text", ["hello world", ["a b", "c"], "x" * 300], [3, None, b"bytes", [1.5], {"a": 1}])
        kw = {}
        for name, valid, invalid in (
            ("max_length", [8, None], [-1, "8", 1.5]),
            ("padding", [True, False, "longest", "max_length"], ["maybe", 3]),
            ("truncation", [True, False, None], ["sometimes", 3]),
            ("return_tensors", [None, "np"], ["pt", 1]),
            ("stride", [0], [-1, "s"]),
            ("pad_to_multiple_of", [None, 8], [-8, "8", 0.5]),
        ):
            if rng.random() < 0.4:
                kw[name] = a.pick(name, valid, invalid)
        if kw.get("padding") == "max_length" and kw.get("max_length") is None:
            kw["max_length"] = 16
        if kw.get("return_tensors") == "np" and "padding" not in a.bad:
            kw["padding"] = True

        def thunk():
            return list(tok(text, **kw))

        return f"{cls.__name__}.__call__({', '.join(a.bad) or 'valid'})", thunk, a.bad, bool(a.bad)
    if what == "decode":
        ids = a.pick(
            "token_ids",
            [[0, 5, 6, 2], np.array([5, 6], np.int64), 5],
            [
                np.zeros((2, 3), np.int64),
                [[1, 2], [3]],
                [1.5],
                "ids",
                None,
                [-1],
                [n + 5],
                [2**70],
                np.zeros(3, np.float32),
                [True],
            ],
        )
        return f"{cls.__name__}.decode({', '.join(a.bad) or 'valid'})", lambda: tok.decode(ids), a.bad, bool(a.bad)
    seqs = a.pick(
        "sequences",
        [[[0, 5, 2], [6]], np.zeros((2, 3), np.int64)],
        [np.zeros((2, 3, 4), np.int64), "abc", 5, [[1.5]], [["a"]], np.zeros(3, np.int64), [[-1]]],
    )
    names = a.bad + ["token_ids"]
    return (
        f"{cls.__name__}.batch_decode({', '.join(a.bad) or 'valid'})",
        lambda: tok.batch_decode(seqs),
        names,
        bool(a.bad),
    )


# -- ONNX Runtime backend ---------------------------------------------------------------------------------------------
def case_ort_files(rng, base):
    d = copy_base(base, "onnx")
    target = rng.choice(
        ["encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "config.json", "swap"]
    )
    if target == "swap":
        a, b = rng.sample(["encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"], 2)
        shutil.copy(os.path.join(d, a), os.path.join(d, b))
        path = os.path.join(d, b)
    else:
        path = os.path.join(d, target)
        raw = open(path, "rb").read()
        if target == "config.json":
            data = mutate_json(rng, json.loads(raw), CONFIG_KEYS)
        elif rng.random() < 0.5:
            data = raw[: rng.randrange(len(raw))]
        else:
            data = mutate_bytes(rng, raw)
        open(path, "wb").write(data)

    def thunk():
        from led_ref.export.ort import OrtLEDForConditionalGeneration

        m = OrtLEDForConditionalGeneration.from_pretrained(d)
        out = m.generate(np.array([[0, 5, 6, 7, 2]], np.int64), max_new_tokens=3)
        return np.asarray(out).shape

    return f"onnx/{target}", thunk, names_for(path), False


def case_ort_call(rng, base):
    from led_ref.export.ort import OrtLEDForConditionalGeneration
    from led_ref.generation import generate

    model = _MODELS.setdefault("ort", OrtLEDForConditionalGeneration.from_pretrained(os.path.join(base, "onnx")))
    if rng.random() < 0.5:
        return _generate_case(rng, model, generate, 0.3, MASK_VALUES_CHECKED)
    cfg = model.config
    a = Args(rng, 0.3)
    B, S = rng.choice([1, 2]), rng.choice([4, 12])
    ids = np.array(np.random.default_rng(rng.randrange(1 << 30)).integers(4, cfg.vocab_size, (B, S)), np.int64)
    input_ids = a.pick("input_ids", [ids], bad_int_arrays((B, S), cfg.vocab_size))
    mask = a.pick(
        "attention_mask",
        [None, np.ones((B, S), np.int64)],
        [np.full((B, S), 2), np.ones((B, S + 1), np.int64)] + ([np.full((B, S), 2)] * 2 if MASK_VALUES_CHECKED else []),
    )
    if not MASK_VALUES_CHECKED and "attention_mask" in a.bad and np.shape(mask) == (B, S):
        a.bad.remove(
            "attention_mask"
        )  # value-range checks on ORT inputs are led_ref.inputs' (one home for input rules)
        mask = None
    glob = a.pick(
        "global_attention_mask",
        [None, np.zeros((B, S), np.int64)],
        [np.zeros((B, S + 1), np.int64)] + ([np.full((B, S), 5)] if MASK_VALUES_CHECKED else []),
    )

    def thunk():
        hidden, enc_mask = model.encode(input_ids, mask, glob)
        return hidden.shape

    return f"ort.encode({', '.join(a.bad) or 'valid'})", thunk, a.bad, bool(a.bad)


try:
    import importlib.util

    MASK_VALUES_CHECKED = importlib.util.find_spec("led_ref.inputs") is not None
except Exception:
    MASK_VALUES_CHECKED = False


# -- command line -----------------------------------------------------------------------------------------------------
def case_cli(rng, base):
    """One CLI invocation in this process: exit 0/1, or exit 2 with exactly one line on stderr (no traceback)."""
    ckpt = copy_base(base, "ckpt")
    doc = os.path.join(ckpt, "doc.txt")
    sub = rng.choice(
        ["generate"] * 5 + ["demo", "export", "bench", "summarize", "summarize", "evaluate", "attention-map"]
    )
    bad = []
    corpus = os.path.join(ckpt, "corpus.jsonl")
    with open(corpus, "w") as f:
        for i in range(3):
            f.write(
                json.dumps(
                    {
                        "id": f"d{i}",
                        "text": "Longformer reads long documents. " * (i + 1),
                        "abstract": "Long documents.",
                    }
                )
                + "\n"
            )
    if sub == "generate":
        argv = ["generate", "--model", ckpt]
        target = rng.random()
        if target < 0.3:  # a damaged file in the model directory
            name = rng.choice(
                ["config.json", "model.safetensors", "vocab.json", "tokenizer_config.json", "generation_config.json"]
            )
            p = os.path.join(ckpt, name)
            raw = open(p, "rb").read()
            open(p, "wb").write(
                mutate_safetensors(rng, raw)
                if name.endswith("safetensors")
                else mutate_json(rng, json.loads(raw), CONFIG_KEYS + GEN_KEYS + TOKENIZER_CONFIG_KEYS)
            )
        elif target < 0.4:
            open(doc, "wb").write(rng.choice([b"\xff\xfe\x00binary\x80", os.urandom(300), b"", b"   \n"]))
        options = {
            "--max-new-tokens": ["3", "0", "-1", "100000", "x"],
            "--num-beams": ["1", "2", "0", "-2", "b"],
            "--max-input-length": ["8", "0", "-5", "1", "z"],
            "--temperature": ["0.5", "0", "nan"],
            "--top-p": ["0.9", "2"],
            "--early-stopping": ["true", "maybe"],
            "--length-penalty": ["1", "inf"],
            "--max-length": ["6", "0", "5000"],
            "--dtype": ["float32", "int8"],
            "--backend": ["numpy", "tpu"],
        }
        for flag, values in options.items():  # the first value is valid, and drawn most often
            if rng.random() < 0.3:
                argv += [flag, values[0] if rng.random() < 0.6 else rng.choice(values[1:])]
        if "--max-new-tokens" not in argv and "--max-length" not in argv:
            argv += ["--max-new-tokens", "3"]
        argv.append(
            rng.choice([doc, doc, os.path.join(ckpt, "missing.txt"), ckpt, os.path.join(ckpt, "model.safetensors")])
        )
    elif sub == "demo" and rng.random() < 0.4:
        # a damaged checkpoint given to the main job
        name = rng.choice(["config.json", "model.safetensors", "vocab.json", "merges.txt", "generation_config.json"])
        p = os.path.join(ckpt, name)
        raw = open(p, "rb").read()
        open(p, "wb").write(
            mutate_safetensors(rng, raw)
            if name.endswith("safetensors")
            else mutate_bytes(rng, raw, text=True)
            if name == "merges.txt"
            else mutate_json(rng, json.loads(raw), CONFIG_KEYS + GEN_KEYS)
        )
        argv = ["demo", "--model", ckpt, "--backends", "numpy", "--max-new-tokens", "2", "--file", doc]
    elif sub == "demo":
        argv = ["demo", "--size", "tiny"] + rng.choice(
            [
                ["--json", "/nonexistent/dir/r.json"],
                ["--json", ckpt],
                ["--model", "/nonexistent"],
                ["--max-input-tokens", "1"],
                ["--num-beams", "0"],
                ["--backends", "gpu"],
                ["--file", os.path.join(ckpt, "model.safetensors")],
                ["--file", "/nonexistent"],
                ["--max-new-tokens", "-3"],
                ["--size", "huge"],
                ["--model", ckpt, "--backends", "numpy", "--max-new-tokens", "0"],
            ]
        )
        bad = ["always"]
    elif sub == "export" and rng.random() < 0.3 and importlib.util.find_spec("torch") is not None:
        name = rng.choice(["config.json", "model.safetensors"])
        p = os.path.join(ckpt, name)
        raw = open(p, "rb").read()
        open(p, "wb").write(
            mutate_safetensors(rng, raw)
            if name.endswith("safetensors")
            else mutate_json(rng, json.loads(raw), CONFIG_KEYS)
        )
        argv = ["export", ckpt, os.path.join(ckpt, "out"), "--no-validate"]
    elif sub == "export":
        argv = ["export"] + rng.choice(
            [
                ["/nonexistent", os.path.join(ckpt, "out")],
                [os.path.join(ckpt, "doc.txt"), os.path.join(ckpt, "out")],
                [ckpt, os.path.join(ckpt, "out"), "--opset", "3"],
                [ckpt, os.path.join(ckpt, "out"), "--opset", "x"],
                [ckpt, os.path.join(ckpt, "out"), "--head", "nose"],
            ]
        )
        bad = ["always"]
    elif sub == "summarize":
        out = os.path.join(ckpt, "out.jsonl")
        r = rng.random()
        if r < 0.35:  # a damaged corpus: bad JSON lines, binary bytes, wrong field types, deep nesting
            with open(corpus, "ab") as f:
                f.write(
                    rng.choice(
                        [
                            b"{not json}\n",
                            b"\xff\xfe\x80\n",
                            b'{"id": 5, "text": 7}\n',
                            b'{"id": "x"}\n',
                            b"[" * 100_000 + b"\n",
                            b'{"id": "d0", "text": "dup"}\n',
                            b'{"id": "e", "text": ""}\n',
                            b"\n\n",
                        ]
                    )
                )
        argv = ["summarize", "--model", ckpt, corpus, "-o", out, "--max-new-tokens", "2"]
        if r >= 0.35 and r < 0.8:
            argv += rng.choice(
                [
                    ["--batch-tokens", "0"],
                    ["--batch-tokens", "-5"],
                    ["--max-input-tokens", "0"],
                    ["--max-input-tokens", "1"],
                    ["--num-actors", "0"],
                    ["--text-field", "nope"],
                    ["--max-new-tokens", "5000"],
                    ["--num-beams", "0"],
                    ["-o", ckpt],
                    ["-o", "/nonexistent/dir/o.jsonl"],
                    ["--ray-timeout", "-1"],
                    ["--engine", "spark"],
                ]
            )
        elif r >= 0.8:
            argv[3] = rng.choice(
                [os.path.join(ckpt, "missing.jsonl"), os.path.join(ckpt, "model.safetensors"), "/nonexistent"]
            )
    elif sub == "evaluate":
        preds = os.path.join(ckpt, "preds.jsonl")
        with open(preds, "wb") as f:
            f.write(
                rng.choice(
                    [
                        b'{"id": "d0", "summary": "Long documents."}\n',
                        b"\xff\xfe garbage\n",
                        b'{"id": "d0"}\n',
                        b"[" * 100_000,
                        b"",
                        b'{"id": "zz", "summary": "x"}\n',
                        b'{"id": "d0", "summary": 5}\n',
                    ]
                )
            )
        argv = ["evaluate", preds, corpus, "--references-field", "abstract"] + rng.choice(
            [
                [],
                ["--bootstrap-samples", "0"],
                ["--bootstrap-samples", "-1"],
                ["--json", "/nonexistent/x.json"],
                ["--references-field", "nope"],
                ["--bootstrap-samples", "10"],
            ]
        )
    elif sub == "attention-map":
        argv = ["attention-map", "--model", ckpt, doc, "-o", os.path.join(ckpt, "a.png")] + rng.choice(
            [
                ["--layer", "0", "--head", "0"],
                ["--layer", "9", "--head", "0"],
                ["--layer", "0", "--head", "-1"],
                ["--layer", "-1", "--head", "0"],
                ["--layer", "0", "--head", "0", "--tokens", "0"],
                ["--layer", "0", "--head", "0", "--tokens", "100000"],
                ["--layer", "0", "--head", "0", "--global-positions", "a,b"],
                ["--layer", "0", "--head", "0", "--global-positions", "9999"],
            ]
        )
    else:
        argv = ["bench", "--quick"] + rng.choice(
            [
                ["--threads", "0"],
                ["--threads", "-2"],
                ["--json", "/nonexistent/dir/b.json"],
                ["--seq-lens", "0"],
                ["--seq-lens", "a,b"],
                ["--new-tokens", "0"],
                ["--backends", "tpu"],
                ["--timeout", "0"],
                ["--hf-python", "/nonexistent"],
                ["--new-tokens", "99999"],
            ]
        )
        bad = ["always"]

    def thunk():
        from led_ref.app.cli import main

        err = io.StringIO()
        old = sys.stdin
        sys.stdin = io.StringIO("")
        try:
            with redirect_stderr(err), redirect_stdout(io.StringIO()):
                try:
                    code = main(argv)
                except SystemExit as e:  # argparse
                    code = e.code
        finally:
            sys.stdin = old
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip() and "%|" not in ln and "it/s" not in ln]
        if code in (0, 1):
            return "bad: exit 0 for invalid arguments" if bad and code == 0 else f"exit {code}"
        if code != 2:
            return f"bad: exit code {code!r}"
        if "Traceback" in err.getvalue() or len(lines) != 1:
            return f"bad: exit 2 with {len(lines)} stderr lines: {err.getvalue()[-500:]!r}"
        return "exit 2"

    return f"cli {' '.join(os.path.basename(x) for x in argv[:8])}", thunk, [], False


def build_base(base, onnx=True):
    """The real files every case mutates: a tiny LED checkpoint with a small real BPE tokenizer (a subset of the
    bundled GPT-2 vocabulary and merges), its sharded and .bin forms, and its ONNX export (when torch is here)."""
    from led_ref.bpe import bytes_to_unicode
    from led_ref.config import LEDConfig
    from led_ref.generation import GenerationConfig
    from led_ref.safetensors import load_file, save_file
    from led_ref.tokenizer import AddedToken, LEDTokenizer
    from led_ref.weights import init_params, save_checkpoint

    data = os.path.join(REPO, "led_ref", "data")
    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>"])}
    for ch in bytes_to_unicode().values():
        vocab.setdefault(ch, len(vocab))
    merges = []
    with open(os.path.join(data, "merges.txt"), encoding="utf-8") as f:
        for line in f.read().split("\n")[1:]:
            parts = line.split()
            if len(parts) == 2 and parts[0] in vocab and parts[1] in vocab and len(merges) < 400:
                merges.append(parts)
                vocab.setdefault(parts[0] + parts[1], len(vocab))
    vocab["<mask>"] = len(vocab)
    ckpt = os.path.join(base, "ckpt")
    os.makedirs(ckpt)
    with open(os.path.join(ckpt, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(ckpt, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tok = LEDTokenizer(
        os.path.join(ckpt, "vocab.json"),
        os.path.join(ckpt, "merges.txt"),
        added_tokens_decoder={len(vocab): AddedToken("<extra>", special=False)},
    )
    tok.save_pretrained(ckpt)
    assert os.path.isfile(os.path.join(ckpt, "added_tokens.json"))
    cfg = LEDConfig(
        vocab_size=len(tok),
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=24,
        decoder_ffn_dim=24,
        attention_window=[4, 8],
        max_encoder_position_embeddings=64,
        max_decoder_position_embeddings=32,
    )
    params = init_params(cfg, "lm", seed=0)
    save_checkpoint(ckpt, cfg, params, "lm")
    GenerationConfig(
        decoder_start_token_id=2, eos_token_id=2, pad_token_id=1, bos_token_id=0, max_length=10
    ).save_pretrained(ckpt)
    with open(os.path.join(ckpt, "doc.txt"), "w") as f:
        f.write("Longformer encoder-decoder models summarize long documents. " * 3)
    state = load_file(os.path.join(ckpt, "model.safetensors"))
    sharded = os.path.join(base, "sharded")
    os.makedirs(sharded)
    shutil.copy(os.path.join(ckpt, "config.json"), sharded)
    names = sorted(state)
    weight_map = {}
    for k in range(3):
        shard = f"model-0000{k + 1}-of-00003.safetensors"
        part = {n: state[n] for n in names[k::3]}
        save_file(part, os.path.join(sharded, shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in part})
    with open(os.path.join(sharded, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)
    made = ["ckpt", "sharded"]
    try:
        import torch
    except ImportError:
        return made
    binary = os.path.join(base, "bin")
    os.makedirs(binary)
    shutil.copy(os.path.join(ckpt, "config.json"), binary)
    torch.save({n: torch.from_numpy(v) for n, v in state.items()}, os.path.join(binary, "pytorch_model.bin"))
    made.append("bin")
    if onnx:
        try:
            import onnx
            import onnxruntime  # noqa: F401 (imported to check that it is installed)
        except ImportError:
            return made
        from led_ref.export.onnx_export import export_checkpoint

        export_checkpoint(ckpt, os.path.join(base, "onnx"), validate=False, log=lambda *a: None)
        made.append("onnx")
    return made


def case_api(rng, base):
    """Other public entry points with hostile arguments: constructors, loaders, savers, config objects."""
    from led_ref import safetensors as st
    from led_ref.config import LEDConfig
    from led_ref.generation import GenerationConfig, stream
    from led_ref.model import LEDForConditionalGeneration, LEDModel
    from led_ref.tokenizer import LEDTokenizerFast
    from led_ref.weights import load_params

    ckpt = os.path.join(base, "ckpt")
    bad_paths = [
        None,
        5,
        b"\xff",
        "",
        "/nonexistent/dir",
        os.path.join(ckpt, "config.json"),
        "../..",
        "a" * 5000,
        "bad\x00name",
    ]
    kind = rng.choice(
        [
            "config",
            "config",
            "genconfig",
            "from_pretrained",
            "tokenizer_dir",
            "save_file",
            "load_params",
            "stream",
            "model_init",
        ]
    )
    if kind == "config":
        field = rng.choice(CONFIG_KEYS)
        value = hostile_value(rng, for_json=False)
        from led_ref.config import ATTRIBUTE_MAP

        names = [field, ATTRIBUTE_MAP.get(field, field), "encoder_layers" if field == "num_hidden_layers" else field]
        return f"LEDConfig({field}=...)", lambda: LEDConfig(**{field: value}) and "ok", names, False
    if kind == "genconfig":
        field = rng.choice(GEN_KEYS)
        value = hostile_value(rng, for_json=False)

        def thunk():
            GenerationConfig(**{field: value}).validate()
            return "ok"

        return f"GenerationConfig({field}=...).validate()", thunk, [field], False
    if kind == "from_pretrained":
        path = rng.choice(bad_paths)
        cls = rng.choice([LEDModel, LEDForConditionalGeneration])
        return (
            f"{cls.__name__}.from_pretrained({path!r:.40})",
            lambda: cls.from_pretrained(path),
            [
                "path",
                "checkpoint",
                "directory",
                "config",
                "str",
                "bytes",
                "NoneType",
                "int",
                "embedded null",
                str(path),
            ],
            True,
        )
    if kind == "tokenizer_dir":
        path = rng.choice(bad_paths)
        return (
            f"LEDTokenizerFast.from_pretrained({path!r:.40})",
            lambda: LEDTokenizerFast.from_pretrained(path),
            ["tokenizer", "directory", "str", "bytes", "NoneType", "int", "embedded null", str(path)],
            True,
        )
    if kind == "save_file":
        tensors = rng.choice(
            [
                {"a": np.zeros(3, object)},
                {"a": "x"},
                {5: np.zeros(2)},
                {"__metadata__": np.zeros(1)},
                {"a": np.zeros(2, np.complex64)},
                {"a": np.zeros(2)},
            ]
        )
        meta = rng.choice([None, {"a": 1}, {"a": "b"}, "meta"])
        path = os.path.join(tempfile.mkdtemp(prefix="fuzz-"), "t.safetensors")
        _TEMP_DIRS.append(os.path.dirname(path))
        valid = (
            meta in (None, {"a": "b"})
            and set(tensors) == {"a"}
            and isinstance(tensors["a"], np.ndarray)
            and tensors["a"].dtype == np.float64
        )
        return (
            "safetensors.save_file",
            lambda: st.save_file(tensors, path, metadata=meta),
            ["tensor", "metadata", "__metadata__"],
            not valid,
        )
    if kind == "load_params":
        config = LEDConfig.from_pretrained(ckpt)
        head = rng.choice(["lm", "base", "nose", None, 3])
        dtype = rng.choice([np.float32, np.float64, np.int8, "float16", "banana", None])
        valid = head in ("lm", "base") and dtype in (np.float32, np.float64)
        return "load_params", lambda: bool(load_params(ckpt, config, head, dtype)), ["head", "dtype"], not valid
    if kind == "stream":
        model = _MODELS.setdefault("gen", LEDForConditionalGeneration.from_pretrained(ckpt))
        kw = rng.choice(
            [{"num_beams": 2}, {"max_new_tokens": 0}, {"max_new_tokens": 100}, {"bogus": 1}, {"max_new_tokens": 2}]
        )
        valid = kw == {"max_new_tokens": 2}
        return (
            f"stream({kw})",
            lambda: list(stream(model, np.array([[0, 5, 2]]), **kw)),
            ["num_beams", "max_new_tokens", "bogus", "streamer", "max_decoder_position_embeddings"],
            not valid,
        )
    config = LEDConfig.from_pretrained(ckpt)
    params = rng.choice([None, {}, {"shared": 1}, "params", [1, 2]])
    return "LEDModel(config, bad params)", lambda: LEDModel(config, params), ["param", "shared", "missing"], True


JSON_TARGETS = {
    # file -> (keys worth setting, loader)
    "config.json": (CONFIG_KEYS, "model"),
    "generation_config.json": (GEN_KEYS, "generation"),
    "tokenizer_config.json": (TOKENIZER_CONFIG_KEYS, "tokenizer"),
    "special_tokens_map.json": (TOKENIZER_CONFIG_KEYS[6:11], "tokenizer"),
    "added_tokens.json": (["<extra>", "", "<s>", "a"], "tokenizer"),
}


def run_json_hypothesis(n, seed, base):
    """Hypothesis draws whole JSON documents (any nesting of any JSON value) and field edits for every JSON side
    file of a checkpoint; each is loaded by its loader. Returns the case results (all examples, not the first)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
        | st.sampled_from([0, 1, 2, 4, 16, 64, 2**31, 10**12, "gelu", "led", "left", "<s>"])
    )
    values = st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
        max_leaves=12,
    )
    results = []

    @settings(max_examples=n, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(target=st.sampled_from(sorted(JSON_TARGETS)), data=st.data())
    def one(target, data):
        keys, loader = JSON_TARGETS[target]
        d = copy_base(base, "ckpt")
        path = os.path.join(d, target)
        original = json.loads(open(path, "rb").read())
        if data.draw(st.booleans()):
            doc = data.draw(values)  # a whole document of any shape
        else:
            doc = dict(original)
            for key in data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3)):
                doc[key] = data.draw(values)
        open(path, "wb").write(json_dumps(doc))

        def thunk():
            if loader == "model":
                return _load_lm(d)
            if loader == "generation":
                from led_ref.generation import GenerationConfig

                GenerationConfig.for_model(d)
                return "ok"
            from led_ref.tokenizer import LEDTokenizerFast

            return smoke_tokenizer(LEDTokenizerFast.from_pretrained(d))

        outcome, detail = run_case(thunk, names_for(path), False)
        results.append(
            {"case": len(results), "desc": f"{target}: {json_dumps(doc)[:150]!r}", "outcome": outcome, "detail": detail}
        )
        while _TEMP_DIRS:
            shutil.rmtree(_TEMP_DIRS.pop(), ignore_errors=True)

    one()
    return results


FAMILIES = {
    "checkpoint": case_checkpoint,
    "sharded": case_sharded,
    "bin": case_bin,
    "tokenizer_files": case_tokenizer,
    "model_call": case_model_call,
    "generate": case_generate,
    "past": case_past,
    "tokenizer_call": case_tokenizer_call,
    "ort_files": case_ort_files,
    "ort_call": case_ort_call,
    "cli": case_cli,
    "api": case_api,
}


# -- import blocker (the deployment runtime must not need torch or onnx) -----------------------------------------------
class BlockImports:
    """A meta-path finder that makes ``import torch`` / ``import onnx`` fail, as on a machine without them."""

    blocked = ("torch", "onnx")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ImportError(f"import of {name} blocked: the deployment runtime must not need it")
        return None


def main():
    if sys.argv[1] == "build":
        print(json.dumps(build_base(sys.argv[2])))
        return
    family, n, seed, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if "--block-torch-onnx" in sys.argv:
        sys.meta_path.insert(0, BlockImports())
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass
    signal.signal(signal.SIGALRM, _on_alarm)
    os.environ["LED_REF_PROGRESS"] = "0"
    if family == "json_hypothesis":
        print(json.dumps(run_json_hypothesis(n, seed, base)))
        return
    results = []
    make = FAMILIES[family]
    for i in range(n):
        rng = random.Random(f"{family}-{seed}-{i}")
        try:
            desc, thunk, names, expect_error = make(rng, base)
        except BaseException as exc:  # noqa: B036 -- a broken generator is a failure too
            results.append(
                {
                    "case": i,
                    "desc": "setup",
                    "outcome": f"bad: case setup failed: {exc!r}"[:300],
                    "detail": traceback.format_exc()[-800:],
                }
            )
            continue
        outcome, detail = run_case(thunk, names, expect_error)
        results.append({"case": i, "desc": desc, "outcome": outcome, "detail": detail})
        while _TEMP_DIRS:
            shutil.rmtree(_TEMP_DIRS.pop(), ignore_errors=True)
    if "--block-torch-onnx" in sys.argv:
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BlockImports.blocked)
        if leaked:
            results.append({"case": n, "desc": "imports", "outcome": f"bad: imported {leaked}", "detail": ""})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
