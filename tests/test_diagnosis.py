"""Diagnoses by hypothesis: layers written by someone who never saw ours, each with one classic bug, are named for
what they do wrong; a correct student's layers pass; random wrong values stay "unknown"."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import PHASE0, ROOT
from lenet_parity.harness.check_runner import run_checks
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.diagnosis import Evidence, diagnose
from lenet_parity.harness.isolation import IsolatedFactory
from lenet_parity.reference.phase0_format import load_phase0

STUDENT = ROOT / "tests" / "student_layers"


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


def first_failure(phase0, impl: str, kind: str):
    with IsolatedFactory(impl) as factory:
        run = run_checks(kind, CheckContext(factory, phase0=phase0), modes=["snapshot", "state", "sweep"])
    return run.first_failure


@pytest.mark.parametrize("file, kind, cls, code, words", [
    ("B01_conv_bias_grad_mean", "conv", "Conv2d", "scale", "1/(N*H*W)"),
    ("B02_conv_forward_kernel_flipped", "conv", "Conv2d", "flipped-kernel", "cross-correlation"),
    ("B03_conv_backward_padding_not_removed", "conv", "Conv2d", "shape", "padding was not cut off"),
    ("B04_pool_grad_last_max_on_ties", "pool", "MaxPool2d", "tie-break", "LAST one"),
    ("B05_relu_grad_ge_zero", "relu", "ReLU", "relu-at-zero", "x >= 0"),
    ("B06_flatten_channels_last", "flatten", "Flatten", "permutation", "channels-last"),
    ("B07_logsoftmax_no_max_shift", "logsoftmax", "LogSoftmax", "overflow", "subtract each row's maximum"),
    ("B08_nll_backward_missing_1_over_n", "loss", "NLLLoss", "scale", "N (N=4)"),
])
def test_a_students_one_bug_copies_are_named_for_their_bug(phase0, file, kind, cls, code, words):
    first = first_failure(phase0, f"{STUDENT / 'buggy' / file}.py:{cls}", kind)
    likely = first.likely()
    assert (likely.code, words in likely.hint) == (code, True), (first.describe(), likely)


def test_the_students_correct_layers_pass_under_the_default_scope(phase0):
    for kind, cls in [("conv", "Conv2d"), ("pool", "MaxPool2d"), ("dense", "Linear"), ("flatten", "Flatten"),
                      ("loss", "NLLLoss")]:
        with IsolatedFactory(f"{STUDENT / 'numpy_layers.py'}:{cls}") as factory:
            run = run_checks(kind, CheckContext(factory, phase0=phase0), modes=["snapshot", "state", "sweep"])
        assert run.passed, [r.describe() for r in run.failures][:3]


def evidence(got, expected, **kw) -> Evidence:
    return Evidence("output", np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64), 1e-9, 1e-9, **kw)


def test_hypotheses_on_planted_values():
    rng = np.random.default_rng(3)
    e = rng.standard_normal((4, 6, 5, 5))
    x = rng.standard_normal((4, 1, 9, 9))
    assert diagnose(evidence(-e, e)).code == "sign"
    assert diagnose(evidence(e / 4, e, x=x)).hint.endswith("1/N (N=4): averaged over the batch instead of summing")
    bias = rng.standard_normal(6)
    assert "lacks the bias" in diagnose(evidence(e - bias[None, :, None, None], e, params={"bias": bias})).hint
    assert diagnose(evidence(e.astype(np.float16), e)).code == "precision"
    assert diagnose(evidence(np.transpose(e, (0, 1, 3, 2)), e)).code == "permutation"
    assert diagnose(evidence(e + rng.standard_normal(e.shape), e)).code == "unknown"
    assert diagnose(evidence(e[:, :, :4, :4], e)).code == "shape" and "off by one" in diagnose(evidence(e[:, :, :4, :4], e)).hint


def test_errors_are_read_against_the_float32_noise_floor(phase0):
    """A correct float32 layer errs at a few times torch's own float32-vs-float64 distance; a bug at 1e4 and more."""
    from lenet_parity.custom_layers import numpy as npl
    from lenet_parity.harness.layer_factory import BackendFactory

    class MeanBiasGrad(npl.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["bias"] = self.grads["bias"] / len(dy)
            return dx

    numpy = BackendFactory("numpy")
    good = run_checks("dense", CheckContext(numpy, phase0=phase0), modes=["snapshot", "sweep"], dtypes=["float32"])
    multiples = [r.noise_multiple for r in good.results if r.noise_multiple is not None]
    assert good.passed and len(multiples) > 20 and np.median(multiples) < 10
    bad = run_checks("dense", CheckContext(lambda spec: MeanBiasGrad(**spec.kwargs), phase0=phase0),
                     modes=["snapshot"], dtypes=["float32"])
    assert all(r.noise_multiple > 1e4 for r in bad.failures)


def test_codes_without_a_case():
    rng = np.random.default_rng(4)
    e = rng.standard_normal((10, 84))
    assert diagnose(evidence(e.T, e)).code == "transpose"
    from lenet_parity.harness.results import CheckResult

    crash = CheckResult("fc1", "output", "snapshot", "float32", error="Linear.forward() raised ValueError: boom")
    assert crash.likely().code == "crash"
    stale = CheckResult("fc1", "latest_input", "state", "float32", finding="after forward(x1), forward(x2) ...")
    assert stale.likely().code == "stale-cache"
    assert CheckResult("relu1", "input_unchanged", "state", "float32", finding="in place").likely().code == "in-place"


@pytest.mark.parametrize("variant", ["mean", "sum_over_n", "gradient"])
def test_nll_indexed_with_a_block_is_named_in_the_loss_and_in_its_gradient(variant):
    """logp[:, target] picks an N x N block: whichever way the student normalises it, and in backward too."""
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 10))
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    targets = np.array([3, 1, 4, 1, 5, 9])
    n = len(targets)
    if variant == "gradient":
        expected = np.zeros_like(logp)
        expected[np.arange(n), targets] = -1 / n
        got = np.zeros_like(logp)
        got[:, targets] = -1 / n
        tensor = "grad_input"
    else:
        expected = np.array(-logp[np.arange(n), targets].mean())
        got = np.array(-logp[:, targets].mean() if variant == "mean" else -logp[:, targets].sum() / n)
        tensor = "loss"
    found = diagnose(Evidence(tensor, got, expected, 1e-7, 1e-7, "NLLLoss", x=logp, targets=targets))
    assert found.code == "wrong-index" and "np.arange(N), target" in found.hint
    right = diagnose(Evidence(tensor, expected * 2, expected, 1e-7, 1e-7, "NLLLoss", x=logp, targets=targets))
    assert right.code != "wrong-index"
