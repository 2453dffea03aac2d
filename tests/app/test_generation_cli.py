"""``python -m led_ref generate``: a tiny random checkpoint with the bundled real-size vocabulary."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from led_ref.generation import generate
from tests.testlib import ROOT, TINY_CLI, tiny_config

TEXT = "Longformer encoder-decoder models summarize long documents. " * 3


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from led_ref.weights import init_params, save_params

    d = tmp_path_factory.mktemp("tiny-led")
    cfg = tiny_config(TINY_CLI)
    params = init_params(cfg, "lm", seed=0)
    params["final_logits_bias"][0, 2] += 2.0  # make eos reachable
    cfg.save_pretrained(str(d))
    save_params(str(d), params, "lm")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(ROOT, "led_ref", "data", name), d / name)
    (d / "doc.txt").write_text(TEXT)
    return d


def cli(*argv, stdin=None):
    env = dict(os.environ, LED_REF_PROGRESS="0")
    return subprocess.run(
        [sys.executable, "-m", "led_ref", "generate", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def test_cli_ids_match_api_with_first_token_global(checkpoint):
    from led_ref.model import LEDForConditionalGeneration
    from led_ref.tokenizer import LEDTokenizerFast

    r = cli(
        "--model",
        str(checkpoint),
        "--num-beams",
        "2",
        "--max-new-tokens",
        "6",
        "--print-ids",
        str(checkpoint / "doc.txt"),
    )
    assert r.returncode == 0, r.stderr
    got = np.array([[int(t) for t in line.split()] for line in r.stdout.strip().splitlines()])
    tok = LEDTokenizerFast.from_pretrained(str(checkpoint))
    enc = tok(TEXT, return_tensors="np")
    model = LEDForConditionalGeneration.from_pretrained(str(checkpoint))
    exp = generate(
        model, enc["input_ids"], enc["attention_mask"], global_attention="first", num_beams=2, max_new_tokens=6
    )
    np.testing.assert_array_equal(got, exp)
    r2 = cli(
        "--model",
        str(checkpoint),
        "--num-beams",
        "2",
        "--max-new-tokens",
        "6",
        "--print-ids",
        "--no-global-attention",
        "-",
        stdin=TEXT,
    )
    assert r2.returncode == 0, r2.stderr
    exp2 = generate(model, enc["input_ids"], enc["attention_mask"], num_beams=2, max_new_tokens=6)
    assert r2.stdout.split() == [str(t) for t in exp2[0]]


def test_cli_text_output_and_truncation_note(checkpoint):
    r = cli("--model", str(checkpoint), "--max-new-tokens", "4", "--max-input-length", "16", "-", stdin=TEXT * 3)
    assert r.returncode == 0, r.stderr
    assert "truncated to 16" in r.stderr
    assert len(r.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--num-beams", "2", "--num-return-sequences", "3"], "num_return_sequences"),
        (["--max-length", "1"], "max_length"),
        (["--early-stopping", "maybe"], "early-stopping"),
        (["--seed", "3"], "seed"),
    ],
)
def test_cli_bad_arguments_one_line_error(checkpoint, argv, needle):
    r = cli("--model", str(checkpoint), *argv, str(checkpoint / "doc.txt"))
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_cli_missing_files(checkpoint, tmp_path):
    r = cli("--model", str(tmp_path / "nope"), str(checkpoint / "doc.txt"))
    assert r.returncode == 2 and "nope" in r.stderr
    r = cli("--model", str(checkpoint), str(tmp_path / "missing.txt"))
    assert r.returncode == 2 and "missing.txt" in r.stderr


@pytest.mark.export
@pytest.mark.slow
def test_cli_onnx_backend_same_tokens(checkpoint, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    out_dir = tmp_path / "onnx"
    env = dict(os.environ, LED_REF_PROGRESS="0")
    r = subprocess.run(
        [sys.executable, "-m", "led_ref", "export", str(checkpoint), str(out_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    args = [
        "--num-beams",
        "3",
        "--num-return-sequences",
        "2",
        "--max-new-tokens",
        "8",
        "--print-ids",
        str(checkpoint / "doc.txt"),
    ]
    a = cli("--model", str(checkpoint), *args)
    b = cli("--model", str(out_dir), "--backend", "onnx", *args)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 2
