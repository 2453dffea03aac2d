"""led_ref.tolerances: the one error metric and tolerance table every comparison uses."""

import numpy as np
import pytest

from led_ref.tolerances import TOLERANCE, relative_error, tolerance, within_tolerance


def test_relative_error_is_absolute_below_one_and_relative_above():
    ref = np.array([[4.0, -2.0], [0.5, 0.0]])
    assert relative_error(ref, ref) == 0.0
    assert relative_error(ref + [[0, 0], [0, 0.02]], ref) == pytest.approx(0.02 / 4.0)
    small = np.full(3, 0.1)  # scale below 1: the error is absolute
    assert relative_error(small + 1e-3, small) == pytest.approx(1e-3)
    assert relative_error(np.zeros((2, 0)), np.zeros((2, 0))) == 0.0
    assert relative_error([np.nan, 1.0], [0.0, 1.0]) == float("inf")
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(ref, ref[0])


def test_tolerance_table():
    assert tolerance(np.float32) == TOLERANCE["float32"] == 2e-4
    assert tolerance("float64") == TOLERANCE["float64"] == 1e-9
    assert tolerance(np.dtype(np.float16)) == TOLERANCE["float16"] == 2e-2
    with pytest.raises(ValueError, match="no tolerance for dtype int64"):
        tolerance(np.int64)
    ref = np.ones(4, np.float32)
    assert within_tolerance(ref + 1e-4, ref, np.float32)
    assert not within_tolerance(ref + 1e-3, ref, np.float32)
