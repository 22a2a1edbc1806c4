"""The one tolerance table: (atol, rtol) per dtype and tensor kind, each with its reason.

A value passes when |actual - expected| <= atol + rtol * |expected| (torch.testing.assert_close's rule).
``--atol/--rtol`` on the CLI override the table.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from lenet_parity.errors import UserInputError


class Tolerance(NamedTuple):
    atol: float
    rtol: float
    reason: str


TENSOR_KINDS = ("output", "grad_input", "grad_weight", "grad_bias", "loss", "running_mean", "running_var", "fd", "optim",
                "train_loss", "train_param", "repeat")

_FLOAT64_SUM = "float64: only summation order differs (eps 2.2e-16 times sqrt of up to ~2e3 terms); bugs are >1e-4"

TABLE: dict[str, dict[str, Tolerance]] = {
    "float64": {
        "output": Tolerance(1e-10, 1e-9, _FLOAT64_SUM),
        "grad_input": Tolerance(1e-10, 1e-9, _FLOAT64_SUM),
        # weight gradients sum over batch and every output pixel (4 * 24 * 24 = 2304 terms for conv1)
        "grad_weight": Tolerance(1e-10, 1e-9, _FLOAT64_SUM),
        "grad_bias": Tolerance(1e-10, 1e-9, _FLOAT64_SUM),
        "loss": Tolerance(1e-12, 1e-10, "float64: a mean of a few log-probabilities"),
        "running_mean": Tolerance(1e-10, 1e-9, _FLOAT64_SUM),
        "running_var": Tolerance(1e-10, 1e-9, _FLOAT64_SUM),
        # central differences with eps=1e-6: truncation ~eps^2 * f''' and cancellation ~1e-16/eps
        "fd": Tolerance(1e-6, 1e-5, "central finite differences, eps=1e-6: error ~1e-10 to 1e-7"),
        "optim": Tolerance(1e-12, 0.0, "optimiser update rules: the same few flops per element as torch"),
        # the train mode: rounding differences feed back through the weights step after step
        "train_loss": Tolerance(1e-10, 1e-9, "float64 after up to 20 SGD steps: measured <= 2.4e-14; bugs are >1e-4"),
        "train_param": Tolerance(1e-10, 1e-9, "float64 params/running stats after 20 SGD steps: measured <= 1.5e-13"),
        # the state mode: one layer's own result twice (a BLAS call may split a sum differently between calls)
        "repeat": Tolerance(1e-12, 1e-12, "float64: the same computation twice; only a stale value differs more"),
    },
    "float32": {
        # conv1 sums 25 products, fc1 256; float32 eps is 1.2e-7, and torch's kernels sum in another order
        "output": Tolerance(1e-5, 1e-4, "float32: different summation order over up to 2.4e3 terms"),
        "grad_input": Tolerance(1e-5, 1e-4, "float32: different summation order over up to 2.4e3 terms"),
        # a weight gradient sums over N * H_out * W_out products, the longest sums in the network
        "grad_weight": Tolerance(1e-4, 1e-4, "float32: sums over the batch and every output pixel"),
        "grad_bias": Tolerance(1e-4, 1e-4, "float32: sums over the batch and every output pixel"),
        "loss": Tolerance(1e-6, 1e-5, "float32: a mean of a few log-probabilities"),
        "running_mean": Tolerance(1e-5, 1e-4, "float32: a mean over N * H * W values"),
        "running_var": Tolerance(1e-5, 1e-4, "float32: a variance over N * H * W values"),
        "fd": Tolerance(1e-2, 1e-2, "finite differences in float32 are only a smoke test; use float64"),
        "optim": Tolerance(1e-6, 1e-5, "float32 rounding of the same update rule"),
        # 20 SGD steps compound float32 rounding through the weights: measured <= 4.8e-7 on losses ~2.5 and
        # <= 1.4e-6 on params/running stats (numpy backend); a real bug moves the loss by >1e-3 within a step
        "train_loss": Tolerance(1e-5, 1e-5, "float32 after up to 20 SGD steps: measured <= 4.8e-7 (loss ~2.5)"),
        "train_param": Tolerance(1e-5, 1e-4, "float32 params/running stats after 20 SGD steps: measured <= 1.4e-6"),
        "repeat": Tolerance(1e-5, 1e-5, "float32: the same computation twice; only a stale value differs more"),
    },
}


def tolerance(dtype: str, tensor: str) -> Tolerance:
    """The (atol, rtol) for a tensor kind in a dtype; ``grad_<param>`` of other params uses grad_weight's."""
    dtype = str(dtype).replace("torch.", "")
    if dtype not in TABLE:
        raise ValueError(f"no tolerances for dtype {dtype!r}; known: {sorted(TABLE)}")
    table = TABLE[dtype]
    if tensor in table:
        return table[tensor]
    if tensor.startswith("grad_"):
        return table["grad_weight"]
    raise ValueError(f"no tolerance for tensor kind {tensor!r}; known: {TENSOR_KINDS}")


def override(atol: float | None, rtol: float | None) -> Tolerance | None:
    """``--atol``/``--rtol`` as one Tolerance for every tensor (None when neither is given); both are needed,
    finite and non-negative (a NaN tolerance would let every comparison pass)."""
    if atol is None and rtol is None:
        return None
    if atol is None or rtol is None:
        raise UserInputError("give both --atol and --rtol (they replace the tolerance table together), or neither")
    if not (math.isfinite(atol) and math.isfinite(rtol) and atol >= 0 and rtol >= 0):
        raise UserInputError(f"--atol and --rtol must be finite and >= 0, got {atol} and {rtol}")
    return Tolerance(atol, rtol, "--atol/--rtol on the command line")
