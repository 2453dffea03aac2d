"""The generation benchmark's per-part breakdown (``--breakdown``): bytes that add up to the step's, and part times
measured on the decoding steps the ms/step counts."""

import re

import numpy as np

from led_ref.app.benchmarks import generation
from led_ref.config import LEDConfig
from led_ref.weights import init_params


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
    weights = sum(a.nbytes for k, a in layer_arrays.items() if "encoder_attn.k_proj" not in k
                  and "encoder_attn.v_proj" not in k)
    keys_values = sum(lengths) * 2 * config.decoder_layers * config.d_model * 4
    assert sum(parts.values()) == weights + parts["LM head"] + keys_values
    assert parts["rest"] == sum(a.nbytes for k, a in layer_arrays.items() if "layer_norm" in k)
    d, layers = config.d_model, config.decoder_layers
    assert parts["LM head"] == params["lm_head"]["weight"].nbytes + params["final_logits_bias"].nbytes
    # cross-attention: q/out projections of every layer plus every input's keys and values
    qo = sum(params["decoder"]["layers"][i]["encoder_attn"][n]["weight"].nbytes
             + params["decoder"]["layers"][i]["encoder_attn"][n]["bias"].nbytes
             for i in range(layers) for n in ("q_proj", "out_proj"))
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
    assert generation.main(["--size", "tiny", "--seq-len", "32", "--new-tokens", "3", "--rows", "1x1",
                            "--breakdown"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "ms/step by part" in l)
    for part in generation.PARTS:
        assert re.search(re.escape(part) + r" [0-9.]+ \([0-9.]+ MB, [0-9.]+ GB/s\)", line), (part, line)
    assert np.isfinite(float(line.rsplit("rest ", 1)[1]))
