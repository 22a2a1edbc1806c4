"""SGD and Adam in both backends against torch.optim: 100 steps on the same seeded random gradients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lenet_parity.custom_layers.numpy import optim as numpy_optim
from lenet_parity.custom_layers.python import optim as python_optim
from lenet_parity.harness.compare import assert_match
from lenet_parity.harness.tolerances import tolerance

BACKENDS = {"numpy": numpy_optim, "python": python_optim}
STEPS = 100
# torch.optim.SGD's options; dampening and nesterov only act through momentum, so they come with it
SGD_CASES = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.9, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
]
ADAM_CASES = [
    dict(),  # torch's defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, amsgrad=True, weight_decay=0.1),
    dict(lr=0.05, betas=(0.3, 0.6), eps=1e-3),  # 1 - beta1 = 0.7 takes torch.lerp's other formula
]
CASES = [("SGD", c) for c in SGD_CASES] + [("Adam", c) for c in ADAM_CASES]
CASE_IDS = [f"{name}-" + ("-".join(f"{k}={v}" for k, v in c.items()) or "defaults") for name, c in CASES]
SHAPES = {"conv": {"weight": (4, 3, 2, 2), "bias": (4,)}, "fc": {"weight": (5, 7), "bias": (5,)}}


class FakeLayer:
    """The protocol's parameter half and nothing else: params, grads, array_kind."""

    def __init__(self, params: dict, array_kind: str = "numpy"):
        self.params, self.grads, self.array_kind = params, {}, array_kind


class FakeReLU:
    """A layer without parameters: optimisers must skip it."""

    def __init__(self, array_kind: str = "numpy"):
        self.params, self.grads, self.array_kind = {}, {}, array_kind


def as_kind(x: np.ndarray, backend: str):
    return x.copy() if backend == "numpy" else x.tolist()


def make_model(backend: str, dtype, seed: int = 0):
    """Fake layers conv, relu, fc with seeded params; the torch twins of the params in the same order."""
    kind = "numpy" if backend == "numpy" else "list"
    rng = np.random.default_rng(seed)
    start = {ln: {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()} for ln, shapes in SHAPES.items()}
    layers = {"conv": FakeLayer({k: as_kind(v, backend) for k, v in start["conv"].items()}, kind),
              "relu": FakeReLU(kind),
              "fc": FakeLayer({k: as_kind(v, backend) for k, v in start["fc"].items()}, kind)}
    torch_params = [torch.tensor(start[ln][k], requires_grad=True) for ln in SHAPES for k in SHAPES[ln]]
    return layers, torch_params


def gradient_sequence(dtype, seed: int = 1, steps: int = STEPS):
    """Seeded random gradients, one dict per step; their scale varies so that AMSGrad's max matters."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        scale = 1.0 + 3.0 * np.sin(t / 7.0) ** 2
        seq.append({ln: {k: (scale * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}
                    for ln, shapes in SHAPES.items()})
    return seq


def feed(layers, torch_params, grads, backend):
    for ln in SHAPES:
        layers[ln].grads = {k: as_kind(g, backend) for k, g in grads[ln].items()}
    for p, g in zip(torch_params, (g for ln in SHAPES for g in grads[ln].values())):
        p.grad = torch.from_numpy(g.copy())


def assert_params_match(layers, torch_params, dtype_name, step, check_dtype=False):
    for p, (ln, k) in zip(torch_params, ((ln, k) for ln in SHAPES for k in SHAPES[ln])):
        actual = layers[ln].params[k]
        assert_match(actual if isinstance(actual, np.ndarray) else np.asarray(actual, dtype=np.float64),
                     p.detach(), dtype=dtype_name, tensor="optim", name=f"step {step} {ln}.{k}",
                     check_dtype=check_dtype)


def run_pair(backend, name, cfg, dtype, steps=STEPS, check_dtype=False):
    layers, torch_params = make_model(backend, dtype)
    ours = getattr(BACKENDS[backend], name)(layers, **cfg)
    theirs = getattr(torch.optim, name)(torch_params, foreach=False, **cfg)  # torch's single-tensor path
    for t, grads in enumerate(gradient_sequence(dtype, steps=steps), start=1):
        feed(layers, torch_params, grads, backend)
        ours.step()
        theirs.step()
        assert_params_match(layers, torch_params, np.dtype(dtype).name, t, check_dtype)
        for ln in SHAPES:  # the layer's grads are read, never written
            for k, g in grads[ln].items():
                assert np.array_equal(np.asarray(layers[ln].grads[k]), g), f"step {t}: {ln}.grads[{k!r}] was modified"
    return layers, ours, theirs


@pytest.mark.parametrize("name,cfg", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_matches_torch_for_100_steps(backend, name, cfg):
    run_pair(backend, name, cfg, np.float64)


@pytest.mark.parametrize("name,cfg", CASES, ids=CASE_IDS)
def test_numpy_float32_matches_torch_float32_and_keeps_dtype(name, cfg):
    layers, _, _ = run_pair("numpy", name, cfg, np.float32, check_dtype=True)
    for layer in (layers["conv"], layers["fc"]):
        assert all(v.dtype == np.float32 for v in layer.params.values())


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_every_option_changes_the_trajectory(name):
    """Each case above must leave torch's params somewhere else, or its parity test could not fail."""
    finals = []
    for n, cfg in CASES:
        if n == name:
            _, torch_params = make_model("numpy", np.float64)
            opt = getattr(torch.optim, name)(torch_params, foreach=False, **cfg)
            for grads in gradient_sequence(np.float64):
                for p, g in zip(torch_params, (g for ln in SHAPES for g in grads[ln].values())):
                    p.grad = torch.from_numpy(g)
                opt.step()
            finals.append(torch.cat([p.detach().flatten() for p in torch_params]).numpy())
    atol = tolerance("float64", "optim").atol
    for a, b in itertools.combinations(finals, 2):
        assert np.abs(a - b).max() > 1e6 * atol


TORCH_BUFFERS = {"SGD": ("momentum_buffer",), "Adam": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")}
RESUME_CASES = [("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1)),
                ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
                ("Adam", dict(lr=0.01))]


@pytest.mark.parametrize("name,cfg", RESUME_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RESUME_CASES)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_state_dict_round_trip_resumes_identically(backend, name, cfg):
    dtype, stop = np.float64, 40
    grads = gradient_sequence(dtype)
    layers, torch_params = make_model(backend, dtype)
    ours = getattr(BACKENDS[backend], name)(layers, **cfg)
    theirs = getattr(torch.optim, name)(torch_params, foreach=False, **cfg)
    for g in grads[:stop]:
        feed(layers, torch_params, g, backend)
        ours.step()
        theirs.step()
    saved = ours.state_dict()
    saved_params = {ln: {k: np.array(v) for k, v in layers[ln].params.items()} for ln in SHAPES}
    # the buffers carry torch's names and values
    torch_state = theirs.state_dict()["state"]
    for i, slot in enumerate(f"{ln}.{k}" for ln in SHAPES for k in SHAPES[ln]):
        assert set(saved["state"][slot]) == set(torch_state[i]), f"{slot}: buffer names differ from torch's"
        for buf in saved["state"][slot]:
            assert_match(np.asarray(saved["state"][slot][buf], dtype=np.float64), torch_state[i][buf],
                         dtype="float64", tensor="optim", name=f"{slot}.{buf}")
    # the uninterrupted run; the saved dict must not follow it (it is a snapshot)
    for g in grads[stop:]:
        feed(layers, torch_params, g, backend)
        ours.step()
    buf = TORCH_BUFFERS[name][-1 if name == "SGD" else 1]
    assert not np.array_equal(np.asarray(ours.state_dict()["state"]["conv.weight"][buf]),
                              np.asarray(saved["state"]["conv.weight"][buf])), "state_dict is not a snapshot"
    # resume: fresh layers from the saved params, a fresh optimiser with other hyperparameters, then load
    resumed, _ = make_model(backend, dtype, seed=99)
    for ln in SHAPES:
        resumed[ln].params = {k: as_kind(v, backend) for k, v in saved_params[ln].items()}
    opt = getattr(BACKENDS[backend], name)(resumed, lr=123.0)
    opt.load_state_dict(saved)
    for g in grads[stop:]:
        feed(resumed, torch_params, g, backend)
        opt.step()
    for ln in SHAPES:
        for k in SHAPES[ln]:
            assert np.array_equal(np.asarray(resumed[ln].params[k]), np.asarray(layers[ln].params[k])), \
                f"{ln}.{k}: the resumed run left the uninterrupted one"


@pytest.mark.parametrize("backend", BACKENDS)
def test_updates_in_place_and_follows_replaced_params(backend):
    layers, _ = make_model(backend, np.float64)
    opt = BACKENDS[backend].SGD(layers, lr=0.1)
    grads = gradient_sequence(np.float64, steps=2)
    w = layers["conv"].params["weight"]
    before = np.array(w)
    feed(layers, [], grads[0], backend)
    opt.step()
    assert layers["conv"].params["weight"] is w
    assert_match(np.asarray(w), before - 0.1 * grads[0]["conv"]["weight"], dtype="float64", tensor="optim")
    # the protocol lets a driver replace params entries; the next step must update the new one
    replacement = as_kind(np.array(w) + 1.0, backend)
    layers["conv"].params["weight"] = replacement
    feed(layers, [], grads[1], backend)
    opt.step()
    expected = before - 0.1 * grads[0]["conv"]["weight"] + 1.0 - 0.1 * grads[1]["conv"]["weight"]
    assert_match(np.asarray(replacement), expected, dtype="float64", tensor="optim")


@pytest.mark.parametrize("backend", BACKENDS)
def test_param_sources_layers_pairs_and_dict(backend):
    layers, _ = make_model(backend, np.float64)
    opt_cls = BACKENDS[backend].SGD
    assert [n for n, _, _ in opt_cls(layers, lr=0.1).slots] == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    assert [n for n, _, _ in opt_cls(list(layers.values()), lr=0.1).slots] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    only_weight = opt_cls([(layers["fc"], "weight")], lr=0.1)
    bias = np.array(layers["fc"].params["bias"])
    feed(layers, [], gradient_sequence(np.float64, steps=1)[0], backend)
    only_weight.step()
    assert np.array_equal(np.asarray(layers["fc"].params["bias"]), bias), "a param not given was updated"


def _bad_constructions(backend):
    mod = BACKENDS[backend]
    layers, _ = make_model(backend, np.float64)
    other_kind = FakeLayer({"weight": np.zeros((2, 2))}) if backend == "python" else FakeLayer({"weight": [[0.0]]}, "list")
    return {
        "negative lr": lambda: mod.SGD(layers, lr=-0.1),
        "negative momentum": lambda: mod.SGD(layers, lr=0.1, momentum=-0.5),
        "nesterov without momentum": lambda: mod.SGD(layers, lr=0.1, nesterov=True),
        "nesterov with dampening": lambda: mod.SGD(layers, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        "negative weight decay": lambda: mod.Adam(layers, weight_decay=-1.0),
        "beta1 of 1": lambda: mod.Adam(layers, betas=(1.0, 0.999)),
        "negative eps": lambda: mod.Adam(layers, eps=-1e-8),
        "no params": lambda: mod.SGD([FakeReLU("numpy" if backend == "numpy" else "list")], lr=0.1),
        "a single layer": lambda: mod.SGD(layers["conv"], lr=0.1),
        "not a layer": lambda: mod.SGD([object()], lr=0.1),
        "unknown key": lambda: mod.SGD([(layers["conv"], "running_mean")], lr=0.1),
        "duplicate": lambda: mod.SGD([(layers["conv"], "weight"), (layers["conv"], "weight")], lr=0.1),
        "other array kind": lambda: mod.SGD([other_kind], lr=0.1),
    }


@pytest.mark.parametrize("case", list(_bad_constructions("numpy")))
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_construction_is_a_value_error(backend, case):
    with pytest.raises(ValueError):
        _bad_constructions(backend)[case]()


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_step_and_bad_state_dict_are_value_errors(backend):
    mod = BACKENDS[backend]
    layers, _ = make_model(backend, np.float64)
    opt = mod.Adam(layers, lr=0.01)
    with pytest.raises(ValueError, match="backward"):
        opt.step()  # no grads yet
    grads = gradient_sequence(np.float64, steps=1)[0]
    feed(layers, [], grads, backend)
    layers["fc"].grads["weight"] = as_kind(grads["fc"]["weight"].T, backend)
    with pytest.raises(ValueError, match="shape"):
        opt.step()
    feed(layers, [], grads, backend)
    opt.step()
    with pytest.raises(ValueError, match="SGD"):
        mod.Adam(layers).load_state_dict(mod.SGD(layers, lr=0.1).state_dict())
    with pytest.raises(ValueError, match="params"):
        mod.Adam([layers["conv"]]).load_state_dict(opt.state_dict())
    smaller, _ = make_model(backend, np.float64)
    smaller["fc"].params["weight"] = as_kind(np.zeros((5, 6)), backend)
    with pytest.raises(ValueError, match="shape"):
        mod.Adam(smaller).load_state_dict(opt.state_dict())


def test_numpy_rejects_a_grad_of_another_dtype():
    layers, _ = make_model("numpy", np.float32)
    opt = numpy_optim.SGD(layers, lr=0.1)
    feed(layers, [], gradient_sequence(np.float64, steps=1)[0], "numpy")  # float64 grads for float32 params
    with pytest.raises(ValueError, match="dtype"):
        opt.step()

