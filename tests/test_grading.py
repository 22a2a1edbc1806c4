"""lenet-parity grade: a small class graded in one command; one broken submission never stops the run."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from student_layers.classroom import CORRECT, KINDS, LAYER_TYPES, expected_cells, make_class
from conftest import ROOT
from lenet_parity.harness.cli import main

STUDENT = ROOT / "tests" / "student_layers"


def grading_extras_ready(module: str) -> bool:
    from lenet_parity.harness.gradebook import optional

    return optional(module, {"gradescope": "results_document", "student_report": "student_report_html"}[module]) \
        is not None


@pytest.mark.slow
def test_a_class_is_graded_cell_by_cell(tmp_path, mnist_root):
    subs = tmp_path / "class"
    (subs / "dave").mkdir(parents=True)
    correct = (STUDENT / "numpy_layers.py").read_text()
    (subs / "alice.py").write_text(correct)
    (subs / "bob.py").write_text((STUDENT / "buggy" / "B01_conv_bias_grad_mean.py").read_text())
    (subs / "carol.py").write_text(correct.replace("class MaxPool2d", "class NotAPool"))
    (subs / "dave" / "layers.py").write_text("import os\nos._exit(0)\n")
    (subs / "erin.py").write_text("def broken(:\n")
    out = tmp_path / "grades"
    result = CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--timeout", "20", "--data-root",
                                       str(mnist_root), "--gradescope"])
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    kinds = ["conv", "pool", "relu", "dense", "flatten", "logsoftmax", "loss"]
    assert [rows["alice"][k] for k in kinds] == ["pass"] * 7 and rows["alice"]["score"] == "1.0"
    assert rows["bob"]["conv"] == "fail" and rows["bob"]["pool"] == "pass"
    assert rows["carol"]["pool"] == "missing" and rows["carol"]["conv"] == "pass"
    assert {rows["dave"][k] for k in kinds} == {"error"} and {rows["erin"][k] for k in kinds} == {"error"}
    book = {g["student"]: g for g in json.loads((out / "gradebook.json").read_text())["grades"]}
    assert "likely cause: grad_bias is the expected one times 1/(N*H*W)" in book["bob"]["reasons"]["conv"]
    assert "exited with code 0 during import" in book["dave"]["reasons"]["conv"]
    assert "SyntaxError" in book["erin"]["reasons"]["conv"] and "erin.py, line 1" in book["erin"]["reasons"]["conv"]
    assert (out / "students" / "bob" / "repro" / "test_conv2.py").is_file()
    if grading_extras_ready("gradescope"):  # harness/gradescope.py: one results.json per student, none for the class
        assert json.loads((out / "students" / "alice" / "results.json").read_text())["score"] == 70
    assert not (out / "results.json").exists()
    assert "<table" in (out / "gradebook.html").read_text()


def test_no_submissions_is_bad_input(tmp_path):
    result = CliRunner().invoke(main, ["grade", str(tmp_path), "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and "no submissions" in result.output


def _graded(out):
    return {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}


@pytest.mark.slow
def test_a_class_gets_the_same_gradebook_locally_and_on_ray(tmp_path, mnist_root):
    """Correct, buggy, syntax error, exit and hang at import, import torch, missing class: each cell as it should
    be, and the same gradebook (and student reports) whichever executor ran it."""
    pytest.importorskip("ray")
    students = make_class(tmp_path / "class")
    books = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        result = CliRunner().invoke(main, ["grade", str(tmp_path / "class"), "--out", str(out), "--timeout", "10",
                                           "--data-root", str(mnist_root), "--executor", executor])
        assert result.exit_code == 0, result.output
        rows = _graded(out)
        assert {s: {t: rows[s][t] for t in LAYER_TYPES} for s in students} == \
            {s: expected_cells(kind) for s, kind in students.items()}
        books[executor] = {name: (out / name).read_text() for name in ("gradebook.csv", "gradebook.json")}
        books[executor]["reports"] = {p.parent.name: p.read_text() for p in out.glob("students/*/report.json")}
    assert books["local"] == books["ray"]
    gradebook = json.loads(books["local"]["gradebook.json"])
    assert gradebook["versions"]["torch"] and gradebook["versions"]["numpy"]
    reasons = {g["student"]: g["reasons"] for g in gradebook["grades"]}
    torch_student = next(s for s, kind in students.items() if kind == "imports_torch")
    assert "imports torch: not allowed" in reasons[torch_student]["conv"]


@pytest.mark.slow
def test_allow_imports_lets_a_submission_use_torch(tmp_path, mnist_root):
    subs = tmp_path / "class"
    subs.mkdir()
    (subs / "ivan.py").write_text(KINDS["imports_torch"][0])
    out = tmp_path / "grades"
    result = CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--timeout", "20", "--data-root",
                                       str(mnist_root), "--allow-imports"])
    assert result.exit_code == 0, result.output
    assert {_graded(out)["ivan"][t] for t in LAYER_TYPES} == {"pass"}


def test_a_submission_whose_grading_crashes_costs_only_its_own_row(tmp_path, monkeypatch, mnist_root):
    from lenet_parity.executors import Executor
    from lenet_parity.harness import grading

    subs = tmp_path / "class"
    subs.mkdir()
    for student in ("amy", "ben"):
        (subs / f"{student}.py").write_text("class ReLU: pass\n")

    def run_task(task):
        if task.submission.student == "amy":
            raise MemoryError("the grader ran out of memory")
        return grading.Grade(task.submission.student, cells=dict.fromkeys(LAYER_TYPES, "missing")), {}

    monkeypatch.setattr(grading, "run_task", run_task)
    stale = tmp_path / "out" / "students" / "amy" / "repro" / "test_conv1.py"  # from an earlier grading
    stale.parent.mkdir(parents=True)
    stale.write_text("stale")
    grades = grading.grade(subs, tmp_path / "out", executor=Executor(workers=0), data_root=mnist_root)
    assert [g.student for g in grades] == ["amy", "ben"]
    assert set(grades[0].cells.values()) == {"error"}
    assert "grading crashed: MemoryError: the grader ran out of memory" in grades[0].reasons["conv"]
    assert set(grades[1].cells.values()) == {"missing"}
    report = json.loads((tmp_path / "out" / "students" / "amy" / "report.json").read_text())
    assert report["cells"]["conv"] == "error" and not stale.exists()


def test_grading_with_every_mode_needs_no_mnist(tmp_path):
    """The train mode's batches ship in the package: a teacher grades with no data folder at all."""
    subs = tmp_path / "class"
    subs.mkdir()
    (subs / "amy.py").write_text(CORRECT)
    out = tmp_path / "grades"
    result = CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--data-root", str(tmp_path / "nowhere"),
                                       "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert {_graded(out)["amy"][t] for t in LAYER_TYPES} == {"pass"}
    report = json.loads((out / "students" / "amy" / "report.json").read_text())
    assert "train" in {r["mode"] for r in report["reports"]["conv"]["results"]}
    assert not (tmp_path / "nowhere").exists()


def test_grading_without_the_train_mode_needs_no_mnist(tmp_path):
    subs = tmp_path / "class"
    subs.mkdir()
    (subs / "amy.py").write_text(CORRECT)
    out = tmp_path / "grades"
    result = CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--data-root", str(tmp_path / "nowhere"),
                                       "--mode", "snapshot", "--mode", "sweep", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert {_graded(out)["amy"][t] for t in LAYER_TYPES} == {"pass"}
    report = json.loads((out / "students" / "amy" / "report.json").read_text())
    assert {r["mode"] for r in report["reports"]["conv"]["results"]} == {"snapshot", "sweep"}
