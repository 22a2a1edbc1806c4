"""What grading knows of one submission (``Submission``), how its code is read (``Reading``) and what it earned
(``Grade``): the records every part of ``lenet-parity grade`` passes around, and the one dict that report.json,
gradebook.json and a regrade (``--resume``) all read them as."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenet_parity.atomic import safe_name
from lenet_parity.vocabulary import DEFAULT_SEED

CELLS = ("pass", "pass*", "fail", "timeout", "unsupported", "missing", "error")  # pass*: passed, with warnings
PASSING = ("pass", "pass*")


@dataclass
class Submission:
    student: str
    path: Path  # the .py file, or the folder of modules (or, for one that cannot be graded, the entry itself)
    folder: str = ""  # the student's folder under students/, unique in the class ("": safe_name(student))
    entry: str = ""  # its name in the submissions folder (alice.py, bob/): what a regrade matches it by
    problem: str = ""  # why it cannot be graded at all (a notebook, an archive, an empty folder): every cell error

    def __post_init__(self):
        self.folder = self.folder or safe_name(self.student)
        self.entry = self.entry or self.path.name


@dataclass(frozen=True)
class Reading:
    """How the class's code is read and judged: --convention, --adapter (its content), --strict."""
    convention: str | None = None
    declared: dict[str, Any] = field(default_factory=dict)
    strict: bool = False


@dataclass
class Grade:
    student: str
    cells: dict[str, str] = field(default_factory=dict)  # layer type -> one of CELLS
    reasons: dict[str, str] = field(default_factory=dict)  # layer type -> the first failure, the timeout, the error
    passed: int = 0  # checks passed (unsupported ones included: nothing asked of the class failed)
    total: int = 0  # checks planned: those run, and those a --timeout left not run
    not_run: int = 0  # of ``total``: the checks a --timeout cut
    points: dict[str, float] = field(default_factory=dict)  # layer type -> points earned (harness/rubric.py)
    max_points: dict[str, float] = field(default_factory=dict)  # layer type -> the rubric's points for it
    reports: dict[str, Any] = field(default_factory=dict)  # layer type -> the --json document
    folder: str = ""  # the student's folder under students/ (Submission.folder)
    seed: int = DEFAULT_SEED  # the seed of the sweep's random inputs it was graded with
    entry: str = ""  # Submission.entry
    sha256: str = ""  # of the submission's names and bytes (submission_sha256): unchanged means not regraded
    regraded: bool = True  # graded by this run; False: kept from the last gradebook (grade --resume)

    @property
    def report_path(self) -> str:
        """The student's report, relative to the gradebook."""
        return f"students/{self.folder or safe_name(self.student)}/report.json"

    @property
    def total_points(self) -> float:
        return round(sum(self.points.values()), 4)

    @property
    def max_total_points(self) -> float:
        return round(sum(self.max_points.values()), 4)

    @property
    def score(self) -> float:
        """Points over the rubric's maximum (0 when nothing could be graded for points)."""
        return round(self.total_points / self.max_total_points, 4) if self.max_total_points else 0.0

    def summary(self) -> dict[str, Any]:
        """The grade without its check rows: a gradebook.json entry, the head of report.json, what --resume keeps."""
        return {"student": self.student, "entry": self.entry, "sha256": self.sha256, "folder": self.folder,
                "cells": self.cells, "reasons": self.reasons, "points": self.points, "max_points": self.max_points,
                "total_points": self.total_points, "max_total_points": self.max_total_points,
                "checks_passed": self.passed, "checks_total": self.total, "checks_not_run": self.not_run,
                "score": self.score, "report": self.report_path, "seed": self.seed}

    @classmethod
    def from_summary(cls, entry: dict[str, Any]) -> Grade:
        """A grade kept by --resume, read back from the last gradebook.json (KeyError/TypeError if malformed)."""
        return cls(str(entry["student"]), dict(entry["cells"]), dict(entry["reasons"]), int(entry["checks_passed"]),
                   int(entry["checks_total"]), int(entry["checks_not_run"]),
                   {k: float(v) for k, v in entry["points"].items()},
                   {k: float(v) for k, v in entry["max_points"].items()}, folder=str(entry["folder"]),
                   seed=int(entry["seed"]), entry=str(entry["entry"]), sha256=str(entry["sha256"]), regraded=False)


def snapshot(path: Path) -> dict[str, bytes]:
    """A submission's files by value: {name: bytes} for one file; {relative path: bytes} of a folder's .py files."""
    try:
        if path.is_dir():
            return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*.py"))}
        return {path.name: path.read_bytes()} if path.is_file() else {}
    except OSError:
        return {}


def submission_sha256(files: dict[str, bytes]) -> str:
    """One digest of a snapshot's names and bytes (each length-prefixed, so no two snapshots share one)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        for part in (name.encode("utf-8", "surrogateescape"), files[name]):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()
