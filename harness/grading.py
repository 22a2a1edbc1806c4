"""``lenet-parity grade``: every submission of a class through every layer type, isolated, in parallel (local
processes or Ray tasks).

A submission is one ``.py`` file, or one folder holding one, named after the student. Each layer type is checked
in its own worker, so one that hangs or crashes costs only its own cell. A cell is ``pass``, ``fail`` (checked
and wrong, or crashed or timed out while checked, or the file imports torch or its cousins), ``unsupported``
(nothing checked applies to the class), ``missing`` (no such class in the file) or ``error`` (the file could not
be loaded: a syntax error, an exit or a hang at import).
"""

from __future__ import annotations

import csv
import html
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lenet_parity.atomic import atomic_write_text, replace_folder, safe_name
from lenet_parity.errors import UserInputError
from lenet_parity.executors import Executor
from lenet_parity.versions import versions
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT

GRADED = {  # layer type -> the class a submission defines for it
    "conv": "Conv2d", "pool": "MaxPool2d", "relu": "ReLU", "dense": "Linear", "flatten": "Flatten",
    "logsoftmax": "LogSoftmax", "loss": "NLLLoss",
}
CELLS = ("pass", "fail", "unsupported", "missing", "error")


@dataclass
class Submission:
    student: str
    path: Path  # the .py file


@dataclass
class Grade:
    student: str
    cells: dict[str, str] = field(default_factory=dict)  # layer type -> pass / fail / missing / error
    reasons: dict[str, str] = field(default_factory=dict)  # layer type -> the first failure or the load error
    passed: int = 0  # checks passed
    total: int = 0  # checks run
    reports: dict[str, Any] = field(default_factory=dict)  # layer type -> the --json document

    @property
    def score(self) -> float:
        return round(sum(c == "pass" for c in self.cells.values()) / len(GRADED), 4)


def find_submissions(folder: Path) -> list[Submission]:
    """One per .py file or sub-folder (holding exactly one .py file), sorted by name; bad input if none."""
    if not folder.is_dir():
        raise UserInputError(f"{folder}: not a folder of submissions (one .py file or folder per student)")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".py":
            found.append(Submission(entry.stem, entry))
        elif entry.is_dir() and not entry.name.startswith((".", "__")):
            files = sorted(entry.glob("*.py"))
            if len(files) == 1:
                found.append(Submission(entry.name, files[0]))
    if not found:
        raise UserInputError(f"{folder}: no submissions (a .py file, or a folder with one .py file, per student)")
    return found


def grade_one(submission: Submission, out: Path, *, timeout: float, data_root: Path, allow_imports: bool = False,
              load_from: Path | None = None, modes: tuple[str, ...] | None = None) -> Grade:
    """Every layer type of one submission, each in its own worker; the student's JSON report and repro folder.

    ``load_from``: where this machine reads the student's file, when not at ``submission.path``."""
    from lenet_parity.harness.check_runner import run_checks
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.isolation import ForbiddenImport, IsolatedFactory
    from lenet_parity.harness.repro import write_repro

    source = str(load_from or submission.path)
    grade = Grade(submission.student)
    for kind, cls in GRADED.items():
        try:
            with IsolatedFactory(source, timeout=timeout, allow_imports=allow_imports) as factory:
                if not factory.defines(cls):
                    grade.cells[kind], grade.reasons[kind] = "missing", f"no class {cls} in {submission.path.name}"
                    continue
                run = run_checks(kind, CheckContext(factory, data_root=data_root), modes=modes)
        except UserInputError as exc:  # the file cannot be loaded at all: every cell says why
            cell = "fail" if isinstance(exc, ForbiddenImport) else "error"  # borrowed, not broken
            reason = str(exc).replace(source, str(submission.path))
            for k in GRADED:
                grade.cells[k], grade.reasons[k] = cell, reason
            break
        counts = run.counts()
        grade.passed += counts["passed"] + counts["unsupported"]
        grade.total += len(run.results)
        grade.cells[kind] = cell_of(run)
        grade.reports[kind] = run.to_dict()
        if not run.passed:
            first, *_, likely, _ = run.failure_message().splitlines()
            grade.reasons[kind] = f"{first}; {likely}"
            write_repro(run, out / "students" / safe_name(submission.student) / "repro",
                        impl=str(submission.path.resolve()), class_of=lambda spec: spec.cls)
    atomic_write_text(out / "students" / safe_name(submission.student) / "report.json", report_json(grade, submission))
    return grade


def report_json(grade: Grade, submission: Submission) -> str:
    """A student's report.json: the cells, their reasons, the counts and every layer type's --json document."""
    return json.dumps({"student": grade.student, "file": str(submission.path), "cells": grade.cells,
                       "reasons": grade.reasons, "checks_passed": grade.passed, "checks_total": grade.total,
                       "score": grade.score, "reports": grade.reports}, indent=1, allow_nan=False) + "\n"


def cell_of(run) -> str:
    """pass, fail, or unsupported when nothing the layer type runs applies to this class (all unsupported)."""
    if not run.passed:
        return "fail"
    statuses = {r.status for r in run.results}
    return "unsupported" if statuses == {"unsupported"} else "pass"


@dataclass(frozen=True)
class GradingTask:
    """One submission as it travels to a worker, here or on another machine: its file by value, and how to grade."""
    submission: Submission
    source: bytes
    timeout: float
    data_root: str  # absolute
    allow_imports: bool
    modes: tuple[str, ...] | None = None  # None: every mode


def run_task(task: GradingTask) -> tuple[Grade, dict[str, bytes]]:
    """Grade one submission in a scratch folder; the grade and the files of the student's folder it wrote
    (relative path -> bytes), for the caller to write: so a worker needs no file system in common with it."""
    with tempfile.TemporaryDirectory(prefix="lenet-parity-grade-") as scratch:
        path = task.submission.path
        if not (path.is_file() and path.read_bytes() == task.source):  # another machine: the file travels here
            path = Path(scratch, "submission", path.name)
            path.parent.mkdir()
            path.write_bytes(task.source)
        out = Path(scratch, "out")
        grade = grade_one(task.submission, out, timeout=task.timeout, data_root=Path(task.data_root),
                          allow_imports=task.allow_imports, load_from=path, modes=task.modes)
        folder = out / "students" / safe_name(task.submission.student)
        files = {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}
    return grade, files


def crashed(submission: Submission, error: BaseException) -> tuple[Grade, dict[str, bytes]]:
    """The grade (and report) of a submission whose grading itself died: it never stops the others."""
    reason = f"grading crashed: {type(error).__name__}: {error}"
    grade = Grade(submission.student, cells={k: "error" for k in GRADED}, reasons={k: reason for k in GRADED})
    return grade, {"report.json": report_json(grade, submission).encode()}


def write_gradebook(grades: list[Grade], out: Path, *, gradescope: bool = False) -> None:
    grades = sorted(grades, key=lambda g: g.student)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *GRADED, "checks_passed", "checks_total", "score"])
    for g in grades:
        writer.writerow([g.student, *(g.cells.get(k, "error") for k in GRADED), g.passed, g.total, g.score])
    atomic_write_text(out / "gradebook.csv", buffer.getvalue())
    atomic_write_text(out / "gradebook.json", json.dumps({"versions": versions(), "grades": [
        {"student": g.student, "cells": g.cells, "reasons": g.reasons, "checks_passed": g.passed,
         "checks_total": g.total, "score": g.score} for g in grades]}, indent=1) + "\n")
    atomic_write_text(out / "gradebook.html", _html(grades))
    if gradescope:
        atomic_write_text(out / "results.json", json.dumps({
            "score": round(sum(g.score for g in grades) / max(len(grades), 1), 4),
            "tests": [{"name": f"{g.student}: {kind}", "score": 1.0 if g.cells.get(kind) == "pass" else 0.0,
                       "max_score": 1.0, "output": g.reasons.get(kind, "")} for g in grades for kind in GRADED],
        }, indent=1) + "\n")


def _html(grades: list[Grade]) -> str:
    colours = {"pass": "#d1f7d6", "fail": "#ffd6d6", "unsupported": "#e3ecff", "missing": "#eeeeee", "error": "#ffe9a8"}
    head = "".join(f"<th>{k}</th>" for k in GRADED)
    rows = []
    for g in grades:
        cells = "".join(f'<td style="background:{colours[g.cells.get(k, "error")]}" '
                        f'title="{html.escape(g.reasons.get(k, ""))}">{g.cells.get(k, "error")}</td>' for k in GRADED)
        link = f"students/{safe_name(g.student)}/report.json"
        rows.append(f'<tr><td><a href="{html.escape(link)}">{html.escape(g.student)}</a></td>{cells}'
                    f"<td>{g.passed}/{g.total}</td><td>{g.score:.2f}</td></tr>")
    return (f"<!doctype html><meta charset=utf-8><title>gradebook</title><table border=1 cellpadding=4>"
            f"<tr><th>student</th>{head}<th>checks</th><th>score</th></tr>{''.join(rows)}</table>\n")


def grade(folder: Path, out: Path, *, executor: Executor = Executor(), timeout: float = 60,
          data_root: Path = DEFAULT_DATA_ROOT, allow_imports: bool = False, gradescope: bool = False,
          modes: tuple[str, ...] | None = None, progress: Callable[[Grade], None] | None = None) -> list[Grade]:
    """Grade every submission in ``folder`` into ``out`` (``modes``: None for every mode); ``progress`` is told of
    each grade as it finishes."""
    submissions = find_submissions(folder)
    # absolute paths, resolved here: a worker on another machine cannot resolve ours
    tasks = [GradingTask(Submission(s.student, s.path.resolve()), s.path.read_bytes(), timeout,
                         str(Path(data_root).resolve()), allow_imports, modes) for s in submissions]
    grades = []
    for task, result, error in executor.run(run_task, tasks):
        grade, files = result if error is None else crashed(task.submission, error)
        replace_folder(out / "students" / safe_name(grade.student), files)  # whole: no earlier run's files stay
        grades.append(grade)
        if progress is not None:
            progress(grade)
    write_gradebook(grades, out, gradescope=gradescope)
    return sorted(grades, key=lambda g: g.student)
