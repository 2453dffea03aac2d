"""Fuzz suite (spec/SPEC.md#bad-input): hostile files and arguments against every public entry point.

Each family runs in one subprocess (tests/fuzz/fuzz_worker.py) under RLIMIT_AS = 4 GB with a per-case alarm and a
wall-clock timeout for the whole batch; every case must end in a clear error (ValueError / TypeError /
FileNotFoundError raised by led-ref's own checks, naming the file or argument) or a correct result, and inputs that
are invalid by construction must be refused. Fast by default; ``LED_REF_FUZZ_EXAMPLES=N`` runs N cases per family
(``LED_REF_FUZZ_SEED`` picks another draw).
"""

import collections
import importlib.util
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "fuzz_worker.py")
EXAMPLES = int(os.environ.get("LED_REF_FUZZ_EXAMPLES", "0") or 0)
SEED = int(os.environ.get("LED_REF_FUZZ_SEED", "0") or 0)

# family -> (default cases, base directory it needs)
FAMILIES = {
    "checkpoint": (40, "ckpt"),
    "sharded": (20, "sharded"),
    "bin": (12, "bin"),
    "tokenizer_files": (40, "ckpt"),
    "model_call": (40, "ckpt"),
    "generate": (30, "ckpt"),
    "past": (10, "ckpt"),
    "tokenizer_call": (40, "ckpt"),
    "ort_files": (8, "onnx"),
    "ort_call": (15, "onnx"),
    "cli": (25, "ckpt"),
    "json_hypothesis": (60, "ckpt"),
    "api": (40, "ckpt"),
}


def _have(*mods):
    return all(importlib.util.find_spec(m) is not None for m in mods)


def run_family(family, base_dir, n, extra=()):
    env = dict(os.environ, LED_REF_PROGRESS="0", PYTHONHASHSEED="0")
    timeout = 120 + 20 * n
    r = subprocess.run(
        [sys.executable, WORKER, family, str(n), str(SEED), base_dir, *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert r.returncode == 0, f"fuzz worker for {family} died (exit {r.returncode}): {r.stderr[-3000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_family(family, fuzz_base):
    root, made = fuzz_base
    default_n, needs = FAMILIES[family]
    if needs not in made:
        pytest.skip(f"the {needs} base files need the export extra (torch, onnx, onnxruntime)")
    n = EXAMPLES or default_n
    # the ONNX Runtime families run where torch and onnx cannot be imported: deployment needs neither; nor does
    # reading a pytorch_model.bin
    extra = ["--block-torch-onnx"] if family.startswith("ort") or family == "bin" else []
    results = run_family(family, root, n, extra)
    counts = collections.Counter(r["outcome"].split(":")[0] for r in results)
    print(f"fuzz {family}: {len(results)} cases {dict(counts)}")
    bad = [r for r in results if r["outcome"].startswith("bad")]
    assert len(results) >= n
    assert not bad, "\n\n".join(f"case {r['case']} {r['desc']}: {r['outcome']}\n{r['detail']}" for r in bad[:10])
    # the mutations must reach the code: some cases end in a clear error (CLI: exit 2), not all in success
    assert counts["clear"] + sum(r["detail"] == "exit 2" for r in results) >= 1


def test_classifier_catches_what_it_must():
    """The worker's oracle can fail: a NumPy error, a bare third-party error and a nameless message are 'bad'."""
    import numpy as np

    from tests.fuzz import fuzz_worker as fw

    def numpy_error():
        np.zeros((2, 3)) + np.zeros((4, 5))

    def unicode_error():
        b"\xff".decode("utf-8")

    def nameless():
        from led_ref.config import LEDConfig

        LEDConfig(vocab_size=-1)

    assert fw.run_case(numpy_error, ["x"], False)[0].startswith("bad: raised inside")
    assert fw.run_case(unicode_error, ["x"], False)[0].startswith("bad: third-party")
    assert fw.run_case(nameless, ["not-in-message"], False)[0].startswith("bad: message names none")
    assert fw.run_case(nameless, ["vocab_size"], False)[0] == "clear"
    assert fw.run_case(lambda: 1, [], True)[0].startswith("bad: silent")
    assert fw.run_case(lambda: 1, [], False)[0] == "ok"
    # The per-case alarm, in a fresh interpreter as the worker runs it: a SIGALRM in this pytest process can land on
    # a thread that a native runtime started for an earlier test (OpenVINO's CPU plugin crashes on it).
    code = (
        "import signal, time\n"
        "from tests.fuzz import fuzz_worker as fw\n"
        "signal.signal(signal.SIGALRM, fw._on_alarm)\n"
        "fw.CASE_SECONDS = 1\n"
        "print(fw.run_case(lambda: time.sleep(5), [], False)[0])\n"
    )
    root = os.path.dirname(os.path.dirname(HERE))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().startswith("bad: no answer"), r.stdout
