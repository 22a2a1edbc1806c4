"""lenet-parity grade: a small class graded in one command; one broken submission never stops the run."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from conftest import ROOT
from lenet_parity.harness.cli import main

STUDENT = ROOT / "tests" / "student_layers"


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
    book = {g["student"]: g for g in json.loads((out / "gradebook.json").read_text())}
    assert "likely cause: grad_bias is the expected one times 1/(N*H*W)" in book["bob"]["reasons"]["conv"]
    assert "exited with code 0 during import" in book["dave"]["reasons"]["conv"]
    assert "SyntaxError" in book["erin"]["reasons"]["conv"] and "erin.py, line 1" in book["erin"]["reasons"]["conv"]
    assert (out / "students" / "bob" / "repro" / "test_conv2.py").is_file()
    assert json.loads((out / "results.json").read_text())["tests"][0]["name"] == "alice: conv"
    assert "<table" in (out / "gradebook.html").read_text()


def test_no_submissions_is_bad_input(tmp_path):
    result = CliRunner().invoke(main, ["grade", str(tmp_path), "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and "no submissions" in result.output
