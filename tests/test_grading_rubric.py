"""grade --rubric: points and partial credit per layer type, the timeout cell, and a row for every entry of the
submissions folder (issue 23). One class is graded once (snapshot and state modes, --timeout 1) and read by
each test."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from student_layers.classroom import CORRECT, HERE
from lenet_parity.harness import grading
from lenet_parity.harness.cli import main
from lenet_parity.harness.grade_cells import judge
from lenet_parity.harness.results import CheckResult, CheckRun
from lenet_parity.harness.rubric import TypeRule, points_earned

RUBRIC = """\
[defaults]
points = 10
split = "mode"
[types.conv]
points = 20
split = "check"
[types.logsoftmax]
graded = false
[types.tanh]
points = 5
"""
KINDS = ["conv", "pool", "relu", "dense", "flatten", "loss", "tanh"]  # the rubric's order: LeNet's, then its own
RELU_FORWARD = "    def forward(self, x):\n        self.mask = x > 0\n"
SLOW_RELU = """    def forward(self, x):
        global CALLS
        CALLS += 1
        if CALLS > 2:  # right, but too slow after its first two calls
            time.sleep(3)
        self.mask = x > 0
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(gradebook rows by student, gradebook.json, out folder) of a class holding every kind of entry."""
    assert RELU_FORWARD in CORRECT
    root = tmp_path_factory.mktemp("rubric")
    subs, out = root / "class", root / "grades"
    subs.mkdir()
    (subs / "alice.py").write_text(CORRECT)
    (subs / "bob.py").write_text((HERE / "buggy" / "B01_conv_bias_grad_mean.py").read_text())
    (subs / "carol.py").write_text(CORRECT.replace("class MaxPool2d", "class NotAPool"))
    (subs / "erin.py").write_text("def broken(:\n")
    (subs / "sam.py").write_text("import time\nCALLS = 0\n" + CORRECT.replace(RELU_FORWARD, SLOW_RELU))
    (subs / "fred.ipynb").write_text("{}")
    (subs / "gina").mkdir()
    (subs / "hal").mkdir()
    (subs / "hal" / "README.md").write_text("my layers are in the notebook")
    (subs / "hal" / "layers.ipynb").write_text("{}")
    for hidden in (".DS_Store", "__pycache__"):
        (subs / hidden).mkdir()
    (root / "rubric.toml").write_text(RUBRIC)
    result = CliRunner().invoke(main, ["grade", str(subs), "--out", str(out), "--rubric", str(root / "rubric.toml"),
                                       "--mode", "snapshot", "--mode", "state", "--timeout", "1", "--workers", "2"])
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open(newline=""))}
    return rows, json.loads((out / "gradebook.json").read_text()), out


def _report(out, student):
    return json.loads((out / "students" / student / "report.json").read_text())


def test_the_rubric_chooses_the_columns_and_every_entry_has_a_row(graded):
    rows, book, _ = graded
    header = list(next(iter(rows.values())))
    assert header == ["student", *KINDS, "checks_passed", "checks_total", "points", "max_points", "score", "report",
                      "seed"]
    assert sorted(rows) == ["alice", "bob", "carol", "erin", "fred", "gina", "hal", "sam"]  # no hidden entry
    assert {r["max_points"] for r in rows.values()} == {"75.0"}  # conv 20, five types at 10, tanh 5; no logsoftmax
    assert [rows["alice"][k] for k in KINDS] == ["pass"] * 6 + ["missing"]  # no Tanh in LeNet's student file
    assert rows["alice"]["points"] == "70.0" and rows["alice"]["score"] == str(round(70 / 75, 4))
    assert book["rubric"]["max_points"] == 75 and book["run"]["rubric"] == book["rubric"]["digest"]


def test_a_one_bug_student_gets_partial_credit_by_check_and_by_mode(graded):
    """conv (20 points, split by check) earns the share of its checks that passed; a type split by mode earns
    a share per mode that passed whole (bob's conv bug shows in the snapshot mode, not in the state mode)."""
    rows, _, out = graded
    report = _report(out, "bob")
    results = report["reports"]["conv"]["results"]
    ok = [r["status"] != "failed" for r in results]
    assert rows["bob"]["conv"] == "fail" and 0 < sum(ok) < len(ok)
    assert report["points"]["conv"] == round(20 * sum(ok) / len(ok), 4) and report["max_points"]["conv"] == 20
    assert {r["mode"] for r in results if r["status"] == "failed"} == {"snapshot"}
    state_only = TypeRule(10, "mode")
    assert points_earned(state_only, [CheckResult("conv1", "output", m, "float64", error=None if m == "state" else "x",
                                              plain_pass=m == "state") for m in ("snapshot", "state")]) == 5.0
    assert float(rows["bob"]["points"]) == report["total_points"] == 70 - 20 + report["points"]["conv"]


def test_a_slow_but_right_layer_is_a_timeout_not_a_fail(graded):
    """sam's ReLU is right but sleeps past --timeout 1: its cell is timeout, its reason names the limit and says
    what finished was right; its unfinished checks count in checks_total as not run; the types after it got a
    fresh worker and pass."""
    rows, book, out = graded
    assert rows["sam"]["relu"] == "timeout"
    assert [rows["sam"][k] for k in ("conv", "pool", "dense", "flatten", "loss")] == ["pass"] * 5
    report = _report(out, "sam")
    reason = report["reasons"]["relu"]
    assert "a call (forward) took longer than the 1 s limit (--timeout)" in reason
    assert "slow but right so far" in reason and "the slowest call that answered took" in reason
    relu = report["reports"]["relu"]["results"]
    not_run = [r for r in relu if r["status"] == "failed"]
    assert not_run and all(r["error"] for r in not_run) and len(not_run) < len(relu)
    assert f"{len(not_run)} of {len(relu)} checks not run" in reason
    assert report["checks_not_run"] == len(not_run)
    assert report["checks_total"] == sum(len(r["results"]) for r in report["reports"].values())
    assert report["points"]["relu"] == 0.0  # no mode finished whole


def test_missing_syntax_error_and_entries_that_are_not_python(graded):
    rows, book, _ = graded
    reasons = {g["student"]: g["reasons"] for g in book["grades"]}
    assert rows["carol"]["pool"] == "missing" and "implements MaxPool2d" in reasons["carol"]["pool"]
    for student in ("erin", "fred", "gina", "hal"):
        assert {rows[student][k] for k in KINDS} == {"error"} and rows[student]["points"] == "0.0"
    assert "SyntaxError" in reasons["erin"]["conv"]
    assert "fred.ipynb is a Jupyter notebook" in reasons["fred"]["conv"]
    assert "gina/ is an empty folder" in reasons["gina"]["conv"]
    assert "hal/ holds no .py file (it holds README.md, layers.ipynb); export layers.ipynb" in reasons["hal"]["tanh"]
    assert all("submit your layers as one .py file" in reasons[s]["conv"] for s in ("fred", "gina", "hal"))


@pytest.mark.parametrize("text, says", [
    ("[types.conv\n", "not valid TOML"),
    ("[types.conv2d]\npoints = 3\n", "[types.conv2d]: unknown layer type"),
    ('[defaults]\nsplit = "layer"\n', "split 'layer'"),
    ("[types.conv]\npoints = -1\n", "points -1"),
])
def test_a_bad_rubric_is_one_line_of_bad_input(tmp_path, text, says):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "amy.py").write_text("")
    (tmp_path / "rubric.toml").write_text(text)
    result = CliRunner().invoke(main, ["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                                       "--rubric", str(tmp_path / "rubric.toml")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith(f"error: --rubric {tmp_path / 'rubric.toml'}") and says in line
    assert not (tmp_path / "out").exists()


class _Worker:
    """What judge reads of an isolation.Worker."""
    timeout = 2.0
    slowest = (0.5, "backward")

    def __init__(self, timed_out):
        self.timed_out = timed_out


def test_a_run_wrong_before_its_timeout_says_so():
    """The rows decided after the kill are the ones not run; a failure before it makes the verdict wrong."""
    wrong = CheckResult("conv1", "output", "snapshot", "float64", error="Conv2d.forward() raised ValueError: no")
    killed_at = wrong.decided_at + 1
    cut = CheckResult("conv1", "grad_input", "snapshot", "float64", error="not run: the layer was stopped",
                      decided_at=killed_at + 1)
    cell, reason, not_run = judge(CheckRun([wrong, cut]), _Worker((killed_at, "forward")))
    assert cell == "timeout" and not_run == 1
    assert reason.startswith("timed out: a call (forward) took longer than the 2 s limit (--timeout) and was killed; "
                             "the slowest call that answered took 0.50 s (backward); wrong before it timed out: "
                             "first failure: conv1.output")
    assert reason.endswith("1 of 2 checks not run")
    assert judge(CheckRun([wrong, cut]), _Worker(None))[0] == "fail"  # no kill: an error is a failure


def test_extras_are_skipped_when_their_module_is_missing(monkeypatch):
    """report.html and Gradescope's results.json come from modules written elsewhere: absent, nothing is written."""
    from lenet_parity.harness import gradebook
    from lenet_parity.harness.rubric import DEFAULT_RUBRIC

    monkeypatch.setattr(gradebook, "optional", lambda module, name: None)
    grade = grading.Grade("amy", cells={"conv": "pass"})
    assert gradebook.student_extras(grade, b"{}", DEFAULT_RUBRIC, gradescope=True) == {}
