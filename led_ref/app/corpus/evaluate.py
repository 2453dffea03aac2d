"""``led-ref evaluate PREDICTIONS.jsonl [REFERENCES.jsonl]``: ROUGE with Google's ``rouge-score`` package.

ROUGE-1/2/L/Lsum precision, recall and F1, stemming on (``RougeScorer(use_stemmer=True)``), averaged over the
documents, with bootstrap 95% intervals from ``rouge_score.scoring.BootstrapAggregator`` (1,000 resamples, seeded).
ROUGE-Lsum reads newline-separated sentences, as the HF summarization examples prepare them (they put each
``nltk.sent_tokenize`` sentence on its own line). NLTK's punkt model is not bundled, so the sentences are found with
one rule instead: whitespace (line breaks of wrapped text included) is collapsed, then the text is split after
``.``, ``!`` or ``?`` followed by a space. rouge-score is an optional extra: ``pip install -e '.[eval]'``.
"""

import json
import math
import os
import re
import sys

from ...errors import json_loads

__all__ = [
    "ROUGE_TYPES",
    "load_summaries",
    "rouge",
    "sentences_per_line",
    "evaluate_files",
    "format_table",
    "add_cli_arguments",
    "run_cli",
]

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def require_rouge():
    try:
        from rouge_score import rouge_scorer, scoring  # noqa: F401 (imported to check that it is installed)
    except ImportError:
        raise ImportError(
            "led-ref evaluate needs the eval extra: pip install -e '.[eval]' (Google's rouge-score)"
        ) from None


def sentences_per_line(text: str) -> str:
    """One sentence per line, for ROUGE-Lsum (see the module doc)."""
    flat = " ".join(text.split())
    return "\n".join(s for s in _SENTENCE_END.split(flat) if s)


def load_summaries(path, field, what):
    """{id (as a string): text} from a JSONL file; lines with ``error`` (failed documents) are returned apart.

    -> (texts, failed ids). Raises for a missing file, a line that is not JSON, a missing field or a duplicate id.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {path}: no such file")
    texts, failed = {}, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json_loads(line)
            except ValueError as exc:
                raise ValueError(f"{what} {path} line {n}: not valid JSON ({exc})") from None
            if not isinstance(rec, dict) or "id" not in rec:
                raise ValueError(f"{what} {path} line {n}: expected a JSON object with an 'id' field")
            if rec["id"] is None:  # a summarize error line for a record that had no id
                continue
            key = str(rec["id"])
            if key in texts or key in failed:
                raise ValueError(f"{what} {path} line {n}: id {key!r} appears twice")
            if "error" in rec and field not in rec:
                failed.append(key)
                continue
            if field not in rec:
                raise ValueError(f"{what} {path} line {n}: no {field!r} field (fields found: {sorted(rec)})")
            if not isinstance(rec[field], str):
                raise ValueError(f"{what} {path} line {n}: {field!r} must be a string")
            texts[key] = rec[field]
    return texts, failed


def rouge(pairs, n_samples=1000, seed=0):
    """ROUGE over (prediction, reference) pairs -> {type: {measure: {"mean", "low", "high"}}} with
    measure in precision, recall, fmeasure; "low"/"high" bound the bootstrap 95% interval of the mean."""
    require_rouge()
    import numpy as np
    from rouge_score import rouge_scorer, scoring

    if not pairs:
        raise ValueError("evaluate: no (prediction, reference) pairs to score")
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    agg = scoring.BootstrapAggregator(confidence_interval=0.95, n_samples=n_samples)
    per_doc = []
    for pred, ref in pairs:
        s = scorer.score(sentences_per_line(ref), sentences_per_line(pred))  # score(target, prediction)
        agg.add_scores(s)
        per_doc.append(s)
    # rouge-score's BootstrapAggregator draws from NumPy's global RNG (it takes no Generator): seed it, then put it back
    state = np.random.get_state()  # noqa: NPY002 (see above)
    np.random.seed(seed)  # noqa: NPY002 (see above)
    try:
        bounds = agg.aggregate()
    finally:
        np.random.set_state(state)  # noqa: NPY002 (see above)
    out = {}
    for t in ROUGE_TYPES:
        out[t] = {}
        for m in ("precision", "recall", "fmeasure"):
            values = [getattr(s[t], m) for s in per_doc]
            # fsum: exactly rounded, so the mean does not depend on NumPy's summation order
            out[t][m] = {
                "mean": math.fsum(values) / len(values),
                "low": float(getattr(bounds[t].low, m)),
                "high": float(getattr(bounds[t].high, m)),
            }
    return out


def evaluate_files(predictions, references=None, references_field=None, allow_missing=False, n_samples=1000, seed=0):
    """Score PREDICTIONS (``id``, ``summary``) against REFERENCES (``id`` + ``summary``, or ``references_field``
    of the same file, e.g. the summarize INPUT). -> report dict (scores, counts, ids skipped)."""
    require_rouge()
    if references is None:
        raise ValueError(
            "evaluate: give REFERENCES (a JSONL file with id and summary, or the corpus with --references-field)"
        )
    preds, failed = load_summaries(predictions, "summary", "PREDICTIONS")
    refs, _ = load_summaries(references, references_field or "summary", "REFERENCES")
    no_pred = sorted(k for k in refs if k not in preds)
    no_ref = sorted(k for k in preds if k not in refs)
    if (no_pred or no_ref) and not allow_missing:
        parts = []
        if no_pred:
            n_failed = sum(1 for k in no_pred if k in failed)
            parts.append(
                f"{len(no_pred)} reference id(s) have no prediction ({n_failed} of them are error lines in "
                f"PREDICTIONS): {no_pred[:10]}{' ...' if len(no_pred) > 10 else ''}"
            )
        if no_ref:
            parts.append(
                f"{len(no_ref)} prediction id(s) have no reference: {no_ref[:10]}{' ...' if len(no_ref) > 10 else ''}"
            )
        raise ValueError("evaluate: " + "; ".join(parts) + " (--allow-missing skips them)")
    ids = sorted(k for k in preds if k in refs)
    scores = rouge([(preds[k], refs[k]) for k in ids], n_samples=n_samples, seed=seed)
    return {
        "predictions": os.fspath(predictions),
        "references": os.fspath(references),
        "references_field": references_field or "summary",
        "documents": len(ids),
        "skipped_no_prediction": no_pred,
        "skipped_no_reference": no_ref,
        "failed_predictions": len(failed),
        "bootstrap_samples": n_samples,
        "confidence": 0.95,
        "stemmer": True,
        "rouge": scores,
    }


def format_table(report) -> str:
    lines = [
        f"ROUGE over {report['documents']} documents (rouge-score, stemming on; F1 with bootstrap 95% interval)",
        f"{'metric':<10} {'precision':>9} {'recall':>9} {'F1':>9}   95% interval of F1",
    ]
    for t in ROUGE_TYPES:
        r = report["rouge"][t]
        f1 = r["fmeasure"]
        lines.append(
            f"{t:<10} {r['precision']['mean'] * 100:9.2f} {r['recall']['mean'] * 100:9.2f} "
            f"{f1['mean'] * 100:9.2f}   [{f1['low'] * 100:.2f}, {f1['high'] * 100:.2f}]"
        )
    skipped = len(report["skipped_no_prediction"]) + len(report["skipped_no_reference"])
    if skipped:
        lines.append(
            f"skipped (--allow-missing): {len(report['skipped_no_prediction'])} without prediction, "
            f"{len(report['skipped_no_reference'])} without reference"
        )
    return "\n".join(lines)


def add_cli_arguments(parser) -> None:
    from .records import DEMO_CORPUS, DEMO_REFERENCE_FIELD

    parser.add_argument("predictions", metavar="PREDICTIONS.jsonl", help="output of led-ref summarize (id, summary)")
    parser.add_argument(
        "references",
        metavar="REFERENCES.jsonl",
        nargs="?",
        default=None,
        help="reference summaries (id, summary), or the summarize INPUT with --references-field "
        f"(default: the bundled demo corpus, field {DEMO_REFERENCE_FIELD!r})",
    )
    parser.add_argument(
        "--references-field",
        default=None,
        metavar="FIELD",
        help="field of REFERENCES holding the reference summary (default: summary)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="skip (and count) ids that are missing on either side instead of refusing",
    )
    parser.add_argument("--bootstrap-samples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the report as JSON to FILE")
    parser.set_defaults(_demo=(DEMO_CORPUS, DEMO_REFERENCE_FIELD))


def run_evaluation(args_predictions, references, references_field, allow_missing, n_samples, seed, json_path):
    if n_samples < 1:
        raise ValueError(f"--bootstrap-samples must be >= 1, got {n_samples}")
    if json_path and not os.path.isdir(os.path.dirname(os.path.abspath(json_path))):
        raise FileNotFoundError(f"--json {json_path}: the directory does not exist")
    report = evaluate_files(args_predictions, references, references_field, allow_missing, n_samples, seed)
    print(format_table(report))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return report


def run_cli(args) -> int:
    references, field = args.references, args.references_field
    if references is None:
        references, default_field = args._demo
        field = field or default_field
        print(
            f"led-ref evaluate: references: the bundled demo corpus ({os.path.basename(references)}, field {field!r})",
            file=sys.stderr,
        )
    run_evaluation(
        args.predictions, references, field, args.allow_missing, args.bootstrap_samples, args.seed, args.json
    )
    return 0
