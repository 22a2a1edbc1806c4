"""Every custom layer in both backends against finite differences and against torch, forward and backward.

One module, parametrised over backend ("numpy", "python"): finite differences in float64 with seeded
random upstream gradients, direct comparison with torch (float64 autograd on the same dy) including the
corners where finite differences are invalid (max-pool ties, ReLU at 0, logits of 1e4, batchnorm
running stats, dropout masks), and the protocol's promises (grads overwrite, params may be replaced).
NumPy-only tests at the end: dtype preservation, float32 parity with torch, repr, errors.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

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


CASES = [
    Case("conv-N1", "Conv2d", dict(in_channels=1, out_channels=2, kernel_size=3), (1, 1, 5, 5)),
    Case("conv-nonsquare-pad", "Conv2d", dict(in_channels=3, out_channels=4, kernel_size=3, padding=1),
         (2, 3, 7, 5)),
    Case("conv-stride2-pad", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1),
         (2, 2, 9, 8)),
    Case("conv-stride2-even-kernel", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=2, stride=2),
         (2, 2, 8, 7)),
    Case("conv-stride3-pad2", "Conv2d", dict(in_channels=2, out_channels=2, kernel_size=3, stride=3, padding=2),
         (3, 2, 6, 7)),
    Case("conv-1x1", "Conv2d", dict(in_channels=4, out_channels=3, kernel_size=1), (2, 4, 3, 5)),
    # in_channels * kernel width >= 30: the NumPy layer's row-unfold forward (conv.ROW_UNFOLD_MIN_WIDTH)
    Case("conv-row-unfold-rect-pad", "Conv2d", dict(in_channels=8, out_channels=3, kernel_size=(3, 4), padding=(1, 2)),
         (2, 8, 7, 6)),
    Case("conv-lenet-conv1", "Conv2d", dict(in_channels=1, out_channels=6, kernel_size=5), (4, 1, 28, 28),
         python=False),
    Case("conv-lenet-conv2", "Conv2d", dict(in_channels=6, out_channels=16, kernel_size=5), (4, 6, 12, 12),
         python=False),
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
    tensors = {k: torch.tensor(v, dtype=module_dtype(module)) for k, v in state.items()}
    module.load_state_dict(tensors, strict=False)
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
    _, dx, _ = run_ours(pool, x, dy)
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
        out = layer.forward(to_kind(x, kind), target.tolist() if kind == "list" else target)
        expected = F.cross_entropy(torch.tensor(x), torch.tensor(target)).item()
        grad = to_numpy(layer.backward())
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad)), f"{cls} is not finite at logits of 1e4"
    assert_match(out, expected, dtype="float64", tensor="output", name=f"{cls}.output at 1e4")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("momentum", [0.3, None], ids=["momentum0.3", "cumulative"])
@pytest.mark.parametrize("cls, shape", [("BatchNorm2d", (3, 2, 4, 3)), ("BatchNorm1d", (6, 4))])
def test_batchnorm_running_stats_then_eval(backend, cls, shape, momentum, rng):
    # three training steps (running stats: unbiased variance, momentum or a cumulative average), then
    # evaluation on them
    case = Case("bn", cls, dict(num_features=shape[1], momentum=momentum), shape)
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
    drop = backend_module(backend).Dropout(p=p, seed=12)
    x = rng.standard_normal((20, 100)) + 5.0  # no zeros in x, so a zero in y is a dropped element
    y1, y2 = (np.asarray(to_numpy(drop.forward(to_kind(x, array_kind(drop))))) for _ in range(2))
    for y in (y1, y2):
        kept = y != 0
        assert abs(kept.mean() - (1 - p)) < 0.05, f"kept fraction {kept.mean():.3f}, expected {1 - p}"
        assert_match(y[kept], x[kept] / (1 - p), dtype="float64", tensor="output", name="dropout.kept")
    assert (y1 != 0).tolist() != (y2 != 0).tolist(), "two training forwards drew the same mask"


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_seed_makes_masks_reproducible(backend, rng):
    L, x = backend_module(backend), rng.standard_normal((4, 50)) + 5.0
    first, again, other = (L.Dropout(p=0.5, seed=s) for s in (3, 3, 4))
    masks = [np.asarray(to_numpy(d.forward(to_kind(x, array_kind(d))))) != 0 for d in (first, again, other)]
    assert masks[0].tolist() == masks[1].tolist(), "the same seed drew different masks"
    assert masks[0].tolist() != masks[2].tolist(), "different seeds drew the same mask"


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


# ---- NumPy backend only: dtypes, float32 parity, torch's extra arguments, repr, non-finite values, errors --

ONE_PER_CLASS = [c for c in CASES if c.id in (
    "conv-stride2-pad", "pool-overlap-k3s2", "relu-4d", "linear", "flatten-4d", "logsoftmax", "softmax",
    "bn2d-train", "bn1d-eval", "dropout-p0.5", "dropout-eval", "residual-k3")]
LENET_SHAPED = [c for c in CASES if "lenet" in c.id]
# the NumPy conv's paths on the wide grid (stride 1, finite x): im2col forward, and the row unfold (C*kw >= 30)
CONV_WIDE = [c for c in CASES if c.id in ("conv-nonsquare-pad", "conv-row-unfold-rect-pad")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ONE_PER_CLASS + CONV_WIDE, ids=lambda c: c.id)
def test_numpy_preserves_dtype(case, dtype, rng):
    module = torch_module(case)
    layer = build("numpy", case, module, random_state(module, rng), dtype=dtype)
    x = make_x(case, rng).astype(dtype)
    if case.cls == "Dropout":
        share_dropout_mask(layer, case, x, seed=5)
    y = layer.forward(x)
    dx = layer.backward(rng.standard_normal(y.shape).astype(dtype))
    dtypes = {"output": y.dtype, "grad_input": dx.dtype, **{f"grad_{k}": g.dtype for k, g in layer.grads.items()},
              **{k: np.asarray(v).dtype for k, v in layer.params.items()}}
    assert all(d == dtype for d in dtypes.values()), f"{case.id}: {np.dtype(dtype).name} in, got {dtypes}"


@pytest.mark.parametrize("case", ONE_PER_CLASS + LENET_SHAPED + CONV_WIDE, ids=lambda c: c.id)
def test_numpy_float32_matches_torch_float32(case, rng):
    module = torch_module(case, dtype=torch.float32)
    layer = build("numpy", case, module, random_state(module, rng), dtype=np.float32)
    x = make_x(case, rng).astype(np.float32)
    seed = 13
    if case.cls == "Dropout":
        torch.manual_seed(seed)
        layer.mask = F.dropout(torch.ones(x.shape), case.kwargs["p"], training=True).numpy()
    dy = rng.standard_normal(out_shape(case, x.astype(np.float64))).astype(np.float32)
    assert_same_as_torch(run_ours(layer, x, dy), run_torch(module, x, dy, seed), "float32", f"{case.id}.float32")
    for key in ("running_mean", "running_var"):
        if key in layer.params:
            assert_match(layer.params[key], getattr(module, key).numpy(), dtype="float32", tensor=key,
                         name=f"{case.id}.float32.{key}", check_dtype=True)


TORCH_EXTRAS = [
    Case("conv-rect-kernel-tuple-args", "Conv2d",
         dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2)), (2, 2, 7, 6)),
    Case("conv-no-bias", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, bias=False), (2, 2, 5, 6)),
    Case("pool-rect-kernel", "MaxPool2d", dict(kernel_size=(2, 3), stride=(1, 2)), (2, 2, 5, 8)),
    Case("linear-3d-input", "Linear", dict(in_features=4, out_features=3), (2, 5, 4)),
    Case("linear-no-bias", "Linear", dict(in_features=4, out_features=3, bias=False), (3, 4)),
    Case("flatten-dims-1-2", "Flatten", dict(start_dim=1, end_dim=2), (2, 3, 4, 5)),
    Case("logsoftmax-dim0", "LogSoftmax", dict(dim=0), (5, 3)),
    Case("softmax-dim-last-4d", "Softmax", dict(dim=-1), (2, 3, 2, 4)),
]


@pytest.mark.parametrize("case", TORCH_EXTRAS, ids=lambda c: c.id)
def test_numpy_torch_extra_arguments(case, rng):
    module = torch_module(case)
    layer = build("numpy", case, module, random_state(module, rng))
    x = make_x(case, rng)
    dy = rng.standard_normal(out_shape(case, x))
    assert_same_as_torch(run_ours(layer, x, dy), run_torch(module, x, dy), "float64", case.id)
    assert_all(check_layer_gradients(layer, x, seed=1, name=case.id))


@pytest.mark.parametrize("cls", ["NLLLoss", "CrossEntropyLoss"])
def test_numpy_loss_sum_reduction(cls, rng):
    loss = getattr(backend_module("numpy"), cls)(reduction="sum")
    x, target, _ = loss_inputs(cls, (5, 4), "normal", rng, "numpy")
    xt = torch.tensor(x, requires_grad=True)
    expected = getattr(nn, cls)(reduction="sum")(xt, torch.tensor(target))
    expected.backward()
    assert_match(loss.forward(x, target), expected.item(), dtype="float64", tensor="loss", name=f"{cls}.sum")
    assert_match(loss.backward(), xt.grad.numpy(), dtype="float64", tensor="grad_input", name=f"{cls}.sum.grad")


REPR_CASES = [
    ("Conv2d", dict(in_channels=1, out_channels=6, kernel_size=5)),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=2, padding=1, bias=False)),
    ("MaxPool2d", dict(kernel_size=2)), ("MaxPool2d", dict(kernel_size=3, stride=2)), ("ReLU", {}),
    ("Linear", dict(in_features=256, out_features=120)), ("Flatten", {}), ("LogSoftmax", dict(dim=1)),
    ("Softmax", dict(dim=1)), ("NLLLoss", {}), ("CrossEntropyLoss", {}), ("BatchNorm2d", dict(num_features=6)),
    ("BatchNorm1d", dict(num_features=84, eps=1e-3, momentum=0.2)),
    ("BatchNorm2d", dict(num_features=3, momentum=None)),
    ("Dropout", dict(p=0.5)), ("Dropout", dict(p=0.25)), ("Residual", dict(channels=6, kernel_size=3)),
]


@pytest.mark.parametrize("cls, kwargs", REPR_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(REPR_CASES)])
def test_numpy_repr_matches_torch(cls, kwargs):
    theirs = (TorchResidual if cls == "Residual" else getattr(nn, cls))(**kwargs)
    assert repr(getattr(backend_module("numpy"), cls)(**kwargs)) == repr(theirs)


def test_numpy_nonfinite_values_like_torch(rng):
    # an inf or NaN in x must not leak into weight gradients it does not touch (the conv's wide trick
    # is switched off); a NaN in a pooling window takes the gradient like in torch's kernel (the last
    # NaN); an inf in dy gives 0, not NaN, where ReLU and max-pool pass no gradient
    x = rng.standard_normal((2, 2, 6, 7))
    x[0, 1, 2, 3], x[1, 0, 5, 6], x[1, 1, 0, 0], x[1, 1, 0, 1] = np.inf, np.nan, np.nan, np.nan
    conv_kwargs = dict(in_channels=2, out_channels=3, kernel_size=3, padding=1)
    for case in (Case("conv-nonfinite", "Conv2d", conv_kwargs, x.shape),
                 Case("pool-nonfinite", "MaxPool2d", dict(kernel_size=2), x.shape),
                 Case("pool-overlap-nonfinite", "MaxPool2d", dict(kernel_size=3, stride=1), x.shape)):
        module = torch_module(case)
        layer = build("numpy", case, module, random_state(module, rng))
        dy = rng.standard_normal(out_shape(case, np.nan_to_num(x)))
        assert_same_as_torch(run_ours(layer, x, dy), run_torch(module, x, dy), "float64", case.id)
    for case in (Case("relu-inf-dy", "ReLU", {}, (3, 5), x="zeros"),
                 Case("pool-inf-dy", "MaxPool2d", dict(kernel_size=2), (2, 1, 4, 4))):
        module = torch_module(case)
        layer = build("numpy", case, module, {})
        xc = make_x(case, rng)
        dy = rng.standard_normal(out_shape(case, xc))
        dy.flat[::3] = np.inf
        assert_same_as_torch(run_ours(layer, xc, dy), run_torch(module, xc, dy), "float64", case.id)
    # inf and NaN in dy on the conv's wide grid (finite x), with zero weights for 0 * inf: both input-gradient
    # layouts and both forward paths give torch's inf and NaN pattern
    for case in CONV_WIDE:
        module = torch_module(case)
        state = random_state(module, rng)
        state["weight"][0, :, 0, 1] = 0.0
        layer = build("numpy", case, module, state)
        xc = make_x(case, rng)
        dy = rng.standard_normal(out_shape(case, xc))
        dy[0, 0, 1, 2], dy[1, 1, 0, 0], dy[1, 2, -1, -1] = np.inf, -np.inf, np.nan
        assert_same_as_torch(run_ours(layer, xc, dy), run_torch(module, xc, dy), "float64", f"{case.id}-nonfinite-dy")


BAD_INPUTS = [
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3), np.zeros((2, 5, 5)), "4-D"),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3), np.zeros((1, 3, 5, 5)), "channels"),
    ("Conv2d", dict(in_channels=1, out_channels=1, kernel_size=5), np.zeros((1, 1, 4, 8)), "smaller than the kernel"),
    ("Conv2d", dict(in_channels=1, out_channels=1, kernel_size=3), np.zeros((1, 1, 5, 5), dtype=np.int64), "floating"),
    ("MaxPool2d", dict(kernel_size=3), np.zeros((1, 1, 2, 5)), "smaller than the kernel"),
    ("Linear", dict(in_features=4, out_features=2), np.zeros((3, 5)), "expected (..., 4)"),
    ("BatchNorm2d", dict(num_features=2), np.zeros((1, 2, 1, 1)), "more than 1 value per channel"),
    ("BatchNorm1d", dict(num_features=2), np.zeros((3, 2, 2, 2)), "2-D or 3-D"),
    ("LogSoftmax", dict(dim=2), np.zeros((3, 4)), "out of range"),
]


@pytest.mark.parametrize("cls, kwargs, x, message", BAD_INPUTS, ids=[f"{b[0]}-{b[3]}" for b in BAD_INPUTS])
def test_numpy_bad_input_is_a_clear_error(cls, kwargs, x, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(backend_module("numpy"), cls)(**kwargs).forward(x)


def test_numpy_bad_calls_are_clear_errors():
    L = backend_module("numpy")
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv2d(1, 2, kernel_size=0)
    with pytest.raises(ValueError, match="probability"):
        L.Dropout(p=1.5)
    with pytest.raises(ValueError, match="odd"):
        L.Residual(2, kernel_size=2)
    with pytest.raises(RuntimeError, match="before forward"):
        L.ReLU().backward(np.zeros(3))
    conv = L.Conv2d(1, 2, kernel_size=3)
    conv.params["weight"] = np.zeros((2, 1, 2, 2))
    with pytest.raises(ValueError, match=r"params\['weight'\] has shape"):
        conv.forward(np.zeros((1, 1, 4, 4)))
    relu = L.ReLU()
    relu.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dy has shape"):
        relu.backward(np.zeros((3, 2)))
    drop = L.Dropout(p=0.5)
    drop.mask = np.ones((2, 2))
    with pytest.raises(ValueError, match="mask has shape"):
        drop.forward(np.zeros((2, 3)))
    nll = L.NLLLoss()
    with pytest.raises(ValueError, match="target values"):
        nll.forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="integer class indices"):
        nll.forward(np.zeros((2, 3)), np.array([0.0, 1.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_skips_dx_when_no_one_needs_it(backend, rng):
    """needs_input_grad=False (a network's first layer): backward returns None, the grads are unchanged."""
    mod = backend_module(backend)
    x = rng.standard_normal((2, 1, 9, 9))
    dy = rng.standard_normal((2, 3, 5, 5))
    grads = []
    for needs in (True, False):
        layer = mod.Conv2d(1, 3, 5)
        layer.params = {k: to_kind(np.arange(np.asarray(to_numpy(v)).size, dtype=np.float64).reshape(np.shape(to_numpy(v))) / 50,
                                   array_kind(layer)) for k, v in layer.params.items()}
        layer.needs_input_grad = needs
        layer.forward(to_kind(x, array_kind(layer)))
        dx = layer.backward(to_kind(dy, array_kind(layer)))
        assert (dx is None) == (not needs)
        grads.append({k: np.asarray(to_numpy(v)) for k, v in layer.grads.items()})
    for key in grads[0]:
        np.testing.assert_array_equal(grads[0][key], grads[1][key])


def test_pool_window_off_by_one_mutant_sends_nothing_where_its_windows_do_not_read(rng):
    # the mutant's short windows skip each window's last row and column: those elements get exactly 0
    from lenet_parity.harness.mutants.conv_pool import PoolWindowOffByOne

    layer = PoolWindowOffByOne(2)
    layer.forward(rng.standard_normal((2, 3, 6, 8)))
    dx = layer.backward(np.ones((2, 3, 3, 4)))
    assert (dx[:, :, 1::2, :] == 0).all() and (dx[:, :, :, 1::2] == 0).all()
    assert (dx[:, :, ::2, ::2] == 1).all()  # the one element left of each window takes its gradient
