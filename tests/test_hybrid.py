"""The hybrid and train modes: correct layers pass, a broken layer is the first failure, a crash is a result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import PHASE0, WEIGHTS

from lenet_parity.custom_layers import numpy as npl
from lenet_parity.errors import UserInputError
from lenet_parity.harness.layer_factory import BackendFactory, layer_catalogue
from lenet_parity.harness.context import CheckContext, TrainOptions
from lenet_parity.harness.modes.hybrid import capture_threads, run_hybrid
from lenet_parity.harness.modes.train_steps import run_train
from lenet_parity.harness.results import CheckRun
from lenet_parity.reference.model import LeNet
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.reference.weights import export_weights


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


@pytest.fixture(autouse=True)
def one_thread():
    with capture_threads():  # tiny torch ops are 1000x slower with two threads on two busy cores
        yield


def with_layers(backend: str, **overrides):
    """The backend's layers, except the named ones, built from the given classes with the spec's kwargs."""
    factory = BackendFactory(backend)
    return lambda spec: overrides[spec.name](**spec.kwargs) if spec.name in overrides else factory(spec)


def hybrid(phase0, names, make_layer, dtype="float64") -> CheckRun:
    return CheckRun(run_hybrid(names, CheckContext(make_layer, phase0=phase0, weights_path=WEIGHTS, dtype=dtype)))


class NegatedBiasGrad(npl.Conv2d):
    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["bias"] = -self.grads["bias"]
        return dx


class FlippedKernel(npl.Conv2d):
    """Convolution instead of cross-correlation: the classic flipped kernel."""

    def forward(self, x):
        self.params["weight"] = np.asarray(self.params["weight"])[:, :, ::-1, ::-1].copy()
        return super().forward(x)


class OwnMask(npl.Dropout):
    """Ignores the injected mask and draws its own: hybrid must notice."""

    def forward(self, x):
        self.mask = None
        return super().forward(x)


class Raises(npl.ReLU):
    def __init__(self, method="forward"):
        super().__init__()
        self.method = method

    def forward(self, x):
        if self.method == "forward":
            raise ValueError("forward exploded")
        return super().forward(x)

    def backward(self, dy):
        raise ValueError("backward exploded")


class NaNPool(npl.MaxPool2d):
    def forward(self, x):
        y = super().forward(x)
        y[0, 0, 0, 0] = np.nan
        return y


class Unbuildable(npl.Linear):
    def __init__(self, **kwargs):
        raise TypeError("no constructor for you")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_correct_layers_of_both_backends_pass(phase0, backend, dtype):
    names = list(layer_catalogue(phase0))
    run = hybrid(phase0, names, BackendFactory(backend), dtype)
    assert run.passed, run.first_failure.describe()
    checked = [(r.layer, r.tensor) for r in run.results if r.case == ""]
    # forward order, then the network output and loss, then backward order from the loss
    assert checked[:3] == [("conv1", "output"), ("relu1", "output"), ("pool1", "output")]
    assert checked[checked.index(("loss", "loss")) + 1:][:2] == [("loss", "grad_input"), ("logsoftmax", "grad_input")]
    assert checked[-3:] == [("conv1", "grad_input"), ("conv1", "grad_weight"), ("conv1", "grad_bias")]
    variants = {(r.layer, r.tensor) for r in run.results if r.case == "lenet_variants"}
    assert {("bn1", "running_var"), ("res1", "grad_weight"), ("drop2", "grad_input"), ("loss", "loss")} <= variants


def test_a_negated_bias_gradient_is_the_first_failure(phase0):
    run = hybrid(phase0, ["conv1", "relu1", "pool1", "conv2", "loss"], with_layers("numpy", conv1=NegatedBiasGrad))
    first = run.first_failure
    assert (first.layer, first.tensor, first.mode) == ("conv1", "grad_bias", "hybrid")
    assert [(r.layer, r.tensor) for r in run.failures] == [("conv1", "grad_bias")]  # nothing else is wrong


def test_a_broken_forward_is_localised_before_what_it_spoils(phase0):
    run = hybrid(phase0, ["conv1", "conv2", "fc1"], with_layers("numpy", conv2=FlippedKernel), "float32")
    assert (run.first_failure.layer, run.first_failure.tensor) == ("conv2", "output")
    assert ("fc1", "output") in {(r.layer, r.tensor) for r in run.failures}  # downstream diverges too


def test_dropout_shares_torchs_mask(phase0):
    assert hybrid(phase0, ["drop1"], BackendFactory("numpy")).passed
    run = hybrid(phase0, ["drop1"], with_layers("numpy", drop1=OwnMask))
    assert (run.first_failure.layer, run.first_failure.tensor) == ("drop1", "output")


@pytest.mark.parametrize("layer, stage", [
    (Raises, "forward"), (lambda: Raises("backward"), "backward"),
], ids=["forward", "backward"])
def test_a_crashing_layer_is_an_error_result_and_the_others_are_still_checked(phase0, layer, stage):
    run = hybrid(phase0, ["conv1", "relu2", "conv2", "fc1", "loss"], with_layers("numpy", relu2=layer))
    errors = [r for r in run.results if r.error]
    assert {r.layer for r in errors} == {"relu2"} and f"{stage} exploded" in errors[0].error
    assert all(f"{stage} exploded" in r.error or r.error == "not run: forward failed" for r in errors)
    assert run.first_failure.layer == "relu2"
    if stage == "backward":  # its forward was fine and is reported as such
        assert [r.passed for r in run.results if r.layer == "relu2" and r.tensor == "output"] == [True]
    others = [r for r in run.results if r.layer != "relu2"]
    assert others and all(r.passed for r in others)
    assert {"conv2", "fc1", "loss"} <= {r.layer for r in others}


def test_nan_and_unbuildable_layers_are_error_results(phase0):
    run = hybrid(phase0, ["pool1", "fc2", "fc3"], with_layers("numpy", pool1=NaNPool, fc2=Unbuildable))
    by_layer = {r.layer: r for r in run.results if r.error and r.tensor == "output"}
    assert "NaN" in by_layer["pool1"].error and "no constructor for you" in by_layer["fc2"].error
    assert all(r.passed for r in run.results if r.layer == "fc3")


def test_bad_input_is_a_user_input_error(phase0, tmp_path):
    with pytest.raises(UserInputError, match="unknown layer"):
        run_hybrid(["conv7"], CheckContext(BackendFactory("numpy"), phase0=phase0, weights_path=WEIGHTS))
    torch.manual_seed(7)
    other = tmp_path / "other.json"
    export_weights(LeNet(), other, seed=7)  # not the weights Phase 0 was captured from
    with pytest.raises(UserInputError, match="was not captured from"):
        run_hybrid(["conv1"], CheckContext(BackendFactory("numpy"), phase0=phase0, weights_path=other))


def train(phase0, names, make_layer, data_root, dtype="float64", **options) -> CheckRun:
    context = CheckContext(make_layer, phase0=phase0, weights_path=WEIGHTS, data_root=data_root, dtype=dtype,
                           train=TrainOptions(**options))
    return CheckRun(run_train(names, context))


def test_train_mode_passes_for_the_numpy_backend(phase0, mnist_root):
    names = list(layer_catalogue(phase0))
    run = train(phase0, names, BackendFactory("numpy"), mnist_root, dtype="float64", steps=5, batch_size=32)
    assert run.passed, run.first_failure.describe()
    losses = [r.case for r in run.results if r.tensor == "loss" and r.case.startswith("step")]
    assert losses == [f"step {k}" for k in range(1, 6)]
    finals = {(r.layer, r.tensor) for r in run.results if r.case.endswith("after 5 steps")}
    assert {("conv1", "weight"), ("fc3", "bias"), ("bn2", "running_mean"), ("res1", "weight")} <= finals


def test_train_mode_passes_for_the_python_backend(phase0, mnist_root):
    run = train(phase0, ["conv2", "fc1", "bn3", "drop1", "loss"], BackendFactory("python"), mnist_root,
                dtype="float32", steps=2, batch_size=4)
    assert run.passed, run.first_failure.describe()


def test_train_mode_catches_a_gradient_bug_after_one_step(phase0, mnist_root):
    run = train(phase0, ["conv1", "fc3"], with_layers("numpy", conv1=NegatedBiasGrad), mnist_root, dtype="float64",
                steps=3, batch_size=16)
    assert (run.first_failure.layer, run.first_failure.case) == ("loss", "step 2")  # step 1's loss precedes the update
    assert ("conv1", "bias") in {(r.layer, r.tensor) for r in run.failures}


def test_train_mode_reports_a_crash_with_its_step(phase0, mnist_root):
    run = train(phase0, ["relu3", "fc2"], with_layers("numpy", relu3=lambda: Raises("backward")), mnist_root,
                dtype="float64", steps=2, batch_size=8)
    first = run.first_failure
    assert (first.layer, first.tensor, first.case) == ("relu3", "grad_input", "step 1") and "exploded" in first.error
    assert all(r.passed for r in run.results if r.layer != "relu3")
    with pytest.raises(UserInputError, match="steps >= 1"):
        train(phase0, ["fc2"], BackendFactory("numpy"), mnist_root, dtype="float64", steps=0)


def test_the_train_modes_sgd_is_torchs_bit_for_bit():
    from lenet_parity.harness.modes.train_steps import SGD

    torch.manual_seed(9)
    ours, theirs = LeNet(), LeNet()
    theirs.load_state_dict(ours.state_dict())
    opt_ours = SGD(ours.parameters(), lr=0.05, momentum=0.9)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9, foreach=False)
    g = torch.Generator().manual_seed(10)
    for _ in range(3):
        x, y = torch.randn(4, 1, 28, 28, generator=g), torch.randint(0, 10, (4,), generator=g)
        for net, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            net.zero_grad()
            torch.nn.functional.nll_loss(net(x), y).backward()
            opt.step()
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        assert torch.equal(a, b), name
