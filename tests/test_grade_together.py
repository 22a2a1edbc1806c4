"""Grading's network modes (hybrid, train): every graded type's layers swapped in together once; each type alone only
when that fails, so a wrong layer costs no other type its points."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenet_parity.harness.grade_record import Submission
from lenet_parity.harness.grade_submission import grade_one
from lenet_parity.harness.modes import train_steps
from lenet_parity.harness.rubric import Rubric, TypeRule

from conftest import ROOT

STUDENT = ROOT / "tests" / "student_layers"
RUBRIC = Rubric({kind: TypeRule(split="mode") for kind in ("conv", "relu", "flatten")})


@pytest.fixture
def trainings(monkeypatch):
    """The layer names of every training the train mode runs (run_train's calls)."""
    calls = []
    original = train_steps.run_train

    def counting(names, context):
        calls.append(list(names))
        return original(names, context)

    monkeypatch.setattr(train_steps, "run_train", counting)
    return calls


def grade(path: Path, tmp_path: Path, modes=("snapshot", "train")):
    return grade_one(Submission(path.stem, path), tmp_path, timeout=60, data_root=tmp_path, rubric=RUBRIC,
                     modes=modes)


def test_a_correct_submission_trains_once_and_each_type_gets_its_rows(tmp_path, trainings):
    result = grade(STUDENT / "numpy_layers.py", tmp_path)
    assert [sorted(names) for names in trainings] == [sorted(["conv1", "conv2", "relu1", "relu2", "relu3", "relu4",
                                                              "flatten"])]
    assert result.cells == {"conv": "pass", "relu": "pass", "flatten": "pass"}
    for kind, layers in (("conv", {"conv1", "conv2"}), ("relu", set())):
        train = [r for r in result.reports[kind]["results"] if r["mode"] == "train"]
        assert {r["layer"] for r in train} == layers | {"loss"}  # its parameters, and the loss at every step
        assert sum(r["tensor"] == "loss" for r in train) == 20 and all(r["passed"] for r in train)


def test_a_wrong_layer_makes_each_type_train_alone_and_costs_only_its_own_points(tmp_path, trainings):
    result = grade(STUDENT / "buggy" / "B01_conv_bias_grad_mean.py", tmp_path)
    assert len(trainings) == 1 + 3  # together (failed), then conv, relu and flatten alone
    assert result.cells == {"conv": "fail", "relu": "pass", "flatten": "pass"}
    assert result.points["relu"] == result.points["flatten"] == 10.0 and result.points["conv"] < 10.0


def test_the_hybrid_mode_together_gives_each_type_its_own_layers_rows_in_both_dtypes(tmp_path):
    result = grade(STUDENT / "numpy_layers.py", tmp_path, modes=("hybrid",))
    assert result.cells == {"conv": "pass", "relu": "pass", "flatten": "pass"}
    hybrid = {kind: {(r["layer"], r["dtype"]) for r in result.reports[kind]["results"]} for kind in result.cells}
    assert hybrid["conv"] == {(layer, dtype) for layer in ("conv1", "conv2") for dtype in ("float32", "float64")}
    assert {layer for layer, _ in hybrid["relu"]} == {"relu1", "relu2", "relu3", "relu4"}
    bug = grade(STUDENT / "buggy" / "B01_conv_bias_grad_mean.py", tmp_path / "bug", modes=("hybrid",))
    assert bug.cells == {"conv": "fail", "relu": "pass", "flatten": "pass"}  # each alone once together failed
