"""A class written without seeing our code (tests/convention_class/, KEY.md): sixteen correct submissions in as
many conventions (torch-like, W/dW attributes, CS231n functions, the textbook's arrays, tuple returns, a
self-updating backward, accumulating gradients, a folder of modules, float64 throughout, HWIO kernels, broadcast
biases, parameter objects, fprop/bprop with lists, nnfs) pass with no adapter; six one-bug copies (bugs.json: the
correct submission each is a copy of, and its replacements) fail at their layer, with a value mismatch first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from lenet_parity import check_layer

CLASS = ROOT / "tests" / "convention_class"
MODES = ["snapshot", "state", "hybrid", "sweep"]
CORRECT = sorted(p.name for p in CLASS.iterdir() if not p.name.startswith(("KEY", "bugs", ".", "__")))
BUGS = json.loads((CLASS / "bugs.json").read_text())  # name -> the copy it is of, its replacements, its layer


def buggy_copy(name: str, where: Path) -> Path:
    """The one-bug copy: its correct submission copied, each replacement made exactly once."""
    bug = BUGS[name]
    source = CLASS / bug["copy_of"]
    target = where / (name + (".py" if source.is_file() else ""))
    shutil.copytree(source, target) if source.is_dir() else shutil.copy(source, target)
    edited = target / bug["file"] if bug["file"] else target
    text = edited.read_text()
    for old, new in bug["replace"]:
        assert text.count(old) == 1, f"{name}: {old!r} is not in {bug['copy_of']} once"
        text = text.replace(old, new)
    edited.write_text(text)
    return target


pytestmark = pytest.mark.slow  # two of the submissions convolve in Python loops: ~4 min in all


def test_the_class_is_what_key_md_lists():
    key = (CLASS / "KEY.md").read_text()
    assert len(CORRECT) == 16 and all(name in key for name in [*CORRECT, *BUGS])


@pytest.mark.parametrize("name", CORRECT)
def test_each_correct_submission_passes_without_an_adapter(name):
    run = check_layer(str(CLASS / name), "all", modes=MODES)
    assert run.passed, run.failure_message()
    assert not [r for r in run.results if r.status == "failed"]


@pytest.mark.parametrize("name", sorted(BUGS))
def test_each_bug_fails_at_its_layer_with_a_value_mismatch_first(name, tmp_path):
    run = check_layer(str(buggy_copy(name, tmp_path)), "all", modes=MODES)
    first = run.first_failure
    assert not run.passed and first.comparison is not None and first.error is None, run.failure_message()
    assert first.checked_layer.startswith(BUGS[name]["layer"]), run.failure_message()
