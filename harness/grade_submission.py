"""One submission through every layer type its rubric grades, in one sandboxed worker (as ``check all --impl``).

A type whose check kills the worker (a --timeout, a crash, the memory limit) costs only its own cell: the types
after it get a fresh worker. The golden files are read once, before the student's code runs, and used from memory.
"""

from __future__ import annotations

import json
from pathlib import Path

from lenet_parity.atomic import atomic_write_text
from lenet_parity.errors import UserInputError
from lenet_parity.golden_pins import pinned
from lenet_parity.harness.grade_cells import judge
from lenet_parity.harness.grade_record import Grade, Reading, Submission
from lenet_parity.harness.grade_together import remaining, rows_together, runs_together
from lenet_parity.harness.rubric import DEFAULT_RUBRIC, Rubric, points_earned
from lenet_parity.reference.layers import KINDS
from lenet_parity.vocabulary import DEFAULT_PHASE0, DEFAULT_SEED, SHIPPED_GOLDEN_FILES


def classes_of(kind: str) -> list[str]:
    """The torch classes a submission writes for a layer type (batchnorm: BatchNorm1d and BatchNorm2d)."""
    from lenet_parity.harness.layer_factory import layer_catalogue, reference_model_for

    specs = layer_catalogue(None, reference_model_for(kind, None)).values()
    return list(dict.fromkeys(spec.cls for _, spec in specs if spec.kind == kind))


GRADED = {kind: " or ".join(classes_of(kind)) for kind in KINDS}  # layer type -> the class(es) a student writes


def spent(factory) -> bool:
    """Whether the factory's worker died, hung or ran out of memory: the next type gets a fresh one."""
    worker = factory.worker
    return bool(factory.stopped or worker.deaths or worker.memory_errors or worker.timed_out)


def grade_one(submission: Submission, out: Path, *, timeout: float, data_root: Path, allow_imports: bool = False,
              load_from: Path | None = None, modes: tuple[str, ...] | None = None, seed: int = DEFAULT_SEED,
              reading: Reading = Reading(), rubric: Rubric = DEFAULT_RUBRIC, sha256: str = "") -> Grade:
    """Every graded layer type of one submission; its report.json (and repro folder) under out/students/.

    ``load_from``: where this machine reads the student's file, when not at ``submission.path``."""
    grade = blank_grade(submission, rubric, seed=seed, sha256=sha256)
    folder = out / "students" / submission.folder
    if submission.problem:
        every_cell(grade, list(rubric.types), "error", submission.problem)
    else:
        _check_types(grade, submission, folder, str(load_from or submission.path), timeout=timeout,
                     data_root=data_root, allow_imports=allow_imports, modes=modes, reading=reading, rubric=rubric)
    atomic_write_text(folder / "report.json", report_json(grade, submission))
    return grade


def blank_grade(submission: Submission, rubric: Rubric, *, seed: int, sha256: str = "") -> Grade:
    """A grade with nothing earned yet: each graded type at 0 of its rubric points."""
    return Grade(submission.student, folder=submission.folder, seed=seed, entry=submission.entry, sha256=sha256,
                 max_points={kind: rule.points for kind, rule in rubric.types.items()},
                 points=dict.fromkeys(rubric.types, 0.0))


def every_cell(grade: Grade, kinds: list[str], cell: str, reason: str) -> None:
    """The same cell and reason for each of ``kinds`` (a file that cannot be loaded, a grading that crashed)."""
    for kind in kinds:
        grade.cells[kind], grade.reasons[kind], grade.points[kind] = cell, reason, 0.0


def _check_types(grade: Grade, submission: Submission, folder: Path, source: str, *, timeout, data_root,
                 allow_imports, modes, reading, rubric) -> None:
    """The rubric's types in order, each factory serving them until its worker is spent, then a fresh one."""
    from lenet_parity.harness.check_runner import select_modes
    from lenet_parity.harness.isolation import ForbiddenImport, IsolatedFactory
    from lenet_parity.reference.phase0_format import load_phase0

    pending, together = list(rubric.types), True
    with pinned(*SHIPPED_GOLDEN_FILES):
        phase0 = load_phase0(DEFAULT_PHASE0) if any(m.needs_phase0 for m in select_modes(modes)) else None
        while pending:
            try:
                factory = IsolatedFactory(source, timeout=timeout, allow_imports=allow_imports,
                                          convention=reading.convention, declared=reading.declared)
            except UserInputError as exc:  # the file cannot be loaded at all: every type left says why
                cell = "fail" if isinstance(exc, ForbiddenImport) else "error"  # borrowed, not broken
                every_cell(grade, pending, cell, _in_grading_words(str(exc), source, submission.path))
                return
            with factory:
                runs = _until_spent(grade, pending, factory, submission, phase0=phase0, data_root=data_root,
                                    modes=modes, reading=reading, together=together)
            together = False  # a worker spent on the modes together: each type runs them alone
            for kind, run in runs.items():  # once its process has ended: all it printed
                factory.report_into(run)
                _record(grade, kind, run, factory, rubric)
                if not run.passed and source.endswith(".py"):  # a folder of modules: no one file to copy
                    from lenet_parity.harness.repro import write_repro

                    write_repro(run, folder / "repro", impl=source,  # holds a copy of source
                                class_of=lambda spec, found=factory: found.class_name(spec.cls))
            pending = [kind for kind in pending if kind not in grade.cells]  # those after a spent worker


def _until_spent(grade: Grade, pending: list[str], factory, submission: Submission, *, phase0, data_root, modes,
                 reading, together: bool) -> dict:
    """The runs of the pending types, in order, until one leaves the worker spent; a type with no class is
    marked missing on the way. ``together``: the network modes first with every type's layers at once
    (harness/grade_together.py); each type then runs alone what did not pass together, and its other modes."""
    from lenet_parity.harness.check_runner import run_checks
    from lenet_parity.harness.context import CheckContext

    defined = []
    for kind in pending:
        if any(factory.defines(cls) for cls in classes_of(kind)):
            defined.append(kind)
        else:
            grade.cells[kind], grade.reasons[kind] = "missing", (
                f"nothing in {submission.path.name} implements {GRADED[kind]} (a class named like "
                f"it, or function pairs like conv_forward/conv_backward)")
    together_rows = {}
    if together and runs_together(modes) and defined:
        together_rows = rows_together(defined, modes, factory, phase0=phase0, data_root=data_root, seed=grade.seed,
                                      strict=reading.strict)
        if spent(factory):
            return {}
    runs = {}
    for kind in defined:
        done = together_rows.get(kind, {})
        context = CheckContext(factory, phase0=phase0, data_root=data_root, seed=grade.seed, strict=reading.strict)
        runs[kind] = run_checks(kind, context, modes=remaining(modes, done))
        for rows in done.values():
            runs[kind].extend(rows)
        if spent(factory):
            break
    return runs


def _record(grade: Grade, kind: str, run, factory, rubric: Rubric) -> None:
    counts = run.counts()
    grade.cells[kind], reason, not_run = judge(run, factory.worker)
    if reason:
        grade.reasons[kind] = reason
    grade.passed += counts["passed"] + counts["unsupported"]
    grade.total += len(run.results)
    grade.not_run += not_run
    grade.points[kind] = points_earned(rubric.types[kind], run.results)
    grade.reports[kind] = run.to_dict()


def _in_grading_words(message: str, source: str, path: Path) -> str:
    """A load error as a student reads it: their file's name, not the scratch copy's, without the CLI's --impl."""
    message = message.replace(source, str(path))
    prefix = f"--impl {path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def report_json(grade: Grade, submission: Submission) -> str:
    """A student's report.json: the grade's summary (cells, reasons, points, counts) and every type's --json."""
    return json.dumps({**grade.summary(), "file": str(submission.path), "reports": grade.reports}, indent=1,
                      allow_nan=False) + "\n"
