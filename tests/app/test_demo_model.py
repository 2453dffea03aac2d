"""The bundled demo model, its task and data (led_ref/app/demo_data.py, led_ref/data/demo-model) and its recipe
(tools/demo_model/recipe.py)."""

import json
import os

import numpy as np
import pytest

from led_ref.app import demo_data
from led_ref.tokenizer import LEDTokenizerFast
from led_ref.weights import load_checkpoint
from tests.testlib import DATA
from tools.demo_model import recipe

METRICS = os.path.join(demo_data.DEMO_MODEL_DIR, "metrics.json")


def test_sections_and_examples():
    text = (
        "Intro text\n\nMotivation\n==========\n\nWhy.\n\nDetails\n-------\n\nsub.\n\n"
        "Specification\n=============\n\nHow.\n"
    )
    secs = demo_data.sections(text)
    assert [t for t, _ in secs] == ["Motivation", "Specification"]  # '-' underlines are subsections here
    assert "Details" in secs[0][1]
    ex = demo_data.examples({"id": "pep-x", "text": text}, lambda s: 1000, min_tokens=2000, max_tokens=4096)
    assert ex and ex[0]["summary"] == "Motivation\nSpecification"
    assert not demo_data.examples({"id": "pep-x", "text": text}, lambda s: 10, min_tokens=2000)  # too short


def test_augmented_versions_retitle_text_and_target_consistently():
    peps = demo_data.held_out(demo_data.load_bundle())[0][:6]
    rng = np.random.default_rng(0)
    aug = recipe.augmented_peps(peps, rng, 4, (3, None))
    assert len(aug) == 4 * len(peps)
    originals = {p["id"]: [t for t, _ in demo_data.sections(p["text"])] for p in peps}
    changed = 0
    for a in aug:
        titles = [t for t, _ in demo_data.sections(a["text"])]
        orig = originals[a["id"].split("~")[0]]
        assert len(titles) == len(orig) and len(set(titles)) == len(titles)  # every heading still found, distinct
        changed += sum(t not in orig for t in titles)
        ex = demo_data.examples(a, lambda s: len(s.split()), min_tokens=1, max_tokens=10**6)
        assert ex[0]["summary"] == demo_data.SEPARATOR.join(titles)
    assert changed > sum(len(originals[a["id"].split("~")[0]]) for a in aug) // 2  # the title prior is useless


def test_retitle_resizes_the_adornments():
    assert recipe.retitle("Old\n===\n\nBody.", "A longer title") == "A longer title\n==============\n\nBody."
    assert recipe.retitle("---\nOld\n---\nBody.", "Two") == "---\nTwo\n---\nBody."


def test_training_set_has_no_held_out_pep():
    class WordCounter:  # stands in for the tokenizer: one token a word
        def __call__(self, s, add_special_tokens=False):
            return {"input_ids": s.split()}

    peps = demo_data.load_bundle()
    train, test = recipe.build_sets(peps, WordCounter(), short=(1, (3,)), long=(1, (None,)))
    held = {p["id"] for p in demo_data.held_out(peps)[1]}
    assert test and all(e["id"].split("#")[0] in held for e in test)
    assert not {e["id"].split("#")[0].split("~")[0] for e in train} & held
    assert any("~" in e["id"] for e in train)


def test_curriculum_stages_copy_from_the_input_and_hold_out_the_test_peps():
    peps = demo_data.load_bundle()
    tok = LEDTokenizerFast.from_pretrained(str(DATA))
    held = {p["id"] for p in demo_data.held_out(peps)[1]}
    copy = recipe.copy_examples(peps[:40], tok, copies=3, max_tokens=30)
    assert copy and all(e["summary"] == e["text"] for e in copy)
    assert all(len(tok(e["text"], add_special_tokens=False)["input_ids"]) <= 30 for e in copy)
    heads = recipe.heading_examples(peps[:40], tok, copies=2)
    assert heads
    for e in heads + copy:
        assert e["id"].split("~")[0] not in held
    for e in heads:  # every target title is a heading line of the (headings-only) input
        lines = e["text"].split("\n")
        assert all(t in lines for t in e["summary"].split(demo_data.SEPARATOR))
        assert len(tok(e["text"], add_special_tokens=False)["input_ids"]) < 400


def test_recipe_chains_finetune_runs_into_out_model(tmp_path):
    cmds = recipe.recipe_commands(str(tmp_path), threads=1)
    assert [s for s, _ in cmds] == [r[0] for r in recipe.RECIPE]
    models = [argv[argv.index("--model") + 1] for _, argv in cmds]
    outs = [argv[argv.index("-o") + 1] for _, argv in cmds]
    assert models[0] == str(tmp_path / "init") and models[1:] == outs[:-1] and outs[-1] == str(tmp_path / "model")
    from led_ref.app.cli import build_parser

    for _, argv in cmds:  # every stage is a valid `led-ref finetune` command line
        build_parser("finetune").parse_args(argv)


def test_merge_cap_keeps_a_complete_bpe(tmp_path):
    texts = ["Backwards Compatibility\n=======================\n\nThe quick brown fox (PEP 8)."]
    recipe.write_pruned_tokenizer(texts, tmp_path, max_merges=300)
    tok = LEDTokenizerFast.from_pretrained(str(tmp_path))
    full = LEDTokenizerFast.from_pretrained(str(DATA))
    merges = open(tmp_path / "merges.txt").read().splitlines()[1:]
    ranks = {m: r for r, m in enumerate(open(DATA / "merges.txt").read().splitlines()[1:])}
    assert merges and all(ranks[m] < 300 for m in merges)
    for t in texts + ["unseen: Zyzzyva ü"]:
        ids = tok(t)["input_ids"]
        assert tok.decode(ids, skip_special_tokens=True) == t
        if t in texts:  # more, shorter pieces than with every merge
            assert len(ids) > len(full(t)["input_ids"])


def test_pruned_vocabulary_tokenizes_like_the_full_one(tmp_path):
    texts = ["Rationale\n=========\n\nThe quick brown fox jumps over the lazy dog (PEP 8).", "Backwards Compatibility"]
    recipe.write_pruned_tokenizer(texts, tmp_path)
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
    from led_ref.app import cli, demo

    assert cli.main(["--backends", "numpy", "--no-rouge", "--max-new-tokens", "6", "--doc", "1"]) == 0
    out = capsys.readouterr().out
    assert "DEMO MODEL" in out and "held-out document 1" in out
    ref = demo_data.heldout_examples()[1]["summary"]
    assert f"reference   : {demo._title_list(ref)!r}" in out
    assert cli.main(["--backends", "numpy", "--no-rouge", "--doc", "99"]) == 2
    assert "--doc 99" in capsys.readouterr().err
