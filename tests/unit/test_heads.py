"""led_ref.heads: the one head registry agrees with the classes and parameter layouts built from it."""

import pytest

from led_ref import model as M
from led_ref.config import LEDConfig
from led_ref.heads import DEFAULT_HEAD, HEADS, get_head, head_for_architecture, head_of_config
from led_ref.weights import parameter_shapes
from tests.testlib import TINY


@pytest.mark.parametrize("key", list(HEADS))
def test_registry_entry_matches_numpy_class_and_parameters(key):
    head = get_head(key)
    cls = M.model_class(key)
    assert cls.__name__ == head.numpy_class == head.hf_class
    assert cls.head == key
    config = LEDConfig(**TINY)
    own = set(parameter_shapes(config, key)) - set(parameter_shapes(config, "base"))
    assert own == set(head.parameters)
    assert head.onnx_outputs and len(set(head.onnx_outputs)) == len(head.onnx_outputs)


def test_architecture_lookup_and_errors():
    for key, head in HEADS.items():
        assert head_for_architecture(head.hf_class) == key
        assert head_of_config(LEDConfig(**TINY, architectures=["Other", head.hf_class])) == key
    assert head_of_config(LEDConfig(**TINY)) == DEFAULT_HEAD == "lm"
    with pytest.raises(ValueError, match="unknown LED architecture 'BartModel'"):
        head_for_architecture("BartModel")
    with pytest.raises(ValueError, match="head must be one of base, lm, seq_cls, qa, got 'cls'"):
        get_head("cls")
    with pytest.raises(ValueError, match="head must be one of"):
        M.model_class(None)
