"""The generation benchmark's per-part breakdown (``--breakdown``): bytes that add up to the step's, and part times
measured on the decoding steps the ms/step counts."""

import re

import numpy as np

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
    return {"numpy": numpy_side, "hf": None}


def test_summary_takes_each_ratio_within_a_round():
    # round 1 ran on a slow machine (every row 2x slower), round 2 on a fast one: within-round ratios are equal,
    # a ratio of a round-1 row over a round-2 row would not be
    results = {
        ("quiet", 1, 1): [_row(40.0, 500e6, 25e9), _row(20.0, 500e6, 50e9)],  # floor 20 ms, then 10 ms
        ("quiet", 1, 4): [_row(56.0), _row(28.0)],
        ("quiet", 8, 1): [_row(80.0), _row(40.0)],
    }
    lines = generation_tool.summary_lines(results)
    assert "quiet   numpy: greedy step / bandwidth floor = 2.00x (rounds: 2.00, 2.00)" in lines
    assert "quiet   numpy: beam-4 step / greedy step = 1.40x (rounds: 1.40, 1.40)" in lines
    assert "quiet   numpy: batch-8 new tokens/s / batch-1 = 4.00x (rounds: 4.00, 4.00)" in lines
    assert not any(" hf:" in s for s in lines)  # no HF rows, no HF ratios


def test_summary_median_over_rounds_and_failed_rounds_left_out():
    results = {
        ("busy", 1, 1): [_row(10.0), _row(10.0), {"numpy": {"error": "timed out"}}, _row(10.0)],
        ("busy", 1, 4): [_row(12.0), _row(30.0), _row(14.0), _row(13.0)],
    }
    line = next(s for s in generation_tool.summary_lines(results) if "beam-4" in s)
    # rounds 1, 2 and 4 (round 3's greedy failed): 1.2, 3.0, 1.3 -> median 1.3
    assert line.strip() == "busy   numpy: beam-4 step / greedy step = 1.30x (rounds: 1.20, 3.00, 1.30)"


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
    ):
        order.append((batch, nb))
        slow = 1 + (len(order) - 1) // 2  # each round slower than the one before: the ratios stay 2.00
        return {
            "numpy": {"ms_per_token": 10.0 * nb * slow, "first_step_s": 1.0, "total_s": 2.0, "peak_rss_bytes": 1e9},
            "hf": None,
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
    assert "beam-2 step / greedy step = 2.00x (rounds: 2.00, 2.00, 2.00)" in out


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
