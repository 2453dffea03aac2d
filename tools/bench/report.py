"""``--json PATH`` of the deep-dive benchmarks: one file per run with the command, the UTC start time, the machine
and led-ref's version beside the raw rows, in the layout of ``led-ref bench --json`` (``rows`` of ``measurement``,
``backend``, ``data``), plus each row's ``load`` ("quiet" / "busy") and ``api`` ("library": a plain
``import led_ref`` program; "cli": after the command line's threading setup), and the run's goal ratios."""

from __future__ import annotations

import datetime
import json
import shlex
import sys

from led_ref.app.benchmarks import common

# bulky or non-figure entries left out of a row's data
_DROP = ("result", "sequences", "tokens", "text")


def start(prog, argv, **fields):
    """The file's header: ``command`` (``python -m PROG ARGS``), ``date_utc``, ``led_ref``, ``machine``, ``fields``."""
    from led_ref import __version__

    args = sys.argv[1:] if argv is None else list(argv)
    return {
        "command": " ".join(["python", "-m", prog] + [shlex.quote(a) for a in args]),
        "date_utc": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        "led_ref": __version__,
        "machine": common.machine_info(),
        **fields,
        "rows": [],
    }


def row(doc, measurement, backend, data, **fields):
    """Append one row: its figures (``data``, without bulky entries) and its labels (``fields``: load, api, ...)."""
    clean = {k: v for k, v in (data or {}).items() if k not in _DROP}
    doc["rows"].append({"measurement": measurement, "backend": backend, **fields, "data": clean})


def write(doc, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, default=float)
        f.write("\n")
