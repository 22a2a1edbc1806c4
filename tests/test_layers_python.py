"""What only the pure-Python backend promises: no NumPy or torch anywhere in it, nested lists of Python
floats in and out (never aliasing or editing the caller's lists), clear errors, and the code paths that
tests/test_layers.py does not reach (LeNet's shapes, Linear's small-batch dW, NaN in max-pool windows,
batchnorm's cumulative average, dropout's seeds). The shared suite checks the values of every layer.
"""

from __future__ import annotations

import ast
import copy
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lenet_parity.custom_layers.python as P
from lenet_parity.custom_layers.python import _lists
from lenet_parity.harness.compare import assert_match

PACKAGE_DIR = Path(P.__file__).resolve().parent
SOURCES = sorted(PACKAGE_DIR.glob("*.py"))
FORBIDDEN = {"numpy", "torch", "scipy", "pandas"}
# the only lenet_parity modules the backend may import (anything else could pull in NumPy)
ALLOWED_INTERNAL = ("lenet_parity.custom_layers.python", "lenet_parity.custom_layers.protocol")


@pytest.fixture
def pyrng() -> random.Random:
    return random.Random(1234)


def nested(shape, draw):
    if len(shape) == 1:
        return [draw() for _ in range(shape[0])]
    return [nested(shape[1:], draw) for _ in range(shape[0])]


def gauss(shape, rng):
    return nested(shape, lambda: rng.gauss(0.0, 1.0))


# --- no NumPy, no torch ----------------------------------------------------------------------------

def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
        elif isinstance(node, ast.ImportFrom):
            names.append("lenet_parity.custom_layers.python." + (node.module or ""))  # relative: inside the package
    return names


def test_the_package_has_its_layer_modules():
    expected = {"conv", "pool", "activations", "linear", "shape", "softmax", "losses", "batchnorm", "dropout",
                "residual", "_lists"}
    assert expected <= {p.stem for p in SOURCES}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_source_imports_no_numpy_or_torch(path):
    names = imported_modules(path)
    forbidden = [n for n in names if n.split(".")[0] in FORBIDDEN]
    assert not forbidden, f"{path.name} imports {forbidden}: the pure-Python backend uses builtins and math only"
    internal = [n for n in names if n.startswith("lenet_parity") and not n.startswith(ALLOWED_INTERNAL)]
    assert not internal, f"{path.name} imports {internal}, which may import NumPy"


def test_ast_check_catches_a_numpy_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import math\nfrom numpy import zeros\nimport torch.nn as nn\n")
    assert [n for n in imported_modules(bad) if n.split(".")[0] in FORBIDDEN] == ["numpy", "torch.nn"]


_BLOCKED_RUN = """
import sys
sys.modules["numpy"] = None  # any `import numpy` now raises ImportError
sys.modules["torch"] = None
import importlib, pkgutil
import lenet_parity.custom_layers.python as P
for info in pkgutil.iter_modules(P.__path__):
    importlib.import_module("lenet_parity.custom_layers.python." + info.name)
x = [[[[float((i * 7 + j * 3 + n) % 5) - 2.0 for j in range(6)] for i in range(6)] for _ in range(2)] for n in range(2)]
layers = [P.Conv2d(2, 3, 3, padding=1), P.BatchNorm2d(3), P.ReLU(), P.MaxPool2d(2), P.Residual(3),
          P.Dropout(0.5, seed=0), P.Flatten(), P.Linear(27, 4), P.BatchNorm1d(4), P.Softmax(1), P.LogSoftmax(1)]
for layer in layers:
    x = layer.forward(x)
for loss in (P.NLLLoss(), P.CrossEntropyLoss()):
    loss.forward(x, [2, 0])
    dy = loss.backward()
for layer in reversed(layers):
    dy = layer.backward(dy)
assert not any(name.split(".")[0] in ("numpy", "torch") for name, m in sys.modules.items() if m is not None)
print("ok")
"""


def test_package_runs_with_numpy_and_torch_blocked():
    result = subprocess.run([sys.executable, "-c", _BLOCKED_RUN], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- nested lists of Python floats, no aliasing ----------------------------------------------------

LAYERS = {
    "conv": (lambda: P.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 7, 6)),
    "conv-nopad": (lambda: P.Conv2d(2, 3, (2, 3)), (1, 2, 5, 6)),
    "pool": (lambda: P.MaxPool2d(3, 2), (2, 2, 7, 7)),
    "relu": (P.ReLU, (2, 3, 4, 4)),
    "linear": (lambda: P.Linear(5, 4), (3, 5)),
    "flatten": (P.Flatten, (2, 3, 2, 2)),
    "logsoftmax": (lambda: P.LogSoftmax(1), (3, 6)),
    "softmax-dim0": (lambda: P.Softmax(0), (3, 6)),
    "bn2d": (lambda: P.BatchNorm2d(3), (2, 3, 3, 4)),
    "bn1d": (lambda: P.BatchNorm1d(4), (5, 4)),
    "dropout": (lambda: P.Dropout(0.5, seed=3), (2, 3, 4)),
    "dropout-eval": (lambda: P.Dropout(0.5, seed=3), (2, 3, 4)),
    "residual": (lambda: P.Residual(2, 3), (2, 2, 4, 5)),
}


def assert_lists_of_floats(value, where: str):
    if type(value) is list:
        for i, item in enumerate(value):
            assert_lists_of_floats(item, f"{where}[{i}]")
    else:
        assert type(value) is float, f"{where} is a {type(value).__name__}, expected a Python float"


def rows_of(value) -> list[list]:
    """Every innermost list of a nested list."""
    if value and type(value[0]) is list:
        return [row for item in value for row in rows_of(item)]
    return [value]


def make(name):
    factory, shape = LAYERS[name]
    layer = factory()
    if name == "dropout-eval":
        layer.training = False
    return layer, shape


@pytest.mark.parametrize("name", LAYERS)
def test_outputs_gradients_and_params_are_nested_lists_of_floats(name, pyrng):
    layer, shape = make(name)
    assert layer.array_kind == "list"
    x = gauss(shape, pyrng)
    y = layer.forward(x)
    dx = layer.backward(gauss(_lists.shape_of(y), pyrng))
    assert_lists_of_floats(y, "y")
    assert_lists_of_floats(dx, "dx")
    assert _lists.shape_of(dx) == shape
    for key, value in layer.grads.items():
        assert_lists_of_floats(value, f"grads[{key!r}]")
    for key, value in layer.params.items():  # batchnorm's running stats were just updated
        assert_lists_of_floats(value, f"params[{key!r}]")


@pytest.mark.parametrize("name", LAYERS)
def test_the_callers_lists_are_neither_edited_nor_shared(name, pyrng):
    layer, shape = make(name)
    x = gauss(shape, pyrng)
    x_before = copy.deepcopy(x)
    y = layer.forward(x)
    dy = gauss(_lists.shape_of(y), pyrng)
    dy_before = copy.deepcopy(dy)
    dx = layer.backward(dy)
    assert x == x_before and dy == dy_before
    # a caller that edits y or dx in place must not change x, dy or the layer's cache
    assert not {id(r) for r in rows_of(y)} & {id(r) for r in rows_of(x)}, "y shares a row list with x"
    assert not {id(r) for r in rows_of(dx)} & {id(r) for r in rows_of(dy)}, "dx shares a row list with dy"


def test_losses_return_python_floats(pyrng):
    logits = gauss((4, 5), pyrng)
    for loss in (P.NLLLoss(), P.CrossEntropyLoss(), P.NLLLoss(reduction="sum")):
        value = loss.forward(logits, [0, 4, 2, 4])
        assert type(value) is float
        assert_lists_of_floats(loss.backward(), "dlogp")


# --- clear errors --------------------------------------------------------------------------------

BAD_CALLS = {
    "ragged-x": lambda: P.ReLU().forward([[1.0, 2.0], [3.0]]),
    "ndarray-x": lambda: P.Conv2d(1, 1, 3).forward(np.zeros((1, 1, 5, 5))),
    "conv-3d-x": lambda: P.Conv2d(1, 1, 3).forward([[[0.0] * 5] * 5]),
    "conv-wrong-channels": lambda: P.Conv2d(2, 1, 3).forward(_lists.zeros((1, 3, 5, 5))),
    "conv-kernel-too-big": lambda: P.Conv2d(1, 1, 5).forward(_lists.zeros((1, 1, 4, 8))),
    "conv-zero-kernel": lambda: P.Conv2d(1, 1, 0),
    "conv-negative-padding": lambda: P.Conv2d(1, 1, 3, padding=-1),
    "pool-window-too-big": lambda: P.MaxPool2d(3).forward(_lists.zeros((1, 1, 2, 5))),
    "linear-wrong-features": lambda: P.Linear(4, 2).forward(_lists.zeros((3, 5))),
    "softmax-dim-out-of-range": lambda: P.LogSoftmax(2).forward(_lists.zeros((3, 5))),
    "flatten-bad-dims": lambda: P.Flatten(2, 1).forward(_lists.zeros((2, 3, 4))),
    "bn-one-value-per-channel": lambda: P.BatchNorm1d(3).forward(_lists.zeros((1, 3))),
    "bn2d-2d-x": lambda: P.BatchNorm2d(3).forward(_lists.zeros((4, 3))),
    "dropout-p-above-1": lambda: P.Dropout(1.5),
    "residual-even-kernel": lambda: P.Residual(2, 4),
    "nll-float-target": lambda: P.NLLLoss().forward(_lists.zeros((2, 3)), [0.0, 1.0]),
    "nll-target-out-of-range": lambda: P.NLLLoss().forward(_lists.zeros((2, 3)), [0, 3]),
    "nll-target-count": lambda: P.NLLLoss().forward(_lists.zeros((2, 3)), [0]),
    "nll-bad-reduction": lambda: P.NLLLoss(reduction="none"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_input_raises_a_clear_value_error(name):
    with pytest.raises(ValueError) as info:
        BAD_CALLS[name]()
    assert len(str(info.value)) > 20  # a message that names the problem, not a bare exception


def test_wrong_dy_shape_and_replaced_param_shape_are_refused(pyrng):
    conv = P.Conv2d(2, 3, 3)
    y = conv.forward(gauss((2, 2, 5, 5), pyrng))
    with pytest.raises(ValueError, match="dy"):
        conv.backward(gauss((2, 3, 3, 4), pyrng))
    conv.params["weight"] = _lists.zeros((3, 2, 2, 2))
    with pytest.raises(ValueError, match="weight"):
        conv.forward(gauss((2, 2, 5, 5), pyrng))
    drop = P.Dropout(0.5)
    drop.mask = _lists.zeros((2, 3))
    with pytest.raises(ValueError, match="mask"):
        drop.forward(gauss((3, 2), pyrng))
    assert _lists.shape_of(y) == (2, 3, 3, 3)


@pytest.mark.parametrize("layer", [P.Conv2d(1, 1, 1), P.MaxPool2d(2), P.ReLU(), P.Linear(1, 1), P.Flatten(),
                                   P.LogSoftmax(1), P.BatchNorm2d(1), P.Dropout(), P.Residual(1)],
                         ids=lambda layer: type(layer).__name__)
def test_backward_before_forward_says_so(layer):
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward([[0.0]])


# --- code paths the shared suite does not reach -----------------------------------------------------

def torch_conv_check(n, c_in, c_out, size, rng):
    x = rng.standard_normal((n, c_in, size, size))
    w, b = rng.standard_normal((c_out, c_in, 5, 5)), rng.standard_normal(c_out)
    conv = P.Conv2d(c_in, c_out, 5)
    conv.params.update(weight=w.tolist(), bias=b.tolist())
    y = conv.forward(x.tolist())
    dy = rng.standard_normal((n, c_out, size - 4, size - 4))
    dx = conv.backward(dy.tolist())
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.conv2d(xt, wt, bt)
    (yt * torch.from_numpy(dy)).sum().backward()
    pairs = ((y, yt, "output"), (dx, xt.grad, "grad_input"), (conv.grads["weight"], wt.grad, "grad_weight"),
             (conv.grads["bias"], bt.grad, "grad_bias"))
    for actual, expected, tensor in pairs:
        assert_match(actual, expected, dtype="float64", tensor=tensor, name=f"conv{c_in}->{c_out}.{tensor}")


def test_lenet_conv1_shape_matches_torch():
    torch_conv_check(1, 1, 6, 28, np.random.default_rng(5))


def test_lenet_conv2_shape_matches_torch():
    torch_conv_check(2, 6, 16, 12, np.random.default_rng(6))


@pytest.mark.parametrize("n", [1, 3, 8, 9, 20])  # dW: outer products up to 8 samples, dot products above
def test_linear_weight_gradient_paths_match_torch(n):
    rng = np.random.default_rng(n)
    x, w, b, dy = (rng.standard_normal(s) for s in ((n, 11), (6, 11), (6,), (n, 6)))
    fc = P.Linear(11, 6)
    fc.params.update(weight=w.tolist(), bias=b.tolist())
    y = fc.forward(x.tolist())
    dx = fc.backward(dy.tolist())
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.linear(xt, wt, bt)
    (yt * torch.from_numpy(dy)).sum().backward()
    assert_match(y, yt, dtype="float64", tensor="output", name="fc.output")
    assert_match(dx, xt.grad, dtype="float64", tensor="grad_input", name="fc.grad_input")
    assert_match(fc.grads["weight"], wt.grad, dtype="float64", tensor="grad_weight", name="fc.grad_weight")
    assert_match(fc.grads["bias"], bt.grad, dtype="float64", tensor="grad_bias", name="fc.grad_bias")


@pytest.mark.parametrize("kernel_size,stride", [(2, 2), (3, 1)])
def test_maxpool_nan_wins_its_windows_like_torch(kernel_size, stride):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 2, 6, 6))
    x[0, 0, 1, 1] = x[0, 0, 2, 3] = x[0, 0, 3, 2] = np.nan  # several NaNs, some in one window
    x[0, 1, 2, 2], x[0, 1, 4, 4] = np.inf, -np.inf  # inf - inf is NaN too: the NaN-aware path, no NaN
    x_list = x.tolist()
    shared_nan = float("nan")  # one object in three places: finding "the" NaN by identity would be wrong
    for i, j in ((1, 1), (2, 3), (3, 2)):
        x_list[0][0][i][j] = shared_nan
    pool = P.MaxPool2d(kernel_size, stride)
    y = pool.forward(x_list)
    dy = rng.standard_normal(np.shape(y))
    dx = pool.backward(dy.tolist())
    xt = torch.tensor(x, requires_grad=True)
    yt = F.max_pool2d(xt, kernel_size, stride)
    (yt * torch.from_numpy(dy)).sum().backward()
    assert_match(y, yt, dtype="float64", tensor="output", name="pool.output")  # NaN where torch has NaN
    assert_match(dx, xt.grad, dtype="float64", tensor="grad_input", name="pool.grad_input")


def test_batchnorm_momentum_none_is_torchs_cumulative_average():
    rng = np.random.default_rng(12)
    ours, theirs = P.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None).double()
    for _ in range(4):
        x = rng.standard_normal((5, 3)) * 2 + 1
        ours.forward(x.tolist())
        theirs(torch.from_numpy(x))
    assert ours.num_batches_tracked == int(theirs.num_batches_tracked) == 4
    assert_match(ours.params["running_mean"], theirs.running_mean, dtype="float64", tensor="running_mean")
    assert_match(ours.params["running_var"], theirs.running_var, dtype="float64", tensor="running_var")


def test_dropout_seed_and_global_seed_reproduce_the_mask(pyrng):
    x = gauss((3, 40), pyrng)
    masks = [P.Dropout(0.3, seed=9).forward(x) for _ in range(2)]
    assert masks[0] == masks[1]
    assert P.Dropout(0.3, seed=10).forward(x) != masks[0]
    outputs = []
    for _ in range(2):
        random.seed(21)  # what seed_everything does for Python's generator
        outputs.append(P.Dropout(0.3).forward(x))
    assert outputs[0] == outputs[1]
    scale = 1.0 / (1.0 - 0.3)
    for y_row, x_row in zip(masks[0], x):
        assert all(v == 0.0 or v == xv * scale for v, xv in zip(y_row, x_row))
    kept = sum(v != 0.0 for row in masks[0] for v in row) / 120
    assert 0.55 < kept < 0.85  # 1 - p = 0.7 kept, binomial sd 0.04


def test_dropout_injected_mask_stays_until_cleared_and_extremes(pyrng):
    x = gauss((2, 5), pyrng)
    drop = P.Dropout(0.5, seed=1)
    drop.mask = [[2.0, 0.0, 2.0, 2.0, 0.0], [0.0, 0.0, 2.0, 2.0, 2.0]]
    first, second = drop.forward(x), drop.forward(x)
    assert first == second == [[v * m for v, m in zip(xr, mr)] for xr, mr in zip(x, drop.mask)]
    drop.mask = None
    assert drop.forward(x) != first or drop.forward(x) != first  # fresh masks again
    assert P.Dropout(1.0).forward(x) == [[0.0] * 5, [0.0] * 5]
    assert P.Dropout(0.0).forward(x) == x


def test_residual_is_its_conv_plus_the_input(pyrng):
    res = P.Residual(2, 3)
    assert isinstance(res._conv, P.Conv2d) and res.params is res._conv.params  # reuses Conv2d, one dict
    x = gauss((1, 2, 4, 4), pyrng)
    res.params["weight"] = _lists.zeros((2, 2, 3, 3))
    res.params["bias"] = [0.5, -1.0]
    y = res.forward(x)
    assert y == [[[[v + b for v in row] for row in ch] for ch, b in zip(x[0], (0.5, -1.0))]]


@pytest.mark.parametrize("make_layer,fan_in", [(lambda: P.Conv2d(2, 4, 3), 18), (lambda: P.Linear(30, 5), 30)],
                         ids=["conv", "linear"])
def test_default_init_is_torchs_uniform_and_follows_random_seed(make_layer, fan_in):
    random.seed(3)  # what seed_everything does for Python's generator
    first = make_layer()
    random.seed(3)
    assert make_layer().params == first.params
    bound = 1 / fan_in ** 0.5  # torch's reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    values = _lists.flatten(first.params["weight"]) + first.params["bias"]
    assert all(-bound <= v <= bound for v in values)
    assert max(map(abs, values)) > 0.8 * bound  # fills the interval (fails with probability 0.8**76 or less)


# --- the list helpers ------------------------------------------------------------------------------

def test_list_helpers_round_trip(pyrng):
    x = gauss((2, 3, 4, 5), pyrng)
    assert _lists.shape_of(x) == (2, 3, 4, 5)
    assert _lists.reshape(_lists.flatten(x), (2, 3, 4, 5)) == x
    assert _lists.reshape(_lists.flatten(x), (6, 20))[1] == _lists.flatten(x)[20:40]
    chans = _lists.split_channels(x)
    assert chans[1][:5] == x[0][1][0] and len(chans[1]) == 2 * 4 * 5
    assert _lists.join_channels(chans, (2, 3, 4, 5)) == x
    x2 = gauss((4, 3), pyrng)
    assert _lists.join_channels(_lists.split_channels(x2), (4, 3)) == x2
    zeros = _lists.zeros((2, 2))
    zeros[0][0] = 1.0
    assert zeros[1][0] == 0.0  # separate rows, not one row repeated
    with pytest.raises(ValueError, match="ragged"):
        _lists.shape_of([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0]]])
    with pytest.raises(ValueError, match="empty"):
        _lists.shape_of([[], []])


def _plain_patch_sums(patches, w_rows, bias):
    from operator import mul
    return [[b_o + sum(map(mul, p, w_o)) for p in patches] for w_o, b_o in zip(w_rows, bias)]


def test_shared_patches_get_the_floats_they_would_get_alone():
    from lenet_parity.custom_layers.python.conv import patch_sums

    rng = random.Random(3)
    w_rows = [[rng.uniform(-1, 1) for _ in range(4)] for _ in range(3)]
    bias = [0.5, -0.25, 0.0]
    distinct = [tuple(rng.uniform(-2, 2) for _ in range(4)) for _ in range(5)]
    nan = float("nan")
    special = [(0.0, 0.0, 0.0, 0.0), (-0.0, 0.0, -0.0, 0.0), (nan, 1.0, 2.0, 3.0), (1.0, nan, 2.0, 3.0),
               (float("inf"), 0.0, 0.0, 1.0)]
    patches = [distinct[i] for i in (0, 1, 0, 2, 2, 2, 3, 4, 1)] + special + [special[2], distinct[0]]
    shared, plain = patch_sums(patches, w_rows, bias), _plain_patch_sums(patches, w_rows, bias)
    assert len(shared) == 3 and all(len(row) == len(patches) for row in shared)
    # bit for bit (repr tells 0.0 from -0.0 and shows NaN): sharing changes no value
    assert [list(map(repr, row)) for row in shared] == [list(map(repr, row)) for row in plain]


def test_conv_on_a_flat_background_matches_torch():
    x = np.full((2, 1, 12, 12), -0.4242)  # a normalised blank MNIST background ...
    x[0, 0, 3:7, 4:9] = np.random.default_rng(8).uniform(0, 2.8, (4, 5))  # ... with a small stroke in image 0
    layer = P.Conv2d(1, 3, 5)
    y = layer.forward(x.tolist())
    w, b = (torch.tensor(layer.params[k], dtype=torch.float64) for k in ("weight", "bias"))
    expected = F.conv2d(torch.from_numpy(x), w, b)
    assert_match(y, expected, dtype="float64", tensor="output", name="conv.output")


def test_unfold_puts_each_tap_where_the_planes_expect_it():
    from lenet_parity.custom_layers.python.conv import unfold

    rng = random.Random(5)
    x = gauss((2, 3, 7, 9), rng)
    for (kh, kw, sh, sw) in [(3, 2, 1, 1), (2, 3, 2, 3), (1, 1, 1, 1)]:
        h_out, w_out = (7 - kh) // sh + 1, (9 - kw) // sw + 1
        patches = unfold(x, kh, kw, sh, sw, h_out, w_out)
        assert len(patches) == 2 * h_out * w_out
        for n, oy, ox in [(0, 0, 0), (1, h_out - 1, w_out - 1), (1, h_out // 2, 1 % w_out)]:
            patch = patches[(n * h_out + oy) * w_out + ox]
            assert patch == tuple(x[n][c][oy * sh + ky][ox * sw + kx]
                                  for c in range(3) for ky in range(kh) for kx in range(kw))


def test_maxpool_backward_does_not_read_the_output_the_caller_owns():
    rng = random.Random(4)
    x = [[[[rng.choice([0.0, 1.0, rng.random()]) for _ in range(6)] for _ in range(6)] for _ in range(2)]]
    dy = [[[[rng.uniform(-1, 1) for _ in range(3)] for _ in range(3)] for _ in range(2)]]
    pool = P.MaxPool2d(2)
    y = pool.forward(x)
    before = pool.backward(dy)
    y[0][0][0][0], y[0][1][2][2] = 123.0, -5.0  # e.g. a user's next layer working in place
    assert pool.backward(dy) == before
