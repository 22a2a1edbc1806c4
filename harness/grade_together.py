"""The network modes of a graded submission (hybrid, train): every graded layer swapped in together first, one type
at a time only if that fails.

Checked type by type, these modes run the whole network once per type: the hybrid mode two passes (float32,
float64) and the train mode 20 SGD steps, the student's layers called through their sandboxed process at every
step; seven times over for LeNet's seven types, most of a submission's grading time (measured: the train mode
alone 3.6 of 5.3 s). `check all --impl` runs each once with every layer swapped in. Grading does the same first:
when every row of that run agrees with torch, each type is given the rows of its own layers (and, in the train
mode, the loss at every step, which its own training would have compared); when anything differs, nothing of it
is used and each type runs the mode alone, as before, so a wrong conv never costs the ReLU its points.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lenet_parity.harness.results import CheckResult
from lenet_parity.reference.layers import LOSS_NAME
from lenet_parity.vocabulary import HYBRID, LOSS, MODES, NETWORK, TRAIN

TOGETHER = (HYBRID, TRAIN)  # the modes that run the whole network


def rows_together(kinds: list[str], modes: tuple[str, ...] | None, factory: Any, *, phase0: Any, data_root: Any,
                  seed: int, strict: bool) -> dict[str, dict[str, list[CheckResult]]]:
    """Type -> mode -> its rows, for each network mode in which every row passed with all of ``kinds``' layers
    swapped in at once (per reference model); a mode with a failed row (or that broke) is left out: the types run
    it alone."""
    from lenet_parity.harness.check_runner import select_layers
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.isolation import from_layer_side
    from lenet_parity.harness.layer_factory import layer_catalogue, reference_model_for
    from lenet_parity.harness.modes import REGISTRY

    by_model: dict[str, list[str]] = {}
    for kind in kinds:
        by_model.setdefault(reference_model_for(kind, None, phase0), []).append(kind)
    found: dict[str, dict[str, list[CheckResult]]] = {kind: {} for kind in kinds}
    for mode in [REGISTRY[m] for m in TOGETHER if m in (modes or MODES)]:
        for model, group in by_model.items():
            catalogue = layer_catalogue(phase0, model)
            layers = {kind: select_layers(kind, None, catalogue) for kind in group}
            context = CheckContext(factory, phase0=phase0, data_root=data_root, seed=seed, strict=strict, model=model)
            names = [name for kind_names in layers.values() for name in kind_names]
            try:
                rows = [r for dtype in mode.dtypes for r in mode.run(names, context.for_dtype(dtype))]
            except Exception as exc:  # noqa: BLE001 - a layer that breaks the mode: each type finds it alone
                if not from_layer_side(exc):
                    raise
                continue
            if rows and all(r.passed for r in rows):
                for kind, kind_names in layers.items():
                    found[kind][mode.name] = [_for_type(r, kind_names) for r in rows
                                              if r.layer in kind_names or _train_loss(r)]
    return found


def _train_loss(row: CheckResult) -> bool:
    return row.mode == TRAIN and row.layer == LOSS_NAME and row.tensor == LOSS


def _for_type(row: CheckResult, names: list[str]) -> CheckResult:
    """The row as the type's own run reports it: the loss value is the network's unless the type is the loss."""
    return replace(row) if row.layer in names else replace(row, origin=NETWORK)


def remaining(modes: tuple[str, ...] | None, done: dict[str, list[CheckResult]]) -> list[str]:
    """The modes still to run type by type, in their reading order."""
    return [m for m in (modes or MODES) if m not in done]


def runs_together(modes: tuple[str, ...] | None) -> bool:
    return any(m in (modes or MODES) for m in TOGETHER)
