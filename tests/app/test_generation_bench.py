"""The generation benchmark's per-part breakdown (``--breakdown``): bytes that add up to the step's, and part times
measured on the decoding steps the ms/step counts."""

import re

import numpy as np
import pytest

from led_ref.app.benchmarks import generation
from led_ref.config import LEDConfig
from led_ref.weights import init_params
from tools.bench import generation as generation_tool


def test_part_bytes_add_up_to_the_step_bytes():
    config = LEDConfig(**dict(generation.common.SIZES["tiny"]))
    params = init_params(config, "lm", seed=0)
    lengths = generation.batch_lengths(64, 4)
    parts = generation.part_bytes(params, config, lengths)
    assert set(parts) == set(generation.PARTS) | {"rest"}
    assert sum(parts.values()) == generation.step_bytes(params, config, lengths)
    # the total, counted independently: every decoder-layer array but the cross-attention k/v projections (first
    # step only), the LM head and its bias, and the keys/values of every input
    from led_ref.weights import flatten

    layer_arrays = flatten(params["decoder"]["layers"])
    weights = sum(
        a.nbytes for k, a in layer_arrays.items() if "encoder_attn.k_proj" not in k and "encoder_attn.v_proj" not in k
    )
    keys_values = sum(lengths) * 2 * config.decoder_layers * config.d_model * 4
    assert sum(parts.values()) == weights + parts["LM head"] + keys_values
    assert parts["rest"] == sum(a.nbytes for k, a in layer_arrays.items() if "layer_norm" in k)
    d, layers = config.d_model, config.decoder_layers
    assert parts["LM head"] == params["lm_head"]["weight"].nbytes + params["final_logits_bias"].nbytes
    # cross-attention: q/out projections of every layer plus every input's keys and values
    qo = sum(
        params["decoder"]["layers"][i]["encoder_attn"][n]["weight"].nbytes
        + params["decoder"]["layers"][i]["encoder_attn"][n]["bias"].nbytes
        for i in range(layers)
        for n in ("q_proj", "out_proj")
    )
    assert parts["cross-attn"] == qo + sum(lengths) * 2 * layers * d * 4


def test_breakdown_times_every_part_of_the_steady_state_steps(tmp_path):
    generation.make_checkpoint(str(tmp_path), size="tiny", seq_len=64)
    res = generation.numpy_generate(str(tmp_path), seq_len=64, new_tokens=5, num_beams=2, breakdown=True)
    ms = res["part_ms"]
    assert set(ms) == set(generation.PARTS) and all(v > 0 for v in ms.values())
    assert sum(ms.values()) < res["ms_per_token"]  # parts of the same steps, not the first one's encoder/cache work
    # the timers are removed afterwards: the module's functions are led_ref's own again
    import led_ref.model as M
    from led_ref.attention import decoder_attention

    assert M.decoder_attention is decoder_attention and M.feed_forward.__module__ == "led_ref.model"
    plain = generation.numpy_generate(str(tmp_path), seq_len=64, new_tokens=5, num_beams=2)
    assert "part_ms" not in plain and plain["sequences"] == res["sequences"]


def test_breakdown_line_in_the_table(capsys):
    assert (
        generation_tool.main(["--size", "tiny", "--seq-len", "32", "--new-tokens", "3", "--rows", "1x1", "--breakdown"])
        == 0
    )
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if "ms/step by part" in s)
    for part in generation.PARTS:
        assert re.search(re.escape(part) + r" [0-9.]+ \([0-9.]+ MB, [0-9.]+ GB/s\)", line), (part, line)
    assert np.isfinite(float(line.rsplit("rest ", 1)[1]))


def _row(ms, step_bytes=None, copy=None):
    numpy_side = {"ms_per_token": ms}
    if step_bytes:
        numpy_side.update(step_bytes=step_bytes, copy_bytes_per_s=copy)
    return {"lib": numpy_side}


def test_summary_takes_each_ratio_within_a_round():
    # round 1 ran on a slow machine (every row 2x slower), round 2 on a fast one: within-round ratios are equal,
    # a ratio of a round-1 row over a round-2 row would not be
    results = {
        ("quiet", 1, 1): [_row(40.0, 500e6, 25e9), _row(20.0, 500e6, 50e9)],  # floor 20 ms, then 10 ms
        ("quiet", 1, 4): [_row(56.0), _row(28.0)],
        ("quiet", 8, 1): [_row(80.0), _row(40.0)],
    }
    lines = generation_tool.summary_lines(results)
    assert (
        "quiet     lib: greedy step / bandwidth floor = 2.00x, worst 2.00x (rounds: 2.00, 2.00)"
        " -- goal <= 1.5x on the worst round: NOT met" in lines
    )
    assert (
        "quiet     lib: beam-4 step / greedy step = 1.40x, worst 1.40x (rounds: 1.40, 1.40)"
        " -- goal <= 1.5x on the worst round: met" in lines
    )
    assert (
        "quiet     lib: batch-8 new tokens/s / batch-1 = 4.00x, worst 4.00x (rounds: 4.00, 4.00)"
        " -- goal >= 3.5x on the median: met" in lines
    )
    assert not any(" hf:" in s for s in lines)  # no HF rows, no HF ratios


def test_floor_divides_by_the_median_bandwidth_of_its_round():
    """One process's outlier reading (the greedy row's 40 GB/s) does not set the floor: the round's median does, and
    rounds do not mix (round 2's readings are all 20 GB/s)."""
    results = {
        ("quiet", 1, 1): [_row(20.0, 500e6, 40e9), _row(30.0, 500e6, 20e9)],
        ("quiet", 1, 4): [_row(28.0, 600e6, 25e9), _row(40.0, 600e6, 20e9)],
        ("quiet", 8, 1): [_row(40.0, 900e6, 24e9), _row(60.0, 900e6, 20e9)],
        ("busy", 1, 1): [_row(30.0, 500e6, 10e9), _row(30.0, 500e6, 10e9)],  # another load: not in quiet's median
    }
    assert generation_tool.round_bandwidth(results, "quiet", 0) == {
        "median": 25e9,
        "readings": 3,
        "low": 24e9,
        "high": 40e9,
    }
    assert generation_tool.round_bandwidth(results, "quiet", 2) is None
    items = {(x["load"], x["backend"], x["ratio"]): x for x in generation_tool.summary(results)}
    floor = items[("quiet", "lib", "greedy step / bandwidth floor")]
    # floors: 500 MB / 25 GB/s = 20 ms, then 500 MB / 20 GB/s = 25 ms (the greedy row's own reading would give 12.5 ms)
    assert floor["rounds"] == pytest.approx([1.0, 1.2]) and floor["met"]
    assert [bw["median"] for bw in floor["round_bandwidths"]] == [25e9, 20e9]
    assert items[("busy", "lib", "greedy step / bandwidth floor")]["rounds"] == pytest.approx([0.6, 0.6])


def test_goals_judge_the_worst_round_and_the_batch_median():
    """Beam and floor goals hold on every round (the worst decides); batch 8 on the median of the rounds; busy rows
    carry no goal but their greedy step over the quiet one; each API and HF get their own items."""
    results = {
        ("quiet", 1, 1): [_row(20.0, 500e6, 35e9), _row(20.0, 500e6, 35e9), _row(20.0, 500e6, 35e9)],
        ("quiet", 1, 4): [_row(28.0), _row(32.0), _row(26.0)],  # 1.4, 1.6, 1.3: the worst round misses
        ("quiet", 8, 1): [_row(40.0), _row(50.0), _row(45.0)],  # 4.0, 3.2, 3.56: the median meets 3.5
        ("busy", 1, 1): [_row(30.0), _row(26.0), _row(40.0)],
    }
    for runs in results.values():
        for row in runs:
            row["cli"] = dict(row["lib"], ms_per_token=row["lib"]["ms_per_token"] * 0.5)
            row["hf"] = {"ms_per_token": 2 * row["lib"]["ms_per_token"]}
    items = {(x["load"], x["backend"], x["ratio"]): x for x in generation_tool.summary(results)}
    beam = items[("quiet", "lib", "beam-4 step / greedy step")]
    assert beam["worst"] == pytest.approx(1.6) and beam["median"] == pytest.approx(1.4) and beam["met"] is False
    batch = items[("quiet", "lib", "batch-8 new tokens/s / batch-1")]
    assert batch["median"] == pytest.approx(8 * 20 / 45) and batch["worst"] == pytest.approx(3.2) and batch["met"]
    floor = items[("quiet", "lib", "greedy step / bandwidth floor")]
    assert floor["worst"] == pytest.approx(20 / (1000 * 500e6 / 35e9)) and floor["met"]
    busy = items[("busy", "lib", "greedy step / quiet greedy step")]
    assert busy["rounds"] == pytest.approx([1.5, 1.3, 2.0]) and "goal" not in busy
    assert items[("quiet", "cli", "beam-4 step / greedy step")]["worst"] == pytest.approx(1.6)
    assert "goal" not in items[("quiet", "hf", "beam-4 step / greedy step")]
    assert ("quiet", "hf", "greedy step / bandwidth floor") not in items  # HF rows have no floor


def test_summary_median_over_rounds_and_failed_rounds_left_out():
    results = {
        ("busy", 1, 1): [_row(10.0), _row(10.0), {"lib": {"error": "timed out"}}, _row(10.0)],
        ("busy", 1, 4): [_row(12.0), _row(30.0), _row(14.0), _row(13.0)],
    }
    line = next(s for s in generation_tool.summary_lines(results) if "beam-4" in s)
    # rounds 1, 2 and 4 (round 3's greedy failed): 1.2, 3.0, 1.3 -> median 1.3
    assert line.strip() == "busy     lib: beam-4 step / greedy step = 1.30x, worst 3.00x (rounds: 1.20, 3.00, 1.30)"


def test_repeat_runs_interleaved_rounds(capsys, monkeypatch):
    order = []

    def fake_row(
        seq_len,
        new_tokens,
        nb,
        size,
        hf_python,
        hf_threads=None,
        batch=1,
        threads=None,
        checkpoint=None,
        breakdown=False,
        apis=("library",),
    ):
        order.append((batch, nb))
        slow = 1 + (len(order) - 1) // 2  # each round slower than the one before: the ratios stay 2.00
        return {
            "lib": {"ms_per_token": 10.0 * nb * slow, "first_step_s": 1.0, "total_s": 2.0, "peak_rss_bytes": 1e9},
        }

    monkeypatch.setattr(generation_tool, "generation_ms_per_token", fake_row)
    assert (
        generation_tool.main(
            ["--size", "tiny", "--seq-len", "32", "--new-tokens", "3", "--rows", "1x1,1x2", "--repeat", "3"]
        )
        == 0
    )
    assert order == [(1, 1), (1, 2)] * 3  # round after round, not one row three times then the other
    out = capsys.readouterr().out
    assert "beam-2 step / greedy step = 2.00x, worst 2.00x (rounds: 2.00, 2.00, 2.00)" in out


def test_repeat_out_of_range_is_a_one_line_error(capsys):
    for bad in ("0", "-1", "101"):
        try:
            generation_tool.main(["--size", "tiny", "--repeat", bad])
        except SystemExit as exc:
            assert exc.code == 2
        else:
            raise AssertionError(f"--repeat {bad} accepted")
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "--repeat must be between 1 and 100" in err and bad in err


def test_json_has_every_row_per_api_and_the_summary(tmp_path):
    import json

    path = tmp_path / "gen.json"
    argv = ["--size", "tiny", "--seq-len", "32", "--new-tokens", "3", "--rows", "1x1,1x2", "--api", "library,cli"]
    assert generation_tool.main(argv + ["--json", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert doc["command"].startswith("python -m tools.bench.generation --size tiny") and doc["date_utc"]
    assert [(r["api"], r["batch"], r["beams"]) for r in doc["rows"]] == [
        ("library", 1, 1),
        ("cli", 1, 1),
        ("library", 1, 2),
        ("cli", 1, 2),
    ]
    assert all(r["data"]["ms_per_token"] > 0 and "sequences" not in r["data"] for r in doc["rows"])
    ratios = {(x["backend"], x["ratio"]) for x in doc["summary"]}
    assert {("lib", "beam-2 step / greedy step"), ("cli", "beam-2 step / greedy step")} <= ratios
