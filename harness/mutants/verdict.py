"""Judge one mutant's check run: was it caught, by which modes, and was it localised to the right layer and tensor.

Localised means: the checks ran to the end (a crash is a failure for the wrong reason, not a catch), the
first failure at a checked layer is at the mutant's layer on an expected tensor, no other layer failed in
the modes that check a layer alone (snapshot, sweep: a failure elsewhere would be a false alarm), and every
mode that must catch it did, in every dtype. Rows of layers that were not checked (hybrid's log_probs, the
train mode's loss trajectory) are network-level symptoms: reported, never used to blame a layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lenet_parity.harness.modes import REGISTRY
from lenet_parity.harness.mutants.catalogue import Mutant
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.vocabulary import SNAPSHOT, SWEEP

ALONE = (SNAPSHOT, SWEEP)  # modes where each layer gets torch's own input: a failure is that layer's


@dataclass
class Verdict:
    mutant: Mutant
    run: CheckRun
    checked: tuple[str, ...]  # the layers whose tensors were compared (the mutant's and its kind's others)
    modes: tuple[str, ...]  # the modes run
    dtypes: tuple[str, ...]
    layer_cls: str = ""  # the torch class of the mutant's layer (Conv2d, MaxPool2d, ...)
    caught_by: list[tuple[str, str]] = field(default_factory=list)  # (mode, dtype) with a failure at the mutant's layer
    problems: list[str] = field(default_factory=list)  # why it is not (caught and) localised; empty: it is

    @property
    def caught(self) -> bool:
        return bool(self.run.failures)

    @property
    def localised(self) -> bool:
        return self.caught and not self.problems

    @property
    def first_failure(self) -> CheckResult | None:
        """The first failing row of the run, whatever its layer."""
        return self.run.first_failure

    @property
    def first_checked_failure(self) -> CheckResult | None:
        """The first failing row at a checked layer: where the harness points."""
        return next((r for r in self.run.failures if r.checked_layer in self.checked), None)


def judge(mutant: Mutant, run: CheckRun, *, checked: tuple[str, ...], modes: tuple[str, ...],
          dtypes: tuple[str, ...]) -> Verdict:
    verdict = Verdict(mutant, run, tuple(checked), tuple(modes), tuple(dtypes))
    target = mutant.layer_name
    verdict.caught_by = list(dict.fromkeys((r.mode, r.dtype) for r in run.failures if r.checked_layer == target))
    problems = verdict.problems
    if not verdict.caught:
        problems.append("not caught: every check passed")
        return verdict
    crashed = next((r for r in run.results if r.error), None)
    if crashed is not None:  # the mutants compute wrong numbers; none should make the harness see a crash
        problems.append(f"a check crashed, a failure for the wrong reason: {crashed.describe()}")
    first = verdict.first_checked_failure
    if first is None:
        problems.append(f"no checked layer failed (only network-level rows): {verdict.first_failure.describe()}")
    elif first.checked_layer != target or first.tensor not in mutant.expected_tensors:
        expected = "|".join(mutant.expected_tensors)
        problems.append(f"first failure at {first.layer}.{first.tensor}, expected {target}.{expected}")
    elif first.likely().code != mutant.diagnosis:
        problems.append(f"diagnosed {first.likely().code!r}, expected {mutant.diagnosis!r}: {first.likely().hint}")
    stray = next((r for r in run.failures if r.mode in ALONE and r.checked_layer != target), None)
    if stray is not None:
        problems.append(f"false alarm at another layer: {stray.describe()}")
    for mode in mutant.caught_by:
        missed = [d for d in dtypes if mode in modes and d in REGISTRY[mode].dtypes and (mode, d) not in verdict.caught_by]
        if missed:
            problems.append(f"the {mode} mode must catch it but passed in {', '.join(missed)}")
    return verdict
