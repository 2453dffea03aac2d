"""``led-ref finetune``: a tiny end-to-end run (loss goes down, HF-format checkpoints, exact resume) and bad input."""

import json
import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from led_ref.app import cli
from led_ref.config import LEDConfig
from led_ref.weights import init_params, load_checkpoint, save_checkpoint
from tests.testlib import DATA

pytestmark = pytest.mark.export

TINY = dict(
    vocab_size=50261,
    d_model=16,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    attention_window=8,
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=32,
    dropout=0.0,
)
RECORDS = [
    {"text": "The cat sat on the mat. It was a sunny day and the cat was happy.", "summary": "A happy cat."},
    {"text": "Python is a programming language. It is used for scripting and science.", "summary": "Python."},
    {"text": "Rain fell all night; the river rose and the bridge closed in the morning.", "summary": "Flood."},
]


def _model_dir(path, **overrides):
    config = LEDConfig(**dict(TINY, **overrides))
    save_checkpoint(path, config, init_params(config, "lm", seed=0), "lm")
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(DATA / name, path / name)
    return str(path)


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("ft")
    model = _model_dir(d / "model")
    bad = [{"text": "", "summary": "x"}, {"text": "no summary here"}, {"summary": "no text"}]
    train = _jsonl(d / "train.jsonl", RECORDS + bad)
    return d, model, train


def _run(*args):
    return cli.main(["finetune", *map(str, args), "--threads", "1", "--log-every", "0"])


COMMON = ("--epochs", "4", "--lr", "3e-3", "--max-target-tokens", "8", "--batch-size", "2", "--grad-accum", "1")


def test_tiny_finetune_end_to_end(setup, capsys):
    d, model, train = setup
    out = d / "out"
    assert _run("--model", model, "--train", train, "-o", out, *COMMON) == 0
    text = capsys.readouterr().out
    assert "skipped 3 training record(s)" in text and "line 5 (summary missing)" in text
    losses = [json.loads(line)["loss"] for line in open(out / "training_log.jsonl")]
    assert len(losses) == 8 and np.mean(losses[-2:]) < np.mean(losses[:2]) - 0.5  # the loss goes down
    for name in ("model.safetensors", "config.json", "generation_config.json", "vocab.json", "merges.txt"):
        assert os.path.isfile(out / name), name
        assert os.path.isfile(out / "checkpoint-last" / name), name
    config, params = load_checkpoint(str(out), "lm")  # HF's layout: led.-prefixed names, tied shared.weight
    assert config.architectures == ["LEDForConditionalGeneration"]
    start = load_checkpoint(model, "lm")[1]
    assert not np.array_equal(params["shared"]["weight"], start["shared"]["weight"])


def test_bf16_mixed_precision(setup):
    """--bf16: the forward runs under bfloat16 autocast (its losses differ from float32's), padded batches stay
    finite, the loss goes down, and the saved weights are float32."""
    d, model, train = setup
    runs = {}
    for name, extra in (("fp32", ()), ("bf16", ("--bf16",))):
        assert _run("--model", model, "--train", train, "-o", d / name, *COMMON, *extra) == 0
        runs[name] = [json.loads(line)["loss"] for line in open(d / name / "training_log.jsonl")]
    b = runs["bf16"]
    assert len(b) == 8 and all(np.isfinite(b)) and np.mean(b[-2:]) < np.mean(b[:2]) - 0.5
    assert b[0] != runs["fp32"][0] and abs(b[0] - runs["fp32"][0]) < 0.05  # bfloat16 matmuls, same model
    params = load_checkpoint(str(d / "bf16"), "lm")[1]
    from led_ref.weights import flatten

    assert all(v.dtype == np.float32 for v in flatten(params).values())


def test_eval_rouge_each_epoch_with_the_models_generation_config(setup):
    """--eval: ROUGE after every epoch (in the log and trainer_state), generated with the model's
    generation_config; --eval-num-beams overrides its beams, also in the saved generation_config."""
    pytest.importorskip("rouge_score")
    d, model, train = setup
    ev = _jsonl(d / "eval.jsonl", RECORDS)
    for name, extra, beams in (("ev-default", (), 1), ("ev-beams", ("--eval-num-beams", "2"), 2)):
        out = d / name
        args = ("--epochs", "2", "--lr", "3e-3", "--max-target-tokens", "8", "--batch-size", "2")
        assert _run("--model", model, "--train", train, "--eval", ev, "-o", out, *args, *extra) == 0
        epochs = json.loads((out / "checkpoint-last" / "trainer_state.json").read_text())["epochs"]
        assert [e["epoch"] for e in epochs] == [1, 2]
        assert all(0.0 <= e[f"eval_{k}"] <= 1.0 for e in epochs for k in ("rouge1", "rouge2", "rougeL"))
        assert (
            json.loads((out / "generation_config.json").read_text()).get("num_beams", 1) == beams
        )  # HF omits defaults


def test_pad_to_multiple_of_keeps_the_loss(setup):
    """collate(pad_to_multiple_of=) adds masked input and -100 label positions only: the loss is the same."""
    from led_ref.app.finetune import collate, encode_records
    from led_ref.export.torch_model import LEDForConditionalGeneration
    from led_ref.tokenizer import LEDTokenizerFast

    d, model, _ = setup
    tok = LEDTokenizerFast.from_pretrained(model)
    data = encode_records(tok, RECORDS[:2], 64, 8, "bos")
    m = LEDForConditionalGeneration.from_pretrained(model, dtype=torch.float64).eval()
    losses = []
    for mult in (None, 16):
        b = collate(data, 1, mult)
        assert mult is None or b["input_ids"].shape[1] % 16 == 0 and b["labels"].shape[1] == 16
        losses.append(m(**{k: torch.from_numpy(v) for k, v in b.items()}, use_cache=False).loss.item())
    assert abs(losses[0] - losses[1]) < 1e-12 * abs(losses[0]) and np.isfinite(losses[0])


def test_heap_mmap_threshold_is_applied(setup, monkeypatch):
    """--heap-mmap-threshold reaches glibc's mallopt (led_ref.export.training.limit_heap_retention); 0 leaves glibc's
    dynamic threshold alone; the default is HEAP_MMAP_THRESHOLD."""
    from led_ref.export import training

    d, model, train = setup
    calls = []
    monkeypatch.setattr(training, "limit_heap_retention", lambda threshold=None: calls.append(threshold) or True)
    for extra, expected in (
        ([], [training.HEAP_MMAP_THRESHOLD]),
        (["--heap-mmap-threshold", "0"], []),
        (["--heap-mmap-threshold", "8388608"], [8388608]),
    ):
        calls.clear()
        assert (
            _run("--model", model, "--train", train, "-o", d / "heap", "--overwrite", "--max-steps", "1", *extra) == 0
        )
        assert calls == expected, extra


def test_resume_continues_exactly(setup):
    """A run stopped after 3 steps and resumed ends with the same weights as an uninterrupted one."""
    d, model, train = setup
    full, split = d / "full", d / "split"
    assert _run("--model", model, "--train", train, "-o", full, *COMMON) == 0
    assert _run("--model", model, "--train", train, "-o", split, *COMMON, "--stop-after", "3") == 0
    state = json.loads((split / "checkpoint-last" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert _run("--model", model, "--train", train, "-o", split, *COMMON, "--resume") == 0
    a, b = load_checkpoint(str(full), "lm")[1], load_checkpoint(str(split), "lm")[1]
    from led_ref.weights import flatten

    fa, fb = flatten(a), flatten(b)
    assert all(np.array_equal(fa[k], fb[k]) for k in fa)


def test_bad_input(setup, tmp_path, capsys):
    d, model, train = setup
    cases = [
        (["--train", tmp_path / "missing.jsonl"], "missing.jsonl: no such file"),
        (["--train", _jsonl(tmp_path / "bad.jsonl", [RECORDS[0], "{not json"])], "bad.jsonl:2: malformed JSON"),
        (["--train", _jsonl(tmp_path / "list.jsonl", ["[1, 2]"])], "expected an object"),
        (["--train", _jsonl(tmp_path / "empty.jsonl", [{"text": "x"}])], "no usable record"),
        (["--train", train, "--lr", "0"], "--lr must be > 0"),
        (["--train", train, "--lr=-1e-3"], "--lr must be > 0"),
        (["--train", train, "--resume"], "no checkpoint"),
        (["--train", train, "--pad-to-multiple-of", "0"], "--pad-to-multiple-of must be >= 1"),
        (["--train", train, "--pad-to-multiple-of", "48"], "pads past the model's position limits"),
        (["--train", train, "--heap-mmap-threshold=-1"], "--heap-mmap-threshold must be 0"),
        (["--train", train, "--heap-mmap-threshold", str(2**25 + 1)], "(glibc's maximum), got 33554433"),
    ]
    for extra, message in cases:
        out = tmp_path / "o"
        assert _run("--model", model, *extra, "-o", out) == 2, extra
        assert message in capsys.readouterr().err, message
    f = tmp_path / "file"
    f.write_text("x")
    assert _run("--model", model, "--train", train, "-o", f) == 2
    assert "is a file" in capsys.readouterr().err


def test_resume_other_shape_message(setup, tmp_path, capsys):
    d, model, train = setup
    other = tmp_path / "other"
    assert _run("--model", model, "--train", train, "-o", other, "--max-steps", "1") == 0
    capsys.readouterr()
    bigger = _model_dir(tmp_path / "bigger", d_model=32)
    assert _run("--model", bigger, "--train", train, "-o", other, "--resume") == 2
    err = capsys.readouterr().err
    assert "another model shape" in err and "d_model: 16 vs 32" in err


def test_nan_loss_names_step_and_cause(setup, tmp_path, capsys):
    d, model, train = setup
    code = _run(
        "--model",
        model,
        "--train",
        train,
        "-o",
        tmp_path / "nan",
        "--lr",
        "1e30",
        "--epochs",
        "3",
        "--max-grad-norm",
        "0",
    )
    err = capsys.readouterr().err
    assert code == 2 and "at optimizer step" in err and "learning rate" in err


def test_training_benchmark_quick_row(capsys):
    """The training-step benchmark runs a row in a child process and prints seconds, share of the GEMM peak (-
    without --gemm) and peak RSS."""
    from tools.bench import training

    assert training.main(["--quick", "--only", "led-ref+ckpt", "--target-len", "8"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("led-ref+ckpt")]
    cells = row[0].split() if row else []
    assert cells and float(cells[1]) > 0 and cells[2] == "-" and float(cells[3]) > 0 and cells[4] == "G"
