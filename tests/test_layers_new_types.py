"""Tanh, Sigmoid, AvgPool2d, Softmax and CrossEntropyLoss in both backends against torch and finite differences.

The nasty inputs each class must survive: sigmoid and tanh at +-40 and +-1000 (a naive exp overflows), softmax
and cross-entropy logits of 1e4, average pools with overlapping windows (the shares of an element add up) and
floor mode (the last row and column no window reads get 0). NumPy also in float32, which must stay float32.
Unsupported AvgPool2d arguments are a ValueError naming the argument; the sweep's data for these classes too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lenet_parity.custom_layers.backends import layer_class
from lenet_parity.custom_layers.protocol import array_kind
from lenet_parity.harness.compare import assert_match, to_numpy
from lenet_parity.harness.finite_diff import check_layer_gradients, check_loss_gradient, to_kind

BACKENDS = ("numpy", "python")
DTYPES = {"float64": (np.float64, torch.float64), "float32": (np.float32, torch.float32)}
SATURATED = np.array([[-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0]])  # exp(1000) overflows even float64


@dataclass(frozen=True)
class Case:
    id: str
    cls: str
    kwargs: dict
    shape: tuple  # x's shape
    x: str = "normal"  # how x is drawn, see make_x
    python: bool = True  # the pure-Python backend takes it (its Softmax is 1-D or 2-D only)


CASES = [
    Case("tanh-4d", "Tanh", {}, (2, 3, 4, 5)),
    Case("tanh-N1", "Tanh", {}, (1, 7)),
    Case("tanh-saturate", "Tanh", {}, (4, 10), x="saturate"),
    Case("sigmoid-4d", "Sigmoid", {}, (2, 3, 4, 5)),
    Case("sigmoid-N1", "Sigmoid", {}, (1, 7)),
    Case("sigmoid-saturate", "Sigmoid", {}, (4, 10), x="saturate"),
    Case("avgpool-N1", "AvgPool2d", dict(kernel_size=2), (1, 1, 4, 4)),
    Case("avgpool-nonsquare", "AvgPool2d", dict(kernel_size=2), (2, 3, 6, 8)),
    Case("avgpool-floor-drops-last-row", "AvgPool2d", dict(kernel_size=2), (2, 2, 5, 7)),
    Case("avgpool-overlap-k3s1", "AvgPool2d", dict(kernel_size=3, stride=1), (1, 2, 6, 5)),
    Case("avgpool-overlap-k3s2", "AvgPool2d", dict(kernel_size=3, stride=2), (2, 2, 7, 9)),
    Case("avgpool-gaps-k2s3", "AvgPool2d", dict(kernel_size=2, stride=3), (2, 2, 8, 7)),
    Case("avgpool-rect-kernel", "AvgPool2d", dict(kernel_size=(2, 3), stride=(1, 2)), (2, 2, 5, 8)),
    Case("avgpool-lenet-pool1", "AvgPool2d", dict(kernel_size=2), (4, 6, 24, 24)),
    Case("softmax-N1", "Softmax", dict(dim=1), (1, 10)),
    Case("softmax", "Softmax", dict(dim=1), (4, 6)),
    Case("softmax-dim0", "Softmax", dict(dim=0), (5, 3)),
    Case("softmax-dim-last", "Softmax", dict(dim=-1), (3, 7)),
    Case("softmax-huge-spread", "Softmax", dict(dim=1), (3, 10), x="huge_spread"),
    Case("softmax-huge-offset", "Softmax", dict(dim=1), (3, 5), x="huge_offset"),
    Case("softmax-4d", "Softmax", dict(dim=1), (2, 3, 2, 4), python=False),
]
# finite differences are meaningless where the layer is flat to 1e-17 (saturated) or jumps (logits of 1e4)
FD_CASES = [c for c in CASES if c.x == "normal"]

LOSS_CASES = [("N1", (1, 10), "normal"), ("batch", (5, 10), "normal"), ("3-classes", (6, 3), "normal"),
              ("huge-spread", (4, 10), "huge_spread"), ("huge-offset", (4, 5), "huge_offset")]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240612)


def make_x(how: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(shape)
    if how == "saturate":  # scale 40, with the exact values +-40 and +-1000 in the first row
        x = x * 40
        x[0, :SATURATED.shape[1]] = SATURATED[0, :shape[1]]
    elif how == "huge_spread":
        x = x * 1e4
    elif how == "huge_offset":  # each row shifted by +-1e4: exp() of the raw logits overflows
        x = x + np.where(rng.random(shape[:1]) < 0.5, 1e4, -1e4)[:, None]
    return x


def case_params(cases, backends=BACKENDS):
    return [pytest.param(b, c, id=f"{b}-{c.id}") for b in backends for c in cases if b != "python" or c.python]


def ours(backend: str, cls: str, kwargs: dict):
    return layer_class(backend, cls)(**kwargs)


def run_ours(layer, x: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kind = array_kind(layer)
    y = np.array(to_numpy(layer.forward(to_kind(x, kind))))
    return y, np.array(to_numpy(layer.backward(to_kind(dy, kind))))


def run_torch(case: Case, x: np.ndarray, dy: np.ndarray, tdtype=torch.float64) -> tuple[np.ndarray, np.ndarray]:
    xt = torch.tensor(x, dtype=tdtype, requires_grad=True)
    y = getattr(nn, case.cls)(**case.kwargs)(xt)
    (y * torch.tensor(dy, dtype=tdtype)).sum().backward()  # a random upstream gradient, never all ones
    return y.detach().numpy(), xt.grad.numpy()


def out_shape(case: Case, x: np.ndarray) -> tuple:
    with torch.no_grad():
        return tuple(getattr(nn, case.cls)(**case.kwargs)(torch.tensor(x)).shape)


def assert_same_as_torch(got, expected, dtype: str, name: str, check_dtype: bool) -> None:
    for tensor, a, b in zip(("output", "grad_input"), got, expected):
        assert_match(a, b, dtype=dtype, tensor=tensor, name=f"{name}.{tensor}", check_dtype=check_dtype)


# ---- layers against torch and finite differences ------------------------------------------------------

@pytest.mark.parametrize("backend, case", case_params(CASES))
def test_matches_torch_float64(backend, case, rng):
    x = make_x(case.x, case.shape, rng)
    dy = rng.standard_normal(out_shape(case, x))
    layer = ours(backend, case.cls, case.kwargs)
    assert_same_as_torch(run_ours(layer, x, dy), run_torch(case, x, dy), "float64", f"{backend}.{case.id}",
                         check_dtype=backend == "numpy")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_numpy_float32_matches_torch_float32_and_stays_float32(case, rng):
    x = make_x(case.x, case.shape, rng).astype(np.float32)
    dy = rng.standard_normal(out_shape(case, x.astype(np.float64))).astype(np.float32)
    layer = ours("numpy", case.cls, case.kwargs)
    assert_same_as_torch(run_ours(layer, x, dy), run_torch(case, x, dy, torch.float32), "float32",
                         f"numpy.{case.id}.float32", check_dtype=True)  # check_dtype: float32 in, float32 out


@pytest.mark.parametrize("backend, case", case_params(FD_CASES))
def test_finite_differences(backend, case, rng):
    layer = ours(backend, case.cls, case.kwargs)
    results = check_layer_gradients(layer, make_x(case.x, case.shape, rng), seed=int(rng.integers(1 << 31)),
                                     name=case.id, n_samples=60)
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(r.report() for r in failed)


@pytest.mark.parametrize("backend, dtype", [("numpy", "float64"), ("numpy", "float32"), ("python", "float64")])
@pytest.mark.parametrize("cls", ["Sigmoid", "Tanh"])
def test_saturated_inputs_give_torchs_values_without_overflow(backend, dtype, cls, rng):
    # +-1000: exp(1000) overflows float64 (a warning in NumPy, an OverflowError in math.exp); y must be
    # exactly 0 or 1 (sigmoid) or +-1 (tanh) there, and the gradient exactly 0. exp(-1000) underflows to 0,
    # the right answer, so underflow is allowed.
    np_dtype, torch_dtype = DTYPES[dtype]
    x, dy = SATURATED.astype(np_dtype), rng.standard_normal(SATURATED.shape).astype(np_dtype)
    layer = ours(backend, cls, {})
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        got = run_ours(layer, x, dy)
    assert all(np.isfinite(t).all() for t in got), f"{cls}: not finite at {SATURATED.tolist()}: {got}"
    assert_same_as_torch(got, run_torch(Case(cls, cls, {}, x.shape), x, dy, torch_dtype), dtype,
                         f"{backend}.{cls}.saturated", check_dtype=backend == "numpy")
    assert got[1][0, 0] == 0.0 and got[1][0, -1] == 0.0, f"{cls}: gradient at +-1000 is {got[1][0, [0, -1]]}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", ["Sigmoid", "Tanh"])
def test_backward_uses_the_cached_output_not_the_callers_copy(backend, cls, rng):
    # the caller owns y: editing it in place must not change the gradient (torch's backward reads its saved y)
    x, dy = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    layer = ours(backend, cls, {})
    kind = array_kind(layer)
    y = layer.forward(to_kind(x, kind))
    for row in (y if kind == "list" else [y]):
        row[0] = 123.0
    dx = to_numpy(layer.backward(to_kind(dy, kind)))
    assert_match(dx, run_torch(Case(cls, cls, {}, x.shape), x, dy)[1], dtype="float64", tensor="grad_input",
                 name=f"{backend}.{cls}.grad_input after the caller edited y")


@pytest.mark.parametrize("backend", BACKENDS)
def test_avgpool_overlapping_shares_add_up_by_hand(backend):
    # 3x3 input, 2x2 windows at stride 1: each output's dy is shared by its window's four elements, /4;
    # the centre sits in all four windows, the corners in one (computed by hand, not by torch)
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    dy = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    y, dx = run_ours(ours(backend, "AvgPool2d", dict(kernel_size=2, stride=1)), x, dy)
    assert_match(y, [[[[2.0, 3.0], [5.0, 6.0]]]], dtype="float64", tensor="output", name="avgpool.by-hand.output")
    expected = np.array([[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]) / 4
    assert_match(dx, expected[None, None], dtype="float64", tensor="grad_input", name="avgpool.by-hand.grad_input")


@pytest.mark.parametrize("backend", BACKENDS)
def test_avgpool_floor_mode_gives_the_dropped_row_and_column_no_gradient(backend, rng):
    x, dy = rng.standard_normal((2, 3, 5, 7)), rng.standard_normal((2, 3, 2, 3))
    _, dx = run_ours(ours(backend, "AvgPool2d", dict(kernel_size=2)), x, dy)
    assert dx.shape == x.shape
    assert (dx[:, :, 4, :] == 0).all() and (dx[:, :, :, 6] == 0).all(), "a row or column no window reads got a gradient"


# ---- Softmax and CrossEntropyLoss: re-verified, logits of 1e4 -------------------------------------------

def loss_params():
    return [pytest.param(b, shape, how, id=f"{b}-{cid}") for b in BACKENDS for cid, shape, how in LOSS_CASES]


def loss_inputs(shape, how, rng):
    return make_x(how, shape, rng), rng.integers(0, shape[1], shape[0])  # logits, int64 targets


def targets_for(loss, target: np.ndarray):
    return target.tolist() if array_kind(loss) == "list" else target


@pytest.mark.parametrize("backend, shape, how", loss_params())
def test_cross_entropy_matches_torch_float64(backend, shape, how, rng):
    logits, target = loss_inputs(shape, how, rng)
    loss = ours(backend, "CrossEntropyLoss", {})
    value = loss.forward(to_kind(logits, array_kind(loss)), targets_for(loss, target))
    dx = to_numpy(loss.backward())
    xt = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(xt, torch.tensor(target))  # the mean over the batch
    expected.backward()
    assert type(value) is float, f"CrossEntropyLoss.forward returned {type(value).__name__}, expected float"
    assert_match(value, expected.item(), dtype="float64", tensor="loss", name=f"{backend}.{how}.loss")
    assert_match(dx, xt.grad.numpy(), dtype="float64", tensor="grad_input", name=f"{backend}.{how}.grad_input",
                 check_dtype=backend == "numpy")


@pytest.mark.parametrize("shape, how", [(s, h) for _, s, h in LOSS_CASES], ids=[c for c, _, _ in LOSS_CASES])
def test_numpy_cross_entropy_float32_matches_torch_float32(shape, how, rng):
    logits, target = loss_inputs(shape, how, rng)
    logits = logits.astype(np.float32)
    loss = ours("numpy", "CrossEntropyLoss", {})
    value = loss.forward(logits, target)
    dx = loss.backward()
    xt = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(xt, torch.tensor(target))
    expected.backward()
    assert_match(value, expected.item(), dtype="float32", tensor="loss", name=f"{how}.float32.loss")
    assert_match(dx, xt.grad.numpy(), dtype="float32", tensor="grad_input", name=f"{how}.float32.grad_input",
                 check_dtype=True)


@pytest.mark.parametrize("backend, shape, how", [p for p in loss_params() if "huge" not in p.id])
def test_cross_entropy_finite_differences(backend, shape, how, rng):
    logits, target = loss_inputs(shape, how, rng)
    loss = ours(backend, "CrossEntropyLoss", {})
    result = check_loss_gradient(loss, logits, targets_for(loss, target), seed=5, name=f"{backend}.CrossEntropyLoss")
    assert result.passed, result.report()


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_and_cross_entropy_stay_finite_at_logits_of_1e4(backend, rng):
    # a row of logits 1e4 apart: exp() of the raw logits is inf, so only the max shift gives torch's answer
    logits = np.array([[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4 + 1.0, -1e4]])
    dy = rng.standard_normal(logits.shape)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y, dx = run_ours(ours(backend, "Softmax", dict(dim=1)), logits, dy)
        loss = ours(backend, "CrossEntropyLoss", {})
        value = loss.forward(to_kind(logits, array_kind(loss)), [3, 0])
        dlogits = np.array(to_numpy(loss.backward()))
    case = Case("softmax-1e4", "Softmax", dict(dim=1), logits.shape)
    assert_same_as_torch((y, dx), run_torch(case, logits, dy), "float64", f"{backend}.softmax-1e4", check_dtype=False)
    xt = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(xt, torch.tensor([3, 0]))
    expected.backward()
    assert np.isfinite(value) and np.isfinite(dlogits).all(), f"cross-entropy at 1e4: {value}, {dlogits}"
    assert_match(value, expected.item(), dtype="float64", tensor="loss", name=f"{backend}.ce-1e4.loss")
    assert_match(dlogits, xt.grad.numpy(), dtype="float64", tensor="grad_input", name=f"{backend}.ce-1e4.grad_input")


# ---- construction, repr and errors --------------------------------------------------------------------

REPR_CASES = [("Tanh", {}), ("Sigmoid", {}), ("AvgPool2d", dict(kernel_size=2)),
              ("AvgPool2d", dict(kernel_size=3, stride=2)), ("AvgPool2d", dict(kernel_size=(2, 3), stride=(1, 2))),
              ("Softmax", dict(dim=1)), ("CrossEntropyLoss", {})]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls, kwargs", REPR_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(REPR_CASES)])
def test_repr_matches_torch(backend, cls, kwargs):
    assert repr(ours(backend, cls, kwargs)) == repr(getattr(nn, cls)(**kwargs))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs", [dict(padding=0), dict(padding=(0, 0)), dict(ceil_mode=False),
                                    dict(count_include_pad=False), dict(divisor_override=None)],
                         ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_avgpool_takes_torchs_default_arguments(backend, kwargs, rng):
    # torch's defaults (and count_include_pad, which only matters with padding) build the same layer
    case = Case("avgpool-args", "AvgPool2d", dict(kernel_size=2, **kwargs), (2, 2, 5, 6))
    x, dy = rng.standard_normal(case.shape), rng.standard_normal((2, 2, 2, 3))
    assert_same_as_torch(run_ours(ours(backend, case.cls, case.kwargs), x, dy), run_torch(case, x, dy), "float64",
                         f"{backend}.avgpool-{kwargs}", check_dtype=False)


UNSUPPORTED = [("padding", dict(padding=1)), ("padding", dict(padding=(0, 1))), ("ceil_mode", dict(ceil_mode=True)),
               ("divisor_override", dict(divisor_override=3))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, kwargs", UNSUPPORTED, ids=[str(kw) for _, kw in UNSUPPORTED])
def test_avgpool_unsupported_arguments_are_a_value_error_naming_them(backend, name, kwargs):
    with pytest.raises(ValueError, match=f"AvgPool2d: {name}=.* is not supported"):
        ours(backend, "AvgPool2d", dict(kernel_size=2, **kwargs))


BAD_CALLS = [
    ("AvgPool2d", dict(kernel_size=3), (1, 1, 2, 5), "smaller than the"),
    ("AvgPool2d", dict(kernel_size=2), (2, 5, 5), "(N, C, H, W)"),
    ("AvgPool2d", dict(kernel_size=0), None, "kernel_size"),
    ("AvgPool2d", dict(kernel_size=2, stride=0), None, "stride"),
    ("Softmax", dict(dim=2), (3, 4), "out of range"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls, kwargs, shape, message", BAD_CALLS, ids=[f"{b[0]}-{b[3]}" for b in BAD_CALLS])
def test_bad_calls_are_clear_value_errors(backend, cls, kwargs, shape, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        layer = ours(backend, cls, kwargs)
        layer.forward(to_kind(np.zeros(shape), array_kind(layer)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls, kwargs, shape", [("Tanh", {}, (2, 3)), ("Sigmoid", {}, (2, 3)),
                                                ("AvgPool2d", dict(kernel_size=2), (1, 1, 4, 4))])
def test_backward_before_forward_and_a_wrong_dy_are_refused(backend, cls, kwargs, shape):
    layer = ours(backend, cls, kwargs)
    kind = array_kind(layer)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(to_kind(np.zeros(shape), kind))
    y = np.asarray(to_numpy(layer.forward(to_kind(np.ones(shape), kind))))
    with pytest.raises(ValueError, match="dy"):
        layer.backward(to_kind(np.zeros(y.shape[:-1] + (y.shape[-1] + 1,)), kind))


# ---- the sweep's data for these classes ---------------------------------------------------------------

SWEEP_SPECS = [("tanh1", "tanh", "Tanh", {}), ("sigmoid1", "sigmoid", "Sigmoid", {}),
               ("pool1", "avgpool", "AvgPool2d", dict(kernel_size=2)), ("softmax", "softmax", "Softmax", dict(dim=1)),
               ("loss", "crossentropy", "CrossEntropyLoss", {})]


@pytest.mark.parametrize("name, kind, cls, kwargs", SWEEP_SPECS, ids=[s[2] for s in SWEEP_SPECS])
def test_sweep_cases_match_our_numpy_layer(name, kind, cls, kwargs):
    # every sweep configuration of the class (its own shapes and the extra arguments) draws a case whose
    # expected tensors, from torch, our layer reproduces: the sweep's data and torch functions are right
    from lenet_parity.harness.modes import sweep
    from lenet_parity.reference.layers import LayerSpec

    spec = LayerSpec(name, kind, cls, kwargs)
    configs = sweep.own_configs(spec) + sweep.EXTRA_CONFIGS.get(cls, [])
    assert len(configs) >= 2, f"{cls} has no sweep configurations of its own"
    for config in configs:
        case_spec = spec if config.kwargs is None else LayerSpec(name, kind, cls, config.kwargs)
        for dtype in config.dtypes:
            case = sweep.sweep_case(case_spec, config, dtype, f"test/{config.label()}")
            layer = layer_class("numpy", cls)(**case_spec.kwargs)
            if cls == "CrossEntropyLoss":
                got = {"loss": layer.forward(case.x, case.targets), "grad_input": layer.backward()}
            else:
                got = {"output": layer.forward(case.x), "grad_input": layer.backward(case.dy)}
            assert sorted(got) == sorted(case.expected), f"{cls}: the sweep expects {sorted(case.expected)}"
            for tensor, value in got.items():
                assert_match(value, case.expected[tensor], dtype=dtype, tensor=tensor,
                             name=f"sweep {case_spec.kwargs} {config.label()} {dtype}.{tensor}")
