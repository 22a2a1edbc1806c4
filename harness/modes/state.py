"""The state mode: side effects and state of each layer alone, on its Phase 0 case (no torch at check time).

Each check is its own row with its own failure text, reported at the layer itself:
- ``dtype``: the output has the input's dtype, each gradient its param's (float32 in, float32 out);
- ``input_unchanged``: forward leaves its input as it was (an in-place ReLU does not);
- ``dy_unchanged``: backward leaves the upstream gradient as it was;
- ``latest_input``: after two forwards, backward uses the second input (no stale cache);
- ``grads_overwritten``: a second forward and backward on the same input gives the same gradients, not twice
  them (each backward overwrites ``grads``);
- ``deterministic``: the same input twice gives the same output.
The layer is its own reference here (a fresh instance, one call each), so these rows say nothing of whether its
numbers are torch's: the snapshot mode says that.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from lenet_parity.harness import guard
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_case import TRAINING_KINDS, Case
from lenet_parity.harness.modes.snapshot import snapshot_case
from lenet_parity.harness.results import CheckResult
from lenet_parity.harness.tolerances import tolerance
from lenet_parity.reference.layers import LayerSpec
from lenet_parity.vocabulary import STATE, STATE_CHECKS

CHECKS = STATE_CHECKS


class _Layer:
    """A fresh layer loaded with the case's params and mask, its calls in numpy terms (None for "no result")."""

    def __init__(self, spec: LayerSpec, case: Case, context: CheckContext):
        self.case, self.dtype = case, context.dtype
        self.layer, self.kind = guard.build(context.make_layer, spec)
        if spec.kind in TRAINING_KINDS:
            guard.set_attr(self.layer, "training", True)
        guard.load_params(self.layer, case.params, self.kind, self.dtype)
        if case.mask is not None:
            guard.set_attr(self.layer, "mask", guard.to_layer(case.mask, self.kind, self.dtype))
        self.params = list(case.params)

    def inputs(self, x: np.ndarray) -> list:
        args = [guard.to_layer(x, self.kind, self.dtype)]
        if self.case.targets is not None:
            args.append(guard.targets_to_layer(self.case.targets, self.kind))
        return args

    def forward(self, args: list) -> Any:
        return guard.call(self.layer, "forward", *args)

    def backward(self, dy: Any) -> Any:
        return guard.call(self.layer, "backward", *([] if dy is None else [dy]))

    def grads(self) -> dict[str, np.ndarray]:
        trainable = [k for k in self.params if k in ("weight", "bias")]
        return {k: guard.read_grad(self.layer, k, self.dtype) for k in trainable}

    def what(self, method: str) -> str:
        """``ReLU.backward()``: how reports name a call."""
        return f"{type(self.layer).__name__}.{method}()"

    def upstream(self) -> Any:
        return None if self.case.dy is None else guard.to_layer(self.case.dy, self.kind, self.dtype)


def _same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _close(a: Any, b: Any, dtype: str) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    atol, rtol, _ = tolerance(dtype, "repeat")
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _dtype_of(value: Any) -> str | None:
    return str(value.dtype) if isinstance(value, np.ndarray) else None  # lists of floats have no dtype to keep


def check_dtype(make: Callable[[], _Layer], x: np.ndarray) -> str | None:
    layer = make()
    y = layer.forward(layer.inputs(x))
    if layer.kind == "numpy" and (got := _dtype_of(y)) not in (None, layer.dtype):
        return f"forward returned {got} for a {layer.dtype} input (keep the input's dtype: float32 in, float32 out)"
    dx = layer.backward(layer.upstream())
    if layer.kind == "numpy" and (got := _dtype_of(dx)) not in (None, layer.dtype):
        return f"backward returned a {got} dx for a {layer.dtype} dy (keep the input's dtype)"
    for key in [k for k in layer.params if k in ("weight", "bias")]:
        grad = (getattr(layer.layer, "grads", None) or {}).get(key)
        if layer.kind == "numpy" and (got := _dtype_of(grad)) not in (None, layer.dtype):
            return f"grads[{key!r}] is {got} for {layer.dtype} params (keep the params' dtype)"
    return None


def check_input_unchanged(make: Callable[[], _Layer], x: np.ndarray) -> str | None:
    layer = make()
    args = layer.inputs(x)
    kept = copy.deepcopy(args[0])
    layer.forward(args)
    if not _same(args[0], kept):
        return "forward changed its input in place (e.g. x[x < 0] = 0, np.maximum(x, 0, out=x)): the layer before " \
               "it, and autograd, still need it; compute into a new array"
    return None


def check_dy_unchanged(make: Callable[[], _Layer], x: np.ndarray) -> str | None:
    layer = make()
    dy = layer.upstream()
    if dy is None:
        return None  # a loss has no upstream gradient
    kept = copy.deepcopy(dy)
    layer.forward(layer.inputs(x))
    layer.backward(dy)
    if not _same(dy, kept):
        return "backward changed dy in place (e.g. dy[x <= 0] = 0): the upstream gradient belongs to the caller; " \
               "compute dx into a new array"
    return None


def check_latest_input(make: Callable[[], _Layer], x: np.ndarray) -> str | None:
    other = x[::-1].copy() * 0.5 + 0.25  # another batch of the same shape
    fresh = make()
    fresh.forward(fresh.inputs(x))
    want = guard.from_layer(fresh.backward(fresh.upstream()), fresh.dtype, fresh.what("backward"))
    layer = make()
    layer.forward(layer.inputs(other))
    layer.forward(layer.inputs(x))
    got = guard.from_layer(layer.backward(layer.upstream()), layer.dtype, layer.what("backward"))
    if not _close(got, want, layer.dtype):
        return "after forward(x1), forward(x2), backward(dy) used x1: the cache must hold the latest forward's " \
               "input (a stale self.x, or a cache set only on the first call)"
    grads_fresh, grads = fresh.grads(), layer.grads()
    for key in grads_fresh:
        if not _close(grads[key], grads_fresh[key], layer.dtype):
            return f"after forward(x1), forward(x2), backward(dy), grads[{key!r}] used x1: the cache must hold the " \
                   f"latest forward's input"
    return None


def check_grads_overwritten(make: Callable[[], _Layer], x: np.ndarray) -> str | None:
    layer = make()
    if not [k for k in layer.params if k in ("weight", "bias")]:
        return None
    layer.forward(layer.inputs(x))
    layer.backward(layer.upstream())
    first = layer.grads()
    layer.forward(layer.inputs(x))
    layer.backward(layer.upstream())
    second = layer.grads()
    for key, g1 in first.items():
        if _close(second[key], g1, layer.dtype):
            continue
        ratio = float(np.vdot(second[key], g1) / max(np.vdot(g1, g1), 1e-300))
        twice = " (twice the first: they accumulate; assign self.grads[...] = ..., do not add)" if abs(ratio - 2) < 1e-3 else ""
        return f"a second forward and backward on the same input gave other grads[{key!r}]{twice}"
    return None


def check_deterministic(make: Callable[[], _Layer], x: np.ndarray) -> str | None:
    layer = make()
    y1 = guard.from_layer(layer.forward(layer.inputs(x)), layer.dtype, layer.what("forward"))
    y2 = guard.from_layer(layer.forward(layer.inputs(x)), layer.dtype, layer.what("forward"))
    if not _close(y1, y2, layer.dtype):
        return "the same input twice gave two different outputs (state that changes what forward computes)"
    return None


_FUNCTIONS = {"dtype": check_dtype, "input_unchanged": check_input_unchanged, "dy_unchanged": check_dy_unchanged,
              "latest_input": check_latest_input, "grads_overwritten": check_grads_overwritten,
              "deterministic": check_deterministic}


def run_state(layer_names: list[str], context: CheckContext) -> list[CheckResult]:
    """Every named layer's side-effect and state checks on its Phase 0 case, a row per check."""
    rows = []
    for name in layer_names:
        spec, case = snapshot_case(context.phase0, name, context.dtype, context.reference_model)
        x = np.asarray(case.x, dtype=context.dtype)
        for check in CHECKS:
            if check == "deterministic" and spec.kind in ("batchnorm", "dropout"):
                continue  # training-mode batchnorm moves its running stats, dropout may draw a mask per call
            row = CheckResult(name, check, STATE, context.dtype)
            try:
                row.finding = _FUNCTIONS[check](lambda: _Layer(spec, case, context), x)
            except guard.LayerError as exc:
                row.error = f"not checked: {exc}"
            row.plain_pass = row.error is None and row.finding is None
            rows.append(row)
    return rows
