"""generate() of led_ref's NumPy LEDForConditionalGeneration against HF transformers 4.46.3 goldens.

Goldens: spec/goldens/generation (made by spec/make_generation_goldens.py; see its meta.json). Sequences must match
token for token; scores / sequences_scores at 1e-4 (float32).
"""

import json
import os

import numpy as np
import pytest

from led_ref.generation import GenerationConfig, generate
from tests.testlib import GOLDENS

GOLDEN = str(GOLDENS / "generation")
CASES = json.load(open(os.path.join(GOLDEN, "cases.json")))
INPUTS = dict(np.load(os.path.join(GOLDEN, "inputs.npz")))
OUTPUTS = dict(np.load(os.path.join(GOLDEN, "outputs.npz")))
_MODELS = {}


def load(name, dtype=np.float32):
    from led_ref.model import LEDForConditionalGeneration

    key = (name, np.dtype(dtype).name)
    if key not in _MODELS:
        _MODELS[key] = LEDForConditionalGeneration.from_pretrained(os.path.join(GOLDEN, "models", name), dtype=dtype)
    return _MODELS[key]


def checkpoint_config(name):
    """The defaults HF from_pretrained gives this checkpoint (generation_config.json, else config.json)."""
    return GenerationConfig.for_model(os.path.join(GOLDEN, "models", name))


def run_case(case, dtype=np.float32, **extra):
    model = load(case["model"], dtype)
    glob = INPUTS["global_attention_mask"] if case["global_attention_mask"] else None
    kwargs = dict(case["kwargs"], **extra)  # checkpoint defaults: model.generation_config, as in HF
    return generate(
        model,
        INPUTS["input_ids"],
        INPUTS["attention_mask"],
        glob,
        return_dict_in_generate=True,
        output_scores=True,
        **kwargs,
    )


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "no_cache"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_generate_matches_hf(case, use_cache):
    res = run_case(case, use_cache=use_cache)
    name = case["name"]
    expected = OUTPUTS[f"{name}/sequences"]
    assert res.sequences.dtype == np.int64
    np.testing.assert_array_equal(res.sequences, expected)
    if "scores" in case["outputs"]:
        got, exp = np.stack(res.scores), OUTPUTS[f"{name}/scores"]
        assert got.shape == exp.shape
        if not use_cache and case["kwargs"].get("num_beams", 1) > 1:
            # rows of an input whose beams are all finished run on copies of row 0 (HF pads them with row index 0);
            # their scores then depend on the cache layout and are meaningless: compare the rows still searching.
            rows = _live_rows(case, res)
            got, exp = got[:, rows], exp[:, rows]
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(exp))
        fin = np.isfinite(exp)
        np.testing.assert_allclose(got[fin], exp[fin], rtol=0, atol=1e-4)
    if "sequences_scores" in case["outputs"]:
        np.testing.assert_allclose(res.sequences_scores, OUTPUTS[f"{name}/sequences_scores"], rtol=0, atol=1e-4)
        np.testing.assert_array_equal(res.beam_indices, OUTPUTS[f"{name}/beam_indices"])


def _live_rows(case, res):
    """Rows (batch * num_beams) of inputs that had not finished before the last step (HF's done flags)."""
    nb = case["kwargs"]["num_beams"]
    steps = len(res.scores)
    b = INPUTS["input_ids"].shape[0]
    keep = res.sequences.shape[0] // b
    alive = []
    for i in range(b):
        lengths = [int(np.sum(res.beam_indices[i * keep + j] >= 0)) for j in range(keep)]
        alive.append(max(lengths) >= steps)
    return np.repeat(np.array(alive), nb)


def test_float64_model_gives_the_same_tokens():
    """float64 end to end (led-ref's exactness mode) keeps HF's float32 tokens: the goldens' margins are >= 1e-3."""
    meta = json.load(open(os.path.join(GOLDEN, "meta.json")))
    for case in CASES:
        if case["name"] in ("greedy", "beam4", "beam4_lp0_nrs3", "greedy_processors", "defaults_config_json"):
            assert meta["min_top2_margin"][case["name"]] > 1e-3
            res = run_case(case, dtype=np.float64)
            np.testing.assert_array_equal(res.sequences, OUTPUTS[f"{case['name']}/sequences"])


def test_model_generate_method_and_plain_output():
    model = load("base")
    case = next(c for c in CASES if c["name"] == "beam4_lp0_nrs3")
    out = model.generate(
        INPUTS["input_ids"],
        attention_mask=INPUTS["attention_mask"],
        global_attention_mask=INPUTS["global_attention_mask"],
        **case["kwargs"],
    )
    assert isinstance(out, np.ndarray) and out.dtype == np.int64
    np.testing.assert_array_equal(out, OUTPUTS["beam4_lp0_nrs3/sequences"])
    assert out.shape[0] == INPUTS["input_ids"].shape[0] * case["kwargs"]["num_return_sequences"]
    greedy = model.generate(
        INPUTS["input_ids"],
        attention_mask=INPUTS["attention_mask"],
        global_attention_mask=INPUTS["global_attention_mask"],
        max_new_tokens=14,
        num_beams=1,
    )
    np.testing.assert_array_equal(greedy, OUTPUTS["greedy/sequences"])


def test_greedy_equals_manual_argmax_with_full_forward():
    """Greedy = argmax of the full (no cache) forward's last logits, step by step, pad after eos."""
    model = load("base")
    ids, mask, glob = INPUTS["input_ids"], INPUTS["attention_mask"], INPUTS["global_attention_mask"]
    dec = np.full((ids.shape[0], 1), 2, dtype=np.int64)
    done = np.zeros(ids.shape[0], dtype=bool)
    for _ in range(14):
        logits = model(
            input_ids=ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=dec, use_cache=False
        ).logits
        nxt = np.where(done, 1, np.argmax(logits[:, -1], axis=-1))
        dec = np.concatenate([dec, nxt[:, None]], axis=1)
        done |= nxt == 2
        if done.all():
            break
    np.testing.assert_array_equal(dec, OUTPUTS["greedy/sequences"])


def test_checkpoint_generation_config_is_used_by_from_pretrained():
    model = load("gencfg")
    assert model.generation_config == checkpoint_config("gencfg")
    assert model.generation_config.num_beams == 3 and model.generation_config.max_length == 15
    cfg_only = load("cfgjson").generation_config  # no generation_config.json: from config.json, like HF
    assert (cfg_only.num_beams, cfg_only.max_length, cfg_only.no_repeat_ngram_size) == (2, 13, 2)
