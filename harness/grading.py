"""``lenet-parity grade``: every submission of a class through every layer type, isolated, in parallel (local
processes or Ray tasks).

A submission is one ``.py`` file, or one folder holding one, named after the student. Each layer type is checked
in its own worker, so one that hangs or crashes costs only its own cell. A cell is ``pass``, ``fail`` (checked
and wrong, or crashed or timed out while checked, or the file imports torch or its cousins), ``unsupported``
(nothing checked applies to the class), ``missing`` (no such class in the file) or ``error`` (the file could not
be loaded: a syntax error, an exit or a hang at import).
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lenet_parity.atomic import (FolderUpdate, atomic_write_text, replace_folder, safe_name, unique_names,
                                 write_new_file)
from lenet_parity.errors import UserInputError
from lenet_parity.executors import Executor
from lenet_parity.versions import versions
from lenet_parity.golden_pins import pinned
from lenet_parity.vocabulary import (DEFAULT_DATA_ROOT, DEFAULT_PHASE0, DEFAULT_SEED, DEFAULT_TRAIN_BATCHES,
                                     DEFAULT_WEIGHTS)

GRADED = {  # layer type -> the class a submission defines for it
    "conv": "Conv2d", "pool": "MaxPool2d", "relu": "ReLU", "dense": "Linear", "flatten": "Flatten",
    "logsoftmax": "LogSoftmax", "loss": "NLLLoss",
}
CELLS = ("pass", "pass*", "fail", "unsupported", "missing", "error")  # pass*: passed, with warnings (its reason)
PASSING = ("pass", "pass*")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula (OWASP)


@dataclass
class Submission:
    student: str
    path: Path  # the .py file, or the folder of modules
    folder: str = ""  # the student's folder under students/, unique in the class ("": safe_name(student))

    def __post_init__(self):
        self.folder = self.folder or safe_name(self.student)


@dataclass
class Grade:
    student: str
    cells: dict[str, str] = field(default_factory=dict)  # layer type -> pass / fail / missing / error
    reasons: dict[str, str] = field(default_factory=dict)  # layer type -> the first failure or the load error
    passed: int = 0  # checks passed
    total: int = 0  # checks run
    reports: dict[str, Any] = field(default_factory=dict)  # layer type -> the --json document
    folder: str = ""  # the student's folder under students/ (Submission.folder)
    seed: int = DEFAULT_SEED  # the seed of the sweep's random inputs it was graded with

    @property
    def report_path(self) -> str:
        """The student's report, relative to the gradebook."""
        return f"students/{self.folder or safe_name(self.student)}/report.json"

    @property
    def score(self) -> float:
        return round(sum(c in PASSING for c in self.cells.values()) / len(GRADED), 4)


@dataclass(frozen=True)
class Reading:
    """How the class's code is read and judged: --convention, --adapter (its content), --strict."""
    convention: str | None = None
    declared: dict[str, Any] = field(default_factory=dict)
    strict: bool = False


def find_submissions(folder: Path) -> list[Submission]:
    """One per .py file or sub-folder (holding exactly one .py file), sorted by name, each with a folder of its
    own for its reports (names that make one folder name get -2, -3, ... in this order); bad input if none."""
    if not folder.is_dir():
        raise UserInputError(f"{folder}: not a folder of submissions (one .py file or folder per student)")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".py":
            found.append(Submission(entry.stem, entry))
        elif entry.is_dir() and not entry.name.startswith((".", "__")):
            files = sorted(entry.rglob("*.py"))
            if len(files) == 1:
                found.append(Submission(entry.name, files[0]))
            elif files:  # modules that import each other: the folder is the submission
                found.append(Submission(entry.name, entry))
    if not found:
        raise UserInputError(f"{folder}: no submissions (a .py file, or a folder of .py files, per student)")
    for submission, name in zip(found, unique_names(s.student for s in found)):
        submission.folder = name
    return found


def grade_one(submission: Submission, out: Path, *, timeout: float, data_root: Path, allow_imports: bool = False,
              load_from: Path | None = None, modes: tuple[str, ...] | None = None, seed: int = DEFAULT_SEED,
              reading: Reading = Reading()) -> Grade:
    """Every layer type of one submission, each in its own worker; the student's JSON report and repro folder.

    ``load_from``: where this machine reads the student's file, when not at ``submission.path``."""
    from lenet_parity.harness.check_runner import run_checks
    from lenet_parity.harness.context import CheckContext
    from lenet_parity.harness.isolation import ForbiddenImport, IsolatedFactory
    from lenet_parity.harness.repro import write_repro

    source = str(load_from or submission.path)
    grade = Grade(submission.student, folder=submission.folder, seed=seed)
    folder = out / "students" / submission.folder
    for kind, cls in GRADED.items():
        try:  # the golden files are read before the student's code runs, and used from memory
            with (pinned(DEFAULT_PHASE0, DEFAULT_WEIGHTS, DEFAULT_TRAIN_BATCHES),
                  IsolatedFactory(source, timeout=timeout, allow_imports=allow_imports, convention=reading.convention,
                                  declared=reading.declared) as factory):
                if not factory.defines(cls):
                    grade.cells[kind], grade.reasons[kind] = "missing", (
                        f"nothing in {submission.path.name} implements {cls} (a class named like it, or function "
                        f"pairs like conv_forward/conv_backward)")
                    continue
                run = run_checks(kind, CheckContext(factory, data_root=data_root, seed=seed, strict=reading.strict),
                                 modes=modes)
            factory.report_into(run)  # once its process has ended: all it printed
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
        if run.warnings and run.passed:
            grade.reasons[kind] = warnings_of(run)
        if not run.passed:
            grade.reasons[kind] = reason_of(run)
            if source.endswith(".py"):  # a folder of modules has no one file to copy beside the tests
                write_repro(run, folder / "repro", impl=source,  # holds a copy of source
                            class_of=lambda spec, found=factory: found.class_name(spec.cls))
    atomic_write_text(folder / "report.json", report_json(grade, submission))
    return grade


def reason_of(run) -> str:
    """A failed run's reason, from its rows (never parsed from a message): the first failure; its likely cause."""
    first = run.first_failure
    if first is None:
        return "no check ran"
    likely = first.likely()
    printed = f"; it printed {run.printed_bytes:,} bytes, ending: {run.printed.splitlines()[-1][:120]!r}" \
        if run.printed_bytes and run.printed.strip() else ""
    return f"first failure: {first.describe()}; likely cause: {likely.hint} [{likely.code}]{printed}"


def report_json(grade: Grade, submission: Submission) -> str:
    """A student's report.json: the cells, their reasons, the counts and every layer type's --json document."""
    return json.dumps({"student": grade.student, "file": str(submission.path), "seed": grade.seed, "cells": grade.cells,
                       "reasons": grade.reasons, "checks_passed": grade.passed, "checks_total": grade.total,
                       "score": grade.score, "reports": grade.reports}, indent=1, allow_nan=False) + "\n"


def cell_of(run) -> str:
    """pass (pass* with warnings), fail, or unsupported when nothing the layer type runs applies to this class."""
    if not run.passed:
        return "fail"
    statuses = {r.status for r in run.results}
    if statuses == {"unsupported"}:
        return "unsupported"
    return "pass*" if "warning" in statuses else "pass"


def warnings_of(run) -> str:
    """A passed run's warnings in one reason: each deviation once."""
    seen = dict.fromkeys(f"{r.checked_layer}.{r.tensor}: {r.warning}" for r in run.warnings)
    return f"passed with {len(run.warnings)} warnings: " + "; ".join(seen)


@dataclass(frozen=True)
class GradingTask:
    """One submission as it travels to a worker, here or on another machine: its file by value, and how to grade."""
    submission: Submission
    source: dict[str, bytes]  # its files by value (snapshot)
    timeout: float
    data_root: str  # absolute
    allow_imports: bool
    modes: tuple[str, ...] | None = None  # None: every mode
    seed: int = DEFAULT_SEED  # the sweep's random inputs
    reading: Reading = Reading()


def run_task(task: GradingTask) -> tuple[Grade, dict[str, bytes]]:
    """Grade one submission in a scratch folder; the grade and the files of the student's folder it wrote
    (relative path -> bytes), for the caller to write: so a worker needs no file system in common with it."""
    with tempfile.TemporaryDirectory(prefix="lenet-parity-grade-") as scratch:
        path = task.submission.path
        if snapshot(path) != task.source:  # another machine: the files travel here
            path = Path(scratch, "submission", path.name)
            for relative, data in task.source.items():
                target = path / relative if relative != path.name else path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        out = Path(scratch, "out")
        grade = grade_one(task.submission, out, timeout=task.timeout, data_root=Path(task.data_root),
                          allow_imports=task.allow_imports, load_from=path, modes=task.modes, seed=task.seed,
                          reading=task.reading)
        folder = out / "students" / task.submission.folder
        files = {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}
    return grade, files


def snapshot(path: Path) -> dict[str, bytes]:
    """A submission's files by value: {name: bytes} for one file; {relative path: bytes} of a folder's .py files."""
    try:
        if path.is_dir():
            return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*.py"))}
        return {path.name: path.read_bytes()} if path.is_file() else {}
    except OSError:
        return {}


def crashed(submission: Submission, error: BaseException, seed: int = DEFAULT_SEED) -> tuple[Grade, dict[str, bytes]]:
    """The grade (and report) of a submission whose grading itself died: it never stops the others."""
    reason = f"grading crashed: {type(error).__name__}: {error}"
    grade = Grade(submission.student, cells={k: "error" for k in GRADED}, reasons={k: reason for k in GRADED},
                  folder=submission.folder, seed=seed)
    return grade, {"report.json": report_json(grade, submission).encode()}


def csv_cell(value: Any) -> Any:
    """A cell as a spreadsheet must read it: text starting with = + - @, tab or CR (a formula to Excel, LibreOffice
    and Sheets) behind a single quote, the rule OWASP gives against CSV injection; our numbers stay numbers."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_gradebook(grades: list[Grade], out: Path, *, gradescope: bool = False) -> None:
    """gradebook.csv/.json/.html (and Gradescope's results.json) written new into ``out`` (grade()'s scratch
    folder); each row names its student's own report."""
    grades = sorted(grades, key=lambda g: (g.student, g.folder))
    buffer = io.StringIO()
    # every text quoted: a CR in a name would otherwise end the row early (the terminator is a bare LF)
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(["student", *GRADED, "checks_passed", "checks_total", "score", "report", "seed"])
    for g in grades:
        writer.writerow([csv_cell(v) for v in (g.student, *(g.cells.get(k, "error") for k in GRADED), g.passed,
                                               g.total, g.score, g.report_path, g.seed)])
    files = {"gradebook.csv": buffer.getvalue(), "gradebook.html": _html(grades)}
    files["gradebook.json"] = json.dumps({"versions": versions(), "seeds": sorted({g.seed for g in grades}), "grades": [
        {"student": g.student, "cells": g.cells, "reasons": g.reasons, "checks_passed": g.passed,
         "checks_total": g.total, "score": g.score, "report": g.report_path, "seed": g.seed} for g in grades]},
        indent=1) + "\n"
    if gradescope:
        files["results.json"] = json.dumps({
            "score": round(sum(g.score for g in grades) / max(len(grades), 1), 4),
            "tests": [{"name": f"{g.student}: {kind}", "score": 1.0 if g.cells.get(kind) in PASSING else 0.0,
                       "max_score": 1.0, "output": g.reasons.get(kind, "")} for g in grades for kind in GRADED],
        }, indent=1) + "\n"
    for name, text in files.items():
        write_new_file(out / name, text.encode())


def _html(grades: list[Grade]) -> str:
    colours = {"pass": "#d1f7d6", "pass*": "#e9f7c8", "fail": "#ffd6d6", "unsupported": "#e3ecff", "missing": "#eeeeee", "error": "#ffe9a8"}
    head = "".join(f"<th>{k}</th>" for k in GRADED)
    rows = []
    for g in grades:
        cells = "".join(f'<td style="background:{colours[g.cells.get(k, "error")]}" '
                        f'title="{html.escape(g.reasons.get(k, ""))}">{g.cells.get(k, "error")}</td>' for k in GRADED)
        rows.append(f'<tr><td><a href="{html.escape(g.report_path)}">{html.escape(g.student)}</a></td>{cells}'
                    f"<td>{g.passed}/{g.total}</td><td>{g.score:.2f}</td></tr>")
    seeds = ", ".join(str(seed) for seed in sorted({g.seed for g in grades}))
    return (f"<!doctype html><meta charset=utf-8><title>gradebook</title><table border=1 cellpadding=4>"
            f"<caption>the sweep's random inputs drawn with seed {seeds}</caption>"
            f"<tr><th>student</th>{head}<th>checks</th><th>score</th></tr>{''.join(rows)}</table>\n")


@contextlib.contextmanager
def _writing(out: Path):
    """An OSError while writing the grades (a full disk) as one line of bad input; ``out`` is left as it was."""
    try:
        yield
    except OSError as exc:
        raise UserInputError(f"{out}: the grades could not be written ({exc.strerror or exc}); nothing there was "
                             f"changed") from None


def grade(folder: Path, out: Path, *, executor: Executor = Executor(), timeout: float = 60,
          data_root: Path = DEFAULT_DATA_ROOT, allow_imports: bool = False, gradescope: bool = False,
          modes: tuple[str, ...] | None = None, progress: Callable[[Grade], None] | None = None,
          seed: int = DEFAULT_SEED, reading: Reading = Reading()) -> list[Grade]:
    """Grade every submission in ``folder`` into ``out`` (``modes``: None for every mode; ``seed`` draws the sweep's
    random inputs, recorded in the gradebook and each report); ``progress`` is told of each grade as it finishes."""
    submissions = find_submissions(folder)
    # absolute paths, resolved here: a worker on another machine cannot resolve ours
    tasks = [GradingTask(Submission(s.student, s.path.resolve(), s.folder), snapshot(s.path), timeout,
                         str(Path(data_root).resolve()), allow_imports, modes, seed, reading) for s in submissions]
    grades = []
    with _writing(out):
        update = FolderUpdate(out)  # everything is written here first: out changes only once grading finished
    with update:
        for task, result, error in executor.run(run_task, tasks):
            grade, files = result if error is None else crashed(task.submission, error, task.seed)
            grade.folder = task.submission.folder  # decided here, for the whole class
            with _writing(out):
                replace_folder(update.path / "students" / grade.folder, files)
            grades.append(grade)
            if progress is not None:
                progress(grade)
        with _writing(out):
            write_gradebook(grades, update.path, gradescope=gradescope)
            update.commit()  # students/ swapped whole: no earlier run's folders stay
    return sorted(grades, key=lambda g: (g.student, g.folder))
