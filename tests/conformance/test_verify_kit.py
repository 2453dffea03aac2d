"""The conformance kit: led_ref.testing and ``led-ref verify`` (spec/SPEC.md#conformance, README "Check your
implementation").

Evidence that the kit finds real bugs: every mutant in mutants.py (led-ref with one real-world bug) is flagged by
``verify`` with its default number of examples, while the unmodified reference passes. The mutants run in this
process (``--timeout 0``) and without shrinking to keep the suite fast; one test exercises shrinking, the saved
counterexample and its replay command, others the worker process, ``--timeout`` and the exit-2 errors.
"""

import shlex

import numpy as np
import pytest
from hypothesis import given, settings

from led_ref.app.cli import main
from led_ref.app.verify_cli import DEFAULT_EXAMPLES
from led_ref.testing import (
    MismatchError,
    assert_matches_reference,
    candidate_inputs,
    case_params,
    cases,
    hf_state_dict,
    load_case,
    reference_candidate,
    reference_outputs,
)
from led_ref.testing import strategies as S
from tests.conformance import mutants


def verify(capsys, *argv):
    rc = main(["verify", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def table(out):
    """{property: (cases, worst, verdict)} from verify's table."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] in ("encoder", "logits", "attentions", "cache", "loss", "generate"):
            rows[parts[0]] = (int(parts[1]), parts[2], parts[3])
    return rows


# ---------------------------------------------------------------------------------------------- the library


@settings(max_examples=25)
@given(S.configs().flatmap(lambda c: S.encoder_inputs(c).map(lambda i: (c, i))))
def test_encoder_inputs_are_valid_and_reach_the_edges(drawn):
    config, inputs = drawn
    ids, mask, glob = inputs["input_ids"], inputs["attention_mask"], inputs["global_attention_mask"]
    w = max(config.layer_attention_windows())
    assert ids.shape == mask.shape == glob.shape and ids.dtype == np.int64
    assert -(-ids.shape[1] // w) * w <= config.max_encoder_position_embeddings
    assert np.all(mask.sum(axis=1) >= 1) and set(np.unique(glob)) <= {-1, 0, 1}
    assert np.all(ids[mask == 0] == config.pad_token_id)
    assert all(w % 2 == 0 for w in config.layer_attention_windows())


def test_strategies_cover_the_known_edge_cases():
    """Lengths at 2 * window / below one window / around multiples, and non-prefix global tokens, are drawn."""
    from hypothesis import find

    from led_ref.config import LEDConfig

    config = LEDConfig(
        vocab_size=20,
        d_model=4,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=1,
        decoder_attention_heads=1,
        attention_window=4,
        max_encoder_position_embeddings=16,
        max_decoder_position_embeddings=8,
    )
    for cond in (
        lambda i: i["input_ids"].shape[1] == 8,
        lambda i: i["input_ids"].shape[1] < 4,
        lambda i: i["input_ids"].shape[1] == 9,
        lambda i: any(g[0] == 0 and g.max() == 1 for g in i["global_attention_mask"]),
        lambda i: (i["global_attention_mask"] == -1).any(),
        lambda i: (i["global_attention_mask"] == 0).all(),
    ):
        find(S.encoder_inputs(config), cond, settings=settings(max_examples=400, database=None))
    find(
        S.tokenizer_texts(), lambda t: "'s" in t and "<mask>" in t, settings=settings(max_examples=2000, database=None)
    )
    find(
        S.tokenizer_texts(specials=False),
        lambda t: "🙂" in t and "\u00a0" in t,
        settings=settings(max_examples=2000, database=None),
    )


@settings(max_examples=10)
@given(cases("logits"))
def test_assert_matches_reference_names_output_index_and_error(case):
    params = case_params(case, np.float32)
    inputs = candidate_inputs(case, params)
    ref = reference_outputs(case.config, params, inputs)
    got = reference_candidate(case.config, hf_state_dict(params), inputs)
    assert assert_matches_reference(got, ref, "float32", ["logits"]) <= 2e-4
    bad = dict(got, logits=got["logits"].copy())
    bad["logits"][0, -1, 1] += 0.5
    with pytest.raises(MismatchError, match=r"logits at \(0, \d+, 1\): error .* > tolerance 0.0002") as exc:
        assert_matches_reference(bad, ref, "float32", ["logits"])
    assert exc.value.report[0][0] == "logits" and exc.value.report[0][2] > 2e-4


# ---------------------------------------------------------------------------------------------- verify


def test_reference_passes_every_property(capsys):
    rc, out, _ = verify(capsys, "--candidate", "python:led_ref.testing:reference_candidate", "--timeout", "0")
    rows = table(out)
    assert rc == 0, out
    assert set(rows) == {"encoder", "logits", "attentions", "cache", "loss"}
    assert all(r == (DEFAULT_EXAMPLES, r[1], "pass") for r in rows.values()), out


def test_reference_in_float32_passes_against_the_float64_oracle(capsys):
    rc, out, _ = verify(
        capsys,
        "--candidate",
        "python:led_ref.testing:reference_candidate",
        "--timeout",
        "0",
        "--dtype",
        "float32",
        "--examples",
        "15",
        "--generate",
        "--seed",
        "3",
    )
    assert rc == 0, out
    assert table(out)["generate"] == (15, "exact", "pass")


@pytest.mark.parametrize("name", sorted(mutants.MUTANTS))
def test_every_mutant_is_flagged_with_default_examples(capsys, name, tmp_path):
    rc, out, _ = verify(
        capsys,
        "--candidate",
        f"python:tests.conformance.mutants:{name}",
        "--timeout",
        "0",
        "--no-shrink",
        "--save-dir",
        str(tmp_path),
    )
    assert rc == 1, out
    failed = [p for p, (_, _, verdict) in table(out).items() if verdict == "FAIL"]
    assert failed, out
    assert f"FAIL {failed[0]}:" in out and "replay: led-ref verify" in out


def test_counterexample_is_shrunk_saved_and_replays(capsys, tmp_path, monkeypatch):
    rc, out, _ = verify(
        capsys,
        "--candidate",
        "python:tests.conformance.mutants:global_tokens_assumed_prefix",
        "--timeout",
        "0",
        "--outputs",
        "encoder",
        "--save-dir",
        str(tmp_path),
    )
    assert rc == 1 and "minimal counterexample (shrunk)" in out, out
    case, meta = load_case(tmp_path / "encoder.npz")
    glob = case.arrays["global_attention_mask"]
    # the bug needs a global token that is not at the start of its row: the shrunk case keeps exactly that
    assert any(g[0] != 1 and (g == 1).any() for g in glob), case.summary()
    ids = case.arrays["input_ids"]
    assert ids.shape[0] <= 2 and ids.shape[1] <= 3 and case.config.encoder_layers == 1, case.summary()
    assert meta["candidate"] == "python:tests.conformance.mutants:global_tokens_assumed_prefix"
    command = next(line for line in out.splitlines() if line.startswith("replay: "))[len("replay: ") :]
    argv = shlex.split(command)
    assert argv[:2] == ["led-ref", "verify"]
    rc, out, _ = verify(capsys, *argv[2:], "--timeout", "0")
    assert rc == 1 and "FAIL encoder: encoder_last_hidden_state at" in out, out
    # the same case passes on the unmodified reference
    rc, out, _ = verify(
        capsys,
        "--candidate",
        "python:led_ref.testing:reference_candidate",
        "--timeout",
        "0",
        "--replay",
        str(tmp_path / "encoder.npz"),
    )
    assert rc == 0 and "pass encoder" in out, out


def test_worker_process_and_timeout_stop_a_hanging_candidate(capsys, tmp_path):
    rc, out, _ = verify(
        capsys,
        "--candidate",
        "python:tests.conformance.mutants:hangs_on_long_inputs",
        "--timeout",
        "2",
        "--outputs",
        "encoder",
        "--save-dir",
        str(tmp_path),
    )
    assert rc == 1, out
    assert table(out)["encoder"][2] == "TIMEOUT"
    assert "the candidate was stopped: no answer within --timeout 2 s" in out


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nonsense", "expected python:MODULE:FUNCTION, hf:MODEL_DIR or onnx:EXPORT_DIR"),
        ("jax:foo", "unknown kind 'jax'"),
        ("python:tests.conformance.mutants", "expected python:MODULE:FUNCTION"),
        ("python:no_such_module_xyz:f", "no module named 'no_such_module_xyz'"),
        ("python:tests.conformance.mutants:nope", "module tests.conformance.mutants has no callable 'nope'"),
        ("python:tests.conformance.mutants:raises", "raised RuntimeError: not implemented yet on the simplest case"),
        ("python:tests.conformance.mutants:returns_list", "must return a dict of HF-named outputs, got list"),
        ("python:tests.conformance.mutants:missing_logits", "missing output(s) ['logits']"),
        ("python:tests.conformance.mutants:wrong_shape", r"output logits has shape (2, 2, 31), expected (2, 2, 32)"),
        ("python:tests.conformance.mutants:integer_logits", "output logits must be floating point, got dtype int64"),
        ("hf:/no/such/dir", "/no/such/dir is not a directory"),
        ("onnx:/no/such/dir", "/no/such/dir is not a directory"),
    ],
)
def test_bad_candidates_are_one_line_errors(capsys, spec, message):
    rc, out, err = verify(capsys, "--candidate", spec, "--timeout", "0")
    assert rc == 2
    first = err.splitlines()[0]
    assert first.startswith("led-ref verify: error: candidate") and message in first, err
    assert spec in first


def test_bad_options_are_one_line_errors(capsys):
    spec = "python:led_ref.testing:reference_candidate"
    for argv, message in (
        (["--outputs", "logits,bogus"], "unknown property 'bogus'"),
        (["--examples", "0"], "--examples 0: must be >= 1"),
        (["--replay", "/no/such.npz"], "--replay /no/such.npz: no such file"),
    ):
        rc, _, err = verify(capsys, "--candidate", spec, "--timeout", "0", *argv)
        assert rc == 2 and message in err.splitlines()[0], err


@settings(max_examples=30)
@given(S.configs(hf_runnable=True))
def test_hf_runnable_configs_have_windows_hf_accepts(config):
    windows = config.layer_attention_windows()
    assert min(windows) >= 4 and all(max(windows) % w == 0 for w in windows)


def test_verify_with_hf_runnable_configs(capsys):
    rc, out, _ = verify(
        capsys,
        "--candidate",
        "python:led_ref.testing:reference_candidate",
        "--timeout",
        "0",
        "--hf-runnable-configs",
        "--examples",
        "10",
        "--outputs",
        "encoder",
    )
    assert rc == 0 and table(out)["encoder"] == (10, "0.000e+00", "pass"), out
