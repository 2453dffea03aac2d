"""The bundled demo model and its data (led_ref/app/demo_data.py, led_ref/data/demo-model)."""

import json
import os

import numpy as np
import pytest

from led_ref.app import demo_data
from led_ref.tokenizer import LEDTokenizerFast
from led_ref.weights import load_checkpoint
from testlib import DATA

METRICS = os.path.join(demo_data.DEMO_MODEL_DIR, "metrics.json")


def test_sections_and_examples():
    text = ("Intro text\n\nMotivation\n==========\n\nWhy.\n\nDetails\n-------\n\nsub.\n\n"
            "Specification\n=============\n\nHow.\n")
    secs = demo_data.sections(text)
    assert [t for t, _ in secs] == ["Motivation", "Specification"]  # '-' underlines are subsections here
    assert "Details" in secs[0][1]
    ex = demo_data.examples({"id": "pep-x", "text": text}, lambda s: 1000, min_tokens=2000, max_tokens=4096)
    assert ex and ex[0]["summary"] == "Motivation | Specification"
    assert not demo_data.examples({"id": "pep-x", "text": text}, lambda s: 10, min_tokens=2000)  # too short


def test_pruned_vocabulary_tokenizes_like_the_full_one(tmp_path):
    texts = ["Rationale\n=========\n\nThe quick brown fox jumps over the lazy dog (PEP 8).", "Backwards Compatibility"]
    demo_data.write_pruned_tokenizer(texts, tmp_path)
    full, pruned = LEDTokenizerFast.from_pretrained(str(DATA)), LEDTokenizerFast.from_pretrained(str(tmp_path))
    assert len(pruned) < 2000
    for t in texts + ["unseen words still tokenize: Zyzzyva ü"]:
        a = full.convert_ids_to_tokens(full(t)["input_ids"])
        b = pruned.convert_ids_to_tokens(pruned(t)["input_ids"])
        if t in texts:
            assert a == b
        assert pruned.decode(pruned(t)["input_ids"], skip_special_tokens=True) == t


def test_heldout_documents_are_never_trained_on():
    peps = demo_data.load_bundle()
    train, test = demo_data.held_out(peps)
    assert not {p["id"] for p in train} & {p["id"] for p in test} and len(test) >= 30


def test_committed_demo_model_is_small_and_loads():
    d = demo_data.DEMO_MODEL_DIR
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    assert size <= 30 * 2**20
    config, params = load_checkpoint(d, "lm")
    assert config.vocab_size == len(LEDTokenizerFast.from_pretrained(d))
    assert np.isfinite(params["shared"]["weight"]).all()
    metrics = json.load(open(METRICS))
    assert {"rouge1", "rouge2", "rougeL", "heldout_docs", "command"} <= set(metrics)


@pytest.mark.slow
def test_heldout_rouge_recomputed_from_the_committed_checkpoint():
    pytest.importorskip("rouge_score")
    metrics = json.load(open(METRICS))
    scores, preds = demo_data.heldout_rouge()
    assert len(preds) == metrics["heldout_docs"]
    for k in ("rouge1", "rouge2", "rougeL"):
        assert abs(scores[k] - metrics[k]) <= 0.01, (k, scores[k], metrics[k])


def test_main_job_uses_the_demo_model_by_default(capsys):
    from led_ref.app import cli

    assert cli.main(["--backends", "numpy", "--no-rouge", "--max-new-tokens", "6", "--doc", "1"]) == 0
    out = capsys.readouterr().out
    assert "DEMO MODEL" in out and "held-out document 1" in out
    ref = demo_data.heldout_examples()[1]["summary"]
    assert f"reference   : {ref!r}" in out
    assert cli.main(["--backends", "numpy", "--no-rouge", "--doc", "99"]) == 2
    assert "--doc 99" in capsys.readouterr().err
