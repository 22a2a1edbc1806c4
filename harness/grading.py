"""``lenet-parity grade``: every submission of a class through the layer types its rubric grades, isolated, in
parallel (local processes or Ray tasks); with ``resume``, only the submissions changed since the last gradebook.

The parts: submissions.py reads the folder (every entry a row), grade_submission.py grades one submission in one
sandboxed worker, grade_cells.py turns a type's rows into its cell (pass, pass*, fail, timeout, unsupported,
missing, error), gradebook.py writes the class's files, grade_resume.py decides what a regrade keeps.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lenet_parity.atomic import FolderUpdate, replace_folder
from lenet_parity.errors import UserInputError
from lenet_parity.executors import Executor
from lenet_parity.harness.sandbox import THREAD_ENV
from lenet_parity.harness.grade_cells import reason_of, warnings_of  # noqa: F401 - the grading API
from lenet_parity.harness.grade_record import (CELLS, PASSING, Grade, Reading, Submission,  # noqa: F401
                                               snapshot, submission_sha256)
from lenet_parity.harness.grade_resume import ResumePlan, plan_resume, run_keys
from lenet_parity.harness.grade_submission import (GRADED, blank_grade, every_cell, grade_one,  # noqa: F401
                                                  report_json)
from lenet_parity.harness.gradebook import FORMULA_STARTS, csv_cell, student_extras, write_gradebook  # noqa: F401
from lenet_parity.harness.rubric import DEFAULT_RUBRIC, Rubric
from lenet_parity.harness.submissions import find_submissions  # noqa: F401 - the grading API
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT, DEFAULT_SEED


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
    rubric: Rubric = DEFAULT_RUBRIC


def run_task(task: GradingTask) -> tuple[Grade, dict[str, bytes]]:
    """Grade one submission in a scratch folder; the grade and the files of the student's folder it wrote
    (relative path -> bytes), for the caller to write: so a worker needs no file system in common with it.

    One thread each, unless the teacher set otherwise: --workers submissions run at once, and a student's NumPy
    with BLAS threads on every core made a class of 20 grade 1.7x slower (measured: 42.2 s against 24.7 s; Ray
    sets the same for its workers)."""
    for name in THREAD_ENV:  # read by the student's process, started below, which inherits them
        os.environ.setdefault(name, "1")
    with tempfile.TemporaryDirectory(prefix="lenet-parity-grade-") as scratch:
        path = task.submission.path
        if not task.submission.problem and snapshot(path) != task.source:  # another machine: the files travel
            path = Path(scratch, "submission", path.name)
            for relative, data in task.source.items():
                target = path / relative if relative != path.name else path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        out = Path(scratch, "out")
        grade = grade_one(task.submission, out, timeout=task.timeout, data_root=Path(task.data_root),
                          allow_imports=task.allow_imports, load_from=path, modes=task.modes, seed=task.seed,
                          reading=task.reading, rubric=task.rubric, sha256=submission_sha256(task.source))
        folder = out / "students" / task.submission.folder
        files = {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}
    return grade, files


def crashed(task: GradingTask, error: BaseException) -> tuple[Grade, dict[str, bytes]]:
    """The grade (and report) of a submission whose grading itself died: it never stops the others."""
    grade = blank_grade(task.submission, task.rubric, seed=task.seed, sha256=submission_sha256(task.source))
    every_cell(grade, list(task.rubric.types), "error", f"grading crashed: {type(error).__name__}: {error}")
    return grade, {"report.json": report_json(grade, task.submission).encode()}


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
          seed: int = DEFAULT_SEED, reading: Reading = Reading(), rubric: Rubric = DEFAULT_RUBRIC,
          resume: bool = False, planned: Callable[[ResumePlan], None] | None = None) -> list[Grade]:
    """Grade every submission in ``folder`` into ``out`` (``modes``: None for every mode; ``seed`` draws the sweep's
    random inputs); ``resume``: only those changed since the gradebook in ``out``, the others' rows and folders
    kept. ``planned`` is told what will be graded before it starts, ``progress`` of each grade as it finishes."""
    submissions = find_submissions(folder)
    files_of = {s.entry: snapshot(s.path) for s in submissions}
    sha256s = {entry: submission_sha256(files) for entry, files in files_of.items()}
    keys = run_keys(rubric=rubric, seed=seed, modes=modes, reading=reading, timeout=timeout,
                    allow_imports=allow_imports)
    plan = plan_resume(out, submissions, sha256s, keys) if resume else ResumePlan(list(submissions))
    if planned is not None:
        planned(plan)
    # absolute paths, resolved here: a worker on another machine cannot resolve ours
    tasks = [GradingTask(Submission(s.student, s.path.resolve(), s.folder, s.entry, s.problem), files_of[s.entry],
                         timeout, str(Path(data_root).resolve()), allow_imports, modes, seed, reading, rubric)
             for s in plan.regrade]
    grades = []
    with _writing(out):
        update = FolderUpdate(out)  # everything is written here first: out changes only once grading finished
    with update:

        def keep(grade: Grade, files: dict[str, bytes]) -> None:
            if "report.json" in files:
                files = {**files, **student_extras(grade, files["report.json"], rubric, gradescope=gradescope)}
            with _writing(out):
                replace_folder(update.path / "students" / grade.folder, files)
            grades.append(grade)

        for grade, files in plan.kept:
            keep(grade, files)
        for task, result, error in executor.run(run_task, tasks):
            grade, files = result if error is None else crashed(task, error)
            grade.folder = task.submission.folder  # decided here, for the whole class
            keep(grade, files)
            if progress is not None:
                progress(grade)
        with _writing(out):
            write_gradebook(grades, update.path, rubric=rubric, run=keys)
            update.commit()  # students/ swapped whole: no earlier run's folders stay
    return sorted(grades, key=lambda g: (g.student, g.folder))
