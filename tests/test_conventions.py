"""Conventions (conventions/): code written the ways students, textbooks and CS231n write it, checked without an
adapter. The layer files live in tests/conventions/, one convention each, sharing tests/conventions/lenet_math.py
(so a file importing its neighbour is tested too). End to end through check_layer (the isolated worker), and
the adapters' finer points in-process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from lenet_parity import check_layer
from lenet_parity.conventions.adapter_file import read_adapter
from lenet_parity.conventions.detect import Ambiguous, Found, find
from lenet_parity.errors import UserInputError

HERE = ROOT / "tests" / "conventions"
CLI = Path(sys.executable).with_name("lenet-parity")
FAST = ["snapshot", "sweep"]


def _check(impl, kind, **options):
    return check_layer(str(impl), kind, modes=options.pop("modes", FAST), **options)


@pytest.mark.parametrize(("impl", "kind", "convention", "says"), [
    ("attributes_style.py:Conv2D", "conv", "attributes", "b (6, 1) as bias, gradients dW, db"),
    ("attributes_style.py:Dense", "dense", "attributes", "W (in,out) (256, 120) as weight"),
    ("attributes_style.py:MaxPool", "pool", "attributes", "MaxPool via attributes"),
    ("attributes_style.py:NLLLossLayer", "loss", "attributes", "NLLLossLayer via attributes"),
    ("textbook_style.py:Convolution", "conv", "arrays", "W (6, 1, 5, 5) as weight"),
    ("textbook_style.py:Affine", "dense", "arrays", "W (in,out) (256, 120) as weight"),
    ("textbook_style.py:Pooling", "pool", "attributes", "Pooling via attributes"),
    ("self_updating.py:Conv", "conv", "attributes", "recovered exactly from the update at lr=1 on a copy"),
    ("self_updating.py:FC", "dense", "attributes", "update at learning_rate=1"),
    ("tuple_returns.py:ConvLayer", "conv", "attributes", "weights (hwio) (5, 5, 1, 6) as weight"),
    ("tuple_returns.py:LinearLayer", "dense", "attributes", "gradients grad_W, grad_b"),
])
def test_a_class_of_each_convention_passes_without_an_adapter(impl, kind, convention, says):
    run = _check(HERE / impl, kind)
    assert run.passed, run.failure_message()
    assert any(says in note for note in run.notes), run.notes
    assert any(f"via {convention}" in note for note in run.notes), run.notes


@pytest.mark.parametrize("name", ["attributes_style.py", "cs231n_style.py", "textbook_style.py"])
def test_a_whole_file_of_each_style_passes_every_mode(name):
    run = check_layer(str(HERE / name), "all", dtype="float64")
    assert run.passed, run.failure_message()
    assert not [r for r in run.results if r.status == "failed"]


def test_cs231n_functions_are_found_by_their_stems_and_the_files_own_before_its_helpers():
    run = _check(HERE / "cs231n_style.py", "all", dtype="float64")
    notes = "\n".join(run.notes)
    assert "Conv2d: conv_forward_naive/conv_backward_naive via functions" in notes  # not lenet_math's conv_forward
    assert "Linear: affine_forward/affine_backward via functions: weight passed as (in,out)" in notes
    assert "NLLLoss: nll_loss via functions (one function: (loss, dx))" in notes
    assert run.passed, run.failure_message()


def test_deviations_that_change_no_value_warn_and_strict_fails_them():
    run = _check(HERE / "textbook_style.py:Convolution", "conv", modes=["snapshot", "state"])
    assert run.passed and run.counts()["warnings"] == 2  # float64 out for float32 in, conv1 and conv2
    assert "PASS with 2 warnings" in str(run) and json.loads(json.dumps(run.to_json()))["warnings"]
    strict = _check(HERE / "textbook_style.py:Convolution", "conv", modes=["snapshot", "state"], strict=True)
    assert not strict.passed and strict.first_failure.tensor == "dtype"
    relu = _check(HERE / "attributes_style.py:Relu", "relu", modes=["state"])  # nothing shows the network unharmed
    assert not relu.passed and relu.first_failure.tensor == "dy_unchanged"
    relu = _check(HERE / "attributes_style.py:Relu", "relu", modes=["state", "hybrid"], dtype="float64")
    assert relu.passed and {r.tensor for r in relu.warnings} == {"dy_unchanged"}


def test_a_real_bug_fails_first_with_a_value_mismatch_not_a_warning(tmp_path):
    source = (HERE / "textbook_style.py").read_text().replace("self.db = dout.sum(axis=0)",
                                                                "self.db = dout.sum(axis=0) / len(dout)")
    (tmp_path / "textbook_style.py").write_text(source)
    (tmp_path / "lenet_math.py").write_text((HERE / "lenet_math.py").read_text())
    run = _check(tmp_path / "textbook_style.py:Affine", "dense", modes=["snapshot", "state"])
    first = run.first_failure
    assert not run.passed and first.tensor == "grad_bias" and first.layer.startswith("fc") and first.comparison is not None


def test_a_folder_is_one_submission_whose_modules_import_each_other(tmp_path):
    package = tmp_path / "student" / "common"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mathutil.py").write_text((HERE / "lenet_math.py").read_text())
    (package / "layers.py").write_text((HERE / "attributes_style.py").read_text().replace(
        "from lenet_math import", "from common.mathutil import"))
    run = check_layer(str(package / "layers.py"), "all", dtype="float64", modes=["snapshot"])  # as pytest imports it
    assert run.passed, run.failure_message()
    run = check_layer(str(tmp_path / "student"), "all", dtype="float64", modes=["snapshot"])  # the folder
    assert run.passed, run.failure_message()


def test_two_candidates_are_never_guessed_between(tmp_path):
    (tmp_path / "two.py").write_text("class Conv:\n    def forward(self, x): return x\n"
                                     "class ConvLayer:\n    def forward(self, x): return x\n")
    with pytest.raises(UserInputError, match=r"Conv2d: 2 candidates \(Conv, ConvLayer\); name one in an adapter"):
        check_layer(str(tmp_path / "two.py"), "conv")


def test_nothing_found_lists_every_class_and_function_and_a_near_name(tmp_path):
    classes = "".join(f"class Helper{i}:\n    pass\n" for i in range(30))
    (tmp_path / "odd.py").write_text(classes + "class Convv2d:\n    pass\ndef util(): pass\n")
    with pytest.raises(UserInputError) as raised:
        check_layer(str(tmp_path / "odd.py"), "conv")
    message = str(raised.value)
    assert all(f"Helper{i}" in message for i in range(30)) and "util" in message
    assert "did you mean Conv2d?" in message


ADAPTER = """
[dense]
class = "Mystery"
arguments = { in_features = "a", out_features = "z" }
weight = "K"
bias = "beta"
grad_weight = "gK"
grad_bias = "gbeta"
weight_layout = "in,out"
"""

MYSTERY = """
import numpy as np


class Mystery:
    def __init__(self, a, z):
        self.K = np.random.randn(a, z)
        self.beta = np.zeros(z)

    def forward(self, x):
        self.x = x
        return x @ self.K + self.beta

    def backward(self, dout):
        self.gK, self.gbeta = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.K.T
"""


def test_an_adapter_file_declares_what_detection_cannot_find(tmp_path):
    (tmp_path / "mystery.py").write_text(textwrap.dedent(MYSTERY))
    (tmp_path / "adapter.toml").write_text(ADAPTER)
    with pytest.raises(UserInputError):  # nothing named like a layer
        check_layer(str(tmp_path / "mystery.py"), "dense")
    run = check_layer(str(tmp_path / "mystery.py"), "dense", modes=FAST, adapter=tmp_path / "adapter.toml")
    assert run.passed, run.failure_message()
    assert any("Mystery via attributes: K (in,out)" in note for note in run.notes)
    assert len([line for line in ADAPTER.splitlines() if line.strip()]) <= 10


@pytest.mark.parametrize(("text", "message"), [
    ("[dens]\nclass = 'X'\n", r"\[dens\] is not a layer type"),
    ("[dense]\nclas = 'X'\n", r"\[dense\] clas is not a key"),
    ("[dense]\nweight_layout = 'io'\n", "weight_layout 'io'"),
    ("[dense\n", "not valid TOML"),
])
def test_a_bad_adapter_file_is_one_line_naming_it(tmp_path, text, message):
    (tmp_path / "adapter.toml").write_text(text)
    with pytest.raises(UserInputError, match=message):
        read_adapter(tmp_path / "adapter.toml")


def test_a_square_linear_weight_is_told_apart_by_its_values():
    class Square:
        def __init__(self, input_dim, output_dim):
            self.W = np.zeros((input_dim, output_dim))
            self.b = np.zeros(output_dim)

        def forward(self, x):
            return x @ self.W + self.b  # (in, out)

    layer = Found("Linear", "attributes", "Square", Square).build({"in_features": 5, "out_features": 5})
    weight = np.arange(25.0).reshape(5, 5)
    layer.params["weight"] = weight
    assert np.array_equal(layer.user.W, weight.T) and np.array_equal(layer.params["weight"], weight)


def test_the_cli_says_what_it_found_and_convention_forces_one():
    done = subprocess.run([str(CLI), "check", "dense", "--impl", str(HERE / "attributes_style.py"), "--mode",
                           "snapshot", "--dtype", "float64"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "note: Linear: Dense via attributes: W (in,out) (256, 120) as weight, b (120,) " \
                                    "as bias, gradients dW, db" in done.stdout
    done = subprocess.run([str(CLI), "check", "conv", "--impl", str(HERE / "attributes_style.py"), "--mode",
                           "snapshot", "--convention", "functions"], capture_output=True, text=True, timeout=120)
    assert "Conv2d: conv_forward/conv_backward via functions" in done.stdout  # lenet_math's pair, not Conv2D


def test_find_refuses_ambiguity_and_prefers_an_exact_torch_name():
    class Conv2d:
        def forward(self, x): ...

    class Conv:
        def forward(self, x): ...

    assert find({"Conv2d": Conv2d, "Conv": Conv}, {})["Conv2d"].source == "Conv2d"
    with pytest.raises(Ambiguous):
        find({"Conv": Conv, "Convolution": Conv}, {})


def test_the_readmes_second_adapter_example_reads_and_applies(tmp_path):
    """convention for every layer, a class with its own argument names and hwio kernels, a pool of functions."""
    (tmp_path / "adapter.toml").write_text(
        'convention = "attributes"\n\n[conv]\nclass = "Conv"\narguments = { in_channels = "cin", out_channels = '
        '"cout", kernel_size = "size" }\nweight_layout = "hwio"\n\n[pool]\nforward = "pool_fwd"\nbackward = "pool_bwd"\n')
    (tmp_path / "lenet_math.py").write_text((HERE / "lenet_math.py").read_text())
    (tmp_path / "course.py").write_text(textwrap.dedent('''
        import numpy as np
        from lenet_math import conv_backward, conv_forward, pool_backward, pool_forward


        class Conv:
            def __init__(self, cin, cout, size, stride=1, padding=0):
                self.weights = np.random.randn(size, size, cin, cout)
                self.bias = np.zeros(cout)
                self.stride, self.padding = stride, padding

            def forward(self, x):
                self.x = x
                return conv_forward(x, self.weights.transpose(3, 2, 0, 1), self.bias, self.stride, self.padding)

            def backward(self, dout):
                dx, dw, self.dbias = conv_backward(dout, self.x, self.weights.transpose(3, 2, 0, 1), self.stride,
                                                   self.padding)
                self.dweights = dw.transpose(2, 3, 1, 0)
                return dx


        def pool_fwd(x, pool_param):
            return pool_forward(x, pool_param["pool_height"], pool_param["stride"]), (x, pool_param)


        def pool_bwd(dout, cache):
            x, pool_param = cache
            return pool_backward(dout, x, pool_param["pool_height"], pool_param["stride"])
        '''))
    convention, declared = read_adapter(tmp_path / "adapter.toml")
    assert convention == "attributes" and set(declared) == {"Conv2d", "MaxPool2d"}
    for kind in ("conv", "pool"):
        run = check_layer(str(tmp_path / "course.py"), kind, modes=["snapshot"], adapter=tmp_path / "adapter.toml")
        assert run.passed, run.failure_message()


@pytest.mark.parametrize("layout", ["torch", "hwio", "ohwi"])
def test_every_conv_weight_layout_reads_and_writes_in_torchs(layout):
    from lenet_parity.conventions.slots import LAYOUTS, Slot, layouts_fitting

    torch_weight = np.arange(6 * 3 * 5 * 4, dtype=float).reshape(6, 3, 5, 4)
    stored = LAYOUTS[layout][0](torch_weight)

    class Holder:
        K = stored.copy()

    assert layouts_fitting(stored.shape, torch_weight.shape) == [layout]
    slot = Slot("K", layout=layout, shape=stored.shape)
    assert np.array_equal(slot.get(Holder, torch_weight.shape), torch_weight)
    slot.set(Holder, torch_weight * 2)
    assert np.array_equal(Holder.K, stored * 2)


# ---- an adversarial review's layers (tests/conventions/review_*.py): what an adapter could mask, or wrongly fail ----
REVIEW = {  # file -> (check type, whether it is correct)
    "review_su_bias_nolr.py": ("dense", False),  # self-updating: the bias update forgets the rate
    "review_su_lr_squared.py": ("dense", False),  # the rate applied twice
    "review_su_weight_decay.py": ("dense", False),  # an update that depends on the weights
    "review_su_double.py": ("dense", False),
    "review_su_dx_after.py": ("dense", False),  # dx computed after the update
    "review_su_correct.py": ("dense", True),
    "review_unused_dW.py": ("dense", True),  # a leftover self.dW from __init__; the gradient goes in grads['W']
    "review_stale_grads_dict.py": ("dense", True),  # dW right; a grads dict its own optimizer reads goes stale
    "review_dW_torch_layout.py": ("dense", True),  # W (in, out), dW kept (out, in)
    "review_ohwi_conv.py": ("conv", True),  # (F, kh, kw, C) weights: a shape torch's (F, C, k, k) can share
    "review_fn_conv_ohwi.py": ("conv", True),
    "review_arrays_conv_ohwi.py": ("conv", True),
    "review_loss_calc_accuracy.py": ("loss", True),  # a calculate() that is not the loss
    "review_loss_calc_hides.py": ("loss", False),  # forward sums; calculate() averages
    "review_loss_backward_y.py": ("loss", True),  # backward(target)
    "review_loss_keras.py": ("loss", True),  # forward and backward (y_true, y_pred)
    "review_nnfs_dense.py": ("dense", True),
    "review_tuple_db_wrong.py": ("dense", False),
    "review_zg_partial.py": ("dense", False),  # zero_grad resets dW, not db
    "review_zg_noop.py": ("dense", False),
}


@pytest.mark.parametrize("name", sorted(REVIEW))
def test_an_adapter_neither_masks_a_bug_nor_fails_a_correct_layer(name):
    kind, correct = REVIEW[name]
    run = check_layer(str(HERE / name), kind)
    assert run.passed is correct, run.failure_message()
