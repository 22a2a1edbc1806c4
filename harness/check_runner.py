"""The function behind ``lenet-parity check``: pick the layers, run the modes in order, report, exit code.

``run_checks`` is a plain function returning the CheckRun (the mutants catalogue reuses it with its own
``make_layer``); ``check_command`` adds the terminal report, --json and --junit, and returns 0 or 1.
Bad input raises UserInputError, which the CLI turns into one line and exit 2.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import click

from lenet_parity.errors import EXIT_MISMATCH, EXIT_OK, UserInputError
from lenet_parity.harness import report
from lenet_parity.harness.layer_factory import BackendFactory, ImplFactory, layer_catalogue
from lenet_parity.harness.results import CheckRun
from lenet_parity.harness.tolerances import Tolerance
from lenet_parity.reference.layers import KINDS, LayerSpec
from lenet_parity.reference.phase0_format import DEFAULT_PHASE0, Phase0, load_phase0
from lenet_parity.reference.weights import DEFAULT_WEIGHTS, read_weights

TYPES = (*KINDS, "all")
MODES = ("snapshot", "hybrid", "sweep", "train")  # the order a reader wants: local and recorded first
DTYPES = ("float32", "float64")
_MODE_FUNCTIONS = {
    "snapshot": ("lenet_parity.harness.modes.snapshot", "run_snapshot"),
    "hybrid": ("lenet_parity.harness.modes.hybrid", "run_hybrid"),
    "sweep": ("lenet_parity.harness.modes.sweep", "run_sweep"),
    "train": ("lenet_parity.harness.modes.train_steps", "run_train"),
}
NEEDS_PHASE0 = ("snapshot", "hybrid")
NEEDS_WEIGHTS = ("hybrid", "train")


def mode_function(mode: str) -> Callable | str:
    """The mode's run function, or why it is not available (its module is not built yet)."""
    module_name, function_name = _MODE_FUNCTIONS[mode]
    try:
        module = importlib.import_module(module_name)  # lazily: most modes import torch
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but is broken: a bug to see, not a mode to skip
        return f"{module_name} is not built yet"
    function = getattr(module, function_name, None)
    return function if callable(function) else f"{module_name} has no {function_name}()"


def select_layers(kind: str, layer: str | None, catalogue: dict[str, tuple[str, LayerSpec]]) -> list[str]:
    """The layer names to check, in forward order (the loss last)."""
    if kind not in TYPES:
        raise UserInputError(f"unknown layer type {kind!r}; choose one of {', '.join(TYPES)}")
    if layer is None:
        return [name for name, (_, spec) in catalogue.items() if kind == "all" or spec.kind == kind]
    if layer not in catalogue:
        raise UserInputError(f"--layer {layer}: no such layer; the layers are {', '.join(catalogue)}")
    found = catalogue[layer][1].kind
    if kind != "all" and found != kind:
        same = [n for n, (_, s) in catalogue.items() if s.kind == kind]
        raise UserInputError(f"--layer {layer} is a {found} layer, not {kind}; {kind} layers: {', '.join(same)} "
                             f"(or use: check {found} --layer {layer})")
    return [layer]


def run_checks(kind: str = "all", *, layer: str | None = None, make_layer: Callable[[LayerSpec], Any] | None = None,
               backend: str = "numpy", impl: str | None = None, modes: Iterable[str] | None = None,
               dtypes: Iterable[str] = DTYPES, phase0: Phase0 | str | Path = DEFAULT_PHASE0,
               weights: str | Path = DEFAULT_WEIGHTS, tol: Tolerance | None = None, **mode_options: Any) -> CheckRun:
    """Check the layers of ``kind`` (or the one ``layer``) in every mode and dtype; results in reading order.

    Layers come from ``make_layer(spec)`` if given, else from ``impl`` (``MODULE:CLASS`` or ``file.py:CLASS``),
    else from ``backend``. ``modes=None`` runs every mode that is available and notes the others.
    ``mode_options`` (e.g. the train mode's ``steps`` and ``data_root``) go to every mode; each takes its own.
    """
    factory = make_layer or (ImplFactory(impl) if impl else BackendFactory(backend))
    run = CheckRun()
    functions = {}
    for mode in modes or MODES:
        if mode not in _MODE_FUNCTIONS:
            raise UserInputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        function = mode_function(mode)
        if isinstance(function, str):
            if modes is not None:
                raise UserInputError(f"--mode {mode} is not available: {function}; use --mode all or another mode")
            run.note(f"skipped the {mode} mode: {function}")
            continue
        functions[mode] = function
    if any(m in functions for m in NEEDS_PHASE0) and not isinstance(phase0, Phase0):
        phase0 = load_phase0(phase0)
    if any(m in functions for m in NEEDS_WEIGHTS):
        read_weights(weights)  # a missing or wrong-version file is exit 2 here, not a crash inside a mode
    document = phase0 if isinstance(phase0, Phase0) else None
    names = select_layers(kind, layer, layer_catalogue(document))
    notes: list[str] = []
    for mode, function in functions.items():
        for dtype in dtypes:
            run.extend(function(names, factory, dtype=dtype, phase0=document, weights_path=Path(weights), tol=tol,
                                notes=notes, **mode_options))
    for text in notes:
        run.note(text)
    return run


def check_command(kind: str, *, layer: str | None = None, backend: str | None = None, impl: str | None = None,
                  mode: str = "all", dtype: str = "both", phase0: str | Path = DEFAULT_PHASE0,
                  weights: str | Path = DEFAULT_WEIGHTS, atol: float | None = None, rtol: float | None = None,
                  json_path: str | Path | None = None, junit_path: str | Path | None = None,
                  verbose: bool = False, **mode_options: Any) -> int:
    """Run the checks, print the report, write --json/--junit; 0 when everything passed, 1 on a mismatch."""
    if impl and backend:
        raise UserInputError("--impl and --backend exclude each other: --impl checks your class, --backend ours")
    if impl and kind == "all" and layer is None:
        raise UserInputError(f"--impl {impl} replaces one type of layer: name it (e.g. check conv --impl {impl}) "
                             f"or pick a layer with --layer")
    if (atol is None) != (rtol is None):
        raise UserInputError("give both --atol and --rtol (they replace the tolerance table together), or neither")
    if atol is not None and (atol < 0 or rtol < 0):
        raise UserInputError(f"--atol and --rtol must be >= 0, got {atol} and {rtol}")
    tol = None if atol is None else Tolerance(atol, rtol, "--atol/--rtol on the command line")
    start = time.perf_counter()
    run = run_checks(kind, layer=layer, backend=backend or "numpy", impl=impl,
                     modes=None if mode == "all" else [mode], dtypes=DTYPES if dtype == "both" else (dtype,),
                     phase0=phase0, weights=weights, tol=tol, **mode_options)
    elapsed = time.perf_counter() - start
    click.echo(report.terminal_report(run, verbose=verbose))
    meta = {"command": "check", "type": kind, "layer": layer, "implementation": impl or backend or "numpy",
            "modes": list(dict.fromkeys(r.mode for r in run.results)), "dtypes": list(dict.fromkeys(r.dtype for r in run.results)),
            "phase0": str(phase0), "weights": str(weights),
            "tolerance_override": None if tol is None else {"atol": atol, "rtol": rtol}, "seconds": round(elapsed, 3)}
    if json_path:
        report.write_json(run, json_path, meta=meta)
    if junit_path:
        report.write_junit(run, junit_path)
    return EXIT_OK if run.passed else EXIT_MISMATCH
