"""A class written without seeing our code (tests/convention_class/, KEY.md): sixteen correct submissions in as
many conventions (torch-like, W/dW attributes, CS231n functions, the textbook's arrays, tuple returns, a
self-updating backward, accumulating gradients, a folder of modules, float64 throughout, HWIO kernels, broadcast
biases, parameter objects, fprop/bprop with lists, nnfs) pass with no adapter; six one-bug copies fail at their
layer, with a value mismatch first."""

from __future__ import annotations

import pytest

from conftest import ROOT
from lenet_parity import check_layer

CLASS = ROOT / "tests" / "convention_class"
MODES = ["snapshot", "state", "hybrid", "sweep"]
CORRECT = sorted(p.name for p in CLASS.iterdir() if not p.name.startswith(("bug_", "KEY", ".", "__")))
BUGGY = {  # the bug's layer type, as KEY.md says
    "bug_cs231n_conv_dw_divided_by_n.py": "conv",
    "bug_torchlike_pool_grad_to_all.py": "pool",
    "bug_selfupdate_dense_dx_after_update.py": "fc",
    "bug_im2col_logsoftmax_sum_wrong_axis.py": "logsoftmax",
    "bug_textbook_nll_sum_not_mean.py": "loss",
    "bug_multifile_relu_mask_on_output": "relu",
}

pytestmark = pytest.mark.slow  # two of the submissions convolve in Python loops: ~4 min in all


def test_the_class_is_what_key_md_lists():
    assert len(CORRECT) == 16 and set(BUGGY) == {p.name for p in CLASS.iterdir() if p.name.startswith("bug_")}


@pytest.mark.parametrize("name", CORRECT)
def test_each_correct_submission_passes_without_an_adapter(name):
    run = check_layer(str(CLASS / name), "all", modes=MODES)
    assert run.passed, run.failure_message()
    assert not [r for r in run.results if r.status == "failed"]


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_each_bug_fails_at_its_layer_with_a_value_mismatch_first(name):
    run = check_layer(str(CLASS / name), "all", modes=MODES)
    first = run.first_failure
    assert not run.passed and first.comparison is not None and first.error is None, run.failure_message()
    assert first.checked_layer.startswith(BUGGY[name]), run.failure_message()
