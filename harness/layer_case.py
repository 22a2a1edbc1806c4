"""One layer, one case: build it, load params, forward, backward, and compare every tensor with torch's.

Shared by the snapshot mode (torch's values recorded in Phase 0) and the sweep mode (torch computed on
the spot). The loss follows the loss protocol: ``forward(logp, target) -> float``, ``backward() -> dlogp``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from lenet_parity.harness import guard
from lenet_parity.harness.compare import compare
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.diagnosis import Evidence, diagnose
from lenet_parity.harness.guard import LayerError
from lenet_parity.harness.results import CheckResult
from lenet_parity.reference.layers import LayerSpec
from lenet_parity.vocabulary import FORWARD_TENSORS, GRAD_INPUT, LOSS, OUTPUT

TRAINING_KINDS = ("batchnorm", "dropout")  # checked in training mode, as Phase 0 was captured


@dataclass
class Case:
    x: np.ndarray  # the input (the loss: log-probabilities)
    expected: dict[str, Any]  # tensor name -> torch's value: output or loss, running_*, grad_input, grad_<param>
    dy: np.ndarray | None = None  # upstream gradient; None for the loss
    params: dict[str, np.ndarray] = field(default_factory=dict)  # loaded into layer.params before forward
    mask: np.ndarray | None = None  # dropout's scaled keep-mask, injected as layer.mask
    targets: np.ndarray | None = None  # the loss's class indices
    label: str = ""  # what this case is, shown in reports ("" for the Phase 0 batch)
    floors: dict[str, float] = field(default_factory=dict)  # tensor -> max |torch float32 - torch float64|


def noise_floors(expected: dict[str, Any], other: dict[str, Any]) -> dict[str, float]:
    """The float32 noise floor of each tensor: how far torch's float32 result is from its float64 one."""
    floors = {}
    for tensor, value in expected.items():
        if tensor in other and np.shape(value) == np.shape(other[tensor]):
            floors[tensor] = float(np.max(np.abs(np.asarray(value, np.float64) - np.asarray(other[tensor], np.float64)),
                                          initial=0.0))
    return floors


def run_case(spec: LayerSpec, case: Case, context: CheckContext, *, layer_name: str,
             mode: str) -> tuple[list[CheckResult], list[CheckResult]]:
    """The forward rows (output/loss, running stats) and backward rows (grad_input, grad_<param>) of one case."""
    dtype = context.dtype
    forward_names = [t for t in case.expected if t in FORWARD_TENSORS]
    backward_names = [t for t in case.expected if t not in FORWARD_TENSORS]

    def row(tensor: str, actual: Any = None, error: str | None = None) -> CheckResult:
        result = CheckResult(layer_name, tensor, mode, dtype, error=error, case=case.label, source=(spec, case))
        if error is None:
            atol, rtol, _ = context.tolerance(tensor)
            expected = np.asarray(case.expected[tensor], dtype=dtype)
            result.comparison = compare(actual, expected, atol=atol, rtol=rtol, name=f"{layer_name}.{tensor}")
            result.noise_floor = case.floors.get(tensor)
            if not result.comparison.passed and result.comparison.reason != "dtype":
                result.diagnosis = diagnose(Evidence(
                    tensor, np.asarray(actual, dtype=np.float64), expected.astype(np.float64), atol, rtol, spec.cls,
                    dict(spec.kwargs), x=np.asarray(case.x, dtype=np.float64),
                    dy=None if case.dy is None else np.asarray(case.dy, dtype=np.float64),
                    params={k: np.asarray(v, dtype=np.float64) for k, v in case.params.items()},
                    targets=case.targets, dtype_size=np.dtype(dtype).itemsize))
        return result

    def read(tensor: str, read_value: Callable[[], np.ndarray]) -> CheckResult:
        try:
            return row(tensor, read_value())
        except LayerError as exc:
            return row(tensor, error=str(exc))

    try:
        layer, kind = guard.build(context.make_layer, spec)
        if spec.kind in TRAINING_KINDS:
            guard.set_attr(layer, "training", True)
        guard.load_params(layer, case.params, kind, dtype)
        if case.mask is not None:
            guard.set_attr(layer, "mask", guard.to_layer(case.mask, kind, dtype))
        args = [guard.to_layer(case.x, kind, dtype)]
        if case.targets is not None:
            args.append(guard.targets_to_layer(case.targets, kind))
        y = guard.from_layer(guard.call(layer, "forward", *args), dtype, f"{type(layer).__name__}.forward()")
    except LayerError as exc:
        return ([row(t, error=str(exc)) for t in forward_names],
                [row(t, error="not run: forward failed") for t in backward_names])

    forward_rows = []
    for tensor in forward_names:
        if tensor in (OUTPUT, LOSS):
            forward_rows.append(row(tensor, y))
        else:  # batchnorm's running stats, updated by the training forward
            forward_rows.append(read(tensor, lambda t=tensor: guard.read_param(layer, t, dtype, "after forward()")))

    try:
        upstream = [] if case.dy is None else [guard.to_layer(case.dy, kind, dtype)]
        dx = guard.from_layer(guard.call(layer, "backward", *upstream), dtype, f"{type(layer).__name__}.backward()")
    except LayerError as exc:
        return forward_rows, [row(t, error=str(exc) if t == GRAD_INPUT else "not run: backward failed")
                              for t in backward_names]
    backward_rows = []
    for tensor in backward_names:
        if tensor == GRAD_INPUT:
            backward_rows.append(row(tensor, dx))
        else:
            key = tensor[len("grad_"):]
            backward_rows.append(read(tensor, lambda k=key: guard.read_grad(layer, k, dtype)))
    return forward_rows, backward_rows
