"""The one comparison function: verdicts and the numbers in its report."""

import numpy as np
import pytest

from lenet_parity.harness.compare import assert_match, compare
from lenet_parity.harness.tolerances import TABLE, tolerance


def test_pass_within_tolerance_and_report_numbers():
    e = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = e + np.array([[0, 1e-9], [0, 0]])
    r = compare(a, e, atol=1e-8, rtol=0, name="conv1.output")
    assert r.passed and r.reason is None and r.mismatched == 0
    assert r.max_abs_err == pytest.approx(1e-9)


def test_failure_names_worst_index_both_values_and_passing_atol():
    e = np.zeros((2, 3, 4))
    a = e.copy()
    a[1, 2, 3] = 0.5
    a[0, 0, 0] = 1e-3
    r = compare(a, e, atol=1e-5, rtol=1e-3, name="fc1.grad_weight")
    assert not r.passed and r.reason == "values" and r.mismatched == 2 and r.numel == 24
    assert r.worst_index == (1, 2, 3) and r.actual_at_worst == 0.5 and r.expected_at_worst == 0.0
    assert r.min_atol_to_pass == pytest.approx(0.5)
    text = r.report()
    assert "Mismatched elements: 2 / 24 (8.3%)" in text and "index (1, 2, 3)" in text
    assert "Would pass with atol >= 0.5" in text


def test_shape_then_dtype_then_values():
    assert compare(np.zeros(3), np.zeros(4), atol=1, rtol=1).reason == "shape"
    r = compare(np.zeros(3, np.float32), np.zeros(3), atol=1, rtol=1, check_dtype=True)
    assert r.reason == "dtype" and "float32" in r.report()
    assert compare(np.zeros(3, np.float32), np.zeros(3), atol=1, rtol=1).passed


def test_nan_and_inf_fail_even_with_huge_tolerance():
    e = np.ones(4)
    for bad in (np.nan, np.inf, -np.inf):
        a = e.copy()
        a[2] = bad
        r = compare(a, e, atol=1e30, rtol=1e30)
        assert not r.passed and r.reason == "nonfinite" and r.worst_index == (2,)


def test_matching_nan_and_inf_pass_and_do_not_mislead_the_report():
    e = np.array([np.nan, np.inf, 1.0, 2.0])
    a = np.array([np.nan, np.inf, 1.0, 2.5])
    r = compare(a, e, atol=1e-3, rtol=0)
    assert r.mismatched == 1 and r.worst_index == (3,)


def test_lists_and_torch_tensors_accepted():
    torch = pytest.importorskip("torch")
    r = compare(torch.tensor([1.0, 2.0], dtype=torch.float64), [1.0, 2.0], atol=0, rtol=0)
    assert r.passed


def test_assert_match_uses_the_table():
    tol = tolerance("float64", "grad_weight")
    assert_match(np.array([1.0 + tol.atol / 2]), np.array([1.0]), dtype="float64", tensor="grad_weight")
    with pytest.raises(AssertionError, match="grad_weight: tensors are not close"):
        assert_match(np.array([1.0 + 1e-6]), np.array([1.0]), dtype="float64", tensor="grad_weight")


def test_every_table_entry_has_a_reason_and_float64_is_tighter():
    for dtype, entries in TABLE.items():
        for kind, tol in entries.items():
            assert tol.reason and tol.atol >= 0 and tol.rtol >= 0, (dtype, kind)
    for kind in ("output", "grad_input", "grad_weight", "grad_bias", "loss"):
        assert TABLE["float64"][kind].atol < TABLE["float32"][kind].atol
    with pytest.raises(ValueError, match="no tolerances for dtype"):
        tolerance("float16", "output")
