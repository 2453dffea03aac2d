"""``led-ref verify`` on the project's own ONNX export and on HF transformers (when installed): both pass with the
default number of examples, and a broken export is flagged."""

import importlib.util
import json
import os

import pytest

from led_ref.app.cli import main
from led_ref.app.verify_cli import DEFAULT_EXAMPLES
from led_ref.config import LEDConfig
from led_ref.weights import init_params, save_checkpoint

# per-layer windows 4 and 8, positions for lengths past 2 * window
TINY = dict(
    vocab_size=50,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=24,
    decoder_ffn_dim=24,
    attention_window=[4, 8],
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=32,
)


def rows(out):
    return {
        p[0]: (int(p[1]), p[2], p[3])
        for p in (line.split() for line in out.splitlines())
        if len(p) == 4 and p[0] in ("encoder", "logits", "attentions", "cache", "loss", "generate")
    }


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("verify") / "ckpt")
    config = LEDConfig(**TINY)
    save_checkpoint(path, config, init_params(config, "lm", seed=0), "lm")
    with open(os.path.join(path, "generation_config.json"), "w") as f:
        json.dump({"decoder_start_token_id": 2, "eos_token_id": 2, "pad_token_id": 1, "bos_token_id": 0}, f)
    return path


@pytest.mark.export
def test_onnx_export_passes_and_a_broken_one_fails(checkpoint, tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from led_ref.export.onnx_export import export_checkpoint

    out = str(tmp_path / "onnx")
    export_checkpoint(checkpoint, out, log=lambda *_: None)
    rc = main(["verify", "--candidate", f"onnx:{out}", "--reference", checkpoint, "--generate", "--timeout", "0"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert rows(text) == {
        "encoder": (DEFAULT_EXAMPLES, rows(text)["encoder"][1], "pass"),
        "logits": (DEFAULT_EXAMPLES, rows(text)["logits"][1], "pass"),
        "cache": (DEFAULT_EXAMPLES, rows(text)["cache"][1], "pass"),
        "generate": (DEFAULT_EXAMPLES, "exact", "pass"),
    }, text
    assert "dtype float32 (tolerance 0.0002" in text
    # the export checked against other weights (same config): every property fails
    other = str(tmp_path / "other")
    save_checkpoint(other, LEDConfig(**TINY), init_params(LEDConfig(**TINY), "lm", seed=1), "lm")
    rc = main(
        [
            "verify",
            "--candidate",
            f"onnx:{out}",
            "--reference",
            other,
            "--timeout",
            "0",
            "--no-shrink",
            "--save-dir",
            str(tmp_path / "cx"),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 1 and {v for _, _, v in rows(text).values()} == {"FAIL"}, text
    # an export dir alone has no readable weights
    rc = main(["verify", "--candidate", f"onnx:{out}", "--timeout", "0"])
    assert rc == 2 and "pass --reference CHECKPOINT_DIR" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="HF transformers is not installed")
def test_hf_transformers_passes(checkpoint, capsys):
    rc = main(["verify", "--candidate", f"hf:{checkpoint}", "--generate"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert set(rows(text)) == {"encoder", "logits", "attentions", "cache", "loss", "generate"}


def test_hf_candidate_without_transformers_is_a_one_line_error(checkpoint, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a)
    )
    rc = main(["verify", "--candidate", f"hf:{checkpoint}", "--timeout", "0"])
    err = capsys.readouterr().err.splitlines()[0]
    assert rc == 2 and "HF transformers is not importable" in err and "pip install transformers torch" in err
