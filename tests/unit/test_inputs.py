"""led_ref.inputs: the input rules and checks every backend shares."""

import numpy as np
import pytest

import led_ref
from led_ref import inputs, model
from led_ref.inputs import InputTypeError, MaskKind


def test_mask_kinds_and_merge():
    assert (MaskKind.PADDING, MaskKind.LOCAL, MaskKind.GLOBAL) == (0, 1, 2)
    att = np.array([[1, 1, 1, 0, 0]])
    glob = np.array([[1, 0, 1, 1, inputs.GLOBAL_MASK_PAD]])
    np.testing.assert_array_equal(inputs.merge_masks(att, glob), [[2, 1, 2, 0, 0]])
    np.testing.assert_array_equal(inputs.merge_masks(att), att)


@pytest.mark.parametrize("length, window, padded", [(1, 4, 4), (4, 4, 4), (5, 4, 8), (1023, 1024, 1024), (7, 6, 12)])
def test_padded_length(length, window, padded):
    assert inputs.padded_length(length, window) == padded
    assert inputs.encoder_padded_length(length, window, padded) == padded
    with pytest.raises(ValueError, match=f"exceeds max_encoder_position_embeddings={padded - 1}"):
        inputs.encoder_padded_length(length, window, padded - 1)


def test_positions_and_shift_tokens_right_have_one_home():
    np.testing.assert_array_equal(inputs.position_ids(3, 4), [4, 5, 6])
    assert model.shift_tokens_right is inputs.shift_tokens_right is led_ref.shift_tokens_right
    np.testing.assert_array_equal(inputs.shift_tokens_right(np.array([[5, -100, 7]]), 1, 2), [[2, 5, 1]])


def test_checks_name_the_argument_and_wrong_dtype_is_both_error_types():
    with pytest.raises(TypeError, match="input_ids must be an integer array"):
        inputs.token_ids("input_ids", np.ones((1, 2)), 10)
    with pytest.raises(ValueError, match="input_ids must be an integer array"):
        inputs.token_ids("input_ids", np.ones((1, 2)), 10)
    assert issubclass(InputTypeError, TypeError) and issubclass(InputTypeError, ValueError)
    with pytest.raises(ValueError, match=r"global_attention_mask values must be in \[-1, 0, 1\], got 5"):
        inputs.encoder_inputs(np.ones((1, 2), np.int64), None, np.array([[0, 5]]), 10)
    ids, att, glob = inputs.encoder_inputs(np.ones((1, 2), np.int32), np.array([[1.0, 0.0]]), None, 10)
    assert ids.dtype == att.dtype == np.int64 and glob is None
    with pytest.raises(
        ValueError,
        match=r"attention_mask must have shape \(2, 3\), the \(batch, length\) of "
        r"encoder_hidden_states",
    ):
        inputs.cross_attention_mask(np.ones((2, 4)), (2, 3, 8))


@pytest.mark.parametrize(
    "bad",
    [
        dict(attention_mask=np.array([[1, 2, 1]])),
        dict(attention_mask=np.array([[1, -1, 1]])),
        dict(global_attention_mask=np.array([[5, 0, 0]])),
        dict(input_ids=np.array([5, 6, 7])),
        dict(input_ids=np.array([[5, 6, 40]])),
        dict(input_ids=np.array([[5.0, 6.0, 7.0]])),
    ],
)
def test_numpy_model_and_generate_reject_the_same_input_with_the_same_message(bad):
    """Without the export extra too (the ONNX Runtime backend joins in tests/export/test_export.py)."""
    from tests.testlib import tiny_model

    model = tiny_model("lm", np.float32)
    kw = {"input_ids": np.array([[5, 6, 7]]), **bad}
    errors = []
    for call in (
        lambda: model(**kw),
        lambda: model.generate(
            kw["input_ids"], kw.get("attention_mask"), kw.get("global_attention_mask"), max_new_tokens=2
        ),
    ):
        with pytest.raises(ValueError) as info:
            call()
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]
