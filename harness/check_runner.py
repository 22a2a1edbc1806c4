"""The function behind ``lenet-parity check``: pick the layers and modes, run each mode per dtype, in order.

``run_checks`` returns the CheckRun (the bug zoo reuses it with its own layer factory); the CLI prints it
with harness/report.py. Bad input raises UserInputError, which the CLI turns into one line and exit 2.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from lenet_parity.errors import UserInputError
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.guard import describe_exception
from lenet_parity.harness.isolation import from_layer_side
from lenet_parity.harness.layer_alone import attach_layer_alone_causes
from lenet_parity.harness.layer_factory import layer_catalogue, reference_model_for
from lenet_parity.harness.modes import REGISTRY, Mode
from lenet_parity.harness.results import ABSENT_CLASS, CheckResult, CheckRun
from lenet_parity.harness.warnings_policy import soften
from lenet_parity.reference.layers import KINDS, LayerSpec
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.reference.weights import read_weights
from lenet_parity.vocabulary import DTYPES, LENET_VARIANTS, MODEL_TITLES, MODES, REFERENCE_MODELS

ALL = "all"
TYPES = (*KINDS, ALL)


def select_layers(kind: str, layer: str | None, catalogue: dict[str, tuple[str, LayerSpec]]) -> list[str]:
    """The layer names to check, in forward order (the loss last)."""
    if kind not in TYPES:
        raise UserInputError(f"unknown layer type {kind!r}; choose one of {', '.join(TYPES)}")
    if layer is None:
        return [name for name, (_, spec) in catalogue.items() if kind == ALL or spec.kind == kind]
    if layer not in catalogue:
        raise UserInputError(f"--layer {layer}: no such layer; the layers are {', '.join(catalogue)}")
    found = catalogue[layer][1].kind
    if kind != ALL and found != kind:
        same = [n for n, (_, s) in catalogue.items() if s.kind == kind]
        raise UserInputError(f"--layer {layer} is a {found} layer, not {kind}; {kind} layers: {', '.join(same)} "
                             f"(or use: check {found} --layer {layer})")
    return [layer]


def _lacking(kind: str, context: CheckContext) -> str:
    """Why a type has no layer to check in the chosen model, and which model has one."""
    having = [m for m in REFERENCE_MODELS if m != context.model and reference_model_for(kind, None, context.phase0) == m]
    hint = f"; {MODEL_TITLES[having[0]]} does: --model {having[0]}" if having else ""
    return f"{MODEL_TITLES[context.model]} has no {kind} layer{hint}"


def select_modes(names: Iterable[str] | None) -> list[Mode]:
    """The modes by name, in the reading order of MODES whatever the order given; None: every mode."""
    wanted = list(MODES if names is None else dict.fromkeys(names))
    unknown = [m for m in wanted if m not in REGISTRY]
    if unknown:
        raise UserInputError(f"unknown mode {unknown[0]!r}; choose one of {', '.join(MODES)}")
    return [REGISTRY[m] for m in MODES if m in wanted]


def _mode_dtypes(mode: Mode, dtypes: tuple[str, ...], explicit: bool, context: CheckContext) -> tuple[str, ...]:
    """The requested dtypes the mode runs in; a note (or, when nothing is left of an explicit request, bad input)."""
    runs = tuple(d for d in dtypes if d in mode.dtypes)
    if runs != dtypes:
        if not runs and explicit:
            raise UserInputError(f"--mode {mode.name} runs in {', '.join(mode.dtypes)} only ({mode.dtypes_why}); "
                                 f"use --dtype {mode.dtypes[0]} or --dtype both")
        context.note(f"{mode.name} mode: {mode.dtypes_why}")
    return runs


def run_checks(kind: str, context: CheckContext, *, layer: str | None = None, modes: Iterable[str] | None = None,
               dtypes: Iterable[str] = DTYPES) -> CheckRun:
    """Check the layers of ``kind`` (or the one ``layer``) in each mode (None: all) and dtype, in reading order.

    The context's Phase 0 is loaded from ``context.phase0_path`` when a mode needs it and none was given;
    the weights file is read first when a mode needs it, so a missing or stale file is exit 2, not a crash.
    """
    context = replace(context, notes=[])  # this run's notes only, whoever built the context
    selected = select_modes(modes)
    dtypes = tuple(dtypes)
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown or not dtypes:
        raise UserInputError(f"unknown dtype {unknown[0] if unknown else None!r}; choose from {', '.join(DTYPES)}")
    if context.phase0 is None and any(m.needs_phase0 for m in selected):
        context = replace(context, phase0=load_phase0(context.phase0_path))
    context = replace(context, model=reference_model_for(kind, context.model, context.phase0))
    if any(m.needs_weights for m in selected):
        read_weights(context.weights)
    catalogue = layer_catalogue(context.phase0, context.model)
    names = select_layers(kind, layer, catalogue)
    if not names:
        raise UserInputError(_lacking(kind, context))
    run = CheckRun(layers=list(names))
    defines = getattr(context.make_layer, "defines", None)  # a whole file: some classes may be absent
    if defines is not None:
        for name in [n for n in names if not defines(catalogue[n][1].cls)]:
            run.add(_absent(name, *catalogue[name], getattr(context.make_layer, "label", "the file")))
            names.remove(name)
    for mode in selected:
        for dtype in _mode_dtypes(mode, dtypes, modes is not None, context):
            run.extend(_run_mode(mode, names, context.for_dtype(dtype)))
    soften(run.results, strict=context.strict)
    attach_layer_alone_causes(run.results, context, names)
    for text in context.notes:
        run.note(text)
    return run


def _run_mode(mode: Mode, names: list[str], context: CheckContext) -> list[CheckResult]:
    """The mode's results; should the layer under test break the mode itself (an error the mode did not expect
    from a user's object or its process), every layer of the mode fails with that reason, never a traceback."""
    try:
        return list(mode.run(names, context))
    except Exception as exc:  # noqa: BLE001 - only errors raised by the layer's side are caught, see from_layer_side
        if not from_layer_side(exc):
            raise
        reason = f"the layer broke the {mode.name} mode: {describe_exception(exc)}"
        return [CheckResult(name, "run", mode.name, context.dtype, error=reason, origin=name) for name in names]


def _absent(name: str, model: str, spec: LayerSpec, source: str) -> CheckResult:
    """A layer whose class the checked file does not define: a failure for a reference model's own layers,
    unsupported for the variants model's (batchnorm, residual, dropout, sigmoid, softmax), which LeNet does not need."""
    row = CheckResult(name, ABSENT_CLASS, "-", "-", origin=name)
    if model != LENET_VARIANTS:
        row.error = f"{source} defines no {spec.cls}: {MODEL_TITLES[model]}'s {name} needs one"
    else:
        row.unsupported = f"{source} defines no {spec.cls} (a layer of the variants model, not LeNet's)"
    return row


def run_meta(run: CheckRun, context: CheckContext, *, kind: str, layer: str | None, implementation: str,
             seconds: float) -> dict[str, Any]:
    """What --json records about the run besides its results."""
    tol = context.tol
    return {"command": "check", "type": kind, "layer": layer, "implementation": implementation,
            "modes": list(dict.fromkeys(r.mode for r in run.results)),
            "dtypes": list(dict.fromkeys(r.dtype for r in run.results)),
            "model": context.reference_model, "scope": context.scope, "phase0": str(context.phase0_path),
            "weights": str(context.weights),
            "tolerance_override": None if tol is None else {"atol": tol.atol, "rtol": tol.rtol},
            "seconds": round(seconds, 3)}
