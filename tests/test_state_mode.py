"""The state mode: each side effect or state bug is its own row at its own layer, with its own text; correct
layers (ours, and a student's written without seeing ours, run isolated) pass every check."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import PHASE0, ROOT
from lenet_parity.custom_layers import numpy as npl
from lenet_parity.harness.check_runner import run_checks
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.isolation import IsolatedFactory
from lenet_parity.harness.layer_factory import BackendFactory
from lenet_parity.harness.modes.state import run_state
from lenet_parity.reference.phase0_format import load_phase0
from lenet_parity.vocabulary import STATE_CHECKS

STUDENT = ROOT / "tests" / "student_layers" / "numpy_layers.py"


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


class InPlaceReLU(npl.ReLU):
    def forward(self, x):
        self.mask = x > 0
        np.maximum(x, 0, out=x)
        return x

    def backward(self, dy):
        return dy * self.mask


class DyMutatingReLU(npl.ReLU):
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dy):
        dy[~self.mask] = 0
        return dy


class UpcastingLinear(npl.Linear):
    def forward(self, x):
        return super().forward(x).astype(np.float64)


class AccumulatingLinear(npl.Linear):
    def backward(self, dy):
        before = {k: v.copy() for k, v in self.grads.items()}
        dx = super().backward(dy)
        for k, v in before.items():
            self.grads[k] = self.grads[k] + v
        return dx


class FirstInputLinear(npl.Linear):
    """Caches x only on the first forward (a stale cache)."""

    def forward(self, x):
        if not hasattr(self, "first"):
            self.first = x
        y = super().forward(x)
        self._cache = (self.first,) + tuple(self._cache[1:]) if isinstance(self._cache, tuple) else self._cache
        return y


class DriftingLinear(npl.Linear):
    def forward(self, x):
        self.calls = getattr(self, "calls", 0) + 1
        return super().forward(x) + (self.calls - 1) * 1e-3


def rows_of(phase0, layer: str, broken: type, dtype: str = "float32") -> dict:
    numpy = BackendFactory("numpy")
    make = lambda spec: broken(**spec.kwargs) if spec.name == layer else numpy(spec)  # noqa: E731
    return {r.tensor: r for r in run_state([layer], CheckContext(make, phase0=phase0, dtype=dtype))}


@pytest.mark.parametrize("layer, broken, check, words, code", [
    ("relu1", InPlaceReLU, "input_unchanged", "forward changed its input in place", "in-place"),
    ("relu2", DyMutatingReLU, "dy_unchanged", "backward changed dy in place", "in-place"),
    ("fc1", UpcastingLinear, "dtype", "forward returned float64 for a float32 input", "dtype"),
    ("fc2", AccumulatingLinear, "grads_overwritten", "twice the first: they accumulate", "accumulated"),
    ("fc3", DriftingLinear, "deterministic", "the same input twice gave two different outputs", "nondeterministic"),
])
def test_each_state_bug_fails_its_own_check_only(phase0, layer, broken, check, words, code):
    rows = rows_of(phase0, layer, broken)
    failed = {name: r for name, r in rows.items() if not r.passed}
    assert set(failed) == {check}, {n: r.describe() for n, r in failed.items()}
    assert words in failed[check].finding and failed[check].error is None  # a finding, not a crash
    assert failed[check].likely().code == code


def test_a_stale_cache_fails_latest_input(phase0):
    rows = rows_of(phase0, "fc1", FirstInputLinear, "float64")
    assert not rows["latest_input"].passed and "the latest forward's input" in rows["latest_input"].finding


@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_our_layers_pass_every_state_check(phase0, backend):
    run = run_checks("all", CheckContext(BackendFactory(backend), phase0=phase0), modes=["state"])
    assert run.passed, [r.describe() for r in run.failures]
    assert {r.tensor for r in run.results} == set(STATE_CHECKS)


def test_in_place_changes_inside_an_isolated_worker_are_seen(phase0, tmp_path):
    source = tmp_path / "inplace.py"
    source.write_text("import numpy as np\n\nclass ReLU:\n    def __init__(self):\n        self.params, self.grads = {}, {}\n"
                      "    def forward(self, x):\n        self.mask = x > 0\n        np.maximum(x, 0, out=x)\n        return x\n"
                      "    def backward(self, dy):\n        return dy * self.mask\n")
    with IsolatedFactory(f"{source}:ReLU") as factory:
        run = run_checks("relu", CheckContext(factory, phase0=phase0), layer="relu1", modes=["state"],
                         dtypes=["float64"])
    assert [r.tensor for r in run.failures] == ["input_unchanged"]


def test_a_students_correct_layers_pass_the_state_checks_in_isolation(phase0):
    for kind, cls in [("conv", "Conv2d"), ("pool", "MaxPool2d"), ("relu", "ReLU"), ("dense", "Linear"),
                      ("flatten", "Flatten"), ("logsoftmax", "LogSoftmax"), ("loss", "NLLLoss")]:
        with IsolatedFactory(f"{STUDENT}:{cls}") as factory:
            run = run_checks(kind, CheckContext(factory, phase0=phase0), modes=["state"])
        assert run.passed, [r.describe() for r in run.failures]
