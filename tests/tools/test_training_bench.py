"""tools.bench.training: rows for led-ref, HF and patched HF in one run, the same-run ratios, --rounds, the step
FLOP count. (Figures are not tested.)"""

import json
import subprocess
import sys

import pytest

from led_ref.app.benchmarks import common
from tests.testlib import ROOT
from tools.bench import training


def test_step_flops_is_three_forwards_of_the_encoder_decoder_and_head():
    config = dict(common.SIZES["tiny"])
    d, T, S, V = config["d_model"], 5, 64, config["vocab_size"]
    enc = common.encoder_flops(S, d, config["encoder_ffn_dim"], config["encoder_layers"], config["attention_window"])
    dec_layer = 2 * T * d * d * 6 + 2 * S * d * d * 2 + 4 * T * (T + S) * d + 4 * T * d * config["decoder_ffn_dim"]
    expected = 3 * (enc + config["decoder_layers"] * dec_layer + 2 * T * d * V)
    assert training.step_flops(config, S, T) == expected
    assert training.step_flops(config, S - 7, T) == expected  # the encoder runs on the padded length


def test_ratios_are_taken_within_a_round_and_their_median_reported():
    rounds = [
        {
            "hf": {"seconds": 4.0, "peak_rss": 10, "encoder_seconds": 2.0},
            "hf-patched": {"seconds": 2.0, "peak_rss": 5, "encoder_seconds": 1.0},
        },
        {"hf": {"seconds": 9.0, "peak_rss": 10}, "hf-patched": {"seconds": 3.0, "peak_rss": 6}},
        {
            "hf": {"seconds": 5.0, "peak_rss": 10},
            "hf-patched": {"error": "x"},
            "hf+ckpt": {"seconds": 1.0, "peak_rss": 1},
        },
    ]
    out = training.median_ratios([training.ratios(r) for r in rounds])
    assert list(out) == ["hf-patched vs hf"]
    entry = out["hf-patched vs hf"]
    assert entry["step_speedup"] == 2.5 and entry["peak_rss_fraction"] == 0.55  # medians of (2, 3) and (0.5, 0.6)
    assert [r["step_speedup"] for r in entry["rounds"]] == [2.0, 3.0]
    # the worst round: the smaller speed-up, the larger memory fraction; the encoder only where both rows have one
    assert entry["worst"] == {"step_speedup": 2.0, "peak_rss_fraction": 0.6, "encoder_speedup": 2.0}


def test_rounds_alternate_the_row_order():
    rows = ["hf", "hf+ckpt", "hf-patched", "hf-patched+ckpt"]
    assert training.round_order(rows, 0) == rows and training.round_order(rows, 2) == rows
    assert training.round_order(rows, 1) == rows[::-1]


@pytest.mark.slow
def test_quick_run_writes_every_row(tmp_path):
    pytest.importorskip("torch")
    impls = "led-ref,hf,hf-patched" if common.optional_module("transformers")[0] is not None else "led-ref"
    out = tmp_path / "t.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench.training",
            "--quick",
            "--impl",
            impls,
            "--checkpointing",
            "off",
            "--rounds",
            "2",
            "--threads",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert len(data["rounds"]) == 2 and data["step_flops"] > 0
    for results in data["rounds"]:
        assert sorted(results) == sorted(impls.split(","))
        for row in results.values():
            assert row["seconds"] > 0 and row["peak_rss"] > 0 and row["encoder_seconds"] > 0
    if "hf" in impls:
        assert set(data["ratios"]) == {"led-ref vs hf", "hf-patched vs hf"}
        # the same seeded weights and inputs: the patched model's first loss is HF's
        losses = [results[i]["first_loss"] for results in data["rounds"] for i in ("hf", "hf-patched")]
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
