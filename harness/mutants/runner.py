"""``lenet-parity mutants``: every mutant through the harness, then the correct layers through the same checks.

Each mutant runs via check_runner.run_checks in its reference model (LeNet, or the 1998 LeNet-5), with the
correct NumPy layers everywhere but its one layer; the layers checked are its kind's (pool1 and pool2 for a
pool mutant), so the report shows whether the harness blames the right one. The train mode checks the
mutant's layer alone (every swapped layer shares the blame for a diverging training run). The controls, the
correct numpy and python layers on every layer of each reference model the mutants use, run the same modes
and dtypes: no false alarm. Exit 0 only when every mutant is caught and localised and the controls pass.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lenet_parity.harness.ansi import style
import numpy as np

from lenet_parity.atomic import atomic_write_text
from lenet_parity.harness.check_runner import ALL, run_checks, select_layers
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_factory import BackendFactory, layer_catalogue, model_configs
from lenet_parity.harness.mutants.catalogue import CATALOGUE, Mutant
from lenet_parity.harness.mutants.verdict import Verdict, judge
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.reference.weights import read_weights
from lenet_parity.vocabulary import DTYPES, FLOAT64, LAYER_BACKENDS, MODEL_TITLES, MODES, NUMPY, REFERENCE_MODELS, TRAIN

TRAIN_STEPS = 3  # the accumulating-gradients bug changes the update from step 2: its loss differs at step 3
QUICK_DTYPES = (FLOAT64,)  # --quick: the tight dtype; every mutant still in each mode that must catch it


class PlantedFactory(BackendFactory):
    """The correct NumPy layers, with the mutant's class at its one layer (sweep cases of that layer too)."""

    def __init__(self, mutant: Mutant):
        super().__init__(NUMPY)
        self.mutant = mutant
        self.label = f"numpy with {mutant.name} at {mutant.model}'s {mutant.layer_name}"

    def layer_class(self, spec):
        return self.mutant.factory if spec.name == self.mutant.layer_name else super().layer_class(spec)


@dataclass
class Control:
    backend: str
    model: str  # the reference model whose layers it checks (lenet, lenet5)
    run: CheckRun
    layers: tuple[str, ...]  # the layers checked


@dataclass
class ZooReport:
    verdicts: list[Verdict]
    controls: list[Control]
    quick: bool
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.localised for v in self.verdicts) and all(c.run.passed for c in self.controls)


def mutant_context(context: CheckContext) -> CheckContext:
    """The mutants' settings: ``context``'s, with TRAIN_STEPS steps in the train mode (enough to catch them all)."""
    return replace(context, train=replace(context.train, steps=TRAIN_STEPS))


def model_context(context: CheckContext, model: str) -> CheckContext:
    """``context`` in one reference model. The zoo's --weights serves the model whose config it holds (LeNet's, as
    `check`'s default); every other model is built from its shipped weights file."""
    weights = context.weights_path
    if weights is not None and read_weights(weights).config != model_configs(context.phase0)[model]:
        weights = None
    return replace(context, model=model, weights_path=weights)


def run_mutant(mutant: Mutant, context: CheckContext, *, quick: bool = False) -> Verdict:
    """The mutant planted in its reference model and checked in its modes (--quick: only those that must catch it)."""
    modes = tuple(m for m in MODES if m in (mutant.caught_by if quick else mutant.modes))
    dtypes = QUICK_DTYPES if quick else DTYPES
    context = model_context(context, mutant.model)
    catalogue = layer_catalogue(context.phase0, mutant.model)
    kind = catalogue[mutant.layer_name][1].kind
    planted = replace(context, make_layer=PlantedFactory(mutant))
    run = CheckRun()
    with np.errstate(all="ignore"):  # a broken log-softmax's overflow is the bug under test, not noise to print
        local = [m for m in modes if m != TRAIN]
        parts = [run_checks(kind, planted, modes=local, dtypes=dtypes)] if local else []
        if TRAIN in modes:
            parts.append(run_checks(ALL, planted, layer=mutant.layer_name, modes=[TRAIN], dtypes=dtypes))
    for part in parts:
        run.extend(part.results)
        for note in part.notes:
            run.note(note)
    checked = tuple(select_layers(kind, None, catalogue))
    verdict = judge(mutant, run, checked=checked, modes=modes, dtypes=dtypes)
    verdict.layer_cls = catalogue[mutant.layer_name][1].cls
    return verdict


def run_controls(kind: str, modes: tuple[str, ...], dtypes: tuple[str, ...], context: CheckContext,
                 model: str) -> list[Control]:
    """The correct layers of both backends in ``model`` through the same modes and dtypes as the mutants, with
    ``context``'s settings as `check --model` has them, so a control counts what `check all --model` counts."""
    context = model_context(context, model)
    layers = tuple(select_layers(kind, None, layer_catalogue(context.phase0, model)))
    return [Control(backend, model, run_checks(kind, replace(context, make_layer=BackendFactory(backend)),
                                               modes=list(modes), dtypes=dtypes), layers)
            for backend in LAYER_BACKENDS]


def run_zoo(context: CheckContext, mutants: list[Mutant] | None = None, *, quick: bool = False) -> ZooReport:
    """The mutants (default: the whole catalogue), then the controls for each reference model they are planted
    in: every layer, or for mutants all of one kind, the layers of that kind. ``context`` gives the golden files
    and data; its factory is unused."""
    start = time.perf_counter()
    named = mutants is not None
    mutants = list(CATALOGUE) if mutants is None else mutants
    if context.phase0 is None:
        context = replace(context, phase0=load_phase0(context.phase0_path))
    verdicts = [run_mutant(m, mutant_context(context), quick=quick) for m in mutants]
    modes = tuple(m for m in MODES if any(m in v.modes for v in verdicts))
    controls = []
    for model in (m for m in REFERENCE_MODELS if any(x.model == m for x in mutants)):
        kinds = {layer_catalogue(context.phase0, model)[m.layer_name][1].kind for m in mutants if m.model == model}
        kind = kinds.pop() if named and len(kinds) == 1 else ALL
        controls += run_controls(kind, modes, QUICK_DTYPES if quick else DTYPES, context, model)
    return ZooReport(verdicts, controls, quick, time.perf_counter() - start)


# ---- the report ----

def _where(r: CheckResult | None) -> str:
    return "-" if r is None else f"{r.layer}.{r.tensor} [{r.mode}, {r.dtype}]"


def _caught_by(v: Verdict) -> str:
    """``snapshot hybrid sweep``; a mode that caught it in only some of the dtypes run says which."""
    words = []
    for mode in v.modes:
        dtypes = [d for d in v.dtypes if (mode, d) in v.caught_by]
        if dtypes:
            words.append(mode if len(dtypes) == len(v.dtypes) else f"{mode}({','.join(d[5:] for d in dtypes)})")
    return " ".join(words) or "-"


def _status(v: Verdict) -> str:
    if v.localised:
        return style("caught, localised", fg="green")
    if v.caught:
        return style("caught, NOT localised", fg="red", bold=True)
    return style("MISSED", fg="red", bold=True)


COLUMNS = (("mutant", 32), ("bug", 44), ("model", 6), ("planted in", 24), ("caught by", 21), ("first failure", 42),
           ("diagnosis", 17))


def table(report: ZooReport) -> str:
    """The zoo as a table (a row per mutant), the reasons of any that failed, the controls and a summary."""
    header = " ".join(f"{name:{width}}" for name, width in COLUMNS) + " verdict"
    lines = [style(header, bold=True)]
    notes = []
    for v in report.verdicts:
        m, first = v.mutant, v.first_checked_failure
        planted = f"{m.layer_name} ({v.layer_cls})"
        cells = (m.name, m.description, m.model, planted, _caught_by(v), _where(first),
                 first.likely().code if first else "-")
        lines.append(" ".join(f"{c:{w}}" for c, (_, w) in zip(cells, COLUMNS)) + " " + _status(v))
        if v.first_failure is not None and v.first_failure is not first:
            notes.append(f"{m.name}: a network-level row failed first: {v.first_failure.describe()}")
        notes += [style(f"{m.name}: {p}", fg="red") for p in v.problems]
    lines += [""] + notes + ([""] if notes else [])
    for c in report.controls:
        r, modes = c.run, ", ".join(dict.fromkeys(x.mode for x in c.run.results))
        summary = (f"correct {c.backend} layers of {c.model} ({MODEL_TITLES[c.model]}): "
                   f"{len(r.results) - len(r.failures)}/{len(r.results)} checks passed "
                   f"({len(c.layers)} layer{'s' if len(c.layers) != 1 else ''}; {modes})")
        lines.append(style(f"PASS  {summary}", fg="green") if r.passed else
                     style(f"FAIL  {summary}; first failure: {_where(r.first_failure)}", fg="red", bold=True))
    good = sum(v.localised for v in report.verdicts)
    dtypes = ", ".join(QUICK_DTYPES if report.quick else DTYPES)
    text = (f"{good}/{len(report.verdicts)} mutants caught and localised; correct layers "
            f"{'pass' if all(c.run.passed for c in report.controls) else 'FAIL'} ({dtypes}; {report.seconds:.1f} s)")
    lines.append(style(("PASS  " if report.passed else "FAIL  ") + text, fg="green" if report.passed else "red",
                             bold=True))
    return "\n".join(lines)


def _row(r: CheckResult | None, *, detail: bool = True) -> dict | None:
    if r is None:
        return None
    row = {"layer": r.layer, "origin": r.checked_layer, "tensor": r.tensor, "mode": r.mode, "dtype": r.dtype, "case": r.case,
           "reason": r.to_json()["reason"]}
    return {**row, "detail": r.describe()} if detail else row


def to_json(report: ZooReport) -> dict[str, Any]:
    return {
        "passed": report.passed, "quick": report.quick, "seconds": round(report.seconds, 3),
        "mutants": [{
            "name": v.mutant.name, "description": v.mutant.description, "model": v.mutant.model,
            "layer": v.mutant.layer_name,
            "class": v.mutant.factory.__name__, "expected_tensors": list(v.mutant.expected_tensors),
            "modes": list(v.modes), "dtypes": list(v.dtypes), "must_be_caught_by": list(v.mutant.caught_by),
            "caught": v.caught, "localised": v.localised,
            "caught_by": [{"mode": mode, "dtype": dtype} for mode, dtype in v.caught_by],
            "first_failure": _row(v.first_checked_failure), "first_failure_any_layer": _row(v.first_failure),
            "diagnosis": v.first_checked_failure.likely().to_json() if v.first_checked_failure else None,
            "expected_diagnosis": v.mutant.diagnosis,
            "problems": list(v.problems), "checked_layers": list(v.checked), "checks": len(v.run.results),
            "failures": [_row(r, detail=False) for r in v.run.failures],
        } for v in report.verdicts],
        "controls": [{
            "backend": c.backend, "model": c.model, "passed": c.run.passed, "layers": list(c.layers),
            "checks": len(c.run.results),
            "failed_checks": len(c.run.failures), "modes": list(dict.fromkeys(r.mode for r in c.run.results)),
            "dtypes": list(dict.fromkeys(r.dtype for r in c.run.results)), "first_failure": _row(c.run.first_failure),
            "notes": list(c.run.notes),
        } for c in report.controls],
    }


def write_zoo_json(report: ZooReport, path: str | Path) -> None:
    atomic_write_text(path, json.dumps(to_json(report), indent=2, allow_nan=False) + "\n")
