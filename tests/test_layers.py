"""Every custom layer in both backends against finite differences and against torch, forward and backward.

One module, parametrised over backend ("numpy", "python"): finite differences in float64 with seeded
random upstream gradients, direct comparison with torch (float64 autograd on the same dy) including the
corners where finite differences are invalid (max-pool ties, ReLU at 0, logits of 1e4, batchnorm
running stats, dropout masks), and the protocol's promises (grads overwrite, params may be replaced).
NumPy-only tests at the end: dtype preservation, float32 parity with torch, repr, errors.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lenet_parity.custom_layers.protocol import array_kind
from lenet_parity.harness.compare import assert_match, to_numpy
from lenet_parity.harness.finite_diff import check_layer_gradients, check_loss_gradient, to_kind
from lenet_parity.reference.model import Residual as TorchResidual

BACKENDS = ("numpy", "python")


def backend_module(backend: str):
    return importlib.import_module(f"lenet_parity.custom_layers.{backend}")


@dataclass(frozen=True)
class Case:
    id: str
    cls: str
    kwargs: dict
    shape: tuple  # x's shape
    x: str = "normal"  # how x is drawn, see make_x
    fd: bool = True  # finite differences are valid (no ties, no kinks within eps)
    python: bool = True  # small enough for the pure-Python backend
    training: bool = True
    extra: dict = field(default_factory=dict)


CASES = [
    Case("conv-N1", "Conv2d", dict(in_channels=1, out_channels=2, kernel_size=3), (1, 1, 5, 5)),
    Case("conv-nonsquare-pad", "Conv2d", dict(in_channels=3, out_channels=4, kernel_size=3, padding=1), (2, 3, 7, 5)),
    Case("conv-stride2-pad", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1), (2, 2, 9, 8)),
    Case("conv-stride2-even-kernel", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=2, stride=2), (2, 2, 8, 7)),
    Case("conv-stride3-pad2", "Conv2d", dict(in_channels=2, out_channels=2, kernel_size=3, stride=3, padding=2), (3, 2, 6, 7)),
    Case("conv-1x1", "Conv2d", dict(in_channels=4, out_channels=3, kernel_size=1), (2, 4, 3, 5)),
    Case("conv-lenet-conv1", "Conv2d", dict(in_channels=1, out_channels=6, kernel_size=5), (4, 1, 28, 28), python=False),
    Case("conv-lenet-conv2", "Conv2d", dict(in_channels=6, out_channels=16, kernel_size=5), (4, 6, 12, 12), python=False),
    Case("pool-N1", "MaxPool2d", dict(kernel_size=2), (1, 1, 4, 4)),
    Case("pool-nonsquare", "MaxPool2d", dict(kernel_size=2), (2, 3, 6, 8)),
    Case("pool-odd-floor", "MaxPool2d", dict(kernel_size=2), (2, 2, 5, 7)),
    Case("pool-overlap-k3s2", "MaxPool2d", dict(kernel_size=3, stride=2), (2, 2, 7, 9)),
    Case("pool-overlap-k3s1", "MaxPool2d", dict(kernel_size=3, stride=1), (1, 2, 6, 5)),
    Case("pool-gaps-k2s3", "MaxPool2d", dict(kernel_size=2, stride=3), (2, 2, 8, 7)),
    Case("pool-ties-k2", "MaxPool2d", dict(kernel_size=2), (2, 3, 6, 8), x="ties", fd=False),
    Case("pool-ties-k3s2", "MaxPool2d", dict(kernel_size=3, stride=2), (2, 2, 7, 9), x="ties", fd=False),
    Case("pool-ties-k3s1", "MaxPool2d", dict(kernel_size=3, stride=1), (1, 2, 6, 6), x="ties", fd=False),
    Case("pool-ties-all-equal", "MaxPool2d", dict(kernel_size=3, stride=2), (1, 1, 5, 5), x="constant", fd=False),
    Case("pool-lenet-pool1", "MaxPool2d", dict(kernel_size=2), (4, 6, 24, 24), python=False),
    Case("relu-4d", "ReLU", {}, (2, 3, 4, 5), x="nonzero"),
    Case("relu-2d-N1", "ReLU", {}, (1, 7), x="nonzero"),
    Case("relu-exact-zeros", "ReLU", {}, (3, 2, 5, 4), x="zeros", fd=False),
    Case("linear-N1", "Linear", dict(in_features=3, out_features=2), (1, 3)),
    Case("linear", "Linear", dict(in_features=7, out_features=5), (4, 7)),
    Case("linear-lenet-fc1", "Linear", dict(in_features=256, out_features=120), (8, 256), python=False),
    Case("flatten-4d", "Flatten", {}, (2, 3, 4, 5)),
    Case("flatten-N1", "Flatten", {}, (1, 16, 4, 4)),
    Case("logsoftmax-N1", "LogSoftmax", dict(dim=1), (1, 10)),
    Case("logsoftmax", "LogSoftmax", dict(dim=1), (4, 10)),
    Case("logsoftmax-huge-spread", "LogSoftmax", dict(dim=1), (3, 10), x="huge_spread"),
    Case("logsoftmax-huge-offset", "LogSoftmax", dict(dim=1), (3, 5), x="huge_offset"),
    Case("softmax", "Softmax", dict(dim=1), (4, 6)),
    Case("softmax-huge-spread", "Softmax", dict(dim=1), (3, 10), x="huge_spread"),
    Case("bn2d-train", "BatchNorm2d", dict(num_features=3), (2, 3, 4, 5)),
    Case("bn2d-train-N1", "BatchNorm2d", dict(num_features=2), (1, 2, 3, 4)),
    Case("bn2d-eval", "BatchNorm2d", dict(num_features=3), (2, 3, 4, 5), training=False),
    Case("bn1d-train", "BatchNorm1d", dict(num_features=5), (4, 5)),
    Case("bn1d-train-3d", "BatchNorm1d", dict(num_features=2), (3, 2, 4)),
    Case("bn1d-eval", "BatchNorm1d", dict(num_features=5), (4, 5), training=False),
    Case("dropout-p0.5", "Dropout", dict(p=0.5), (2, 3, 4, 5)),
    Case("dropout-p0.2-N1", "Dropout", dict(p=0.2), (1, 30)),
    Case("dropout-eval", "Dropout", dict(p=0.5), (4, 6), training=False),
    Case("residual-k3", "Residual", dict(channels=2, kernel_size=3), (1, 2, 5, 4)),
    Case("residual-k5", "Residual", dict(channels=3, kernel_size=5), (2, 3, 6, 7)),
    Case("residual-k1", "Residual", dict(channels=2, kernel_size=1), (2, 2, 3, 3)),
]


def case_params(cases, backends=BACKENDS):
    return [pytest.param(b, c, id=f"{b}-{c.id}") for b in backends for c in cases if b != "python" or c.python]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def make_x(case: Case, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(case.shape)
    if case.x == "nonzero":  # at least 0.05 from ReLU's kink, far more than the finite-difference eps
        return np.sign(x) * (np.abs(x) + 0.05)
    if case.x == "zeros":
        return np.where(rng.random(case.shape) < 0.4, 0.0, x)
    if case.x == "ties":  # few distinct values: most pooling windows hold a tied maximum
        return rng.integers(0, 3, case.shape).astype(np.float64)
    if case.x == "constant":
        return np.full(case.shape, 1.5)
    if case.x == "huge_spread":
        return x * 1e4
    if case.x == "huge_offset":
        return x + np.where(rng.random(case.shape[:1]) < 0.5, 1e4, -1e4)[:, None]
    return x


def torch_module(case: Case, dtype=torch.float64) -> nn.Module:
    cls = TorchResidual if case.cls == "Residual" else getattr(nn, case.cls)
    module = cls(**case.kwargs).to(dtype)
    return module.train(case.training)


def out_shape(case: Case, x: np.ndarray) -> tuple:
    """y's shape, from a throwaway torch module (a forward in training mode would move running stats)."""
    with torch.no_grad():
        return tuple(torch_module(case).eval()(torch.tensor(x)).shape)


def random_state(module: nn.Module, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded values for every parameter and float buffer (running_var positive), by torch's names."""
    state = {}
    for key, value in module.state_dict().items():
        if not value.is_floating_point():
            continue  # num_batches_tracked
        v = rng.standard_normal(tuple(value.shape))
        state[key] = rng.uniform(0.5, 2.0, v.shape) if key == "running_var" else 0.5 * v
    return state


def build(backend: str, case: Case, module: nn.Module, state: dict, dtype=np.float64):
    """Our layer with the same state as the torch module, loaded by replacing params entries."""
    layer = getattr(backend_module(backend), case.cls)(**case.kwargs)
    kind = array_kind(layer)
    for key, value in state.items():
        layer.params[key] = to_kind(value.astype(dtype), kind)
    module.load_state_dict({k: torch.tensor(v, dtype=module_dtype(module)) for k, v in state.items()}, strict=False)
    if hasattr(layer, "training"):
        layer.training = case.training
    return layer


def module_dtype(module: nn.Module) -> torch.dtype:
    tensors = list(module.parameters()) + list(module.buffers())
    floats = [t.dtype for t in tensors if t.is_floating_point()]
    return floats[0] if floats else torch.float64


def share_dropout_mask(layer, case: Case, x: np.ndarray, seed: int) -> None:
    """Inject torch's mask: dropout of ones under a seed draws the mask x will get under that seed."""
    torch.manual_seed(seed)
    mask = F.dropout(torch.ones(x.shape, dtype=torch.float64), case.kwargs["p"], training=True).numpy()
    layer.mask = to_kind(mask, array_kind(layer))


def run_ours(layer, x: np.ndarray, dy: np.ndarray):
    kind = array_kind(layer)
    y = np.array(to_numpy(layer.forward(to_kind(x, kind))))
    dx = np.array(to_numpy(layer.backward(to_kind(dy, kind))))
    return y, dx, {k: np.array(to_numpy(v)) for k, v in layer.grads.items()}


def run_torch(module: nn.Module, x: np.ndarray, dy: np.ndarray, seed: int | None = None):
    xt = torch.tensor(x, requires_grad=True)
    if seed is not None:
        torch.manual_seed(seed)
    y = module(xt)
    (y * torch.tensor(dy)).sum().backward()  # d(sum(y * dy)): a random upstream gradient
    grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    return y.detach().numpy(), xt.grad.numpy(), grads


def assert_all(results) -> None:
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(r.report() for r in failed)


def assert_same_as_torch(ours, theirs, dtype: str, name: str) -> None:
    (y, dx, grads), (ty, tdx, tgrads) = ours, theirs
    assert_match(y, ty, dtype=dtype, tensor="output", name=f"{name}.output", check_dtype=True)
    assert_match(dx, tdx, dtype=dtype, tensor="grad_input", name=f"{name}.grad_input", check_dtype=True)
    assert sorted(grads) == sorted(tgrads), f"{name}: grads keys {sorted(grads)} != torch's {sorted(tgrads)}"
    for key in tgrads:
        assert_match(grads[key], tgrads[key], dtype=dtype, tensor=f"grad_{key}", name=f"{name}.grad_{key}",
                     check_dtype=True)


# ---- finite differences (float64) ---------------------------------------------------------------------

@pytest.mark.parametrize("backend, case", case_params([c for c in CASES if c.fd]))
def test_finite_differences(backend, case, rng):
    module = torch_module(case)  # only for the parameter names and shapes
    layer = build(backend, case, module, random_state(module, rng))
    x = make_x(case, rng)
    if case.cls == "Dropout":
        share_dropout_mask(layer, case, x, seed=7)
    assert_all(check_layer_gradients(layer, x, seed=int(rng.integers(1 << 31)), name=case.id))


# ---- direct comparison with torch (float64) -----------------------------------------------------------

@pytest.mark.parametrize("backend, case", case_params(CASES))
def test_matches_torch(backend, case, rng):
    module = torch_module(case)
    state = random_state(module, rng)
    layer = build(backend, case, module, state)
    x = make_x(case, rng)
    seed = 11
    if case.cls == "Dropout":
        share_dropout_mask(layer, case, x, seed)
    dy = rng.standard_normal(out_shape(case, x))
    theirs = run_torch(module, x, dy, seed)
    ours = run_ours(layer, x, dy)
    assert_same_as_torch(ours, theirs, "float64", f"{backend}.{case.id}")
    for key in ("running_mean", "running_var"):  # batchnorm's buffers after one step
        if key in state:
            assert_match(to_numpy(layer.params[key]), getattr(module, key).numpy(), dtype="float64",
                         tensor=key, name=f"{case.id}.{key}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_maxpool_ties_go_to_the_first_maximum(backend):
    # every window of a constant input ties: torch sends each window's gradient to its top-left element
    pool = backend_module(backend).MaxPool2d(kernel_size=2)
    x, dy = np.full((1, 1, 4, 4), 3.0), np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    run_ours(pool, x, dy)
    dx = to_numpy(pool.backward(to_kind(dy, array_kind(pool))))
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, ::2, ::2] = dy[0, 0]
    assert_match(dx, expected, dtype="float64", tensor="grad_input", name="pool.ties.grad_input")


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_gradient_at_zero_is_zero(backend, rng):
    relu = backend_module(backend).ReLU()
    x = np.where(rng.random((3, 8)) < 0.5, 0.0, rng.standard_normal((3, 8)))
    dy = rng.standard_normal(x.shape) + 3.0  # nonzero everywhere, so a leaked gradient would show
    _, dx, _ = run_ours(relu, x, dy)
    assert_match(dx[x == 0], np.zeros(int((x == 0).sum())), dtype="float64", tensor="grad_input",
                 name="relu.grad_input at x == 0")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", ["LogSoftmax", "CrossEntropyLoss"])
def test_huge_logits_stay_finite(backend, cls, rng):
    x = rng.standard_normal((4, 10)) * 1e4
    target = rng.integers(0, 10, 4)
    layer = getattr(backend_module(backend), cls)(**({"dim": 1} if cls == "LogSoftmax" else {}))
    kind = array_kind(layer)
    if cls == "LogSoftmax":
        out, expected = to_numpy(layer.forward(to_kind(x, kind))), F.log_softmax(torch.tensor(x), 1).numpy()
        grad = to_numpy(layer.backward(to_kind(rng.standard_normal(x.shape), kind)))
    else:
        tgt = target.tolist() if kind == "list" else target
        out, expected = layer.forward(to_kind(x, kind), tgt), F.cross_entropy(torch.tensor(x), torch.tensor(target)).item()
        grad = to_numpy(layer.backward())
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad)), f"{cls} is not finite at logits of 1e4"
    assert_match(out, expected, dtype="float64", tensor="output", name=f"{cls}.output at 1e4")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls, shape", [("BatchNorm2d", (3, 2, 4, 3)), ("BatchNorm1d", (6, 4))])
def test_batchnorm_running_stats_then_eval(backend, cls, shape, rng):
    # three training steps (running stats: unbiased variance, momentum), then evaluation on them
    case = Case("bn", cls, dict(num_features=shape[1], momentum=0.3), shape)
    module = torch_module(case)
    layer = build(backend, case, module, random_state(module, rng))
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        dy = rng.standard_normal(shape)
        assert_same_as_torch(run_ours(layer, x, dy), run_torch(module, x, dy), "float64", f"{cls}.train{step}")
        module.zero_grad()
        for key in ("running_mean", "running_var"):
            assert_match(to_numpy(layer.params[key]), getattr(module, key).numpy(), dtype="float64",
                         tensor=key, name=f"{cls}.step{step}.{key}")
    layer.training = False
    module.eval()
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
    assert_same_as_torch(run_ours(layer, x, dy), run_torch(module, x, dy), "float64", f"{cls}.eval")


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_draws_a_fresh_inverted_mask(backend, rng):
    p = 0.25
    drop = backend_module(backend).Dropout(p=p)
    x = rng.standard_normal((20, 100)) + 5.0  # no zeros in x, so a zero in y is a dropped element
    y1, y2 = (np.asarray(to_numpy(drop.forward(to_kind(x, array_kind(drop))))) for _ in range(2))
    for y in (y1, y2):
        kept = y != 0
        assert abs(kept.mean() - (1 - p)) < 0.05, f"kept fraction {kept.mean():.3f}, expected {1 - p}"
        assert_match(y[kept], x[kept] / (1 - p), dtype="float64", tensor="output", name="dropout.kept")
    assert (y1 != 0).tolist() != (y2 != 0).tolist(), "two training forwards drew the same mask"


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_eval_is_identity(backend, rng):
    drop = backend_module(backend).Dropout(p=0.5)
    drop.training = False
    x, dy = rng.standard_normal((3, 7)), rng.standard_normal((3, 7))
    y, dx, _ = run_ours(drop, x, dy)
    assert_match(y, x, dtype="float64", tensor="output", name="dropout.eval.output")
    assert_match(dx, dy, dtype="float64", tensor="grad_input", name="dropout.eval.grad_input")


# ---- losses -------------------------------------------------------------------------------------------

LOSS_CASES = [("N1", (1, 10), "normal"), ("batch", (5, 10), "normal"), ("3-classes", (6, 3), "normal"),
              ("huge-spread", (4, 10), "huge_spread"), ("huge-offset", (4, 5), "huge_offset")]


def loss_params():
    return [pytest.param(b, cls, shape, how, id=f"{b}-{cls}-{cid}") for b in BACKENDS
            for cls in ("NLLLoss", "CrossEntropyLoss") for cid, shape, how in LOSS_CASES]


def loss_inputs(cls, shape, how, rng, kind):
    x = make_x(Case("loss", cls, {}, shape, x=how), rng)
    if cls == "NLLLoss":  # NLL takes log-probabilities
        x = F.log_softmax(torch.tensor(x), 1).numpy()
    target = rng.integers(0, shape[1], shape[0])
    return x, target, (target.tolist() if kind == "list" else target)


@pytest.mark.parametrize("backend, cls, shape, how", loss_params())
def test_loss_matches_torch(backend, cls, shape, how, rng):
    loss = getattr(backend_module(backend), cls)()
    x, target, tgt = loss_inputs(cls, shape, how, rng, array_kind(loss))
    value = loss.forward(to_kind(x, array_kind(loss)), tgt)
    dx = to_numpy(loss.backward())
    xt = torch.tensor(x, requires_grad=True)
    expected = (F.nll_loss if cls == "NLLLoss" else F.cross_entropy)(xt, torch.tensor(target))  # batch mean
    expected.backward()
    assert isinstance(value, float), f"{cls}.forward returned {type(value).__name__}, expected float"
    assert_match(value, expected.item(), dtype="float64", tensor="loss", name=f"{cls}.loss")
    assert_match(dx, xt.grad.numpy(), dtype="float64", tensor="grad_input", name=f"{cls}.grad_input")


@pytest.mark.parametrize("backend, cls, shape, how", loss_params())
def test_loss_finite_differences(backend, cls, shape, how, rng):
    loss = getattr(backend_module(backend), cls)()
    x, _, tgt = loss_inputs(cls, shape, how, rng, array_kind(loss))
    result = check_loss_gradient(loss, x, tgt, seed=3, name=cls)
    assert result.passed, result.report()


# ---- protocol promises --------------------------------------------------------------------------------

PARAM_CASES = [c for c in CASES if c.id in ("conv-nonsquare-pad", "linear", "bn2d-train", "bn1d-eval", "residual-k3")]


@pytest.mark.parametrize("backend, case", case_params(PARAM_CASES))
def test_grads_overwrite_not_accumulate(backend, case, rng):
    module = torch_module(case)
    layer = build(backend, case, module, random_state(module, rng))
    x = make_x(case, rng)
    dy = rng.standard_normal(out_shape(case, x))
    _, dx1, grads1 = run_ours(layer, x, dy)
    dx2 = to_numpy(layer.backward(to_kind(dy, array_kind(layer))))
    assert_match(dx2, dx1, dtype="float64", tensor="grad_input", name=f"{case.id}.second backward dx")
    for key, g in grads1.items():
        assert_match(to_numpy(layer.grads[key]), g, dtype="float64", tensor=f"grad_{key}",
                     name=f"{case.id}.second backward grad_{key}")


@pytest.mark.parametrize("backend, case", case_params(PARAM_CASES))
def test_replaced_params_are_used(backend, case, rng):
    # a forward with the first params, then new entries (a driver copying torch's weights in): the
    # next forward must use them, not anything cached from the first one
    module = torch_module(case)
    layer = build(backend, case, module, random_state(module, rng))
    x = make_x(case, rng)
    run_ours(layer, x, rng.standard_normal(out_shape(case, x)))
    fresh = random_state(module, rng)
    for key, value in fresh.items():
        layer.params[key] = to_kind(value, array_kind(layer))
    module.load_state_dict({k: torch.tensor(v) for k, v in fresh.items()}, strict=False)
    dy = rng.standard_normal(out_shape(case, x))
    assert_same_as_torch(run_ours(layer, x, dy), run_torch(module, x, dy), "float64", f"{case.id}.replaced")
