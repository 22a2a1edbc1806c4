"""run_checks as a plain function: one broken layer among correct ones is localised, modes come from the
registry in reading order (the train mode in float64 only), and the snapshot path runs without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lenet_parity.custom_layers.numpy import MaxPool2d
from lenet_parity.errors import UserInputError
from lenet_parity.harness.check_runner import run_checks, select_layers
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.modes import REGISTRY
from lenet_parity.harness.layer_factory import DEFAULT_CONFIGS, BackendFactory, known_layers
from lenet_parity.reference.layers import LayerSpec
from lenet_parity.reference.phase0_format import load_phase0

from conftest import PHASE0, ROOT

NUMPY = BackendFactory("numpy")


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


class GradToEveryTiedMax(MaxPool2d):
    """The rav-lad bug: every element equal to its window's maximum gets the gradient (torch: the first only)."""

    def forward(self, x):
        self._x = np.asarray(x)
        return super().forward(x)

    def backward(self, dy):
        x, (kh, kw) = self._x, self.kernel_size  # LeNet's pools: stride == kernel
        y = x.reshape(*x.shape[:2], x.shape[2] // kh, kh, x.shape[3] // kw, kw).max(axis=(3, 5))
        up = lambda a: a.repeat(kh, axis=2).repeat(kw, axis=3)  # noqa: E731
        return np.where(x == up(y), up(dy), 0).astype(x.dtype)


def with_broken(name: str, broken: type):
    """Our numpy layers everywhere, the broken class at one named layer."""

    def make(spec: LayerSpec):
        return broken(**spec.kwargs) if spec.name == name else NUMPY(spec)

    return make


def test_one_broken_layer_among_all_is_localised_and_the_rest_pass(phase0):
    run = run_checks("all", CheckContext(with_broken("pool1", GradToEveryTiedMax), phase0=phase0), modes=["snapshot"])
    assert not run.passed
    assert (run.first_failure.layer, run.first_failure.tensor) == ("pool1", "grad_input")
    assert {(r.layer, r.tensor) for r in run.failures} == {("pool1", "grad_input")}
    assert len({r.layer for r in run.results}) == 24  # every other layer was still checked, and passed


def test_results_come_in_forward_then_backward_order(phase0):
    run = run_checks("conv", CheckContext(NUMPY, phase0=phase0), modes=["snapshot"], dtypes=["float64"])
    assert [(r.layer, r.tensor) for r in run.results] == [
        ("conv1", "output"), ("conv2", "output"),
        ("conv2", "grad_input"), ("conv2", "grad_weight"), ("conv2", "grad_bias"),
        ("conv1", "grad_input"), ("conv1", "grad_weight"), ("conv1", "grad_bias")]


def test_modes_run_in_reading_order_whatever_order_they_are_given(phase0):
    run = run_checks("relu", CheckContext(NUMPY, phase0=phase0), modes=["sweep", "snapshot", "sweep"],
                     dtypes=["float64"])
    assert run.passed and list(dict.fromkeys(r.mode for r in run.results)) == ["snapshot", "sweep"]
    with pytest.raises(UserInputError, match="unknown mode 'snapshots'"):
        run_checks("relu", CheckContext(NUMPY, phase0=phase0), modes=["snapshots"])


def test_the_train_mode_runs_in_float64_only_and_says_why(phase0, mnist_root):
    context = CheckContext(NUMPY, phase0=phase0, data_root=mnist_root)
    run = run_checks("relu", context, layer="relu3", modes=["train"])
    assert run.passed and {r.dtype for r in run.results} == {"float64"}
    assert run.notes == [f"train mode: {REGISTRY['train'].dtypes_why}"]
    with pytest.raises(UserInputError, match="--mode train runs in float64 only"):
        run_checks("relu", context, modes=["train"], dtypes=["float32"])


def test_select_layers_by_type_and_name():
    catalogue = known_layers(DEFAULT_CONFIGS)
    assert select_layers("pool", None, catalogue) == ["pool1", "pool2"]
    assert select_layers("batchnorm", None, catalogue) == ["bn1", "bn2", "bn3", "bn4"]
    assert select_layers("all", None, catalogue)[-2:] == ["logsoftmax", "loss"]
    assert select_layers("all", "res1", catalogue) == ["res1"]
    with pytest.raises(UserInputError, match="conv layers: conv1, conv2"):
        select_layers("conv", "fc1", catalogue)


def test_snapshot_runs_without_importing_torch():
    code = ("import sys; from lenet_parity.harness.check_runner import run_checks; "
            "from lenet_parity.harness.context import CheckContext; "
            "from lenet_parity.harness.layer_factory import BackendFactory; "
            f"run = run_checks('all', CheckContext(BackendFactory('numpy'), phase0_path={str(PHASE0)!r}), "
            "modes=['snapshot']); "
            "print(run.passed, {r.layer for r in run.results} >= {'conv1', 'bn1', 'loss'}, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "False"]  # passed, every kind checked, no torch
