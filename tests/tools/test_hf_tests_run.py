"""tools/hf_tests/run.py: the import rewrite, the junit reading and the summary, on synthetic sources and files
(neither transformers nor HF's test code is needed)."""

import ast

from tools.hf_tests import run

SOURCE = """import os
from transformers import LEDConfig, is_torch_available
from transformers.testing_utils import require_torch

if is_torch_available():
    from transformers import (
        MODEL_FOR_QUESTION_ANSWERING_MAPPING,
        LEDModel,
        LEDTokenizer as Tok,
    )
    from transformers.models.led.modeling_led import LEDEncoder
from .other import LEDModel as NotHF
"""


def test_rewrite_points_led_names_at_led_ref_and_keeps_the_rest():
    table = {
        "LEDConfig": "led_ref.export.hf_models",
        "LEDModel": "led_ref.export.hf_models",
        "LEDTokenizer": "led_ref",
        "LEDEncoder": "led_ref.export.hf_models",
    }
    new, names = run.rewrite_imports(SOURCE, table)
    ast.parse(new)  # still valid Python, indentation under `if` kept
    assert sorted(names) == ["LEDConfig", "LEDEncoder", "LEDModel", "LEDTokenizer"]
    assert "from transformers import is_torch_available\n" in new
    assert "from led_ref.export.hf_models import LEDConfig  # hf_tests: was transformers\n" in new
    assert "    from transformers import MODEL_FOR_QUESTION_ANSWERING_MAPPING\n" in new
    assert "    from led_ref.export.hf_models import LEDModel  # hf_tests: was transformers\n" in new
    assert "    from led_ref import LEDTokenizer as Tok  # hf_tests: was transformers\n" in new
    assert "    from led_ref.export.hf_models import LEDEncoder  # hf_tests: was transformers.models.led" in new
    assert "from .other import LEDModel as NotHF\n" in new  # a relative import is not HF's: untouched
    assert "from transformers.testing_utils import require_torch\n" in new


def test_rewrite_leaves_a_source_without_led_imports_unchanged():
    src = "from transformers import BatchEncoding\nimport torch\n"
    assert run.rewrite_imports(src) == (src, [])


def test_the_default_table_points_the_model_names_at_hf_models():
    for name in ("LEDConfig", "LEDModel", "LEDForConditionalGeneration", "LEDEncoder", "LEDPreTrainedModel"):
        assert run.LED_NAMES[name] == "led_ref.export.hf_models"


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.models.led.test_modeling_led.LEDModelTest" name="test_a"/>
<testcase classname="tests.models.led.test_modeling_led.LEDModelTest" name="test_b">
  <failure message="AssertionError: 1 != 2&#10;second line">trace</failure></testcase>
<testcase classname="tests.models.led.test_modeling_led.LEDModelTest" name="test_c">
  <skipped message="no GPU"/></testcase>
</testsuite></testsuites>
"""


def test_read_junit_and_summarise(tmp_path, capsys):
    path = tmp_path / "r.xml"
    path.write_text(JUNIT)
    results = run.read_junit(str(path))
    assert results["test_modeling_led::LEDModelTest::test_a"] == ("passed", "")
    assert results["test_modeling_led::LEDModelTest::test_b"] == ("failed", "AssertionError: 1 != 2")
    assert results["test_modeling_led::LEDModelTest::test_c"][0] == "skipped"
    control = dict(results)
    control["test_modeling_led::LEDModelTest::test_b"] = ("passed", "")
    assert run.summarise("modeling", control, results) == (2, 1)  # HF passes a and b; led-ref passes a
    out = capsys.readouterr().out
    assert "led-ref passes 1 of the 2 tests HF passes (50.0%)" in out
    assert "FAIL LEDModelTest::test_b [failed] AssertionError: 1 != 2" in out


def test_one_line_message():
    assert run._one_line("\n  E   first\nsecond") == "E   first"
    assert len(run._one_line("x" * 500)) == 220
