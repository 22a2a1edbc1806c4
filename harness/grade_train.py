"""The train mode of a graded submission: every graded layer trained together first, one type at a time only if
that fails.

Checked type by type, the train mode trains the whole network once per type (20 SGD steps each, the student's
layer called through its sandboxed process at every step): seven trainings for LeNet's seven types, two thirds of
a submission's grading time (measured: 3.6 of 5.3 s). `check all --impl` trains once with every layer swapped
in. Grading does the same first: when that training follows torch's at every step and every layer ends on
torch's parameters, each type is given its own rows of it (its layers' parameters, and the loss at every step,
which every type's own training would have compared); when anything in it differs, nothing of it is used and
each type is trained alone, as before, so a wrong conv never costs the ReLU its train points.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lenet_parity.harness.results import CheckResult
from lenet_parity.reference.layers import LOSS_NAME
from lenet_parity.vocabulary import FLOAT64, LOSS, NETWORK, TRAIN


def train_rows_together(kinds: list[str], factory: Any, *, phase0: Any, data_root: Any, seed: int,
                        strict: bool) -> dict[str, list[CheckResult]] | None:
    """Each type's train rows from one training with all of ``kinds``' layers swapped in, per reference model; None
    when any row of it failed (or it broke), so the caller trains each type alone."""
    from lenet_parity.harness.check_runner import select_layers
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.isolation import from_layer_side
    from lenet_parity.harness.layer_factory import layer_catalogue, reference_model_for
    from lenet_parity.harness.modes.train_steps import run_train

    by_model: dict[str, list[str]] = {}
    for kind in kinds:
        by_model.setdefault(reference_model_for(kind, None, phase0), []).append(kind)
    rows_of: dict[str, list[CheckResult]] = {}
    for model, group in by_model.items():
        catalogue = layer_catalogue(phase0, model)
        layers = {kind: select_layers(kind, None, catalogue) for kind in group}
        context = CheckContext(factory, phase0=phase0, data_root=data_root, seed=seed, strict=strict, model=model,
                               dtype=FLOAT64)
        try:
            rows = run_train([name for names in layers.values() for name in names], context)
        except Exception as exc:  # noqa: BLE001 - a layer that breaks the mode: each type finds it alone
            if not from_layer_side(exc):
                raise
            return None
        if not rows or not all(r.passed for r in rows):
            return None
        for kind, names in layers.items():
            rows_of[kind] = [_for_type(r, names) for r in rows if r.layer in names or _loss_value(r)]
    return rows_of


def _loss_value(row: CheckResult) -> bool:
    return row.layer == LOSS_NAME and row.tensor == LOSS


def _for_type(row: CheckResult, names: list[str]) -> CheckResult:
    """The row as the type's own training reports it: the loss value is the network's unless the type is the
    loss."""
    if row.layer in names:
        return replace(row)
    return replace(row, origin=NETWORK)


def without_train(modes: tuple[str, ...] | None) -> list[str]:
    """The modes left to run type by type once the train mode ran together."""
    from lenet_parity.vocabulary import MODES

    return [m for m in (modes or MODES) if m != TRAIN]


def trains(modes: tuple[str, ...] | None) -> bool:
    return modes is None or TRAIN in modes
