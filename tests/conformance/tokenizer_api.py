"""Replay of spec/goldens/tokenizer/api.json scenarios: one tokenizer built with a scenario's ``init`` keywords, then
its ``steps`` run in order on that same object (the API items that change a tokenizer: add_tokens, special-token
setters, ...). Shared by spec/make_tokenizer_api_goldens.py (on HF transformers' classes) and the tests (on
led_ref's), so both sides run the very same steps.

A step is a list:
- ``["call", args, kwargs]``: ``tok(*args, **kwargs)``
- ``["m", name, args, kwargs]``: ``getattr(tok, name)(*args, **kwargs)``
- ``["get", name]`` / ``["set", name, value]``: read / assign an attribute
- ``["enc", [args, kwargs], name, margs]``: ``getattr(tok(*args, **kwargs), name)(*margs)`` (BatchEncoding methods)
- ``["save", kwargs, texts]``: ``save_pretrained(tmp, **kwargs)``, then the written file names and, reloaded with
  ``from_pretrained(tmp)`` of the same class, the ids of ``texts`` and the special tokens

Values ``{"AddedToken": {...}}`` in arguments become the tokenizer family's AddedToken. A step that raises records
``{"error": type name, "mro": names of its classes}`` (the goldens keep the name only); otherwise
``{"result": JSON value}``.
"""

import builtins
import hashlib
import json
import os
import tempfile

import numpy as np
import pytest


def to_jsonable(x):
    if isinstance(x, np.ndarray):
        return {"__ndarray__": x.tolist(), "dtype": str(x.dtype), "shape": list(x.shape)}
    if isinstance(x, dict) or hasattr(x, "items"):
        return {k: to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return {"repr": type(x).__name__, "str": str(x)}


def _value(x, added_token):
    if isinstance(x, dict) and set(x) == {"AddedToken"}:
        fields = dict(x["AddedToken"])
        return added_token(fields.pop("content"), **fields)
    if isinstance(x, dict):
        return {k: _value(v, added_token) for k, v in x.items()}
    if isinstance(x, list):
        return [_value(v, added_token) for v in x]
    return x


def _save(tok, kwargs, texts):
    with tempfile.TemporaryDirectory() as d:
        tok.save_pretrained(d, **kwargs)
        files = sorted(os.listdir(d))
        saved = {}
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            if name.endswith(("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")):
                saved[name] = json.loads(data)
            else:  # vocab.json, merges.txt, tokenizer.json: byte for byte
                saved[name] = hashlib.sha256(data).hexdigest()
        again = type(tok).from_pretrained(d)
        return {
            "files": saved,
            "ids": [again(t)["input_ids"] for t in texts],
            "all_special_tokens": again.all_special_tokens,
            "len": len(again),
            "chat_template": again.chat_template,
        }


def _step(tok, step, added_token):
    kind, rest = step[0], [_value(x, added_token) for x in step[1:]]
    if kind == "call":
        return tok(*rest[0], **rest[1])
    if kind == "m":
        return getattr(tok, rest[0])(*rest[1], **rest[2])
    if kind == "get":
        return getattr(tok, rest[0])
    if kind == "set":
        setattr(tok, rest[0], rest[1])
        return None
    if kind == "enc":
        (args, kwargs), name, margs = rest
        return getattr(tok(*args, **kwargs), name)(*margs)
    if kind == "save":
        return _save(tok, rest[0], rest[1])
    raise ValueError(f"unknown step kind {kind!r}")


def run_scenario(make_tokenizer, scenario, added_token):
    """``[{"result": ...} | {"error": name}, ...]``: the construction (``make_tokenizer(**init)``) first, then one
    entry per step; a failed construction ends the list."""

    def outcome(fn):
        try:
            return {"result": to_jsonable(fn())}, True
        except Exception as e:  # recorded, compared by type with the other family's
            return {"error": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__]}, False

    box = {}

    def build():
        box["tok"] = make_tokenizer(**_value(scenario.get("init", {}), added_token))

    first, ok = outcome(lambda: build() or None)
    out = [first]
    if not ok:
        return out
    for step in scenario["steps"]:
        out.append(outcome(lambda step=step: _step(box["tok"], step, added_token))[0])
    return out


def same_outcome(got, expected):
    """``got`` (a run_scenario entry) matches HF's recorded ``expected``: the same result, or an error of HF's kind
    (HF's exception class is among the raised one's classes; any exception where HF's was not a built-in one)."""
    if "error" not in expected:
        return got == expected
    if "error" not in got:
        return False
    kind = getattr(builtins, expected["error"], None)
    if not (isinstance(kind, type) and issubclass(kind, BaseException)):
        return True
    return expected["error"] in got["mro"]


def hf_tokenizers():
    """led_ref.export.hf_tokenizers, or a skip naming the missing extra."""
    pytest.importorskip("transformers", reason="needs the hf extra (pip install 'led-ref[hf]': transformers==4.46.3)")
    from led_ref.export import hf_tokenizers as module

    return module
