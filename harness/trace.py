"""``lenet-parity trace``: the fully custom LeNet (every layer and the loss from one backend) against torch.

The hybrid machinery with every layer swapped, on the Phase 0 batch: each layer's output in forward order,
the loss, then every gradient in backward order, so the first failure is where the custom network first
departs from torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from lenet_parity.harness.layer_case import FORWARD_TENSORS
from lenet_parity.harness.layer_factory import BackendFactory
from lenet_parity.harness.modes.hybrid import BASE, VARIANTS, capture_threads, compare_model
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.harness.tolerances import Tolerance
from lenet_parity.reference.layers import LayerSpec
from lenet_parity.reference.phase0_format import DEFAULT_PHASE0, load_phase0
from lenet_parity.reference.weights import DEFAULT_WEIGHTS


def trace(backend: str, *, dtype: str = "float32", weights_path: str | os.PathLike = DEFAULT_WEIGHTS,
          phase0_path: str | os.PathLike = DEFAULT_PHASE0, variants: bool = False, tol: Tolerance | None = None,
          make_layer: Callable[[LayerSpec], Any] | None = None) -> CheckRun:
    """LeNet from ``weights_path`` run entirely by ``backend``'s layers (numpy or python) against torch.

    ``variants`` also traces LeNet(VARIANTS_CONFIG) (batchnorm, residual, dropout), fully custom too;
    ``make_layer`` replaces the backend's factory (a user's layers, or a test's broken one). Bad input
    (unknown backend, missing or stale Phase 0 / weights) raises UserInputError.
    """
    make_layer = make_layer or BackendFactory(backend)
    phase0 = load_phase0(phase0_path)
    run = CheckRun()
    with capture_threads():
        for model in (BASE, VARIANTS) if variants else (BASE,):
            run.extend(compare_model(model, [], make_layer, dtype=dtype, phase0=phase0, weights_path=Path(weights_path),
                                     tol=tol, swap_all=True))
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
