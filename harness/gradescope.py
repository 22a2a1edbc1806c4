"""Gradescope's autograder, as Gradescope runs it: results.json for one graded submission, the run that grades
``$AUTOGRADER_ROOT/submission/`` as one submission, and the zip a teacher uploads (setup.sh, run_autograder, the
rubric, the adapter, config.json and a wheel of lenet-parity). The format: https://gradescope-autograders.
readthedocs.io/en/latest/specs/, written down as tests/gradescope_results.schema.json.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from lenet_parity.atomic import atomic_open, atomic_write_text
from lenet_parity.errors import UserInputError
from lenet_parity.harness.grade_submission import classes_of
from lenet_parity.harness.grading import PASSING, Grade, Reading, Submission, grade_one
from lenet_parity.harness.rubric import Rubric, TypeRule, read_rubric
from lenet_parity.harness.submissions import _submission
from lenet_parity.versions import versions
from lenet_parity.vocabulary import DEFAULT_DATA_ROOT, DEFAULT_SEED

RESULTS = Path("results", "results.json")  # under the autograder's root, where Gradescope reads it
SUBMISSION = "submission"  # under the root: the student's files, as Gradescope unpacks them
PASSED_CELLS = (*PASSING, "unsupported")  # a test Gradescope shows as passed
SPLIT_WORDS = {"type": "all or nothing", "mode": "shared equally by the modes", "check": "shared by the checks"}
VENV = "/opt/lenet-parity"  # where setup.sh installs lenet-parity on Gradescope's image


# ---- results.json ----

def type_points(grade: Grade, kind: str) -> float:
    """The points grading gave a layer type under the rubric (Grade.points); none for a type it did not grade."""
    return float(grade.points.get(kind, 0.0))


def test_output(grade: Grade, kind: str, rule: TypeRule, score: float) -> str:
    """A test's text: its cell, the checks and points, the first failure and its likely cause; under a hidden
    rule only the first failure's layer and cause, never a number the checks computed."""
    cell = grade.cells.get(kind)
    if cell is None:
        return f"not graded: this lenet-parity ({versions()['lenet-parity']}) does not grade {kind}"
    report = grade.reports.get(kind) or {}
    reason = grade.reasons.get(kind, "")
    if rule.visibility == "hidden":
        first = report.get("first_failure")
        if cell in PASSED_CELLS:
            return {"pass*": "pass*: passed, with warnings"}.get(cell, cell)
        if first:
            return (f"{cell}: first failure at {first['layer']}.{first['tensor']}; likely cause: "
                    f"{first['diagnosis']['hint']}")
        return f"{cell}: {reason}"
    points = f"{score:g} of {rule.points:g} points ({SPLIT_WORDS[rule.split]})"
    if not (counts := report.get("counts")):  # nothing was checked: a missing class, a file that cannot load
        return f"{cell}: {reason}\n{points}" if reason else f"{cell}\n{points}"
    total = sum(counts[k] for k in ("passed", "failed", "unsupported"))
    lines = [f"{cell}: {counts['passed'] + counts['unsupported']} of {total} checks passed", points]
    return "\n".join(lines + [reason] * bool(reason))


def printed_by(grade: Grade) -> tuple[str, int]:
    """What the student's code printed while its layer types were checked, and the bytes in all: each worker's
    capture once (the types one worker checked share it), headed by those types."""
    captures: dict[tuple[int, str], list[str]] = {}
    for kind, report in grade.reports.items():
        if printed := (report or {}).get("printed"):
            captures.setdefault((printed["bytes"], printed["text"]), []).append(kind)
    parts = [f"--- while {', '.join(kinds)} {'were' if kinds[1:] else 'was'} checked ({size:,} bytes) ---\n"
             f"{text}" for (size, text), kinds in captures.items()]
    return "\n".join(parts), sum(size for size, _ in captures)


def results_document(grade: Grade, rubric: Rubric, *, execution_time: float | None = None,
                     graded: str = "") -> dict[str, Any]:
    """Gradescope's results.json for one graded submission: a test per layer type of the rubric, in its order."""
    tests = []
    for number, (kind, rule) in enumerate(rubric.types.items(), 1):
        score = type_points(grade, kind)
        tests.append({"name": f"{kind}: {' or '.join(classes_of(kind))}", "number": str(number), "score": score,
                      "max_score": rule.points,
                      "status": "passed" if grade.cells.get(kind) in PASSED_CELLS else "failed",
                      "output": test_output(grade, kind, rule, score), "output_format": "text",
                      "visibility": rule.visibility, "tags": [kind]})
    found = versions()
    lines = [f"graded {graded}" if graded else "", f"checked by lenet-parity {found['lenet-parity']} against "
             f"torch {found['torch']}: one test per layer type, forward and backward"]
    text, total = printed_by(grade)
    if total and rubric.stdout_visibility == "visible":
        lines.append(f"what your code printed:\n{text}")
    elif total:
        lines.append(f"your code printed {total:,} bytes; the course's rubric keeps them from this page "
                     f"(stdout_visibility = {rubric.stdout_visibility})")
    document = {"score": round(sum(t["score"] for t in tests), 4), "output": "\n".join(filter(None, lines)),
                "output_format": "text", "stdout_visibility": rubric.stdout_visibility, "tests": tests}
    if execution_time is not None:
        document["execution_time"] = math.ceil(execution_time)  # whole seconds, as Gradescope's example
    return document


def write_results(path: Path, document: dict[str, Any]) -> None:
    """results.json written whole (a temporary file, then one rename): Gradescope never reads half of it."""
    atomic_write_text(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


# ---- the run: one submission, as Gradescope delivers it ----

def submission_of(folder: Path) -> tuple[Submission, str]:
    """Gradescope's folder as one submission (its one .py file; the folder when its modules import each other;
    else why it cannot be graded, as ``grade`` says it of a class's entry) and what was graded, in words."""
    if not folder.is_dir():
        return Submission(SUBMISSION, folder, problem=f"no {SUBMISSION}/ folder: nothing was submitted"), ""
    submission = _submission(folder)
    if submission.problem:
        return submission, ""
    if submission.path.is_file():
        return submission, str(submission.path.relative_to(folder))
    files = sorted(str(f.relative_to(folder)) for f in folder.rglob("*.py"))
    return submission, f"{len(files)} files: {', '.join(files)}"


def grade_submission(root: Path, rubric: Rubric, *, reading: Reading = Reading(), seed: int = DEFAULT_SEED,
                     timeout: float = 60, modes: tuple[str, ...] | None = None,
                     data_root: Path = DEFAULT_DATA_ROOT) -> tuple[Grade, dict[str, Any]]:
    """Grade ``root/submission/`` as one submission and write ``root/results/results.json`` (also for an empty
    submission, a syntax error or a hang: every test then says why it has no points)."""
    started = time.perf_counter()
    submission, graded = submission_of(root / SUBMISSION)
    with tempfile.TemporaryDirectory(prefix="lenet-parity-gradescope-") as scratch:
        try:
            grade = grade_one(submission, Path(scratch), timeout=timeout, data_root=data_root, modes=modes,
                              seed=seed, reading=reading, rubric=rubric)
        except Exception as exc:  # grading itself died: the student still gets a results.json saying so
            reason = f"grading crashed: {type(exc).__name__}: {exc}"
            grade = Grade(submission.student, cells=dict.fromkeys(rubric.types, "error"),
                          reasons=dict.fromkeys(rubric.types, reason), seed=seed)
    where = f"{root / SUBMISSION}/"  # the student knows their files by their names in the submission
    grade.reasons = {kind: reason.replace(where, "") for kind, reason in grade.reasons.items()}
    document = results_document(grade, rubric, execution_time=time.perf_counter() - started, graded=graded)
    write_results(root / RESULTS, document)
    return grade, document


def misconfigured(root: Path, error: Exception) -> None:
    """The results.json of an autograder that cannot run (a bad rubric or adapter in the zip): 0 and why."""
    write_results(root / RESULTS, {"score": 0.0, "output_format": "text", "tests": [],
                                   "output": f"the autograder is misconfigured (tell your teacher): {error}"})


# ---- the zip ----

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu): lenet-parity and torch
# into a venv at {venv}. The wheel is in the zip (no access to our repository needed); torch comes from PyPI.
set -euo pipefail
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
PYTHON=""
for candidate in python3.13 python3.12 python3.11; do  # tomllib (the rubric, the adapter) needs 3.11+
  if command -v "$candidate" >/dev/null && "$candidate" -c "import ensurepip, venv" 2>/dev/null; then
    PYTHON="$candidate"; break
  fi
done
if [ -z "$PYTHON" ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3.11 python3.11-venv
  PYTHON=python3.11
fi
"$PYTHON" -m venv {venv}
{venv}/bin/pip install --upgrade pip
{venv}/bin/pip install "$SOURCE/{wheel}" {pins}
{venv}/bin/lenet-parity --version
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission: grades $AUTOGRADER_ROOT/submission/ (default /autograder) as one
# submission and writes $AUTOGRADER_ROOT/results/results.json. Gradescope copies this script to /autograder and
# the zip to /autograder/source: the rubric and adapter are looked for beside it, then there.
set -u
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
[ -f "$SOURCE/config.json" ] || SOURCE="$ROOT/source"
LENET_PARITY="${{LENET_PARITY:-{venv}/bin/lenet-parity}}"
exec "$LENET_PARITY" gradescope run --root "$ROOT" {options}
"""


def rubric_toml(rubric: Rubric) -> str:
    """A rubric as the TOML that read_rubric reads back: the default spelled out, for the teacher to see."""
    lines = [f"# {rubric.source}, as lenet-parity {versions()['lenet-parity']} grades with it",
             f'stdout_visibility = "{rubric.stdout_visibility}"']
    for kind, rule in rubric.types.items():
        lines += ["", f"[types.{kind}]", f"points = {rule.points!r}", f'split = "{rule.split}"',
                  f'visibility = "{rule.visibility}"']
    return "\n".join(lines) + "\n"


def build_zip(out: Path, *, rubric_path: Path | None = None, adapter_path: Path | None = None,
              seed: int = DEFAULT_SEED, timeout: float = 60, modes: tuple[str, ...] | None = None,
              wheel: Path | None = None) -> dict[str, Any]:
    """The autograder zip, written whole (a temporary file, then one rename); its config.json."""
    from lenet_parity.conventions.adapter_file import read_adapter

    rubric = read_rubric(rubric_path)  # bad input: one line, before any work
    if adapter_path is not None:
        read_adapter(adapter_path)
    found = versions()
    with tempfile.TemporaryDirectory(prefix="lenet-parity-wheel-") as scratch:
        wheel = build_wheel(Path(scratch)) if wheel is None else _given_wheel(wheel)
        options = ["--rubric", '"$SOURCE/rubric.toml"', "--seed", str(seed), "--timeout", f"{timeout:g}"]
        options += ["--adapter", '"$SOURCE/adapter.toml"'] * (adapter_path is not None)
        for mode in modes or ():
            options += ["--mode", mode]
        config = {"format_version": 1, "lenet_parity": found["lenet-parity"], "torch": found["torch"], "seed": seed,
                  "timeout": timeout, "modes": list(modes) if modes else None, "rubric": "rubric.toml",
                  "rubric_digest": rubric.digest(), "adapter": "adapter.toml" if adapter_path else None,
                  "wheel": wheel.name}
        pins = f'"torch=={found["torch"].split("+")[0]}"' if found["torch"] else ""  # the torch it was built with
        members = {
            "setup.sh": (SETUP_SH.format(venv=VENV, wheel=wheel.name, pins=pins).encode(), 0o755),
            "run_autograder": (RUN_AUTOGRADER.format(venv=VENV, options=" ".join(options)).encode(), 0o755),
            "config.json": (json.dumps(config, indent=1).encode() + b"\n", 0o644),
            "rubric.toml": (Path(rubric_path).read_bytes() if rubric_path else rubric_toml(rubric).encode(), 0o644),
            wheel.name: (wheel.read_bytes(), 0o644),
        }
        if adapter_path is not None:
            members["adapter.toml"] = (Path(adapter_path).read_bytes(), 0o644)
    with atomic_open(out, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16  # a regular file and its permissions: unzip keeps +x
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return config


def _given_wheel(path: Path) -> Path:
    if not (path.is_file() and path.name.startswith("lenet_parity-") and path.suffix == ".whl"):
        raise UserInputError(f"--wheel {path}: not a wheel of lenet-parity (lenet_parity-*.whl)")
    return path


def build_wheel(scratch: Path) -> Path:
    """A wheel of the installed lenet-parity's source tree (an editable install), built from a copy of the
    files it packages: the tree itself gets no build/ folder."""
    import lenet_parity

    tree = Path(lenet_parity.__file__).resolve().parents[1]
    if not (tree / "pyproject.toml").is_file():
        raise UserInputError("gradescope build: lenet-parity is installed from a wheel, not a source tree; pass "
                             "--wheel lenet_parity-*.whl (pip download --no-deps lenet-parity)")
    import tomllib

    project = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))
    folders = {v.split("/")[0] for v in project["tool"]["setuptools"]["package-dir"].values()}
    copy = scratch / "src"
    for name in sorted(folders | {"pyproject.toml", project["project"].get("readme", "README.md")}):
        source = tree / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        elif source.is_file():
            copy.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    offline = ["--no-build-isolation", "--no-index"] if importlib.util.find_spec("setuptools") else []
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", *offline, "--wheel-dir", str(scratch / "dist"),
               str(copy)]  # a path, never a bare name: pip would look a name up on the index
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted((scratch / "dist").glob("lenet_parity-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise UserInputError(f"gradescope build: pip wheel of {tree} failed ({last}); pass --wheel FILE instead")
    return wheels[0]

