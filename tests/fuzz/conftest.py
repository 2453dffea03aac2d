"""The fuzz suite's base files: built once per session by fuzz_worker.py (a tiny checkpoint with a small real
BPE tokenizer, its sharded / .bin forms and, with the export extra, its ONNX export)."""

import json
import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_worker.py")


@pytest.fixture(scope="session")
def fuzz_base(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("fuzz-base") / "base")
    r = subprocess.run([sys.executable, WORKER, "build", root], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return root, set(json.loads(r.stdout.strip().splitlines()[-1]))
