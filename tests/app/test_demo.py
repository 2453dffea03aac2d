"""The main job (``python -m led_ref``) end to end at the tiny size, its report, and its bad input."""

import contextlib
import io
import json
import shutil

import numpy as np
import pytest

from led_ref.app import demo as demo_mod
from led_ref.app.benchmarks.common import BUNDLED_TEXT, DATA_DIR
from led_ref.app.cli import main

onnx_missing = demo_mod._onnx_available()


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_bundled_text_is_long_licensed_and_documented():
    data = BUNDLED_TEXT.read_bytes()
    assert 40_000 <= len(data) <= 60_000
    text = data.decode("utf-8")
    assert "Execution model" in text and 'The "import" statement' in text
    readme = (DATA_DIR / "README.md").read_text()
    assert "pydoc_data/topics.py" in readme and "PSF" in readme and BUNDLED_TEXT.name in readme
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in (DATA_DIR / "PSF-LICENSE").read_text()


def test_main_job_tiny_numpy_end_to_end(tmp_path):
    report_path = tmp_path / "report.json"
    rc, out, err = run_main(["demo", "--size", "tiny", "--backends", "numpy", "--json", str(report_path)])
    assert rc == 0, err
    assert "SEEDED RANDOM WEIGHTS" in out
    assert "encoder, 256 tokens" in out and "output (numpy):" in out
    rep = json.loads(report_path.read_text())
    inp, step = rep["input"], rep["steps"]["numpy"]
    # the bundled text is far longer than 256 tokens: truncated, </s> kept last
    assert inp["tokens"] > 5000 and inp["used_tokens"] == 256
    assert step["hidden_shape"] == [1, 256, 32]
    assert step["new_tokens"] == 8 and len(step["tokens"]) == 9  # decoder start + 8 generated
    assert step["encoder_seconds"] > 0 and step["generate_seconds"] > 0
    assert rep["model"]["parameters"] == _tiny_parameter_count()


def _tiny_parameter_count():
    from led_ref.weights import flatten, init_params

    model = demo_mod.random_model("tiny")
    flat = flatten(init_params(model.config, "lm", seed=0))
    # tied arrays appear under several names but count once
    return sum(a.size for a in {id(a): a for a in flat.values()}.values())


def test_main_job_is_deterministic():
    a = demo_mod.demo(size="tiny", backends=("numpy",), max_input_tokens=64, max_new_tokens=3)
    b = demo_mod.demo(size="tiny", backends=("numpy",), max_input_tokens=64, max_new_tokens=3)
    assert a["steps"]["numpy"]["tokens"] == b["steps"]["numpy"]["tokens"]
    c = demo_mod.demo(size="tiny", backends=("numpy",), max_input_tokens=64, max_new_tokens=3, seed=1)
    assert c["steps"]["numpy"]["tokens"] != a["steps"]["numpy"]["tokens"]


@pytest.mark.export
@pytest.mark.skipif(onnx_missing is not None, reason=f"export extra: {onnx_missing}")
def test_main_job_tiny_numpy_vs_onnx_agree():
    rc, out, err = run_main(["demo", "--size", "tiny"])  # default backends: numpy + onnx
    assert rc == 0, out + err
    assert "ONNX export (one-off)" in out
    assert "NumPy and ONNX Runtime agree" in out
    assert "generated tokens identical: yes" in out


def test_main_job_with_a_checkpoint_dir(tmp_path):
    model = demo_mod.random_model("tiny", seed=3)
    model.save_pretrained(tmp_path / "ckpt")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(DATA_DIR / name, tmp_path / "ckpt" / name)
    doc = tmp_path / "doc.txt"
    doc.write_text("Longformer attends locally within a window and globally on a few tokens. " * 20)
    rc, out, err = run_main(["--model", str(tmp_path / "ckpt"), "--file", str(doc), "--max-new-tokens", "3"])
    assert rc == 0, err
    assert f"model     : {tmp_path / 'ckpt'}" in out and "RANDOM" not in out
    assert "onnx      : skipped" in out  # numpy only by default with --model


@pytest.mark.export
@pytest.mark.skipif(onnx_missing is not None, reason=f"export extra: {onnx_missing}")
def test_main_job_uses_the_checkpoint_generation_defaults_on_both_backends(tmp_path):
    from led_ref.generation import GenerationConfig

    ckpt = tmp_path / "ckpt"
    demo_mod.random_model("tiny", seed=4).save_pretrained(ckpt)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(DATA_DIR / name, ckpt / name)
    GenerationConfig(
        max_length=6,
        min_length=6,
        num_beams=2,
        decoder_start_token_id=2,
        eos_token_id=2,
        bos_token_id=0,
        pad_token_id=1,
    ).save_pretrained(ckpt)
    rep = demo_mod.demo(model_dir=str(ckpt), backends=("numpy", "onnx"), max_input_tokens=100)
    for name in ("numpy", "onnx"):
        # max_length counts the decoder start token: 5 generated tokens, from generation_config.json
        assert rep["steps"][name]["new_tokens"] == 5, (name, rep["steps"][name])
    assert rep["agree"] and rep["agreement"]["tokens_identical"]
    assert rep["input"]["used_tokens"] == 100


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        (dict(max_input_tokens=5000), ValueError, "exceeds the model's max_encoder_position_embeddings (1024)"),
        (dict(file="/nonexistent/file.txt"), FileNotFoundError, "file.txt: no such file"),
    ],
)
def test_demo_bad_input(kwargs, exc, fragment):
    with pytest.raises(exc, match=None) as info:
        demo_mod.demo(size="tiny", backends=("numpy",), **kwargs)
    assert fragment in str(info.value)


def test_demo_rejects_empty_and_non_utf8_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(ValueError, match="the file is empty"):
        demo_mod.demo(size="tiny", file=str(empty))
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        demo_mod.demo(size="tiny", file=str(binary))
    with pytest.raises(ValueError, match="--size must be one of"):
        demo_mod.random_model("huge")


def test_parameter_count():
    w = np.zeros((5, 3))
    tree = {"a": {"weight": w}, "b": [{"weight": w}, {"bias": np.zeros(7)}]}
    assert demo_mod.count_parameters(tree) == 15 + 7


def test_without_the_export_extra_the_main_job_runs_numpy_and_says_why(monkeypatch):
    import sys

    for mod in ("onnxruntime", "led_ref.export.ort", "led_ref.export.onnx_export"):
        monkeypatch.setitem(sys.modules, mod, None)  # import now raises ImportError, as without the extra
    assert "pip install -e '.[export]'" in demo_mod._onnx_available()
    rc, out, err = run_main(["--size", "tiny", "--max-input-tokens", "64", "--max-new-tokens", "2"])
    assert rc == 0, err
    assert "onnx      : skipped (" in out and "pip install -e '.[export]'" in out
    assert "output (numpy):" in out and "output (onnx)" not in out
    rc, out, err = run_main(["--size", "tiny", "--backends", "numpy,onnx"])
    assert rc == 2 and "led-ref demo: error: --backends onnx:" in err
