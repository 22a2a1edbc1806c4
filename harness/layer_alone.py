"""One cause on every surface: a layer's failing rows inside the network (the hybrid and train modes, trace) carry
the cause that checking the layer alone finds, so check, trace, check_network, the pytest helper and grade agree.

Inside the network a tensor is compared with no access to the layer's own inputs, so its values alone rarely name
the bug. The layer alone on its Phase 0 case (then on the sweep's cases) has them: its first failure's cause is
reused when the run has one, replayed when the run did not check the layer alone (``--mode hybrid``, trace).
A layer that is right alone while its rows in the network differ inherits the difference from a layer before it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.diagnosis import Diagnosis
from lenet_parity.harness.results import CheckResult
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.vocabulary import FORWARD_TENSORS, HYBRID, NETWORK, SNAPSHOT, SWEEP, TRAIN

ALONE_MODES = (SNAPSHOT, SWEEP)  # the modes that check a layer alone, in the order they are replayed
IN_NETWORK_MODES = (HYBRID, TRAIN)  # trace's rows are hybrid rows
_NO_CAUSE = ("unknown", "crash", "not-run", "unsupported")


def _layer(row: CheckResult) -> str:
    return row.origin if row.origin and row.origin != NETWORK else row.layer


class _Alone:
    """What checking each layer alone found: its first cause worth naming, or that it failed without one."""

    def __init__(self) -> None:
        self.causes: dict[str, tuple[Diagnosis, CheckResult]] = {}
        self.failed: set[str] = set()
        self.checked: set[str] = set()

    def add(self, rows: Iterable[CheckResult]) -> None:
        for row in rows:
            if row.mode not in ALONE_MODES or row.status == "unsupported":
                continue
            layer = _layer(row)
            self.checked.add(layer)
            if row.passed:
                continue
            self.failed.add(layer)
            likely = row.likely()
            if layer not in self.causes and likely is not None and likely.code not in _NO_CAUSE:
                self.causes[layer] = (likely, row)


def _replay(layers: list[str], dtypes: list[str], context: CheckContext, alone: _Alone) -> None:
    """Check ``layers`` alone, the snapshot mode first and the sweep for those it finds no cause for."""
    from lenet_parity.harness.modes import REGISTRY

    for mode in ALONE_MODES:
        for dtype in dtypes:
            pending = [name for name in layers if name not in alone.causes]
            if not pending:
                return
            alone.add(REGISTRY[mode].run(pending, context.for_dtype(dtype)))


def _worded(cause: Diagnosis, row: CheckResult) -> Diagnosis:
    where = f"{row.mode} {row.layer}.{row.tensor}" + (f" [{row.case}]" if row.case else "")
    return Diagnosis(cause.code, f"{cause.hint} (found checking the layer alone: {where})")


def attach_layer_alone_causes(results: list[CheckResult], context: CheckContext, order: list[str]) -> None:
    """Give each failing in-network row of a layer the cause its layer-alone check finds; ``order``: the layers in
    forward order (the loss last), to name the first one that is wrong alone."""
    targets = [r for r in results if r.mode in IN_NETWORK_MODES and r.comparison is not None and not r.passed
               and r.origin != NETWORK]
    if not targets:
        return
    if context.phase0 is None:  # the train mode alone does not load it; the snapshot mode replays on it
        context = replace(context, phase0=load_phase0(context.phase0_path))
    alone = _Alone()
    alone.add(results)
    unexplained = list(dict.fromkeys(r.layer for r in targets if r.layer not in alone.causes))
    replay = [name for name in unexplained if name not in alone.checked or name in alone.failed]
    if replay:
        _replay(replay, list(dict.fromkeys(r.dtype for r in targets)), context, alone)
    wrong_alone = [name for name in order if name in alone.failed]
    for row in targets:
        if row.layer in alone.causes:
            row.diagnosis = _worded(*alone.causes[row.layer])
            continue
        culprit = _culprit(row, wrong_alone, order)
        if culprit is not None and row.layer not in alone.failed and row.likely().code == "unknown":
            row.diagnosis = Diagnosis("inherited", f"{row.layer} is right alone; its {row.tensor} differs because "
                                                   f"{culprit} is wrong: fix {culprit} first")


def _culprit(row: CheckResult, wrong_alone: list[str], order: list[str]) -> str | None:
    """The layer a right layer's difference comes from: a forward value from the first wrong layer before it; a
    gradient from the nearest wrong layer after it (the gradient passes it first), else one before it (through
    the activations the gradient is computed from)."""
    if row.layer not in order:
        return None
    here = order.index(row.layer)
    before = [n for n in wrong_alone if order.index(n) < here]
    after = [n for n in wrong_alone if order.index(n) > here]
    if row.tensor in FORWARD_TENSORS:
        return before[0] if before else None
    return after[0] if after else before[0] if before else None
