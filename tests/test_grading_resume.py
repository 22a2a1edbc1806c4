"""grade --resume (issue 23): only the submissions whose bytes changed (or that are new) are graded again, the
others' rows and folders are kept as they were, students gone are dropped, and a change of a run key (here the
seed) regrades everyone."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from student_layers.classroom import CORRECT, HERE
from lenet_parity.executors import Executor
from lenet_parity.harness import grading
from lenet_parity.harness.cli import main

BUGGY = (HERE / "buggy" / "B01_conv_bias_grad_mean.py").read_text()


def _class(folder):
    folder.mkdir()
    (folder / "amy.py").write_text(CORRECT)
    (folder / "ben.py").write_text(BUGGY)
    (folder / "cleo.py").write_text("def broken(:\n")
    return folder


def _grade(subs, out, *extra):
    return CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--mode", "snapshot", "--workers", "2",
                                     "--timeout", "20", *extra])


def _cells(out):
    return {r["student"]: r["conv"] for r in csv.DictReader((out / "gradebook.csv").open(newline=""))}


def test_resume_regrades_only_the_changed_and_new_and_drops_the_gone(tmp_path):
    subs, out = _class(tmp_path / "class"), tmp_path / "grades"
    first = grading.grade(subs, out, executor=Executor(workers=2), modes=("snapshot",), timeout=20)
    assert [g.regraded for g in first] == [True] * 3 and _cells(out)["ben"] == "fail"
    kept_report = (out / "students" / "amy" / "report.json").read_bytes()
    (subs / "ben.py").write_text(CORRECT)  # ben fixed his conv
    (subs / "cleo.py").unlink()
    (subs / "dan.py").write_text(CORRECT)  # a late submission
    plans = []
    second = grading.grade(subs, out, executor=Executor(workers=2), modes=("snapshot",), timeout=20, resume=True,
                           planned=plans.append)
    assert {g.student: g.regraded for g in second} == {"amy": False, "ben": True, "dan": True}
    (plan,) = plans
    assert plan.everything is None and plan.dropped == ["cleo"] and [g.student for g, _ in plan.kept] == ["amy"]
    assert "regrading 2 changed or new (ben, dan); keeping 1 unchanged; dropped (no longer submitted): cleo" \
        in plan.describe()
    assert _cells(out) == {"amy": "pass", "ben": "pass", "dan": "pass"}
    assert (out / "students" / "amy" / "report.json").read_bytes() == kept_report  # kept as it was
    assert sorted(p.name for p in (out / "students").iterdir()) == ["amy", "ben", "dan"]
    book = json.loads((out / "gradebook.json").read_text())
    shas = {g["student"]: g["sha256"] for g in book["grades"]}
    assert shas["amy"] == first[0].sha256 and shas["ben"] != first[1].sha256 and len(set(shas.values())) == 3
    assert book["run"]["seed"] == 0 and book["run"]["modes"] == ["snapshot"] and book["run"]["torch"]


def test_resume_on_the_command_line_says_what_it_regraded_and_kept(tmp_path):
    subs, out = _class(tmp_path / "class"), tmp_path / "grades"
    assert _grade(subs, out).exit_code == 0
    (subs / "ben.py").write_text(BUGGY + "\n# a comment changes the bytes\n")
    result = _grade(subs, out, "--resume")
    assert result.exit_code == 0, result.output
    assert "regraded 1: ben" in result.stdout and "kept 2: amy, cleo" in result.stdout
    assert "graded 1 of 3 submissions in" in result.stdout
    result = _grade(subs, out, "--resume", "--seed", "5")  # a run key changed: everyone again
    assert result.exit_code == 0, result.output
    assert "regrading all 3 submissions: changed since the last gradebook: seed (0 -> 5)" in result.stderr
    assert "regraded 3: amy, ben, cleo" in result.stdout and "kept 0: none" in result.stdout
    assert {g["seed"] for g in json.loads((out / "gradebook.json").read_text())["grades"]} == {5}


def test_resume_without_an_earlier_gradebook_grades_everything(tmp_path):
    subs = _class(tmp_path / "class")
    result = _grade(subs, tmp_path / "fresh", "--resume")
    assert result.exit_code == 0, result.output
    assert "no gradebook.json in" in result.stderr and "regraded 3: amy, ben, cleo" in result.stdout
