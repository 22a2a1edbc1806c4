"""Causes for the 1998 LeNet-5's and the variants' new layer types (Tanh, Sigmoid, Softmax, AvgPool2d,
CrossEntropyLoss): each buggy value is computed the way a student writes it, on seeded random inputs, against
torch's float64 answer; the diagnosis must name the bug (code and a phrase of the hint), while the correct value
(and an unrelated bug) must not get it. Then each of the zoo's new mutants goes through the real check, which must
name its cause at the first failure.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lenet_parity import check_layer
from lenet_parity.harness import diagnosis_activations as activations
from lenet_parity.harness import diagnosis_dense_head as head
from lenet_parity.harness import diagnosis_windows as windows
from lenet_parity.harness.diagnosis import Evidence, diagnose, overflow, scale
from lenet_parity.harness.mutants import new_types as nt
from lenet_parity.harness.tolerances import tolerance


@pytest.fixture
def rng():
    return np.random.default_rng(1998)


def evidence(tensor: str, got, expected, cls: str, kwargs: dict | None = None, **inputs) -> Evidence:
    atol, rtol, _ = tolerance("float64", tensor)
    return Evidence(tensor, np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64), atol, rtol, cls,
                    kwargs or {}, **inputs)


# ---- torch's answers (float64, a random upstream gradient, never all ones) ----

def torch_layer(fn, x, rng):
    """(y, dy, dx) of torch's ``fn`` on x."""
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    dy = rng.standard_normal(tuple(y.shape))
    (y * torch.tensor(dy)).sum().backward()
    return y.detach().numpy(), dy, xt.grad.numpy()


def torch_xent(x, targets, reduction="mean"):
    """(loss, dx) of torch's cross_entropy on logits x."""
    xt = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, torch.tensor(targets), reduction=reduction)
    loss.backward()
    return loss.detach().numpy(), xt.grad.numpy()


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTIVATIONS = {"Tanh": torch.tanh, "Sigmoid": torch.sigmoid}
INPUT_SCALES = (1.5, 40.0)  # ordinary values, and the sweep's saturating ones (tanh and sigmoid flat to 1e-17)


# ---- tanh and sigmoid: the derivative from the input, a factor missing, the chain rule forgotten ----

def student_activation_dx(cls: str, x, y, dy, bug: str):
    """A student's backward: ``bug`` names what it gets wrong."""
    return {
        ("Tanh", "from-input"): lambda: dy * (1 - x ** 2),  # d tanh/dx = 1 - x^2 (x: the cached input)
        ("Sigmoid", "from-input"): lambda: dy * x * (1 - x),
        ("Sigmoid", "no-one-minus"): lambda: dy * y,
        ("Sigmoid", "no-s"): lambda: dy * (1 - y),
        ("Tanh", "no-square"): lambda: dy * (1 - y),
        ("Tanh", "no-dy"): lambda: 1 - y ** 2,
        ("Sigmoid", "no-dy"): lambda: y * (1 - y),
        ("Tanh", "correct"): lambda: dy * (1 - y ** 2),
        ("Sigmoid", "correct"): lambda: dy * y * (1 - y),
    }[cls, bug]()


@pytest.mark.parametrize("scale_", INPUT_SCALES)
@pytest.mark.parametrize("cls, bug, code, words", [
    ("Tanh", "from-input", "grad-from-input", "dx = dy * (1 - x**2) evaluates the derivative at the input x"),
    ("Sigmoid", "from-input", "grad-from-input", "dx = dy * x * (1 - x)"),
    ("Sigmoid", "no-one-minus", "wrong-derivative", "the (1 - s) factor is missing"),
    ("Sigmoid", "no-s", "wrong-derivative", "the s factor is missing"),
    ("Tanh", "no-square", "wrong-derivative", "the square is missing"),
    ("Tanh", "no-dy", "chain-rule", "without multiplying by the upstream gradient"),
    ("Sigmoid", "no-dy", "chain-rule", "dx = dy * y * (1 - y)"),
])
def test_an_activations_wrong_backward_is_named(rng, scale_, cls, bug, code, words):
    x = scale_ * rng.standard_normal((4, 6, 3, 5))
    y, dy, dx = torch_layer(ACTIVATIONS[cls], x, rng)
    got = student_activation_dx(cls, x, y, dy, bug)
    found = diagnose(evidence("grad_input", got, dx, cls, x=x, dy=dy))
    assert (found.code, words in found.hint) == (code, True), found


@pytest.mark.parametrize("cls", sorted(ACTIVATIONS))
@pytest.mark.parametrize("scale_", (*INPUT_SCALES, 1e-4))  # 1e-4: 1 - x^2 and 1 - y^2 agree to ~1e-16
def test_the_activation_hypotheses_never_claim_a_correct_gradient(rng, cls, scale_):
    x = scale_ * rng.standard_normal((3, 7))
    y, dy, dx = torch_layer(ACTIVATIONS[cls], x, rng)
    for got in (student_activation_dx(cls, x, y, dy, "correct"), dx,
                dx.astype(np.float32).astype(np.float64)):  # float32's rounding is not a bug either
        ev = evidence("grad_input", got, dx, cls, x=x, dy=dy)
        for hypothesis in (activations.grad_from_input, activations.wrong_derivative, activations.chain_rule):
            assert hypothesis(ev) is None, (hypothesis.__name__, hypothesis(ev))


def test_an_unrelated_activation_bug_keeps_its_own_cause(rng):
    x = 1.5 * rng.standard_normal((4, 10))
    y, dy, dx = torch_layer(torch.tanh, x, rng)
    assert diagnose(evidence("grad_input", -dx, dx, "Tanh", x=x, dy=dy)).code == "sign"
    assert diagnose(evidence("grad_input", dx / 4, dx, "Tanh", x=x, dy=dy)).code == "scale"
    y, dy, dx = torch_layer(torch.relu, x, rng)
    assert diagnose(evidence("grad_input", (x > 0) * 1.0, dx, "ReLU", x=x, dy=dy)).code == "chain-rule"
    assert diagnose(evidence("grad_input", dy, dx, "ReLU", x=x, dy=dy)).code == "relu-mask"


@pytest.mark.parametrize("cls, naive, words", [
    ("Tanh", lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)), "np.tanh(x) saturates"),
    ("Sigmoid", lambda x: np.exp(x) / (1 + np.exp(x)), "call exp only on -|x|"),
])
def test_a_naive_exp_in_tanh_or_sigmoid_that_overflows_is_named(rng, cls, naive, words):
    x = 40 * rng.standard_normal((4, 10))
    x[0, :3] = (800, -800, 1e4)  # beyond float64's exp: inf / inf
    with np.errstate(all="ignore"):
        got = naive(x)
    y, _, _ = torch_layer(ACTIVATIONS[cls], x, rng)
    found = diagnose(evidence("output", got, y, cls, x=x))
    assert (found.code, words in found.hint) == ("overflow", True), found
    assert overflow(evidence("output", y, y, cls, x=x)) is None


# ---- softmax: its gradient as if elementwise, the wrong axis, no max shift ----

def test_softmax_backward_as_if_elementwise_is_named_and_not_claimed_by_a_correct_one(rng):
    x = 2 * rng.standard_normal((5, 10))
    y, dy, dx = torch_layer(lambda t: torch.softmax(t, 1), x, rng)
    found = diagnose(evidence("grad_input", dy * y * (1 - y), dx, "Softmax", dict(dim=1), x=x, dy=dy))
    assert found.code == "elementwise-grad" and "as if softmax were elementwise" in found.hint, found
    assert head.elementwise_grad(evidence("grad_input", dx, dx, "Softmax", dict(dim=1), x=x, dy=dy)) is None
    correct = y * (dy - (dy * y).sum(axis=1, keepdims=True))
    assert head.elementwise_grad(evidence("grad_input", correct, dx, "Softmax", dict(dim=1), x=x, dy=dy)) is None
    # log-softmax's elementwise backward keeps its own wording
    _, dy, dx = torch_layer(lambda t: torch.log_softmax(t, 1), x, rng)
    found = diagnose(evidence("grad_input", dy * (1 - softmax(x)), dx, "LogSoftmax", dict(dim=1), x=x, dy=dy))
    assert found.code == "elementwise-grad" and "dy * (1 - softmax)" in found.hint, found


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("cls, fn", [("Softmax", torch.softmax), ("LogSoftmax", torch.log_softmax)])
def test_softmax_over_the_batch_axis_is_named(rng, n, cls, fn):
    x = 2 * rng.standard_normal((n, 10))
    y, _, _ = torch_layer(lambda t: fn(t, 1), x, rng)
    wrong = fn(torch.tensor(x), 0).numpy()
    found = diagnose(evidence("output", wrong, y, cls, dict(dim=1), x=x))
    assert found.code == "wrong-axis" and "over the batch (axis 0)" in found.hint, found
    assert head.softmax_wrong_axis(evidence("output", y, y, cls, dict(dim=1), x=x)) is None


def test_softmax_without_the_max_shift_overflows_and_is_named(rng):
    x = 1e4 * rng.standard_normal((3, 10))
    with np.errstate(all="ignore"):
        e = np.exp(x)
        got = e / e.sum(axis=1, keepdims=True)
    y, _, _ = torch_layer(lambda t: torch.softmax(t, 1), x, rng)
    found = diagnose(evidence("output", got, y, "Softmax", dict(dim=1), x=x))
    assert found.code == "overflow" and "subtract each row's maximum" in found.hint, found


# ---- average pooling: a gradient (or an output) not divided by the window's kh*kw ----

@pytest.mark.parametrize("n", [2, 4])  # 4: the batch size equals the 2x2 window; the window is the truer cause
def test_an_average_pool_gradient_not_divided_by_the_window_is_named(rng, n):
    x = rng.standard_normal((n, 3, 8, 6))
    y, dy, dx = torch_layer(lambda t: F.avg_pool2d(t, 2, 2), x, rng)
    undivided = np.repeat(np.repeat(dy, 2, axis=2), 2, axis=3)  # each window's dy copied to its 4 elements
    found = diagnose(evidence("grad_input", undivided, dx, "AvgPool2d", dict(kernel_size=2, stride=2), x=x, dy=dy))
    assert found.code == "scale" and "not divided by the window's kh*kw" in found.hint, found
    assert "kh*kw = 2*2 = 4" in found.hint
    found = diagnose(evidence("output", y * 4, y, "AvgPool2d", dict(kernel_size=2, stride=2), x=x, dy=dy))
    assert found.code == "scale" and "each window's sum, not its mean" in found.hint, found
    assert scale(evidence("grad_input", dx, dx, "AvgPool2d", dict(kernel_size=2, stride=2), x=x, dy=dy)) is None


def student_avgpool_dx_at_kernel_steps(dy, x_shape, k):
    """Average-pool backward that puts window (r, c) at (r*k, c*k), as if the stride were the kernel size."""
    dx = np.zeros(x_shape)
    for r in range(dy.shape[2]):
        for q in range(dy.shape[3]):
            dx[:, :, r * k:r * k + k, q * k:q * k + k] = dy[:, :, r, q][:, :, None, None] / (k * k)
    return dx


@pytest.mark.parametrize("k, s, shape", [(3, 2, (2, 3, 9, 7)), (2, 1, (1, 2, 5, 6)), (2, 3, (2, 2, 8, 8))])
def test_an_average_pool_backward_stepping_by_the_kernel_is_named(rng, k, s, shape):
    x = rng.standard_normal(shape)
    _, dy, dx = torch_layer(lambda t: F.avg_pool2d(t, k, s), x, rng)
    got = student_avgpool_dx_at_kernel_steps(dy, shape, k)
    kwargs = dict(kernel_size=k, stride=s)
    found = diagnose(evidence("grad_input", got, dx, "AvgPool2d", kwargs, x=x, dy=dy))
    assert found.code == "stride" and "the loop assumed stride == kernel_size" in found.hint, found
    assert windows.stride_as_kernel(evidence("grad_input", dx, dx, "AvgPool2d", kwargs, x=x, dy=dy)) is None


def test_an_average_pool_keeping_partial_border_windows_names_its_size_formula(rng):
    x = rng.standard_normal((1, 3, 7, 9))
    y, _, _ = torch_layer(lambda t: F.avg_pool2d(t, 2, 2), x, rng)  # 3x4
    ceil = F.avg_pool2d(torch.tensor(x), 2, 2, ceil_mode=True).numpy()  # 4x5: the partial windows kept
    found = diagnose(evidence("output", ceil, y, "AvgPool2d", dict(kernel_size=2, stride=2), x=x))
    assert found.code == "shape" and "(H + 2*padding - 1) // stride + 1 (the kernel is left out" in found.hint, found


# ---- cross-entropy: not averaged over the batch, no max shift, the one-hot missing ----

@pytest.mark.parametrize("n", [3, 6])
def test_cross_entropy_not_averaged_over_the_batch_is_named(rng, n):
    x, targets = 3 * rng.standard_normal((n, 10)), rng.integers(0, 10, n)
    loss, dx = torch_xent(x, targets)
    summed, dsummed = torch_xent(x, targets, "sum")
    for tensor, got, want in (("loss", summed, loss), ("grad_input", dsummed, dx)):
        found = diagnose(evidence(tensor, got, want, "CrossEntropyLoss", x=x, targets=targets))
        assert found.code == "scale" and f"N (N={n}): summed over the batch instead of averaging" in found.hint, \
            (tensor, found)
    assert scale(evidence("loss", loss, loss, "CrossEntropyLoss", x=x, targets=targets)) is None


def test_cross_entropy_without_the_max_shift_is_named_on_huge_logits(rng):
    x, targets = 1e4 * rng.standard_normal((6, 10)), rng.integers(0, 10, 6)
    with np.errstate(all="ignore"):
        e = np.exp(x)
        naive = -np.log(e / e.sum(axis=1, keepdims=True))[np.arange(6), targets].mean()
    loss, _ = torch_xent(x, targets)
    found = diagnose(evidence("loss", naive, loss, "CrossEntropyLoss", x=x, targets=targets))
    assert found.code == "overflow" and "the softmax inside the loss overflowed" in found.hint, found
    assert overflow(evidence("loss", loss, loss, "CrossEntropyLoss", x=x, targets=targets)) is None


def test_a_cross_entropy_gradient_without_the_one_hot_is_named(rng):
    x, targets = 2 * rng.standard_normal((5, 10)), rng.integers(0, 10, 5)
    _, dx = torch_xent(x, targets)
    found = diagnose(evidence("grad_input", softmax(x) / 5, dx, "CrossEntropyLoss", x=x, targets=targets))
    assert found.code == "missing-onehot" and "the -1 at each row's true class is missing" in found.hint, found
    assert head.xent_grad_no_onehot(evidence("grad_input", dx, dx, "CrossEntropyLoss", x=x, targets=targets)) is None


# ---- the zoo's new mutants through the real check (snapshot and sweep, float64) ----

@pytest.mark.parametrize("cls, kind, layers, tensor, code", [  # the class replaces every layer of its kind
    (nt.TanhGradFromInput, "tanh", ("tanh1", "tanh2", "tanh3", "tanh4"), "grad_input", "grad-from-input"),
    (nt.SigmoidNoOneMinus, "sigmoid", ("sigmoid3", "sigmoid4"), "grad_input", "wrong-derivative"),
    (nt.SoftmaxGradElementwise, "softmax", ("softmax",), "grad_input", "elementwise-grad"),
    (nt.AvgPoolGradNotDivided, "avgpool", ("pool1", "pool2"), "grad_input", "scale"),
    (nt.CrossEntropyLossSummed, "crossentropy", ("loss",), "loss", "scale"),
    (nt.CrossEntropyLossNoMaxShift, "crossentropy", ("loss",), "loss", "overflow"),
])
def test_the_real_check_names_each_new_mutants_cause_at_the_first_failure(cls, kind, layers, tensor, code):
    run = check_layer(cls, kind, dtype="float64", modes=["snapshot", "sweep"])
    first = run.first_failure
    assert first is not None, "not caught"
    assert (first.checked_layer in layers, first.tensor, first.likely().code) == (True, tensor, code), \
        (first.describe(), first.likely())


@pytest.mark.parametrize("kind", ["tanh", "sigmoid", "softmax", "avgpool", "crossentropy"])
def test_the_correct_numpy_layers_of_the_new_types_pass_the_same_check(kind):
    from lenet_parity.custom_layers import numpy as npl

    cls = {"tanh": npl.Tanh, "sigmoid": npl.Sigmoid, "softmax": npl.Softmax, "avgpool": npl.AvgPool2d,
           "crossentropy": npl.CrossEntropyLoss}[kind]
    run = check_layer(cls, kind, dtype="float64", modes=["snapshot", "sweep"])
    assert run.passed, [r.describe() for r in run.failures][:3]


# ---- log(softmax) of an underflowed probability: the max shift was done, the log taken of a 0 ----

def _log_of_shifted_softmax(x, target):
    """CS231n's softmax_loss: P = exp(x - max) / sum, loss = -mean(log(P[range(N), y])): log(0) where P underflows."""
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return -np.log(p[range(len(target)), target]).mean()


def test_log_of_an_underflowed_probability_is_named_not_called_a_missing_max_shift():
    target = np.array([3, 7])
    x = np.zeros((2, 10))
    x[range(2), target] = -800.0  # exp never overflows here; the true class's probability underflows to 0
    expected = F.cross_entropy(torch.tensor(x), torch.tensor(target)).item()  # 800 + log(9): finite
    found = diagnose(evidence("loss", _log_of_shifted_softmax(x, target), expected, "CrossEntropyLoss", x=x,
                              targets=target))
    assert found.code == "log-of-zero" and "log-softmax directly" in found.hint


def test_an_infinite_loss_on_logits_whose_exp_overflows_names_both_possible_causes(rng):
    x = rng.standard_normal((6, 10)) * 1e4
    target = rng.integers(0, 10, 6)
    expected = F.cross_entropy(torch.tensor(x), torch.tensor(target)).item()
    found = diagnose(evidence("loss", _log_of_shifted_softmax(x, target), expected, "CrossEntropyLoss", x=x,
                              targets=target))
    assert found.code == "overflow" and "underflowed to 0" in found.hint and "no max shift" in found.hint
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # no shift at all: inf / inf, a NaN loss
        e = np.exp(x)
        naive = -np.log((e / e.sum(axis=1, keepdims=True))[range(6), target]).mean()
    assert diagnose(evidence("loss", naive, expected, "CrossEntropyLoss", x=x, targets=target)).code == "overflow"


def test_a_log_softmax_row_with_a_finite_entry_was_shifted_one_without_was_not(rng):
    x = rng.standard_normal((3, 10)) * 1e4
    expected = F.log_softmax(torch.tensor(x), dim=1).numpy()
    with np.errstate(divide="ignore", over="ignore"):
        shifted = x - x.max(axis=1, keepdims=True)
        log_of_p = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))  # -inf but for the max
        unshifted = x - np.log(np.exp(x).sum(axis=1, keepdims=True))  # log(inf): the whole row -inf
    assert diagnose(evidence("output", log_of_p, expected, "LogSoftmax", x=x)).code == "log-of-zero"
    assert diagnose(evidence("output", unshifted, expected, "LogSoftmax", x=x)).code == "overflow"
