"""Bad input (spec/SPEC.md#bad-input): the error classes and the bounded readers every loader uses.

Every failure caused by input is one exception of a documented type whose message names the file
(and tensor / field) or the argument, what was found and what is allowed. Files are read with the
limits here: a size cap before reading, UTF-8 checked with the file named, JSON nesting measured
before parsing (so nothing recurses without bound), the top-level type checked.
"""

from __future__ import annotations

import json
import os
from typing import Any

# JSON side files (config, generation config, tokenizer files, shard index) are small; the GPT-2
# vocab.json is ~1 MB. A cap keeps a hostile 'config.json' from being read into memory whole.
MAX_JSON_BYTES = 64_000_000
# Real files nest 3-4 levels; 64 leaves room while keeping every walk over the data shallow.
MAX_JSON_DEPTH = 64


class InputFileError(ValueError):
    """A file that exists but cannot be used: not UTF-8, not JSON, wrong types, sizes past a limit.
    A ValueError, so ``except ValueError`` catches it; the message starts with the file's path."""


class CheckFailedError(ValueError):
    """A run that completed but whose result failed a check (e.g. an export outside its tolerance): CLI exit 1."""


def _too_deep(data, limit: int) -> bool:
    """Whether parsed JSON nests deeper than ``limit``; iterative, so it cannot overflow the stack."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items if isinstance(v, (dict, list)))
    return False


def json_loads(text) -> Any:
    """``json.loads`` with bounded nesting (for JSON Lines records and other in-memory documents): nesting past
    MAX_JSON_DEPTH, or past what the C parser's recursion limit allows, is a ``json.JSONDecodeError`` like any
    other malformed JSON, so callers handle one exception type."""
    try:
        data = json.loads(text)
    except RecursionError:
        data, deep = None, True
    else:
        deep = _too_deep(data, MAX_JSON_DEPTH)
    if deep:
        doc = text if isinstance(text, str) else ""
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", doc, 0) from None
    return data


def parse_json(raw: bytes, source: str, what: str = "JSON file") -> Any:
    """Parse ``raw`` (the bytes of ``source``) as UTF-8 JSON; InputFileError naming ``source`` on failure."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError(
            f"{source}: not UTF-8 text (invalid byte at offset {e.start}: {e.reason}); a {what} must be UTF-8 JSON"
        ) from None
    try:
        data = json.loads(text)
    except RecursionError:
        # the C scanner stops at the interpreter's recursion limit: bounded, then one clear error
        data = None
        deep = True
    except ValueError as e:  # JSONDecodeError, and ints past Python's digit limit
        raise InputFileError(f"{source}: not valid JSON ({e}); expected a {what}") from None
    else:
        deep = _too_deep(data, MAX_JSON_DEPTH)
    if deep:
        raise InputFileError(
            f"{source}: JSON nested deeper than {MAX_JSON_DEPTH} levels; a {what} may nest at most {MAX_JSON_DEPTH}"
        )
    return data


def read_json(path, what: str = "JSON file", expect: type | None = dict, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read ``path`` as JSON whose top level is ``expect``; FileNotFoundError / InputFileError naming it."""
    path = os.fspath(path)
    data = parse_json(_read_bounded(path, what, max_bytes), path, what)
    if expect is not None and not isinstance(data, expect):
        raise InputFileError(f"{path}: expected a JSON {_json_type(expect)} ({what}), got {_json_type(type(data))}")
    return data


def _json_type(t: type) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
        type(None): "null",
    }.get(t, t.__name__)


def read_text(path, what: str = "text file", max_bytes: int = MAX_JSON_BYTES) -> str:
    """Read ``path`` as UTF-8 text (at most ``max_bytes``); FileNotFoundError / InputFileError naming it."""
    path = os.fspath(path)
    return decode_text(_read_bounded(path, what, max_bytes), path, what)


def _read_bounded(path: str, what: str, max_bytes: int) -> bytes:
    """The bytes of ``path``, refused (naming it) when missing or larger than ``max_bytes``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise InputFileError(f"{path}: {size} bytes; a {what} may be at most {max_bytes} bytes")
    with open(path, "rb") as f:
        return f.read(max_bytes + 1)


def read_input_text(path, flag: str, max_bytes: int = 1 << 30) -> str:
    """The text a command reads: a UTF-8 file, or stdin for "-"; errors name ``flag`` and the file."""
    import sys

    if path == "-":
        raw = sys.stdin.buffer.read(max_bytes + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        if len(raw) > max_bytes:
            raise InputFileError(f"{flag} -: stdin holds more than {max_bytes} bytes")
        return decode_text(raw, f"{flag} - (stdin)", "text")
    if not os.path.isfile(os.fspath(path)):
        raise FileNotFoundError(f"{flag} {path}: no such file (give a text file, or - to read stdin)")
    return read_text(path, f"text file ({flag})", max_bytes)


def decode_text(raw: bytes, source: str, what: str = "text file") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError(
            f"{source}: not UTF-8 text (invalid byte at offset {e.start}: {e.reason}); expected a UTF-8 {what}"
        ) from None


def memory_limit() -> int:
    """Bytes this process may allocate at most: physical memory, or RLIMIT_AS when that is lower."""
    limit = 1 << 62
    try:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limit = min(limit, soft)
    except (ImportError, OSError, ValueError):
        pass
    return limit


def check_allocation(nbytes: int, what: str) -> None:
    """ValueError before allocating ``nbytes`` for ``what`` when that cannot fit in this machine's memory."""
    limit = memory_limit()
    if nbytes > limit:
        raise ValueError(
            f"{what} needs {nbytes / 2**30:.3g} GiB, more than this process may allocate ({limit / 2**30:.3g} GiB)"
        )


def check_output_file(path, flag: str) -> None:
    """FileNotFoundError / ValueError up front when ``path`` (an output a command writes at its end) cannot be
    written: its directory must exist and the path must not be a directory."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{flag} {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path}: is a directory, expected a file path")
    if not os.access(directory, os.W_OK):
        raise ValueError(f"{flag} {path}: directory {directory} is not writable")


def check_depth(value, what: str, limit: int = MAX_JSON_DEPTH) -> None:
    """ValueError when ``value`` (lists / dicts) nests deeper than ``limit``: copying or walking it would recurse."""
    if _too_deep(value, limit):
        raise ValueError(f"{what} nests lists / dicts deeper than {limit} levels")


def shown(value, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters: error messages quote what was found, never a whole file."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


__all__ = [
    "CheckFailedError",
    "InputFileError",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "check_allocation",
    "check_depth",
    "check_output_file",
    "decode_text",
    "json_loads",
    "memory_limit",
    "parse_json",
    "read_json",
    "read_input_text",
    "read_text",
    "shown",
]
