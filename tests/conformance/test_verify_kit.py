"""The conformance kit: led_ref.testing and ``led-ref verify`` (spec/SPEC.md#conformance, README "Check your
implementation").

Evidence that the kit finds real bugs: every mutant in mutants.py (led-ref with one real-world bug) is flagged by
``verify`` with its default number of examples, while the unmodified reference passes. The mutants run in this
process (``--timeout 0``) and without shrinking to keep the suite fast; one test exercises shrinking, the saved
counterexample and its replay command, others the worker process, ``--timeout`` and the exit-2 errors.
"""

import json
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
from led_ref.testing.coverage import padding_side
from tests.conformance import mutants

REFERENCE = "python:led_ref.testing:reference_candidate"

# one window of 4, positions for lengths past 2 windows and decoder inputs past 8 tokens
SMALL = dict(
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


def verify(capsys, *argv):
    rc = main(["verify", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def run(capsys, spec, *argv):
    """verify on candidate ``spec`` in this process (--timeout 0)."""
    return verify(capsys, "--candidate", spec, "--timeout", "0", *argv)


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
    assert np.all(mask.sum(axis=1) >= 1) and set(np.unique(mask)) <= {0, 1} and set(np.unique(glob)) <= {-1, 0, 1}
    assert ids.min() >= 0 and ids.max() < config.vocab_size  # pad ids may be attended, real ids masked
    assert all(w % 2 == 0 for w in config.layer_attention_windows())
    assert 4 <= config.max_decoder_position_embeddings <= S.DEFAULT_MAX_DECODER_LEN
    assert config.max_encoder_position_embeddings <= S.DEFAULT_MAX_SEQ_LEN


def test_strategies_cover_the_known_edge_cases():
    """Lengths at 2 * window / below one window / around multiples, and non-prefix global tokens, are drawn.
    Derandomized: a fixed search, so the rarest case (both-sided and inner padding in one batch) is found in every
    run, not in most."""
    from hypothesis import find

    from led_ref.config import LEDConfig

    config = LEDConfig(**SMALL)
    sides = lambda i: {padding_side(m) for m in i["attention_mask"]}  # noqa: E731 (a one-line probe)
    for cond in (
        lambda i: i["input_ids"].shape[1] == 8,
        lambda i: i["input_ids"].shape[1] < 4,
        lambda i: i["input_ids"].shape[1] == 9,
        lambda i: any(g[0] == 0 and g.max() == 1 for g in i["global_attention_mask"]),
        lambda i: (i["global_attention_mask"] == -1).any(),
        lambda i: (i["global_attention_mask"] == 0).all(),
        lambda i: "left" in sides(i),
        lambda i: {"left", "right"} <= sides(i),
        lambda i: "both" in sides(i) and "inner" in sides(i),
        lambda i: ((i["attention_mask"] == 0) & (i["input_ids"] != 1)).any(),
        lambda i: ((i["attention_mask"] == 1) & (i["input_ids"] == 1)).any(),
    ):
        find(S.encoder_inputs(config), cond, settings=settings(max_examples=400, database=None, derandomize=True))
    for strategy, cond in (
        (S.decoder_inputs(config, 1), lambda d: d["decoder_input_ids"].shape[1] == 8),  # the config's positions
        (S.decoder_inputs(config, 1, max_length=5), lambda d: d["decoder_input_ids"].shape[1] == 5),
        (S.cache_inputs(config, 1), lambda d: d["decoder_prefix_ids"].shape[1] == 7),
        (S.labels(config, 1), lambda d: d["labels"].shape[1] == 8),
    ):
        find(strategy, cond, settings=settings(max_examples=400, database=None, derandomize=True))
    find(
        S.tokenizer_texts(),
        lambda t: "'s" in t and "<mask>" in t,
        settings=settings(max_examples=2000, database=None, derandomize=True),
    )
    find(
        S.tokenizer_texts(specials=False),
        lambda t: "🙂" in t and "\u00a0" in t,
        settings=settings(max_examples=2000, database=None, derandomize=True),
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


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """One default run of the unmodified reference with --json: (exit status, stdout, report)."""
    path = tmp_path_factory.mktemp("reference") / "verify.json"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(
            [
                "verify",
                "--candidate",
                REFERENCE,
                "--timeout",
                "0",
                "--json",
                str(path),
            ]
        )
    return rc, out.getvalue(), json.loads(path.read_text())


def test_reference_passes_every_property(reference_run):
    rc, out, report = reference_run
    rows = table(out)
    assert rc == 0, out
    assert set(rows) == {"encoder", "logits", "attentions", "cache", "loss"}
    assert all(r == (DEFAULT_EXAMPLES, r[1], "pass") for r in rows.values()), out
    assert report["passed"] is True and report["examples"] == DEFAULT_EXAMPLES and report["dtype"] == "float64"
    for prop, result in report["properties"].items():
        assert result["verdict"] == "pass" and result["cases"] == DEFAULT_EXAMPLES, (prop, result)
        assert result["counterexample"] is None and result["worst_error"] <= 1e-9
    assert report["limits"] == {
        "max_seq_len": S.DEFAULT_MAX_SEQ_LEN,
        "max_decoder_len": S.DEFAULT_MAX_DECODER_LEN,
        "max_layers": S.DEFAULT_MAX_LAYERS,
    }


def test_coverage_reaches_each_new_region_at_the_default_example_count(reference_run):
    """Left-padded and mixed-side batches, masks disagreeing with the pad ids both ways, decoder inputs past 8
    and 16 tokens up to the drawn configs' positions, long cached prefixes: each drawn several times by every
    property within the default 40 examples, and reported (JSON and the short table under the results)."""
    rc, out, report = reference_run
    for prop, result in report["properties"].items():
        cov = result["coverage"]
        assert cov["cases"] == DEFAULT_EXAMPLES
        assert cov["cases_with_side"]["left"] >= 5, (prop, cov)
        assert cov["mixed_side_batches"] >= 2, (prop, cov)
        assert cov["real_tokens_masked"] >= 5 and cov["pad_ids_attended"] >= 5, (prop, cov)
        assert cov["decoder_length_over_8"] >= 4 and cov["decoder_length_over_16"] >= 2, (prop, cov)
        assert cov["max_decoder_length"] > 16 and cov["max_encoder_length"] > 16, (prop, cov)
        assert all(cov["global_tokens_rows"][k] >= 1 for k in ("0", "1", "many", "all", "non_prefix")), (prop, cov)
        # the short form printed under the table carries the same counts
        line = next(x for x in out.splitlines() if x.split()[:1] == [prop] and len(x.split()) == 11)
        fields = line.split()
        assert int(fields[1]) == cov["max_encoder_length"] and int(fields[2]) == cov["max_decoder_length"]
        assert int(fields[6]) == cov["cases_with_side"]["left"] and int(fields[7]) == cov["mixed_side_batches"]
        assert int(fields[8]) == cov["real_tokens_masked"] and int(fields[9]) == cov["pad_ids_attended"]
    cache = report["properties"]["cache"]["coverage"]
    assert cache["max_cache_prefix"] > 16 and cache["cache_prefix_over_8"] >= 4, cache
    assert "what the cases drew" in out


def test_coverage_reads_the_case_arrays():
    from led_ref.config import LEDConfig
    from led_ref.testing import Case
    from led_ref.testing.coverage import Coverage

    mask = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 1]])
    ids = np.where(mask == 1, 5, 1)
    ids[0, 3] = 7  # a real id under the mask
    ids[4, 0] = 1  # an attended pad id
    glob = np.array([[0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], [1, 0, 1, 1], [0, 0, 0, 1]])
    arrays = dict(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
    arrays["decoder_prefix_ids"] = np.full((5, 9), 2)
    arrays["decoder_input_ids"] = np.full((5, 3), 4)
    config = LEDConfig(**SMALL)
    cov = Coverage()
    cov.add(Case("cache", config, 0, arrays))
    summary = cov.summary()
    assert [padding_side(m) for m in mask] == ["right", "left", "both", "inner", "none"]
    assert summary["padded_rows_by_side"] == {"none": 1, "right": 1, "left": 1, "both": 1, "inner": 1}
    assert (
        summary["mixed_side_batches"] == 1 and summary["real_tokens_masked"] == 1 and summary["pad_ids_attended"] == 1
    )
    assert summary["global_tokens_rows"] == {"0": 1, "1": 2, "many": 0, "all": 2, "non_prefix": 2}
    assert summary["max_cache_prefix"] == 9 and summary["cache_prefix_over_8"] == 1
    assert summary["max_decoder_length"] == 12 and summary["decoder_length_over_8"] == 1


def test_reference_in_float32_passes_against_the_float64_oracle(capsys):
    rc, out, _ = run(
        capsys,
        REFERENCE,
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
    rc, out, _ = run(
        capsys,
        f"python:tests.conformance.mutants:{name}",
        "--no-shrink",
        "--save-dir",
        str(tmp_path),
    )
    assert rc == 1, out
    failed = [p for p, (_, _, verdict) in table(out).items() if verdict == "FAIL"]
    assert failed, out
    assert f"FAIL {failed[0]}:" in out and "replay: led-ref verify" in out


def test_counterexample_is_shrunk_saved_and_replays(capsys, tmp_path, monkeypatch):
    rc, out, _ = run(
        capsys,
        "python:tests.conformance.mutants:global_tokens_assumed_prefix",
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
    rc, out, _ = run(
        capsys,
        REFERENCE,
        "--replay",
        str(tmp_path / "encoder.npz"),
    )
    assert rc == 0 and "pass encoder" in out, out


def _witness(prop, input_ids, attention_mask, decoder_length):
    """A hand-written case from the issue that found the kit's blind spots: the smallest config, seed 0."""
    from led_ref.config import LEDConfig
    from led_ref.testing import Case

    config = LEDConfig(
        vocab_size=8,
        d_model=4,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=1,
        decoder_attention_heads=1,
        encoder_ffn_dim=4,
        decoder_ffn_dim=4,
        attention_window=2,
        max_encoder_position_embeddings=6,
        max_decoder_position_embeddings=12,
    )
    decoder = np.array([[2, 6, 5, 4, 4, 3, 3, 3, 3][:decoder_length]] * len(input_ids))
    arrays = dict(
        input_ids=np.array(input_ids),
        attention_mask=np.array(attention_mask),
        global_attention_mask=np.zeros_like(np.array(input_ids)),
        decoder_input_ids=decoder,
    )
    return Case(prop, config, 0, arrays)


@pytest.mark.parametrize(
    "name, case",
    [
        ("cross_attention_assumes_right_padding", _witness("logits", [[1, 5]], [[0, 1]], 1)),  # left padding
        ("mask_from_pad_ids", _witness("encoder", [[5, 6]], [[1, 0]], 1)),  # a real token masked
        ("mask_from_pad_ids", _witness("encoder", [[1, 6]], [[1, 1]], 1)),  # a pad id attended
        ("decoder_causal_mask_dropped_past_8", _witness("logits", [[5, 6]], [[1, 1]], 9)),  # 9 decoder tokens
    ],
)
def test_the_blind_spot_witnesses_replay(capsys, tmp_path, name, case):
    """The inputs that the earlier strategies never drew fail the broken copy and pass the reference."""
    from led_ref.testing import save_case

    path = tmp_path / "witness.npz"
    save_case(path, case)
    rc, out, _ = run(capsys, f"python:tests.conformance.mutants:{name}", "--replay", str(path))
    assert rc == 1 and f"FAIL {case.prop}:" in out, out
    rc, out, _ = run(capsys, REFERENCE, "--replay", str(path))
    assert rc == 0 and f"pass {case.prop}" in out, out


def test_tanh_gelu_is_caught_in_float32_without_the_cache(capsys, tmp_path):
    """The tanh approximation of the erf GELU differs by at most 4.7e-4: drawn feed-forward weights that park the
    pre-activations where the gap is largest (FFN_REGIMES) make it visible in float32's 2e-4 tolerance on the
    encoder, the logits and the loss, while led-ref in float32 stays far within it."""
    argv = ["--timeout", "0", "--dtype", "float32", "--outputs", "encoder,logits,loss", "--save-dir", str(tmp_path)]
    rc, out, _ = verify(
        capsys, "--candidate", "python:tests.conformance.mutants:gelu_tanh_approximation", *argv, "--no-shrink"
    )
    assert rc == 1 and {v for _, _, v in table(out).values()} == {"FAIL"}, out
    rc, out, _ = verify(capsys, "--candidate", REFERENCE, *argv)
    assert rc == 0 and all(float(worst) < 5e-5 for _, worst, _ in table(out).values()), out


def test_failing_run_json_and_counterexample_in_the_temp_dir(capsys, tmp_path, monkeypatch):
    """Without --save-dir a counterexample goes to a new directory under the system temp directory, never the
    current one; the replay command names it; --json records it with the verdicts and the coverage."""
    import tempfile

    work, temp = tmp_path / "checkout", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parents[2]))
    report_path = tmp_path / "report.json"
    rc, out, _ = run(
        capsys,
        "python:tests.conformance.mutants:mask_from_pad_ids",
        "--outputs",
        "encoder_last_hidden_state,generate",
        "--json",
        str(report_path),
    )
    assert rc == 1, out
    assert list(work.iterdir()) == []  # nothing written into the user's working tree
    assert set(table(out)) == {"encoder", "generate"}
    report = json.loads(report_path.read_text())
    enc = report["properties"]["encoder"]
    assert report["passed"] is False and enc["verdict"] == "FAIL" and enc["outputs"] == ["encoder_last_hidden_state"]
    assert enc["worst_error"] > 1e-9 and enc["message"].startswith("encoder_last_hidden_state at")
    saved = __import__("pathlib").Path(enc["counterexample"])
    assert saved.is_file() and saved.parent.parent == temp and saved.parent.name.startswith("led-ref-verify-")
    replay = "replay: led-ref verify --candidate python:tests.conformance.mutants:mask_from_pad_ids --dtype float64"
    assert f"{replay} --replay {saved}" in out
    assert enc["coverage"]["cases"] == enc["cases"] and set(enc["coverage"]) >= {
        "max_encoder_length",
        "max_decoder_length",
        "padded_rows_by_side",
        "global_tokens_rows",
        "real_tokens_masked",
        "pad_ids_attended",
    }
    # the replay writes JSON too
    rc, out, _ = run(
        capsys,
        REFERENCE,
        "--replay",
        str(saved),
        "--json",
        str(report_path),
    )
    assert rc == 0 and json.loads(report_path.read_text())["properties"]["encoder"]["verdict"] == "pass"


def test_outputs_take_output_names(capsys, tmp_path):
    path = tmp_path / "r.json"
    rc, out, _ = run(
        capsys,
        REFERENCE,
        "--examples",
        "5",
        "--outputs",
        "past_key_values,logits,cross_attentions,loss",
        "--json",
        str(path),
    )
    assert rc == 0, out
    props = json.loads(path.read_text())["properties"]
    assert {p: r["outputs"] for p, r in props.items()} == {
        "logits": ["logits"],
        "attentions": ["cross_attentions"],
        "cache": ["logits", "past_key_values"],
        "loss": ["loss", "logits"],
    }
    rc, out, _ = run(
        capsys,
        REFERENCE,
        "--examples",
        "3",
        "--outputs",
        "encoder,sequences",
    )
    assert rc == 0 and set(table(out)) == {"encoder", "generate"}, out


@pytest.mark.parametrize("name", ["vendored_config", "dict_config"])
def test_candidates_may_hand_led_ref_their_own_config_object(capsys, name):
    rc, out, _ = run(
        capsys,
        f"python:tests.conformance.mutants:{name}",
        "--examples",
        "5",
        "--outputs",
        "logits,cache",
    )
    assert rc == 0, out


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


def test_bad_options_are_one_line_errors(capsys, tmp_path):
    spec = REFERENCE
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for argv, message in (
        (["--outputs", "logits,bogus"], "--outputs bogus: unknown name; expected properties encoder,logits,"),
        (["--outputs", "bogus"], "or outputs encoder_last_hidden_state,logits,"),
        (["--outputs", ","], "--outputs: name at least one property"),
        (["--examples", "0"], "--examples 0: must be >= 1"),
        (["--replay", "/no/such.npz"], "--replay /no/such.npz: no such file"),
        (["--json", "/no/such/dir/r.json"], "--json /no/such/dir/r.json: directory /no/such/dir does not exist"),
        (["--json", str(tmp_path)], "is a directory, expected a file path"),
        (["--save-dir", str(a_file)], "is a file, expected a directory"),
        (["--max-seq-len", "20000"], "--max-seq-len 20000: outside the drawn configs' range; allowed 2..16384"),
        (["--max-seq-len", "1"], "allowed 2..16384"),
        (["--max-decoder-len", "1"], "--max-decoder-len 1: outside the drawn configs' range; allowed 2..1024"),
        (["--max-layers", "0"], "--max-layers 0: outside the drawn configs' range; allowed 1..16"),
        (["--max-seq-len", "3", "--hf-runnable-configs"], "allowed 4..16384"),
    ):
        rc, _, err = run(capsys, spec, *argv)
        assert rc == 2 and message in err.splitlines()[0] and len(err.splitlines()) == 1, (argv, err)


def test_limits_of_a_fixed_model_are_its_positions(capsys, tmp_path):
    """hf:/onnx: models keep their config: --max-seq-len / --max-decoder-len beyond its positions and
    --max-layers are one-line errors naming the allowed values (checked before the candidate is loaded)."""
    pytest.importorskip("onnxruntime")
    from led_ref.config import LEDConfig
    from led_ref.weights import init_params, save_checkpoint

    config = LEDConfig(
        vocab_size=20,
        d_model=8,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        attention_window=4,
        max_encoder_position_embeddings=16,
        max_decoder_position_embeddings=8,
    )
    ckpt, export = tmp_path / "ckpt", tmp_path / "export"
    save_checkpoint(str(ckpt), config, init_params(config, "lm", seed=0), "lm")
    config.save_pretrained(str(export))  # the limits are checked before the graphs are opened
    for argv, message in (
        (
            ["--max-seq-len", "17"],
            "--max-seq-len 17: beyond the model's max_encoder_position_embeddings; allowed 1..16",
        ),
        (
            ["--max-decoder-len", "9"],
            "--max-decoder-len 9: beyond the model's max_decoder_position_embeddings; allowed 2..8",
        ),
        (["--max-layers", "2"], "--max-layers: applies to drawn configs (python: candidates)"),
    ):
        rc, _, err = verify(capsys, "--candidate", f"onnx:{export}", "--reference", str(ckpt), "--timeout", "0", *argv)
        assert rc == 2 and message in err.splitlines()[0], (argv, err)


def test_wider_limits_are_drawn(capsys, tmp_path):
    path = tmp_path / "wide.json"
    rc, out, _ = run(
        capsys,
        REFERENCE,
        "--examples",
        "20",
        "--outputs",
        "logits",
        "--max-seq-len",
        "64",
        "--max-decoder-len",
        "40",
        "--max-layers",
        "3",
        "--json",
        str(path),
    )
    assert rc == 0, out
    assert "limits: encoder length <= 64, decoder length <= 40, layers <= 3" in out
    report = json.loads(path.read_text())
    cov = report["properties"]["logits"]["coverage"]
    assert report["limits"] == {"max_seq_len": 64, "max_decoder_len": 40, "max_layers": 3}
    assert cov["max_encoder_length"] > S.DEFAULT_MAX_SEQ_LEN and cov["max_decoder_length"] > S.DEFAULT_MAX_DECODER_LEN


@settings(max_examples=30)
@given(S.configs(hf_runnable=True))
def test_hf_runnable_configs_have_windows_hf_accepts(config):
    windows = config.layer_attention_windows()
    assert min(windows) >= 4 and all(max(windows) % w == 0 for w in windows)


def test_verify_with_hf_runnable_configs(capsys):
    rc, out, _ = run(
        capsys,
        REFERENCE,
        "--hf-runnable-configs",
        "--examples",
        "10",
        "--outputs",
        "encoder",
    )
    assert rc == 0 and table(out)["encoder"] == (10, "0.000e+00", "pass"), out
