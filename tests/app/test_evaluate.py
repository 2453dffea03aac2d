"""``led-ref evaluate``: ROUGE equal to calling Google's rouge-score directly; missing ids; the summarize chain."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rouge_score")

from rouge_score import rouge_scorer, scoring

from led_ref.app.corpus.evaluate import ROUGE_TYPES, evaluate_files, rouge, sentences_per_line
from tests.app.corpuslib import DEMO, demo_records, tiny_checkpoint
from tests.testlib import ROOT

PAIRS = [
    ("The cats are running home.\nThey were hungry!", "A cat ran home because it was hungry. Then it slept."),
    ("Python adds a tau constant to the math module.", "This PEP proposes adding tau to the math module."),
    ("Nothing in common here", "Completely different words entirely."),
    ("Release schedule for Python 3.5. Dates are listed.", "This document describes the release schedule."),
]


def cli(*argv):
    env = {**os.environ, "LED_REF_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "led_ref", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rouge_equals_rouge_score_called_directly():
    got = rouge(PAIRS, n_samples=200, seed=3)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    direct = [scorer.score(sentences_per_line(ref), sentences_per_line(pred)) for pred, ref in PAIRS]
    agg = scoring.BootstrapAggregator(confidence_interval=0.95, n_samples=200)
    for s in direct:
        agg.add_scores(s)
    np.random.seed(3)  # noqa: NPY002  (rouge-score's aggregator draws from the global RNG)
    bounds = agg.aggregate()
    for t in ROUGE_TYPES:
        for m in ("precision", "recall", "fmeasure"):
            assert got[t][m]["mean"] == pytest.approx(np.mean([getattr(s[t], m) for s in direct]), abs=1e-12)
            assert got[t][m]["low"] == getattr(bounds[t].low, m) and got[t][m]["high"] == getattr(bounds[t].high, m)
            assert got[t][m]["low"] <= got[t][m]["mean"] <= got[t][m]["high"]
    # stemming is on: "cats running" matches "cat ran"? no, but "cats" matches "cat"
    assert (
        got["rouge1"]["fmeasure"]["mean"] > 0 and got["rouge2"]["fmeasure"]["mean"] < got["rouge1"]["fmeasure"]["mean"]
    )
    # Lsum reads one sentence a line: wrapped lines are joined first, sentence ends split
    assert sentences_per_line("One line\nwrapped here. Two!  Three?") == "One line wrapped here.\nTwo!\nThree?"


def test_missing_ids_listed_or_skipped_with_allow_missing(tmp_path):
    preds = write(
        tmp_path / "p.jsonl",
        [{"id": "a", "summary": "x y"}, {"id": "b", "error": "empty text"}, {"id": "c", "summary": "z"}],
    )
    refs = write(
        tmp_path / "r.jsonl", [{"id": "a", "summary": "x y"}, {"id": "b", "summary": "q"}, {"id": "d", "summary": "w"}]
    )
    with pytest.raises(
        ValueError,
        match=r"2 reference id\(s\) have no prediction \(1 of them are error lines.*"
        r"\['b', 'd'\].*1 prediction id\(s\) have no reference: \['c'\]",
    ):
        evaluate_files(preds, refs)
    rep = evaluate_files(preds, refs, allow_missing=True, n_samples=50)
    assert rep["documents"] == 1 and rep["skipped_no_prediction"] == ["b", "d"] and rep["skipped_no_reference"] == ["c"]
    assert rep["rouge"]["rouge1"]["fmeasure"]["mean"] == 1.0


def test_cli_table_json_and_bad_input(tmp_path):
    recs = demo_records(3)
    preds = write(tmp_path / "p.jsonl", [{"id": r["id"], "summary": r["title"]} for r in recs])
    corpus = write(tmp_path / "c.jsonl", recs)
    r = cli("evaluate", str(preds), str(corpus), "--references-field", "abstract", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert all(t in r.stdout for t in ROUGE_TYPES) and "95% interval" in r.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["documents"] == 3 and rep["stemmer"] is True
    assert rep["rouge"] == rouge([(r["title"], r["abstract"]) for r in recs])
    for argv, needle in [
        ([str(tmp_path / "nope.jsonl"), str(corpus)], "nope.jsonl: no such file"),
        ([str(preds), str(corpus)], "no 'summary' field (fields found: ['abstract', 'id', 'text', 'title'])"),
        (
            [str(preds), str(corpus), "--references-field", "abstract", "--json", str(tmp_path / "no" / "r.json")],
            "does not exist",
        ),
    ]:
        r = cli("evaluate", *argv)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_summarize_evaluate_chain_on_the_bundled_demo_corpus(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "demo.jsonl"
    r = cli(
        "summarize",
        "-o",
        str(out),
        "--model",
        ckpt,
        "--max-new-tokens",
        "4",
        "--max-input-tokens",
        "128",
        "--evaluate",
        "--json",
        str(tmp_path / "rouge.json"),
    )
    assert r.returncode == 0, r.stderr
    ids = [json.loads(line)["id"] for line in open(DEMO)]
    assert sorted(json.loads(line)["id"] for line in open(out)) == sorted(ids)
    rep = json.loads((tmp_path / "rouge.json").read_text())
    assert rep["documents"] == len(ids) == 16 and rep["references_field"] == "abstract"
    assert "rougeLsum" in r.stdout
    r = cli("evaluate", str(out))  # REFERENCES default: the bundled demo corpus
    assert r.returncode == 0 and "bundled demo corpus" in r.stderr, r.stderr
