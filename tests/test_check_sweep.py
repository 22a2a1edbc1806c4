"""The sweep mode: configurations beyond LeNet's shapes catch bugs the Phase 0 snapshot cannot see.

Each broken layer is a small subclass of a numpy layer with one classic bug; the snapshot on LeNet's shapes
passes it, the sweep fails it at the right tensor.
"""

from __future__ import annotations

import numpy as np
import pytest

from lenet_parity.custom_layers.numpy import Conv2d, LogSoftmax, MaxPool2d, ReLU
from lenet_parity.harness.layer_factory import BackendFactory
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.modes.snapshot import run_snapshot
from lenet_parity.harness.modes.sweep import EXTRA_CONFIGS, Config, own_configs, run_sweep, sweep_case
from lenet_parity.reference.layers import LOSS_SPEC, LayerSpec
from lenet_parity.reference.phase0_format import load_phase0

from conftest import PHASE0

NUMPY = BackendFactory("numpy")


@pytest.fixture(scope="module")
def phase0():
    return load_phase0(PHASE0)


class IgnoresStride(Conv2d):
    """Takes a stride argument and forgets it: always slides by 1 (LeNet's convs all have stride 1)."""

    def __init__(self, *args, stride=1, **kwargs):
        super().__init__(*args, **kwargs)


class NonOverlappingPoolGrad(MaxPool2d):
    """Sets each window's gradient at its maximum instead of adding it: wrong only where windows overlap."""

    def forward(self, x):
        self._x = np.asarray(x)
        return super().forward(x)

    def backward(self, dy):
        x, (kh, kw), (sh, sw) = self._x, self.kernel_size, self.stride
        dx = np.zeros_like(x)
        n, c = np.indices(dy.shape[:2])
        for i in range(dy.shape[2]):
            for j in range(dy.shape[3]):
                window = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(*dy.shape[:2], -1)
                k = window.argmax(axis=-1)  # the first maximum, as torch
                dx[n, c, i * sh + k // kw, j * sw + k % kw] = dy[:, :, i, j]  # the bug: = where += is needed
        return dx


class ReluGradOneAtZero(ReLU):
    """d relu / dx = 1 at x == 0 (torch says 0): invisible unless an input is exactly zero."""

    def forward(self, x):
        self._x = np.asarray(x)
        return np.maximum(self._x, 0)

    def backward(self, dy):
        return np.where(self._x >= 0, dy, 0).astype(self._x.dtype)


class NaiveLogSoftmax(LogSoftmax):
    """log(exp(x) / sum(exp(x))) without subtracting the maximum: overflows for logits of 1e4."""

    def forward(self, x):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            e = np.exp(x)
            y = np.log(e / e.sum(axis=self.dim, keepdims=True))
        self._cache = y
        return y


def factory_with(cls_name: str, broken: type):
    def make(spec: LayerSpec):
        return broken(**spec.kwargs) if spec.cls == cls_name else NUMPY(spec)
    return make


@pytest.mark.parametrize("names, cls_name, broken, tensor", [
    (["conv1", "conv2"], "Conv2d", IgnoresStride, "output"),
    (["pool1", "pool2"], "MaxPool2d", NonOverlappingPoolGrad, "grad_input"),
    (["relu1", "relu2", "relu3", "relu4"], "ReLU", ReluGradOneAtZero, "grad_input"),
    (["logsoftmax"], "LogSoftmax", NaiveLogSoftmax, "output"),
])
def test_sweep_catches_what_the_snapshot_misses(phase0, names, cls_name, broken, tensor):
    make = factory_with(cls_name, broken)
    for dtype in ("float32", "float64"):
        snapshot = run_snapshot(names, CheckContext(make, dtype=dtype, phase0=phase0))
        assert all(r.passed for r in snapshot), [r.describe() for r in snapshot if not r.passed]
        sweep = run_sweep(names, CheckContext(make, dtype=dtype, phase0=phase0))
        failed = [r for r in sweep if not r.passed]
        assert failed, f"{broken.__name__} passed the {dtype} sweep"
        assert failed[0].tensor == tensor and failed[0].checked_layer == names[0]
        assert {r.checked_layer for r in failed} <= set(names)


def test_correct_layers_pass_every_sweep_case(phase0):
    names = ["conv1", "pool1", "relu1", "fc1", "flatten", "logsoftmax", "loss", "bn1", "bn3", "drop1", "res1"]
    for backend in ("numpy", "python"):
        results = run_sweep(names, CheckContext(BackendFactory(backend), phase0=phase0))
        assert results and all(r.passed for r in results), [r.describe() for r in results if not r.passed]


def test_sweep_covers_the_nasty_cases():
    conv = LayerSpec("conv1", "conv", "Conv2d", dict(in_channels=1, out_channels=6, kernel_size=5))
    configs = own_configs(conv) + EXTRA_CONFIGS["Conv2d"]
    assert any(c.shape[0] == 1 for c in configs)  # N = 1
    assert any(c.shape[2] != c.shape[3] for c in configs)  # non-square
    assert any((c.kwargs or {}).get("stride", 1) != 1 for c in configs)
    assert any((c.kwargs or {}).get("padding", 0) != 0 for c in configs)
    pools = EXTRA_CONFIGS["MaxPool2d"]
    assert any(c.kwargs == dict(kernel_size=3, stride=2) and c.inputs == "ties" for c in pools)
    relu = own_configs(LayerSpec("relu1", "relu", "ReLU"))
    assert all(c.inputs == "zeros" for c in relu)
    assert any(c.inputs == "huge" for c in own_configs(LayerSpec("logsoftmax", "logsoftmax", "LogSoftmax", {"dim": 1})))
    assert any(c.inputs == "huge" for c in own_configs(LOSS_SPEC))


def test_sweep_cases_are_seeded_with_random_upstream_gradients():
    spec = LayerSpec("pool1", "pool", "MaxPool2d", dict(kernel_size=3, stride=2))
    config = Config((2, 3, 9, 7), "ties", kwargs=dict(kernel_size=3, stride=2))
    a = sweep_case(spec, config, "float64", "pool1/x")
    b = sweep_case(spec, config, "float64", "pool1/x")
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.dy, b.dy)
    assert not np.all(a.dy == 1) and np.unique(a.dy).size == a.dy.size  # random, not ones
    windows = np.lib.stride_tricks.sliding_window_view(a.x, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    maxima = windows.max(axis=(-1, -2), keepdims=True)
    assert np.any((windows == maxima).sum(axis=(-1, -2)) > 1)  # some windows hold a tied maximum
    relu = sweep_case(LayerSpec("relu1", "relu", "ReLU"), Config((1, 3, 5, 7), "zeros"), "float32", "relu1/x")
    assert np.any(relu.x == 0) and relu.x.dtype == np.float32


class StrideFreeConv(Conv2d):
    """A user's conv whose constructor takes no stride or padding."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, bias=bias)


def test_configurations_a_layer_declines_are_unsupported_under_lenet_and_failures_under_torch(phase0):
    class Factory:
        label = "StrideFreeConv"

        def __call__(self, spec):
            return StrideFreeConv(**spec.kwargs)

        def accepts(self, spec):
            return not {"stride", "padding"} & set(spec.kwargs)

    lenet = run_sweep(["conv1"], CheckContext(Factory(), phase0=phase0))
    assert lenet and all(r.passed for r in lenet)
    declined = {r.layer: r.unsupported for r in lenet if r.status == "unsupported"}
    assert declined == {"Conv2d(3, 4, k=3, s=2)": "its constructor does not take stride",
                        "Conv2d(2, 3, k=3, p=1)": "its constructor does not take padding"}
    assert all(r.origin == "conv1" for r in lenet if r.layer != "conv1")
    assert not any("bias=False" in r.layer for r in lenet)  # torch's generality: not asked under --scope lenet

    torch_scope = run_sweep(["conv1"], CheckContext(Factory(), phase0=phase0, scope="torch"))
    failed = {r.layer for r in torch_scope if not r.passed}
    assert failed == {"Conv2d(3, 4, k=3, s=2)", "Conv2d(2, 3, k=3, p=1)", "Conv2d(2, 5, k=(3, 2), s=(2, 1), p=(1, 2))"}
    assert any(r.layer == "Conv2d(4, 2, k=1, bias=False)" and r.passed for r in torch_scope)  # what it takes is run


def test_a_constructor_raising_not_implemented_declines_but_lenets_own_arguments_never_do(phase0):
    class SquareOnly(Conv2d):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
            if not isinstance(kernel_size, int) or in_channels == 2:
                raise NotImplementedError("square kernels only")
            super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding)

    results = run_sweep(["conv1", "conv2"], CheckContext(lambda spec: SquareOnly(**spec.kwargs), phase0=phase0))
    assert {r.layer for r in results if r.status == "unsupported"} == {"Conv2d(2, 3, k=3, p=1)"}

    class RefusesLeNet(SquareOnly):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
            if out_channels == 16:
                raise NotImplementedError("only 6 filters")
            super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding)

    results = run_sweep(["conv2"], CheckContext(lambda spec: RefusesLeNet(**spec.kwargs), phase0=phase0))
    assert any(r.layer == "conv2" and not r.passed and "only 6 filters" in r.error for r in results)
