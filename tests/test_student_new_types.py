"""A student's tanh, sigmoid, average pool, softmax and fused softmax-with-loss, written without seeing our code
(tests/student_new_types/, its KEY.md): the correct file passes every type in every mode, the float64 habit passes
with warnings, and each one-bug copy is caught at a layer of its type, on the tensor the bug changes, with the cause
a student needs. The one-bug copies are kept as their replacements in layers.py (bugs.json, as the student wrote
them: KEY.md) and written out whole for each test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lenet_parity.harness.api import check_layer

HERE = Path(__file__).resolve().parent / "student_new_types"
TYPES = ("tanh", "sigmoid", "avgpool", "softmax", "crossentropy")
LOCAL = ("snapshot", "sweep")  # the layer alone: every bug below shows there
REPLACEMENTS = json.loads((HERE / "bugs.json").read_text())  # bug -> [[text of layers.py, the bug's text], ...]


def buggy_copy(name: str, where: Path) -> Path:
    """The student's one-bug copy of layers.py: each replacement made exactly once."""
    text = (HERE / "layers.py").read_text()
    for old, new in REPLACEMENTS[name]:
        assert text.count(old) == 1, f"{name}: {old!r} is not in layers.py once"
        text = text.replace(old, new)
    path = where / f"{name}.py"
    path.write_text(text)
    return path

# file -> (type, the first failing row's layer starts with, its tensor, the cause's code)
BUGS = {
    "tanh_grad_from_input": ("tanh", "tanh", "grad_input", "grad-from-input"),
    "tanh_forgot_dout": ("tanh", "tanh", "grad_input", "chain-rule"),
    "sigmoid_no_one_minus": ("sigmoid", "sigmoid", "grad_input", "wrong-derivative"),
    "sigmoid_naive_exp_ratio": ("sigmoid", "sigmoid", "output", "overflow"),  # e^x / (1 + e^x): inf / inf at +100
    "avgpool_grad_not_divided": ("avgpool", "pool", "grad_input", "scale"),
    "avgpool_wrong_stride_backward": ("avgpool", "AvgPool2d(", "grad_input", "stride"),  # only overlapping windows
    "avgpool_ceil_partial_windows": ("avgpool", "pool", "output", "shape"),
    "softmax_wrong_axis": ("softmax", "softmax", "output", "wrong-axis"),
    "softmax_grad_elementwise": ("softmax", "softmax", "grad_input", "elementwise-grad"),
    "xent_not_averaged": ("crossentropy", "loss", "loss", "scale"),
    "xent_no_max_shift": ("crossentropy", "loss", "loss", "overflow"),  # only the sweep's logits of 1e4
    "xent_grad_missing_minus_one": ("crossentropy", "loss", "grad_input", "missing-onehot"),
    "xent_log_epsilon": ("crossentropy", "loss", "loss", "log-eps"),
}


@pytest.mark.parametrize("kind", TYPES)
def test_the_correct_file_passes_every_type_in_every_mode(kind):
    run = check_layer(str(HERE / "layers.py"), kind)
    assert run.passed, run.failure_message()
    assert {r.mode for r in run.results} == {"snapshot", "state", "hybrid", "sweep", "train"}


def test_float64_everywhere_passes_with_warnings_and_fails_under_strict():
    run = check_layer(str(HERE / "layers_float64.py"), "tanh", dtype="float32", modes=["snapshot", "state"])
    assert run.passed and any(r.warning for r in run.results)
    strict = check_layer(str(HERE / "layers_float64.py"), "tanh", dtype="float32", modes=["state"], strict=True)
    assert not strict.passed


def test_every_copy_has_its_expectation():
    assert set(REPLACEMENTS) == set(BUGS) | {"sigmoid_naive_overflow"}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_each_bug_is_caught_at_its_layer_with_its_cause(name, tmp_path):
    kind, layer, tensor, cause = BUGS[name]
    run = check_layer(str(buggy_copy(name, tmp_path)), kind, modes=LOCAL)
    assert not run.passed
    first = run.first_failure
    assert first.layer.startswith(layer) and first.tensor == tensor, first.describe()
    assert first.likely().code == cause, (first.describe(), first.likely().hint)


def test_a_naive_sigmoid_whose_values_are_right_passes_and_its_overflow_warning_is_shown(tmp_path):
    """1 / (1 + exp(-x)) gives torch's values (0 where exp overflows); numpy's RuntimeWarning reaches the report."""
    run = check_layer(str(buggy_copy("sigmoid_naive_overflow", tmp_path)), "sigmoid", modes=LOCAL)
    assert run.passed
    assert "overflow encountered in exp" in run.printed
