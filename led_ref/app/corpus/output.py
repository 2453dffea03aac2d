"""The output JSONL file: opened new / for resume / overwritten; results appended and flushed per batch.

Crash safety rests on two facts: each batch's lines are written with one ``write`` and then flushed and fsynced, and
a kill can only tear the file's last line (it has no final newline, or is not valid JSON). ``--resume`` drops that
torn tail, reads the ids already written and skips them.
"""

import json
import os

from ...errors import json_loads
from .records import doc_key, line_key

__all__ = ["check_output", "open_output", "read_written", "OutputFile"]


def _key_of(rec, where):
    if not isinstance(rec, dict) or "id" not in rec:
        raise ValueError(f"{where}: not a line of led-ref summarize (no 'id' field)")
    if rec["id"] is None:
        if not isinstance(rec.get("line"), int):
            raise ValueError(f"{where}: 'id' is null and there is no 'line' number")
        return line_key(rec["line"])
    return doc_key(rec["id"])


def read_written(path, repair=True):
    """Keys of the documents already in OUTPUT. A torn last line (no newline at the end, or not JSON) is cut off
    when ``repair``; a bad line anywhere else means the file is not ours and is refused."""
    with open(path, "rb") as f:
        data = f.read()
    keep = data.rfind(b"\n") + 1  # everything up to the last newline
    lines = data[:keep].split(b"\n")[:-1]
    # the last complete line can be torn too (a kill between a write and its newline can't happen with one write
    # per batch, but an editor or a copy might leave it): drop it if it is not JSON
    if lines:
        try:
            json_loads(lines[-1])
        except ValueError:
            keep -= len(lines[-1]) + 1
            lines = lines[:-1]
    keys = set()
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rec = json_loads(raw)
        except ValueError:
            raise ValueError(
                f"OUTPUT {path}: line {n} is not valid JSON (only the last line may be torn); not a "
                "file written by led-ref summarize? Use --overwrite to start over"
            ) from None
        key = _key_of(rec, f"OUTPUT {path} line {n}")
        if key in keys:
            raise ValueError(
                f"OUTPUT {path}: id {key[1]!r} appears twice (line {n}); the file is not a "
                "led-ref summarize output; use --overwrite to start over"
            )
        keys.add(key)
    if repair and keep < len(data):
        with open(path, "r+b") as f:
            f.truncate(keep)
    return keys, len(data) - keep


class OutputFile:
    """Appends result lines, one write + flush + fsync per batch."""

    def __init__(self, path, mode):
        self.path = path
        self._f = open(path, mode, encoding="utf-8", newline="\n")

    def write_lines(self, records):
        if not records:
            return
        self._f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def check_output(path, resume=False, overwrite=False):
    """Refuses an existing OUTPUT unless ``resume`` or ``overwrite``, and an OUTPUT in a directory that does not
    exist; returns whether OUTPUT exists."""
    path = os.fspath(path)
    if resume and overwrite:
        raise ValueError("give --resume or --overwrite, not both")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"OUTPUT {path}: the directory {parent} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"OUTPUT {path} is a directory; give a .jsonl file path")
    exists = os.path.exists(path)
    if exists and not (resume or overwrite):
        raise ValueError(f"OUTPUT {path} exists; use --resume to continue it or --overwrite to start over")
    return exists


def open_output(path, resume=False, overwrite=False):
    """(OutputFile, keys already written, bytes of torn tail dropped), after ``check_output``."""
    path = os.fspath(path)
    if check_output(path, resume, overwrite) and resume:
        keys, torn = read_written(path)
        return OutputFile(path, "a"), keys, torn
    return OutputFile(path, "w"), set(), 0
