"""The bundled demo model, its task and data (led_ref/app/demo_data.py, led_ref/data/demo-model) and its recipe
(tools/demo_model/recipe.py)."""

import json
import math
import os
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    """metrics.json is what the committed checkpoint scores: the means and every document's scores (from which the
    main job picks its typical document) recomputed with led_ref's generation and rouge-score."""
    pytest.importorskip("rouge_score")
    metrics = json.load(open(METRICS))
    scores, per_document, preds = demo_data.heldout_rouge()
    assert len(preds) == metrics["heldout_docs"] == len(metrics["heldout"])
    for k in ("rouge1", "rouge2", "rougeL"):
        assert abs(scores[k] - metrics[k]) <= 0.01, (k, scores[k], metrics[k])
    for got, stored in zip(per_document, metrics["heldout"]):
        assert got["id"] == stored["id"]
        for k in ("rouge1", "rouge2", "rougeL"):
            assert abs(got[k] - stored[k]) <= 0.01, (got["id"], k, got[k], stored[k])
    assert demo_data.typical_document(per_document) == demo_data.typical_document(metrics["heldout"])


def test_stored_per_document_scores_are_the_held_out_set_and_its_means():
    held = demo_data.heldout_examples()
    means, per_document = demo_data.stored_heldout_scores(held)
    assert [d["id"] for d in per_document] == [e["id"] for e in held]
    for k in ("rouge1", "rouge2", "rougeL"):
        assert abs(sum(d[k] for d in per_document) / len(per_document) - means[k]) <= 1e-9, k
    assert demo_data.stored_heldout_scores(held[1:]) is None  # scores of another set are not used


@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_typical_document_is_the_one_nearest_the_median(scores):
    i = demo_data.typical_document([{"rougeL": s} for s in scores])
    distance = [abs(s - statistics.median(scores)) for s in scores]
    assert distance[i] == min(distance) and min(distance[:i], default=math.inf) > distance[i]  # ties: the earlier


def test_typical_document_examples():
    assert demo_data.typical_document([{"rougeL": s} for s in (0.9, 0.2, 0.5)]) == 2
    assert demo_data.typical_document([{"rougeL": s} for s in (1.0, 3.0, 5.0, 7.0)]) == 1  # median 4: tie, earlier
    with pytest.raises(ValueError, match="no per-document scores"):
        demo_data.typical_document([])


def test_main_job_uses_the_demo_model_by_default(capsys):
    from led_ref.app import cli, demo

    assert cli.main(["--backends", "numpy", "--no-rouge", "--max-new-tokens", "6", "--doc", "1"]) == 0
    out = capsys.readouterr().out
    assert "DEMO MODEL" in out and "held-out document 1" in out
    ref = demo_data.heldout_examples()[1]["summary"]
    assert f"reference   : {demo._title_list(ref)!r}" in out
    assert cli.main(["--backends", "numpy", "--no-rouge", "--doc", "99"]) == 2
    assert "--doc 99" in capsys.readouterr().err


def test_main_job_shows_the_typical_document_and_the_scores_by_default(capsys):
    from led_ref.app import cli

    held = demo_data.heldout_examples()
    means, per_document = demo_data.stored_heldout_scores(held)
    typical = demo_data.typical_document(per_document)
    assert cli.main(["--backends", "numpy", "--no-rouge", "--max-new-tokens", "6"]) == 0
    out = capsys.readouterr().out
    assert f"held-out document {typical} ({held[typical]['id']}," in out
    assert f"the typical held-out document: its ROUGE-L {per_document[typical]['rougeL']:.3f}" in out
    assert f"this document: ROUGE-L {per_document[typical]['rougeL']:.3f} (recorded in the model's metrics.json)" in out
    assert f"ROUGE-L {means['rougeL']:.3f}  (recorded in the model's metrics.json)" in out
