"""``lenet-parity trace``: the fully custom LeNet (every layer and the loss from one backend) against torch.

The hybrid machinery with every layer swapped, on the Phase 0 batch: each layer's output in forward order,
the loss, then every gradient in backward order, so the first failure is where the custom network first
departs from torch.
"""

from __future__ import annotations

from dataclasses import replace

from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_alone import attach_layer_alone_causes
from lenet_parity.harness.modes.hybrid import capture_threads, compare_model
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.reference.layers import LOSS_NAME
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.vocabulary import FORWARD_TENSORS, REFERENCE_MODELS


def trace(context: CheckContext, *, variants: bool = False) -> CheckRun:
    """The context's reference model (LeNet, or the 1998 LeNet-5) from its weights run entirely by its layers
    (every layer and the loss) against torch.

    ``variants`` also traces LeNet(VARIANTS_CONFIG) (batchnorm, residual, dropout, sigmoid, softmax), fully custom
    too. Bad input (missing or stale Phase 0 / weights) raises UserInputError.
    """
    phase0 = context.phase0 or load_phase0(context.phase0_path)
    context = replace(context, phase0=phase0)
    models = REFERENCE_MODELS[context.reference_model]
    models = models if variants else models[:1]
    run = CheckRun()
    with capture_threads():
        for model in models:
            run.extend(compare_model(model, [], context, swap_all=True))
    order = [record.name for model in models for record in phase0.capture(model, context.dtype).layers]
    attach_layer_alone_causes(run.results, context, [*dict.fromkeys(order), LOSS_NAME])
    return run


def first_divergences(run: CheckRun) -> tuple[CheckResult | None, CheckResult | None]:
    """The first failing tensor of the forward pass and of the backward pass (None where all agree)."""
    forward = next((r for r in run.results if not r.passed and r.tensor in FORWARD_TENSORS), None)
    backward = next((r for r in run.results if not r.passed and r.tensor not in FORWARD_TENSORS), None)
    return forward, backward


def summary(run: CheckRun) -> str:
    """Two lines for the terminal: where the forward and the backward pass first diverge."""
    lines = []
    for label, first in zip(("forward", "backward"), first_divergences(run)):
        lines.append(f"{label}: first divergence at {first.describe()}" if first else f"{label}: no divergence")
    return "\n".join(lines)
