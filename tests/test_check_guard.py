"""The guard and one-case runner: whatever a user's layer does wrong becomes a reason in a result row."""

from __future__ import annotations

import numpy as np
import pytest

from lenet_parity.harness import guard
from lenet_parity.harness.guard import LayerError
from lenet_parity.harness.context import CheckContext
from lenet_parity.harness.layer_case import Case, run_case
from lenet_parity.harness.isolation import IsolatedFactory
from lenet_parity.custom_layers.protocol import accepts
from lenet_parity.harness.layer_factory import BackendFactory
from lenet_parity.errors import UserInputError
from lenet_parity.reference.layers import LOSS_SPEC, LayerSpec

LINEAR = LayerSpec("fc3", "dense", "Linear", dict(in_features=3, out_features=2))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def linear_case(rng, dtype="float64") -> Case:
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    dy = rng.standard_normal((4, 2))
    expected = {"output": x @ w.T + b, "grad_input": dy @ w, "grad_weight": dy.T @ x, "grad_bias": dy.sum(0)}
    return Case(x=x.astype(dtype), dy=dy.astype(dtype), params={"weight": w, "bias": b},
                expected={k: v.astype(dtype) for k, v in expected.items()})


def rows(make, case, spec=LINEAR, dtype="float64"):
    forward, backward = run_case(spec, case, CheckContext(make, dtype=dtype), layer_name=spec.name, mode="snapshot")
    return {r.tensor: r for r in forward + backward}


@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_correct_layer_passes_every_tensor(rng, backend):
    results = rows(BackendFactory(backend), linear_case(rng))
    assert list(results) == ["output", "grad_input", "grad_weight", "grad_bias"]
    assert all(r.passed for r in results.values()), [r.describe() for r in results.values()]


class Raises:
    array_kind = "numpy"

    def __init__(self, **kwargs):
        raise TypeError("my constructor is broken")


class ReturnsNone:
    array_kind = "numpy"

    def __init__(self, **kwargs):
        self.params, self.grads = {}, {}

    def forward(self, x):
        pass

    def backward(self, dy):
        return dy


class NoParams:
    array_kind = "numpy"

    def __init__(self, **kwargs):
        pass

    def forward(self, x):
        return x


class GradsWithoutBias:
    array_kind = "numpy"

    def __init__(self, **kwargs):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, dy):
        self.grads = {"weight": dy.T @ self.x}
        return dy @ self.params["weight"]


class BadArrayKind(GradsWithoutBias):
    array_kind = "torch"


def test_constructor_that_raises_fails_every_row(rng):
    results = rows(lambda spec: Raises(**spec.kwargs), linear_case(rng))
    assert "building Linear(in_features=3, out_features=2) raised TypeError: my constructor is broken" \
        == results["output"].error
    assert all(results[t].error == "not run: forward failed" for t in ("grad_input", "grad_weight", "grad_bias"))


def test_forward_returning_none(rng):
    results = rows(lambda spec: ReturnsNone(), linear_case(rng))
    assert "ReturnsNone.forward() returned None" in results["output"].error


def test_layer_without_params_dict(rng):
    results = rows(lambda spec: NoParams(), linear_case(rng))
    assert "NoParams.params is NoneType, expected a dict" in results["output"].error


def test_missing_grad_entry_fails_that_tensor_only(rng):
    results = rows(lambda spec: GradsWithoutBias(), linear_case(rng))
    assert results["output"].passed and results["grad_input"].passed and results["grad_weight"].passed
    assert results["grad_bias"].error == "GradsWithoutBias.grads has no 'bias' after backward() (keys: ['weight'])"


def test_unknown_array_kind(rng):
    results = rows(lambda spec: BadArrayKind(), linear_case(rng))
    assert "array_kind is 'torch'" in results["output"].error


def test_from_layer_refuses_what_is_not_an_array():
    with pytest.raises(LayerError, match="returned a list that is not an array of numbers"):
        guard.from_layer([[1.0, 2.0], [3.0]], "float64", "L.forward()")  # ragged
    with pytest.raises(LayerError, match="returned a str"):
        guard.from_layer("0.5", "float64", "L.forward()")
    out = guard.from_layer([[1, 2]], "float32", "L.forward()")
    assert out.dtype == np.float32 and out.tolist() == [[1.0, 2.0]]


def test_nan_and_wrong_shape_are_reported_by_the_comparison(rng):
    case = linear_case(rng)

    class NaNOut(GradsWithoutBias):
        def forward(self, x):
            y = super().forward(x)
            y[1, 0] = np.nan
            return y[:, :1] if x.shape[0] == 5 else y

    r = rows(lambda spec: NaNOut(), case)["output"]
    assert not r.passed and r.comparison.reason == "nonfinite" and r.comparison.worst_index == (1, 0)
    case.x = np.vstack([case.x, case.x[:1]])  # 5 rows: NaNOut also drops a column
    case.expected["output"] = np.vstack([case.expected["output"], case.expected["output"][:1]])
    r = rows(lambda spec: NaNOut(), case)["output"]
    assert r.comparison.reason == "shape" and "shape (5, 1) != expected (5, 2)" in r.describe()


def test_loss_protocol_with_list_targets(rng):
    logp = np.log(np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]))
    targets = np.array([1, 0, 1])
    dlogp = np.zeros_like(logp)
    dlogp[np.arange(3), targets] = -1 / 3
    case = Case(x=logp, targets=targets, expected={"loss": -logp[np.arange(3), targets].mean(), "grad_input": dlogp})
    for backend in ("numpy", "python"):
        results = rows(BackendFactory(backend), case, spec=LOSS_SPEC)
        assert list(results) == ["loss", "grad_input"] and all(r.passed for r in results.values())


def test_isolated_factory_loads_a_file_and_reports_constructor_fit(tmp_path):
    source = tmp_path / "mine.py"
    source.write_text("class Mine:\n    def __init__(self, in_features, out_features):\n"
                      "        self.params, self.grads = {}, {}\n\n    def forward(self, x):\n        return x\n")
    no_bias = LayerSpec("fc", "dense", "Linear", dict(in_features=3, out_features=2, bias=False))
    with IsolatedFactory(f"{source}:Mine") as factory:  # our protocol: its signature is read and judged here
        assert factory.accepts(LINEAR)
        assert not factory.accepts(no_bias)
    (tmp_path / "dense.py").write_text("class Dense:\n    def __init__(self, input_dim, output_dim):\n"
                                       "        self.W, self.b = None, None\n")
    with IsolatedFactory(f"{tmp_path / 'dense.py'}:Dense") as factory:  # a convention: it declines when built
        assert factory.accepts(no_bias)
        with pytest.raises(TypeError, match="Dense has no parameter for bias=False"):
            factory(no_bias)
    assert accepts(lambda **kw: None, {"anything": 1})
    with pytest.raises(UserInputError, match="its classes: Mine"):
        IsolatedFactory(f"{source}:Yours")


def test_a_remote_layer_that_rebinds_its_methods_and_params_is_seen_as_it_is_now(tmp_path):
    """The proxy knows that forward is a method and params a dict (from the build, not one question per call), yet
    the call and each entry still reach what the layer holds at that moment."""
    source = tmp_path / "shifty.py"
    source.write_text('''
import numpy as np

class Shifty:
    def __init__(self):
        self.params, self.grads = {"w": np.zeros(2)}, {}

    def forward(self, x):
        self.forward = self.doubled  # from now on another method
        self.params = {"w": np.ones(2)}  # and another dict
        return x

    def doubled(self, x):
        return 2 * x + self.params["w"]
''')
    with IsolatedFactory(f"{source}:Shifty") as factory:
        layer = factory(LayerSpec("relu1", "relu", "ReLU", {}))
        asked = []
        request = factory.worker.request
        factory.worker.request = lambda op, *a, **k: asked.append(op) or request(op, *a, **k)
        x = np.arange(2.0)
        assert np.array_equal(layer.forward(x), x)
        layer.params["w"] = np.full(2, 5.0)  # written into the dict the layer holds now
        assert np.array_equal(layer.forward(x), 2 * x + 5)
        assert np.array_equal(layer.params["w"], np.full(2, 5.0))
        assert asked.count("attr") == 0  # .forward and .params: known when it was built
        layer.params = {"w": np.full(2, -1.0)}  # set from here: asked again
        assert np.array_equal(layer.forward(x), 2 * x - 1) and np.array_equal(layer.params["w"], np.full(2, -1.0))
        assert not hasattr(layer, "missing") and asked.count("attr") == 2


def test_what_a_build_tells_the_checker_runs_none_of_the_layers_code():
    """A new object's plain forward, backward and params dict are known from its class and instance dict alone; a
    property, a __getattr__ or a __getattribute__ is never run to find out (it is asked when needed, as before)."""
    from lenet_parity.harness.worker_main import known_at_build

    ran = []

    class Plain:
        def __init__(self):
            self.params, self.grads = {}, {}

        def forward(self, x):
            return x

        def backward(self, dy):
            return dy

    class Tricky:
        @property
        def forward(self):
            ran.append("forward")
            return lambda x: x

        @property
        def params(self):
            ran.append("params")
            return {}

        def __getattr__(self, name):
            ran.append(name)
            raise AttributeError(name)

    class Watching(Plain):
        def __getattribute__(self, name):
            ran.append(name)
            return object.__getattribute__(self, name)

    assert known_at_build(Plain()) == {"forward": "method", "backward": "method", "params": "dict"}
    assert known_at_build(Tricky()) == {}
    watching = Watching()
    ran.clear()
    assert known_at_build(watching) == {} and ran == []


def test_a_forged_reply_stops_the_layer_instead_of_repeating_for_every_case(tmp_path):
    from lenet_parity.harness.isolation import WorkerError

    source = tmp_path / "forger.py"
    source.write_text('''
import os, struct, sys

class Forger:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        os.write(int(sys.argv[2]), struct.pack("!QI", 1 << 40, 0))  # announces a terabyte of pickle
        return x
''')
    relu = LayerSpec("relu1", "relu", "ReLU", {})
    with IsolatedFactory(f"{source}:Forger") as factory:
        with pytest.raises(WorkerError, match=r"announced a \d+-byte reply during forward: killed"):
            factory(relu).forward(np.zeros(3))
        assert factory.stopped and "announced" in factory.stopped
        with pytest.raises(WorkerError, match="not run: the layer was stopped earlier"):
            factory(relu)
