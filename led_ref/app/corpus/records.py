"""Reading a corpus (a JSONL file or a directory of .txt files) into documents, and the output file's lines.

A record that cannot be processed does not stop the job: it becomes a ``Document`` with ``error`` set, and its
output line carries ``error`` instead of ``summary``. What stops the job before any work: a missing or unreadable
INPUT, field names that no record has (the error lists the fields found), duplicate ids.
"""

import json
import os
from dataclasses import dataclass
from typing import Optional

from ...errors import json_loads

# the bundled demo corpus (led_ref/data/peps-demo.jsonl: PEPs with their abstracts, see led_ref/data/README.md)
DEMO_CORPUS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "peps-demo.jsonl"
)
DEMO_TEXT_FIELD, DEMO_REFERENCE_FIELD = "text", "abstract"

__all__ = ["Document", "read_documents", "doc_key", "line_key", "error_line"]


@dataclass
class Document:
    """One input record. ``key`` identifies it in the output: ("id", str(id)), or ("line", n) for a line of a
    JSONL file that has no usable id. ``text`` is None when ``error`` is set."""

    key: tuple
    id: object
    line: Optional[int]
    text: Optional[str] = None
    error: Optional[str] = None


def doc_key(doc_id) -> tuple:
    # ids are compared as strings: 7 and "7" are the same id (a reference file may spell it either way)
    return ("id", str(doc_id))


def line_key(line: int) -> tuple:
    return ("line", int(line))


def error_line(doc: Document, message: str) -> dict:
    """The output line of a document that could not be summarized."""
    out = {"id": doc.id}
    if doc.id is None:
        out["line"] = doc.line
    out["error"] = message
    return out


def _valid_id(value):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"must be a string or an integer, got {type(value).__name__}"
    if isinstance(value, str) and not value.strip():
        return "must not be empty"
    return None


def _text_problem(text):
    if not isinstance(text, str):
        return f"text must be a string, got {type(text).__name__}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a JSON escape of a lone surrogate (\ud800): not text
        return "text is not valid UTF-8 (it holds a lone surrogate)"
    if not text.strip():
        return "empty text"
    return None


def _read_dir(path) -> list[Document]:
    names = sorted(n for n in os.listdir(path) if n.endswith(".txt") and os.path.isfile(os.path.join(path, n)))
    if not names:
        raise ValueError(
            f"INPUT {path}: the directory holds no .txt files (expected one document per .txt file, "
            "or give a JSONL file)"
        )
    docs = []
    for name in names:
        doc = Document(key=doc_key(name), id=name, line=None)
        try:
            with open(os.path.join(path, name), "rb") as f:
                raw = f.read()
        except OSError as exc:
            doc.error = f"cannot read {name}: {exc.strerror or exc}"
            docs.append(doc)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            doc.error = f"not valid UTF-8 (byte {exc.start})"
        else:
            doc.text = text
            doc.error = _text_problem(text)
        docs.append(doc)
    return docs


def _read_jsonl(path, id_field, text_field) -> list[Document]:
    docs = []
    fields_seen = set()
    has_id = has_text = False
    n_objects = 0
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise OSError(f"INPUT {path}: cannot read: {exc.strerror or exc}") from None
    with f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue  # blank lines are not records
            try:
                line = raw.decode("utf-8")
                bad_utf8 = None
            except UnicodeDecodeError as exc:
                line = raw.decode("utf-8", errors="replace")  # still find the id, if the line parses
                bad_utf8 = f"line {n}: not valid UTF-8 (byte {exc.start})"
            try:
                rec = json_loads(line)
            except json.JSONDecodeError as exc:
                docs.append(
                    Document(
                        line_key(n),
                        None,
                        n,
                        error=bad_utf8 or f"line {n}: not valid JSON ({exc.msg} at column {exc.colno})",
                    )
                )
                continue
            if not isinstance(rec, dict):
                docs.append(
                    Document(line_key(n), None, n, error=f"line {n}: expected a JSON object, got {type(rec).__name__}")
                )
                continue
            n_objects += 1
            fields_seen.update(rec)
            has_id |= id_field in rec
            has_text |= text_field in rec
            if id_field not in rec:
                docs.append(
                    Document(
                        line_key(n),
                        None,
                        n,
                        error=f"line {n}: no {id_field!r} field (fields found: {sorted(rec)}; see --id-field)",
                    )
                )
                continue
            problem = _valid_id(rec[id_field])
            if problem:
                docs.append(Document(line_key(n), None, n, error=f"line {n}: {id_field!r} {problem}"))
                continue
            doc = Document(doc_key(rec[id_field]), rec[id_field], n)
            if bad_utf8:
                doc.error = bad_utf8
            elif text_field not in rec:
                doc.error = f"line {n}: no {text_field!r} field (fields found: {sorted(rec)}; see --text-field)"
            else:
                doc.text = rec[text_field]
                doc.error = _text_problem(doc.text)
                if doc.error:
                    doc.text = None
            docs.append(doc)
    if n_objects and not (has_id and has_text):
        missing = [
            f"{flag} {name!r}"
            for flag, name, ok in (("--id-field", id_field, has_id), ("--text-field", text_field, has_text))
            if not ok
        ]
        raise ValueError(
            f"INPUT {path}: no record has the field(s) {', '.join(missing)}; fields found: {sorted(fields_seen)}"
        )
    if not docs:
        raise ValueError(f"INPUT {path}: no records (the file is empty)")
    return docs


def read_documents(path, id_field="id", text_field="text") -> list[Document]:
    """Every record of INPUT (JSONL file or directory of .txt files), bad ones with ``error`` set.

    Raises FileNotFoundError / OSError / ValueError for what stops the job before any work (see module doc).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"INPUT {path}: no such file or directory (give a JSONL file or a directory of .txt files)"
        )
    docs = _read_dir(path) if os.path.isdir(path) else _read_jsonl(path, id_field, text_field)
    where = {}
    for d in docs:
        where.setdefault(d.key, []).append(d.line if d.line is not None else d.id)
    dups = {k[1]: v for k, v in where.items() if len(v) > 1}
    if dups:
        shown = "; ".join(f"{k!r} (lines {', '.join(map(str, v))})" for k, v in list(dups.items())[:10])
        more = f" and {len(dups) - 10} more" if len(dups) > 10 else ""
        raise ValueError(f"INPUT {path}: duplicate ids, refused before any work: {shown}{more}")
    return docs
