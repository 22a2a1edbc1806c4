"""Bugs written without seeing the diagnoses (tests/unseen_bugs/): each fails at its own layer with its cause,
and each set's correct file passes. A bug is its set's correct.py with one replacement (bugs.json)."""

import json
from pathlib import Path

import pytest

from lenet_parity import check_layer

HERE = Path(__file__).parent / "unseen_bugs"
LAYER_ALONE = ["snapshot", "state", "sweep"]
EXPECTED = {  # file stem -> (the layer the first failure is at, its cause)
    "set1/bug01_conv_im2col_reshape": ("conv", "im2col-order"),
    "set1/bug02_conv_col2im_overwrite": ("conv", "overwritten"),
    "set1/bug03_conv_padding_crop": ("conv", "crop"),
    "set1/bug04_maxpool_overlap_overwrite": ("pool", "overwritten"),
    "set1/bug05_maxpool_window_no_stride": ("pool", "stride"),
    "set1/bug06_relu_backward_clips_grad": ("relu", "relu-mask"),
    "set1/bug07_linear_bias_grad_mean": ("fc", "scale"),
    "set1/bug08_logsoftmax_no_max_shift": ("logsoftmax", "overflow"),
    "set1/bug09_logsoftmax_backward_softmax_jacobian": ("logsoftmax", "softmax-jacobian"),
    "set1/bug10_nll_backward_column_index": ("loss", "wrong-index"),
    "set2/bug01_conv_col2im_overwrite": ("conv", "overwritten"),
    "set2/bug02_conv_flipped_kernel": ("conv", "flipped-kernel"),
    "set2/bug03_conv_col2im_no_stride": ("conv", "stride"),
    "set2/bug04_maxpool_ties_all": ("pool", "tie-break"),
    "set2/bug05_maxpool_overlap_overwrite": ("pool", "overwritten"),
    "set2/bug06_relu_grad_at_zero": ("relu", "relu-at-zero"),
    "set2/bug07_linear_bias_grad_mean": ("fc", "scale"),
    "set2/bug08_flatten_channels_last": ("flatten", "permutation"),
    "set2/bug09_logsoftmax_no_max_shift": ("logsoftmax", "overflow"),
    "set2/bug10_nll_fancy_index": ("loss", "wrong-index"),
}


def _bugs() -> dict[str, dict[str, str]]:
    return {f"{folder.name}/{stem}": change for folder in sorted(HERE.glob("set*"))
            for stem, change in json.loads((folder / "bugs.json").read_text()).items()}


def test_every_bug_is_listed_and_changes_its_correct_file_once():
    bugs = _bugs()
    assert set(bugs) == set(EXPECTED)
    for stem, change in bugs.items():
        assert (HERE / stem).parent.joinpath("correct.py").read_text().count(change["replace"]) == 1, stem


@pytest.mark.parametrize("folder", ["set1", "set2"])
def test_the_correct_file_passes(folder):
    run = check_layer(str(HERE / folder / "correct.py"), "all")
    assert run.passed, run.first_failure.describe()


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_each_bug_fails_at_its_layer_with_its_cause(stem, tmp_path):
    layer, code = EXPECTED[stem]
    change = _bugs()[stem]
    buggy = tmp_path / f"{Path(stem).name}.py"
    buggy.write_text((HERE / stem).parent.joinpath("correct.py").read_text().replace(change["replace"], change["with"]))
    run = check_layer(str(buggy), "all", modes=LAYER_ALONE, dtype="float32")
    first = run.first_failure
    assert first is not None and first.comparison is not None, "the first failure is a value mismatch"
    assert (first.origin or first.layer).rstrip("0123456789") == layer, first.describe()
    assert first.likely().code == code, (first.describe(), first.likely())
