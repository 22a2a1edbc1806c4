"""``grade --resume``: what the last gradebook in --out was graded with, and which submissions must be graded again.

The gradebook records the run's keys (lenet-parity and torch versions, rubric digest, seed, modes, golden files,
how the code is read, timeout) and each student's sha256. A regrade keeps the rows and folders of the students
whose bytes did not change, grades the changed and new ones, and drops those no longer in the folder; when any
run key changed, nothing earlier can stand and every submission is graded again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenet_parity.golden_pins import shipped_seal
from lenet_parity.harness.grade_record import Grade, Reading, Submission
from lenet_parity.harness.gradebook import STUDENT_EXTRAS
from lenet_parity.harness.rubric import Rubric
from lenet_parity.versions import versions
from lenet_parity.vocabulary import SHIPPED_GOLDEN_FILES

SHOWN_VALUES = ("lenet-parity", "torch", "seed", "modes", "timeout", "allow_imports")  # short: old -> new said


def golden_digests() -> dict[str, str]:
    """Each golden file's seal as shipped (golden_digests.SHIPPED), else the sha256 of its bytes."""
    return {path.name: shipped_seal(path) or hashlib.sha256(path.read_bytes()).hexdigest()
            for path in SHIPPED_GOLDEN_FILES}


def run_keys(*, rubric: Rubric, seed: int, modes: tuple[str, ...] | None, reading: Reading, timeout: float,
             allow_imports: bool) -> dict[str, Any]:
    """What a grade depends on besides the submission: a change in any of them regrades the whole class."""
    found = versions()
    adapter = json.dumps(reading.declared, sort_keys=True, default=str)
    return {"lenet-parity": found["lenet-parity"], "torch": found["torch"], "rubric": rubric.digest(), "seed": seed,
            "modes": list(modes) if modes else "all", "golden": golden_digests(),
            "reading": {"convention": reading.convention, "strict": reading.strict,
                        "adapter": hashlib.sha256(adapter.encode()).hexdigest() if reading.declared else None},
            "timeout": timeout, "allow_imports": allow_imports}


@dataclass
class ResumePlan:
    regrade: list[Submission]  # graded by this run: changed, new, or all of them
    kept: list[tuple[Grade, dict[str, bytes]]] = field(default_factory=list)  # unchanged: grade and folder's files
    dropped: list[str] = field(default_factory=list)  # students of the last gradebook no longer submitted
    everything: str | None = None  # why every submission is graded again; None: only the changed and new

    def describe(self) -> str:
        if self.everything:
            return f"regrading all {len(self.regrade)} submissions: {self.everything}"
        dropped = f"; dropped (no longer submitted): {', '.join(self.dropped)}" if self.dropped else ""
        return (f"resuming: regrading {len(self.regrade)} changed or new "
                f"({', '.join(s.student for s in self.regrade) or 'none'}); keeping {len(self.kept)} unchanged"
                f"{dropped}")


def plan_resume(out: Path, submissions: list[Submission], sha256s: dict[str, str],
                keys: dict[str, Any]) -> ResumePlan:
    """Which submissions (sha256s: by entry) the gradebook in ``out`` already holds, graded with ``keys``."""
    try:
        previous = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
        earlier, rows = previous["run"], previous["grades"]
    except FileNotFoundError:
        return ResumePlan(list(submissions), everything=f"no gradebook.json in {out} to resume from")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return ResumePlan(list(submissions), everything=f"{out / 'gradebook.json'} cannot be read ({exc!r})")
    changed = [_change(key, earlier.get(key), value) for key, value in keys.items() if earlier.get(key) != value]
    if changed:
        return ResumePlan(list(submissions), everything=f"changed since the last gradebook: {', '.join(changed)}")
    by_entry = {row.get("entry"): row for row in rows if isinstance(row, dict)}
    plan = ResumePlan([], dropped=sorted(str(row.get("student")) for entry, row in by_entry.items()
                                         if entry not in {s.entry for s in submissions}))
    for submission in submissions:
        kept = _kept(out, by_entry.get(submission.entry), submission, sha256s[submission.entry])
        if kept is None:
            plan.regrade.append(submission)
        else:
            plan.kept.append(kept)
    return plan


def _change(key: str, old: Any, new: Any) -> str:
    return f"{key} ({old} -> {new})" if key in SHOWN_VALUES else key


def _kept(out: Path, row: dict | None, submission: Submission, sha256: str) -> tuple[Grade, dict[str, bytes]] | None:
    """The earlier grade and its folder's files, when its bytes are unchanged and all of it can be read back."""
    if row is None or row.get("sha256") != sha256:
        return None
    try:
        grade = Grade.from_summary(row)
        folder = out / "students" / grade.folder
        files = {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}
    except (KeyError, TypeError, ValueError, AttributeError, OSError):
        return None
    if "report.json" not in files:
        return None
    grade.folder = submission.folder  # numbered again with today's class
    return grade, {name: data for name, data in files.items() if name not in STUDENT_EXTRAS}
