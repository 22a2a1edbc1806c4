"""He and Glorot initialisation in both backends: torch's fans and gains, the drawn std and bounds, seeding."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lenet_parity.custom_layers.numpy import init as numpy_init
from lenet_parity.custom_layers.python import init as python_init

BACKENDS = {"numpy": numpy_init, "python": python_init}
FAN_SHAPES = [(3, 5), (1, 1), (5, 3), (6, 1, 5, 5), (16, 6, 5, 5), (120, 256), (10, 84), (4, 3, 2), (2, 3, 4, 5, 6),
              (7, 2, 1, 3), (6, 6, 3, 3)]
GAIN_CASES = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
              ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
              ("relu", None), ("relu", 0.3), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0),
              ("leaky_relu", 1), ("leaky_relu", -0.5), ("selu", None)]


@pytest.mark.parametrize("shape", FAN_SHAPES, ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fans_equal_torch(backend, shape):
    assert BACKENDS[backend].fan_in_and_fan_out(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("shape", [(5,), ()], ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fans_need_two_dimensions_like_torch(backend, shape):
    with pytest.raises(ValueError):
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError, match="2 dimensions"):
        BACKENDS[backend].fan_in_and_fan_out(shape)


@pytest.mark.parametrize("nonlinearity,param", GAIN_CASES, ids=[f"{n}-{p}" for n, p in GAIN_CASES])
@pytest.mark.parametrize("backend", BACKENDS)
def test_gains_equal_torch(backend, nonlinearity, param):
    assert BACKENDS[backend].calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("nonlinearity,param", [("softplus", None), ("leaky_relu", "0.2"), ("leaky_relu", True)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_gains_are_value_errors_like_torch(backend, nonlinearity, param):
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError):
        BACKENDS[backend].calculate_gain(nonlinearity, param)


def torch_kaiming_std(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    return torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def torch_xavier_std(shape, gain=1.0):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


# fan_in and fan_out differ by 4x or 2.5x in these shapes, so a swapped mode moves the std by >= 37%
CONV, FC = (128, 32, 5, 5), (200, 500)  # 102,400 and 100,000 samples
KAIMING_CASES = [(CONV, {}), (CONV, dict(nonlinearity="relu")), (CONV, dict(mode="fan_out", nonlinearity="relu")),
                 (FC, dict(a=0.2)), (FC, dict(mode="fan_out", nonlinearity="linear")), (FC, dict(nonlinearity="tanh"))]
XAVIER_CASES = [(CONV, {}), (FC, dict(gain=5.0 / 3))]
DRAW_CASES = ([("kaiming", dist, s, kw) for dist in ("normal", "uniform") for s, kw in KAIMING_CASES]
              + [("xavier", dist, s, kw) for dist in ("normal", "uniform") for s, kw in XAVIER_CASES])
DRAW_IDS = [f"{fam}_{dist}-{'x'.join(map(str, s))}-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
            for fam, dist, s, kw in DRAW_CASES]


@pytest.mark.parametrize("family,dist,shape,kwargs", DRAW_CASES, ids=DRAW_IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_drawn_values_have_torchs_std_and_bounds(backend, family, dist, shape, kwargs):
    draw = getattr(BACKENDS[backend], f"{family}_{dist}")
    x = np.asarray(draw(shape, rng=1234, **kwargs), dtype=np.float64)
    assert x.shape == shape
    std = torch_kaiming_std(shape, **kwargs) if family == "kaiming" else torch_xavier_std(shape, **kwargs)
    n = x.size
    # Statistics: for n iid draws the sample mean has standard error std/sqrt(n), and the sample std has
    # standard error std/sqrt(2n) for a normal (std*0.45/sqrt(n) for a uniform, so the normal's is the
    # looser of the two). Six standard errors: a correct draw fails for fewer than 1 seed in 1e8, while
    # the bugs we look for (wrong fan, mode or gain) move the std by 18% or more, over 100 standard errors.
    assert abs(x.mean()) < 6 * std / math.sqrt(n)
    assert abs(x.std() - std) < 6 * std / math.sqrt(2 * n)
    if dist == "uniform":
        bound = math.sqrt(3.0) * std
        assert np.abs(x).max() <= bound
        # each draw lands within bound*1e-3 of an end with probability 5e-4, so missing an end among
        # 1e5 draws has probability (1 - 5e-4)^1e5 = e^-50: a too-small bound shows here
        assert x.max() > bound * (1 - 1e-3) and x.min() < -bound * (1 - 1e-3)


@pytest.mark.parametrize("name", ["kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_seeding(backend, name):
    mod = BACKENDS[backend]
    draw, shape = getattr(mod, name), (6, 4, 3, 3)
    first, again, other = (np.asarray(draw(shape, rng=s)) for s in (7, 7, 8))
    assert np.array_equal(first, again), "the same seed gave other values"
    assert not np.any(first == other), "another seed gave some of the same values"
    # one generator shared by several draws: they continue one stream, as a seed's fresh generator would
    gen = np.random.default_rng(7) if backend == "numpy" else __import__("random").Random(7)
    a, b = np.asarray(draw(shape, rng=gen)), np.asarray(draw(shape, rng=gen))
    assert np.array_equal(a, first) and not np.any(a == b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_returns_new_values_of_the_right_type(backend):
    x = BACKENDS[backend].kaiming_uniform((3, 2, 2), rng=0)
    if backend == "python":
        assert isinstance(x, list) and len(x) == 3 and len(x[0]) == 2 and len(x[0][0]) == 2
        assert all(type(v) is float for row in x for col in row for v in col)
    else:
        assert isinstance(x, np.ndarray) and x.shape == (3, 2, 2) and x.dtype == np.float64


def test_numpy_keeps_the_dtype_and_rounds_the_float64_draw():
    x64 = numpy_init.xavier_normal((5, 4), rng=3)
    x32 = numpy_init.xavier_normal((5, 4), rng=3, dtype=np.float32)
    assert x32.dtype == np.float32
    assert np.array_equal(x32, x64.astype(np.float32))
    with pytest.raises(ValueError, match="floating"):
        numpy_init.kaiming_normal((5, 4), rng=3, dtype=np.int64)


@pytest.mark.parametrize("call", [
    lambda m: m.kaiming_normal((4, 0, 3), rng=0),
    lambda m: m.kaiming_normal((4, -1), rng=0),
    lambda m: m.kaiming_normal((4, 2.0), rng=0),
    lambda m: m.kaiming_uniform((4,), rng=0),
    lambda m: m.kaiming_normal((4, 3), rng=0, mode="fan_avg"),
    lambda m: m.xavier_uniform((4, 3), rng="seed"),
    lambda m: m.xavier_normal((4, 3), rng=None),
    lambda m: m.xavier_normal((4, 3), rng=True),
], ids=["zero dim", "negative dim", "float dim", "1-D", "bad mode", "str rng", "no rng", "bool rng"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_is_a_value_error(backend, call):
    with pytest.raises(ValueError):
        call(BACKENDS[backend])


def test_python_init_imports_no_numpy():
    tree = ast.parse(Path(python_init.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert "numpy" not in imported


# --- init_he: the reference model's initialisation, on tiny fake layers ---

class FakeLayer:
    def __init__(self, params: dict, array_kind: str = "numpy"):
        self.params, self.grads, self.array_kind = params, {}, array_kind


class Residual(FakeLayer):
    """Named like the reference's Residual: init_he scales its weight by 0.1."""


def fake(cls, backend, dtype=np.float64, **shapes):
    """A layer with seeded non-zero params (so a forgotten init shows) of the given shapes."""
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    if backend == "python":
        return cls({k: v.tolist() for k, v in arrays.items()}, "list")
    return cls(arrays)


@pytest.mark.parametrize("backend,dtype", [("numpy", np.float64), ("numpy", np.float32), ("python", np.float64)],
                         ids=["numpy-float64", "numpy-float32", "python-float64"])  # pure Python is float64 only
def test_init_he_matches_the_reference(backend, dtype):
    mod = BACKENDS[backend]
    layers = {
        "conv1": fake(FakeLayer, backend, dtype, weight=(64, 30, 5, 5), bias=(64,)),
        "bn1": fake(FakeLayer, backend, dtype, weight=(64,), bias=(64,), running_mean=(64,)),
        "relu1": FakeLayer({}, "list" if backend == "python" else "numpy"),
        "fc1": fake(FakeLayer, backend, dtype, weight=(200, 500), bias=(200,)),
    }
    bn_before = {k: np.array(v) for k, v in layers["bn1"].params.items()}
    mod.init_he(layers, rng=11)
    for name, shape in (("conv1", (64, 30, 5, 5)), ("fc1", (200, 500))):
        w, b = (np.asarray(layers[name].params[k]) for k in ("weight", "bias"))
        assert w.shape == shape and b.shape == shape[:1]
        if backend == "numpy":
            assert w.dtype == dtype and b.dtype == dtype
        assert not np.any(b), f"{name}.bias is not zero"
        std = torch_kaiming_std(w.shape, mode="fan_in", nonlinearity="relu")  # the reference's kaiming_normal_
        assert abs(w.std() - std) < 6 * std / math.sqrt(2 * w.size)  # 6 standard errors, as above
        assert abs(w.mean()) < 6 * std / math.sqrt(w.size)
    for k, v in bn_before.items():  # a batchnorm's 1-D weight keeps its default, like in the reference
        assert np.array_equal(np.asarray(layers["bn1"].params[k]), v)
    # reproducible, and every layer gets its own draw from the one stream
    again = {n: fake(FakeLayer, backend, dtype, weight=(64, 30, 5, 5), bias=(64,)) for n in ("conv1", "conv2")}
    mod.init_he(again, rng=11)
    assert np.array_equal(np.asarray(again["conv1"].params["weight"]), np.asarray(layers["conv1"].params["weight"]))
    assert not np.any(np.asarray(again["conv1"].params["weight"]) == np.asarray(again["conv2"].params["weight"]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_init_he_scales_a_residual_weight_by_a_tenth(backend):
    mod = BACKENDS[backend]
    conv = fake(FakeLayer, backend, weight=(6, 6, 3, 3), bias=(6,))
    res = fake(Residual, backend, weight=(6, 6, 3, 3), bias=(6,))
    mod.init_layer_he(conv, rng=5)
    mod.init_layer_he(res, rng=5)
    assert np.array_equal(np.asarray(res.params["weight"]), np.asarray(conv.params["weight"]) * 0.1)
    assert not np.any(np.asarray(res.params["bias"]))
