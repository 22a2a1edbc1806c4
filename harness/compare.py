"""The one comparison function: shape, then dtype, then values, with a report that says where and how far.

Modelled on torch.testing.assert_close, but it never stops at the first problem and always returns the
full picture: max abs/rel error, mismatch count, the worst index with both values, the tolerance used and
the smallest atol that would have passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def to_numpy(value: Any) -> np.ndarray:
    """A numpy view of a numpy array, a (nested) list or number, or a torch tensor."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(value, dtype=np.float64)


@dataclass
class Comparison:
    name: str
    passed: bool
    reason: str | None  # None when passed; "shape", "dtype", "nonfinite" or "values"
    atol: float
    rtol: float
    shape_actual: tuple = ()
    shape_expected: tuple = ()
    dtype_actual: str = ""
    dtype_expected: str = ""
    numel: int = 0
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    mismatched: int = 0
    worst_index: tuple | None = None
    actual_at_worst: float | None = None
    expected_at_worst: float | None = None
    min_atol_to_pass: float = 0.0  # the smallest atol that passes at this rtol
    extra: dict = field(default_factory=dict)

    @property
    def mismatched_pct(self) -> float:
        return 100.0 * self.mismatched / self.numel if self.numel else 0.0

    def summary(self) -> str:
        """One line: verdict, errors, where."""
        verdict = "OK  " if self.passed else "FAIL"
        if self.reason == "shape":
            return f"{verdict} {self.name}: shape {self.shape_actual} != expected {self.shape_expected}"
        if self.reason == "dtype":
            return f"{verdict} {self.name}: dtype {self.dtype_actual} != expected {self.dtype_expected}"
        where = ""
        if not self.passed and self.worst_index is not None:
            where = f" worst at {self.worst_index}: {self.actual_at_worst!r} vs {self.expected_at_worst!r}"
        return (f"{verdict} {self.name}: max abs {self.max_abs_err:.3g}, max rel {self.max_rel_err:.3g}, "
                f"{self.mismatched}/{self.numel} mismatched (atol {self.atol:g}, rtol {self.rtol:g}){where}")

    def report(self) -> str:
        """The multi-line report, in assert_close's words plus the tolerance that would have passed."""
        if self.passed:
            return self.summary()
        lines = [f"{self.name}: tensors are not close ({self.reason})"]
        if self.reason == "shape":
            lines.append(f"  shape: actual {self.shape_actual}, expected {self.shape_expected}")
            return "\n".join(lines)
        if self.reason == "dtype":
            lines.append(f"  dtype: actual {self.dtype_actual}, expected {self.dtype_expected}")
            return "\n".join(lines)
        lines += [
            f"  Mismatched elements: {self.mismatched} / {self.numel} ({self.mismatched_pct:.1f}%)",
            f"  Greatest absolute difference: {self.max_abs_err:.6g} (up to {self.atol:g} allowed)",
            f"  Greatest relative difference: {self.max_rel_err:.6g} (up to {self.rtol:g} allowed)",
            f"  Worst element at index {self.worst_index}: actual {self.actual_at_worst!r}, expected {self.expected_at_worst!r}",
        ]
        if self.reason == "nonfinite":
            lines.append("  actual holds NaN or Inf where expected is finite")
        elif np.isfinite(self.min_atol_to_pass):
            lines.append(f"  Would pass with atol >= {self.min_atol_to_pass:.3g} at rtol {self.rtol:g}")
        return "\n".join(lines)


def compare(actual: Any, expected: Any, *, atol: float, rtol: float, name: str = "tensor",
            check_dtype: bool = False) -> Comparison:
    """Compare two tensors elementwise: |actual - expected| <= atol + rtol * |expected|, NaN/Inf fail."""
    a, e = to_numpy(actual), to_numpy(expected)
    result = Comparison(name=name, passed=False, reason=None, atol=atol, rtol=rtol,
                        shape_actual=tuple(a.shape), shape_expected=tuple(e.shape),
                        dtype_actual=str(a.dtype), dtype_expected=str(e.dtype), numel=int(e.size))
    if a.shape != e.shape:
        result.reason = "shape"
        return result
    if check_dtype and a.dtype != e.dtype:
        result.reason = "dtype"
        return result
    if e.size == 0:
        result.passed = True
        return result
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(a64 - e64)
        same_nonfinite = (a64 == e64) | (np.isnan(a64) & np.isnan(e64))  # inf == inf, nan where expected nan
        diff = np.where(same_nonfinite & ~np.isfinite(e64), 0.0, diff)
        diff = np.where(np.isnan(diff), np.inf, diff)
        allowed = atol + rtol * np.abs(e64)
        bad = diff > allowed
        rel = np.where(diff == 0, 0.0, diff / np.abs(e64))
        excess = np.where(np.isinf(diff), np.inf, diff / np.maximum(allowed, np.finfo(np.float64).tiny))
        excess = np.nan_to_num(excess, nan=0.0, posinf=np.inf)  # a NaN matched by NaN is not the worst element
    flat_worst = int(np.argmax(excess))
    worst = np.unravel_index(flat_worst, e.shape)
    result.worst_index = tuple(int(i) for i in worst)
    result.actual_at_worst = float(a64[worst])
    result.expected_at_worst = float(e64[worst])
    result.max_abs_err = float(diff.max())
    result.max_rel_err = float(rel.max())
    result.mismatched = int(bad.sum())
    with np.errstate(invalid="ignore"):
        result.min_atol_to_pass = float(max(0.0, np.max(diff - rtol * np.abs(e64))))
    result.passed = result.mismatched == 0
    if not result.passed:
        result.reason = "nonfinite" if not np.all(np.isfinite(a64[np.isfinite(e64)])) else "values"
    return result


def assert_match(actual: Any, expected: Any, *, dtype: str, tensor: str, name: str | None = None,
                 check_dtype: bool = False) -> Comparison:
    """Compare with the tolerance table's entry for (dtype, tensor); raise AssertionError with the report."""
    from lenet_parity.harness.tolerances import tolerance

    tol = tolerance(dtype, tensor)
    result = compare(actual, expected, atol=tol.atol, rtol=tol.rtol, name=name or tensor, check_dtype=check_dtype)
    if not result.passed:
        raise AssertionError(result.report())
    return result
