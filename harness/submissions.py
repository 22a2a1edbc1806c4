"""The submissions folder read as a class: one Submission per entry, each with a folder of its own for its reports.

An entry that cannot be graded (a notebook, an archive, a README, an empty folder, a folder without Python) is
still a submission: its row says what it is and what to hand in instead, so no student silently vanishes from
the gradebook. Hidden entries (dot files, __pycache__) are no one's submission and are skipped.
"""

from __future__ import annotations

from pathlib import Path

from lenet_parity.atomic import unique_names
from lenet_parity.errors import UserInputError
from lenet_parity.harness.grade_record import Submission

WHAT_TO_SUBMIT = "submit your layers as one .py file, or as a folder of .py files"
NOT_PYTHON = {  # a file's suffix -> what it is, and how to turn it into what grading reads
    ".ipynb": "a Jupyter notebook: export it as a Python script (File > Save and Export Notebook As > Executable "
              "Script)",
    ".zip": "an archive: unpack it", ".tar": "an archive: unpack it", ".gz": "an archive: unpack it",
    ".tgz": "an archive: unpack it", ".7z": "an archive: unpack it", ".rar": "an archive: unpack it",
    ".pyc": "compiled Python, which cannot be read back: hand in the .py source it was compiled from",
}


def hidden(entry: Path) -> bool:
    """Dot files and folders, __pycache__ and its kind: left by tools, never a student's submission."""
    return entry.name.startswith((".", "__"))


def find_submissions(folder: Path) -> list[Submission]:
    """One per entry of ``folder`` (hidden ones skipped), sorted by name: a .py file, a folder holding one .py file
    (graded as that file) or several (the folder is the submission), or anything else with its ``problem``; bad
    input if there is nothing at all. Names that make one folder name get -2, -3, ... in this order."""
    if not folder.is_dir():
        raise UserInputError(f"{folder}: not a folder of submissions (one .py file or folder per student)")
    found = [_submission(entry) for entry in sorted(folder.iterdir()) if not hidden(entry)]
    if not found:
        raise UserInputError(f"{folder}: no submissions (a .py file, or a folder of .py files, per student)")
    for submission, name in zip(found, unique_names(s.student for s in found)):
        submission.folder = name
    return found


def _submission(entry: Path) -> Submission:
    if not entry.is_dir():
        if entry.suffix == ".py":
            return Submission(entry.stem, entry)
        return Submission(entry.stem or entry.name, entry, problem=_not_python(entry))
    files = sorted(f for f in entry.rglob("*.py") if not any(hidden(p) for p in f.relative_to(entry).parents
                                                               if p.name) and not hidden(f))
    if len(files) == 1:
        return Submission(entry.name, files[0], entry=entry.name)
    if files:  # modules that import each other: the folder is the submission
        return Submission(entry.name, entry, entry=entry.name)
    return Submission(entry.name, entry, entry=entry.name, problem=_no_python_inside(entry))


def _not_python(entry: Path) -> str:
    what = NOT_PYTHON.get(entry.suffix.lower(), "not a Python file (.py)")
    return f"{entry.name} is {what}; {WHAT_TO_SUBMIT}"


def _no_python_inside(entry: Path) -> str:
    inside = sorted(str(f.relative_to(entry)) for f in entry.rglob("*") if f.is_file() and not hidden(f))
    if not inside:
        return f"{entry.name}/ is an empty folder; {WHAT_TO_SUBMIT}"
    shown = ", ".join(inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
    notebooks = [n for n in inside if n.lower().endswith(".ipynb")]
    hint = f"; export {notebooks[0]} as a Python script" if notebooks else ""
    return f"{entry.name}/ holds no .py file (it holds {shown}){hint}; {WHAT_TO_SUBMIT}"
