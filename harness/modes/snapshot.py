"""The snapshot mode: each layer alone against Phase 0 (no torch at check time).

The recorded input and params go in and the output is compared; the recorded gradient of the output goes
in and the gradients of the input and of each param are compared (batchnorm: also its running stats after
the forward; dropout: torch's recorded mask is injected). The loss gets the recorded log-probabilities.
"""

from __future__ import annotations

from typing import Any

from lenet_parity.errors import UserInputError
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_case import Case, noise_floors, run_case
from lenet_parity.harness.results import CheckResult
from lenet_parity.harness.layer_factory import layer_catalogue
from lenet_parity.reference.layers import LOSS_NAME, LayerSpec
from lenet_parity.reference.phase0_format import REGENERATE, LayerRecord, Phase0
from lenet_parity.vocabulary import (FLOAT32, FLOAT64, GRAD_INPUT, LENET, LOSS, OUTPUT, REFERENCE_MODELS, SNAPSHOT,
                                     grad_name)


def _record(phase0: Phase0, name: str, dtype: str, model: str) -> LayerRecord:
    for model in REFERENCE_MODELS[model]:
        capture = phase0.captures.get((model, dtype))
        if capture is not None and any(r.name == name for r in capture.layers):
            return capture.layer(name)
    raise UserInputError(f"{phase0.path}: Phase 0 has no {dtype} record of layer {name!r}; run: {REGENERATE}")


def snapshot_case(phase0: Phase0, name: str, dtype: str, model: str = LENET) -> tuple[LayerSpec, Case]:
    """The layer's spec and its Phase 0 case in a reference model: recorded inputs in, torch's recorded outputs
    expected. The loss gets the network's recorded output (log-probabilities; LeNet-5's logits)."""
    if name == LOSS_NAME:
        capture = phase0.capture(model, dtype)
        spec = layer_catalogue(phase0, model)[LOSS_NAME][1]
        return spec, Case(x=capture.log_probs, targets=capture.targets,
                          expected={LOSS: capture.loss, GRAD_INPUT: capture.dlogp})
    r = _record(phase0, name, dtype, model)
    spec, case = LayerSpec(r.name, r.kind, r.cls, dict(r.kwargs)), Case(x=r.x, dy=r.dy, params=r.params, mask=r.mask,
                                                                        expected=_expected(r))
    twin = _record(phase0, name, FLOAT64 if dtype == FLOAT32 else FLOAT32, model)
    case.floors = noise_floors(case.expected, _expected(twin))  # torch float32 vs float64 on the Phase 0 batch
    return spec, case


def _expected(r: LayerRecord) -> dict[str, Any]:
    expected: dict[str, Any] = {OUTPUT: r.y, **r.buffers_after, GRAD_INPUT: r.dx}
    expected.update({grad_name(k): v for k, v in r.grads.items()})
    return expected


def run_snapshot(layer_names: list[str], context: CheckContext) -> list[CheckResult]:
    """Every named layer on its Phase 0 record: outputs in forward order, then gradients in backward order."""
    phase0 = context.phase0
    if phase0 is None:
        raise UserInputError(f"the snapshot mode needs Phase 0 (phase0/_reference.json); run: {REGENERATE}")
    forward, backward = [], []
    for name in layer_names:
        spec, case = snapshot_case(phase0, name, context.dtype, context.reference_model)
        f_rows, b_rows = run_case(spec, case, context, layer_name=name, mode=SNAPSHOT)
        forward += f_rows
        backward = b_rows + backward  # the backward pass visits layers in reverse
    return forward + backward
