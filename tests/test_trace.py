"""trace: the fully custom LeNet against torch, and where a broken layer makes it first diverge."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import PHASE0, WEIGHTS

from lenet_parity.custom_layers import numpy as npl
from lenet_parity.errors import UserInputError
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_factory import BackendFactory
from lenet_parity.harness.trace import first_divergences, summary, trace


def run_trace(backend="numpy", dtype="float64", make_layer=None, **options):
    context = CheckContext(make_layer or BackendFactory(backend), weights_path=WEIGHTS, phase0_path=PHASE0, dtype=dtype)
    return trace(context, **options)


def with_layer(name: str, cls):
    factory = BackendFactory("numpy")
    return lambda spec: cls(**spec.kwargs) if spec.name == name else factory(spec)


class LeakySideways(npl.MaxPool2d):
    """Max-pool whose backward also sends each gradient one column to the right: the forward is right,
    the gradient reaches elements that were not the maximum."""

    def backward(self, dy):
        dx = super().backward(dy)
        return dx + np.roll(dx, 1, axis=-1)


class Leaky(npl.ReLU):
    """ReLU whose forward lets 1% of negative inputs through."""

    def forward(self, x):
        y = super().forward(x)
        return y + 0.01 * np.minimum(x, 0)


def test_the_fully_custom_numpy_network_matches_torch():
    run = run_trace(variants=True)
    assert run.passed, run.first_failure.describe()
    base = [(r.layer, r.tensor) for r in run.results if r.case == ""]
    assert base[0] == ("conv1", "output") and base[-1] == ("conv1", "grad_bias")
    assert base.index(("logsoftmax", "output")) < base.index(("loss", "loss")) < base.index(("loss", "grad_input"))
    assert {r.layer for r in run.results if r.case == "lenet_variants"} >= {"bn1", "res1", "drop1", "conv1", "loss"}
    assert first_divergences(run) == (None, None)
    assert summary(run) == "forward: no divergence\nbackward: no divergence"


def test_the_fully_custom_python_network_matches_torch_in_float32():
    run = run_trace("python", "float32")
    assert run.passed, run.first_failure.describe()


def test_a_broken_backward_is_located_and_the_forward_is_clean():
    run = run_trace(make_layer=with_layer("pool2", LeakySideways))
    forward, backward = first_divergences(run)
    assert forward is None
    assert (backward.layer, backward.tensor) == ("pool2", "grad_input")
    assert (run.first_failure.layer, run.first_failure.tensor) == ("pool2", "grad_input")
    assert "backward: first divergence at pool2.grad_input" in summary(run)


def test_a_broken_forward_is_located_where_it_starts():
    run = run_trace(make_layer=with_layer("relu3", Leaky))
    forward, backward = first_divergences(run)
    assert (forward.layer, forward.tensor) == ("relu3", "output")
    assert backward is not None  # everything downstream of relu3 diverges, in both directions
    assert all(r.passed for r in run.results if r.layer in ("conv1", "pool2", "fc1") and r.tensor == "output")


def test_bad_input_is_a_user_input_error(tmp_path):
    with pytest.raises(UserInputError, match="unknown backend"):
        run_trace("cuda")
    with pytest.raises(UserInputError):
        trace(CheckContext(BackendFactory("numpy"), weights_path=WEIGHTS, phase0_path=tmp_path / "missing.json"))
