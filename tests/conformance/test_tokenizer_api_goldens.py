"""Replay spec/goldens/tokenizer/api.json (HF transformers 4.46.3's LEDTokenizer / LEDTokenizerFast running HF API
scenarios: init keywords, add_tokens / add_special_tokens, special-token setters, text_target, pad_to_max_length,
word_ids / sequence_ids, truncation edge cases, save_pretrained) on led_ref's classes, and on the transformers
subclasses of led_ref.export.hf_tokenizers where transformers is installed: every step must give HF's result, or
raise HF's kind of error."""

import json

import pytest

from led_ref.tokenizer import AddedToken, LEDTokenizer, LEDTokenizerFast
from tests.conformance.tokenizer_api import hf_tokenizers, run_scenario, same_outcome
from tests.testlib import DATA, GOLDENS

API = json.loads((GOLDENS / "tokenizer" / "api.json").read_text(encoding="utf-8"))
CASES = [(s["name"], cls) for s in API["scenarios"] for cls in ("slow", "fast")]


def family(name):
    """(classes by "slow"/"fast", AddedToken class) of led_ref's tokenizers or of the transformers subclasses."""
    if name == "led_ref":
        return {"slow": LEDTokenizer, "fast": LEDTokenizerFast}, AddedToken
    hf = hf_tokenizers()
    return {"slow": hf.LEDTokenizer, "fast": hf.LEDTokenizerFast}, hf.AddedToken


def test_goldens_meta():
    assert API["meta"]["transformers"] == "4.46.3"
    assert len(API["scenarios"]) >= 30 and sum(len(s["steps"]) for s in API["scenarios"]) > 200


@pytest.mark.parametrize("family_name", ["led_ref", "hf_subclass"])
@pytest.mark.parametrize("name,cls", CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_scenario(family_name, name, cls):
    scenario = next(s for s in API["scenarios"] if s["name"] == name)
    classes, added_token = family(family_name)
    init = dict(scenario.get("init", {}))
    if cls == "slow":
        init.pop("trim_offsets", None)
    klass = classes[cls]
    got = run_scenario(
        lambda **kw: klass(DATA / "vocab.json", DATA / "merges.txt", **kw), dict(scenario, init=init), added_token
    )
    expected = scenario[cls]
    steps = [["init"], *scenario["steps"]]
    wrong = [
        f"step {i} {json.dumps(steps[i])[:120]}:\n    HF:  {json.dumps(e)[:400]}\n    got: {json.dumps(g)[:400]}"
        for i, (g, e) in enumerate(zip(got, expected))
        if not same_outcome(g, e)
    ]
    assert len(got) == len(expected) and not wrong, "\n".join(wrong)
