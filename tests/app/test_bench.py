"""``bench``: ``--quick`` prints every row; the FLOP formula; per-row subprocesses. (Figures are not tested.)"""

import os
import re
import subprocess
import sys

import pytest

from led_ref.app.benchmarks import common
from led_ref.app.benchmarks.gemm import gemm_gflops

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# LED_REF_HF_PYTHON: an interpreter with transformers 4.46.3 + torch (the golden scripts' scratch venv, made as
# spec/GOLDENS.md says); the HF-row test is skipped where it is not set.
HF4_PYTHON = os.environ.get("LED_REF_HF_PYTHON", "")


def bench(*argv, timeout=600):
    env = dict(os.environ, LED_REF_PROGRESS="0")
    return subprocess.run(
        [sys.executable, "-m", "led_ref", "bench", "--quick", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def _rows(stdout):
    """measurement name -> {backend: value text + notes} from the table."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(.{34}) (numpy|onnx|hf)\s+(\S.*)$", line)
        if m:
            rows.setdefault(m.group(1).strip(), {})[m.group(2)] = m.group(3)
    return rows


def expected_rows():
    return [
        "GEMM peak GFLOP/s (float32)",
        "tokenizer tokens/s",
        "encoder seconds @ 64 tokens",
        "encoder seconds @ 128 tokens",
        "encoder seconds @ 256 tokens",
        "decode ms/token (128 in, greedy)",
        "decode ms/step (128 in, beam 4)",
        "decode ms/step (128 in, batch 8)",
    ]


@pytest.mark.slow
def test_bench_quick_prints_every_row():
    r = bench()
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("led-ref bench --quick")
    assert "machine: " in r.stdout and "versions: python" in r.stdout
    rows = _rows(r.stdout)
    for name in expected_rows():
        assert name in rows, (name, r.stdout)
    for name in expected_rows()[1:]:
        assert set(rows[name]) == {"numpy", "onnx", "hf"}, (name, rows[name])
        # the NumPy reference is always installed: its rows carry figures, not "not available"
        assert "not available" not in rows[name]["numpy"], (name, rows[name]["numpy"])
        assert re.match(r"[\d.]+ (s|ms|k/s|M/s)", rows[name]["numpy"]), rows[name]["numpy"]
    # hf is neither importable in the project venv nor given: every hf row says why
    if not common._dist_version("transformers"):
        for name in expected_rows()[1:]:
            assert "not available: transformers is not installed here (pass --hf-python PATH" in rows[name]["hf"]
    if common.optional_module("led_ref.export.ort")[1] is None and common.optional_module("onnxruntime")[1] is None:
        for name in expected_rows()[2:]:
            assert "not available" not in rows[name]["onnx"], (name, rows[name]["onnx"])


def test_bench_quick_numpy_only_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    r = bench("--backends", "numpy", "--seq-lens", "64", "--new-tokens", "2", "--json", str(out))
    assert r.returncode == 0, r.stderr
    rows = _rows(r.stdout)
    assert set(rows) == {
        "GEMM peak GFLOP/s (float32)",
        "tokenizer tokens/s",
        "encoder seconds @ 64 tokens",
        "decode ms/token (64 in, greedy)",
        "decode ms/step (64 in, beam 4)",
        "decode ms/step (64 in, batch 8)",
    }
    import json

    data = json.loads(out.read_text())
    assert data["machine"]["cores_usable"] >= 1 and data["plan"]["seq_lens"] == [64]
    assert all(row["backend"] == "numpy" for row in data["rows"])


@pytest.mark.slow
@pytest.mark.skipif(
    not (HF4_PYTHON and os.access(HF4_PYTHON, os.X_OK)),
    reason="set LED_REF_HF_PYTHON to an interpreter with transformers 4.46.3 + torch (spec/GOLDENS.md)",
)
def test_bench_quick_hf_rows_in_another_interpreter():
    r = bench("--backends", "hf", "--hf-python", HF4_PYTHON, "--seq-lens", "64")
    assert r.returncode == 0, r.stderr
    rows = _rows(r.stdout)
    assert "HF rows: " + HF4_PYTHON in r.stdout and "transformers 4.46.3" in r.stdout
    for name in ("tokenizer tokens/s", "encoder seconds @ 64 tokens", "decode ms/token (64 in, greedy)"):
        assert "not available" not in rows[name]["hf"], rows[name]["hf"]


def _matmul_flops(seq_len, d, ffn, layers, window, g):
    """The same count written as the list of products one layer does (an independent check of the formula)."""
    s = -(-seq_len // window) * window
    products = [(s, d, d)] * 6 + [(s, d, ffn), (s, ffn, d)]  # q k v k_global v_global out; fc1 fc2
    products += [(s, d, window + 1), (s, window + 1, d)]  # band scores, band context
    products += [(s, d, g), (s, g, d)]  # every token -> the global keys
    products += [(g, d, d), (g, d, s), (g, s, d)]  # global rows: query_global, scores, context
    return layers * sum(2 * m * k * n for m, k, n in products)


@pytest.mark.parametrize(
    "seq_len, d, ffn, layers, window, g",
    [(4096, 768, 3072, 6, 1024, 1), (1000, 64, 128, 2, 256, 3), (1, 8, 16, 1, 4, 1)],
)
def test_encoder_flops_formula(seq_len, d, ffn, layers, window, g):
    assert common.encoder_flops(seq_len, d, ffn, layers, window, g) == _matmul_flops(seq_len, d, ffn, layers, window, g)


def test_encoder_flops_counts_the_padded_length():
    assert common.padded_length(1, 1024) == 1024 and common.padded_length(1025, 1024) == 2048
    assert common.encoder_flops(1, 768, 3072, 6, 1024) == common.encoder_flops(1024, 768, 3072, 6, 1024)
    assert common.encoder_flops(1025, 768, 3072, 6, 1024) > common.encoder_flops(1024, 768, 3072, 6, 1024)


def test_run_isolated_returns_result_peak_memory_and_errors():
    r = common.run_isolated("led_ref.app.benchmarks.common", "padded_length", None)
    assert "error" in r and "TypeError" in r["error"]  # missing arguments reported, not raised
    r = common.run_isolated("led_ref.app.benchmarks.gemm", "gemm_peak", {"quick": True})
    assert r["gflops"] > 0 and r["peak_rss_bytes"] > 10 * 2**20
    r = common.run_isolated("led_ref.app.benchmarks.common", "no_such_function", {})
    assert "AttributeError" in r["error"]
    r = common.run_isolated("led_ref.app.benchmarks.common", "time_call", {"fn": None}, python="/nonexistent/python")
    assert "could not start /nonexistent/python" in r["error"]


def test_gemm_and_time_call():
    assert gemm_gflops(64, 32, 16, repeat=1, min_seconds=0.001) > 0
    t = common.time_call(lambda: 7, repeat=3)
    assert t["result"] == 7 and len(t["runs"]) == 3 and t["seconds"] >= 0
    with pytest.raises(ValueError, match="repeat >= 1"):
        common.time_call(lambda: 0, repeat=0)


def test_machine_info_names_the_machine():
    info = common.machine_info()
    assert info["cores_usable"] >= 1 and info["python"] and info["numpy"]


def test_bench_quick_ort_deployment_rows():  # ~30 s: export + int8 + 13 row processes at the tiny shape
    pytest.importorskip("onnxruntime")
    r = bench("--backends", "onnx", "--seq-lens", "64", "--new-tokens", "3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()

    def row(name, backend):
        got = [ln for ln in lines if ln.startswith(name) and ln[35:].split()[0] == backend]
        assert len(got) == 1, (name, backend, r.stdout)
        assert "not available" not in got[0], got[0]
        return got[0]

    assert "files int8/float: directory" in row("ONNX int8 quantization seconds", "onnx-i8")
    for backend in ("onnx", "onnx-i8"):
        for name in (
            "encoder seconds @ 64 tokens",
            "decode ms/token (64 in, greedy)",
            "decode ms/step (64 in, batch 8)",
            "decode ms/step (64 in, beam 4)",
        ):
            assert re.search(r" [\d.]+ (s|ms) ", row(name, backend)), row(name, backend)
        assert "separate decoder sessions" in row("generation peak RSS (64 in)", backend)
