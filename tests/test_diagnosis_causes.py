"""The newer causes (issue 19): each buggy value is computed by a small buggy layer written here the way a student
writes it, on seeded random inputs, against torch's float64 answer; the diagnosis must name the bug (code and a
phrase of the hint), and a correct value or an unrelated bug must not get it. Then one buggy class per cause goes
through the real check (``lenet_parity.check_layer``), which must name it at the first failure.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lenet_parity import check_layer
from lenet_parity.custom_layers.numpy import Conv2d, LogSoftmax, MaxPool2d
from lenet_parity.harness.diagnosis import Evidence, diagnose
from lenet_parity.harness.diagnosis_dense_head import log_eps, softmax_jacobian
from lenet_parity.harness.diagnosis_windows import hard_coded_crop, overwritten
from lenet_parity.harness.tolerances import tolerance


@pytest.fixture
def rng():
    return np.random.default_rng(19)


def evidence(tensor: str, got, expected, cls: str, kwargs: dict, **inputs) -> Evidence:
    atol, rtol, _ = tolerance("float64", tensor)
    return Evidence(tensor, np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64), atol, rtol, cls,
                    kwargs, **inputs)


# ---- torch's answers (float64, a random upstream gradient) ----

def torch_conv(x, w, b, stride, padding, rng):
    """(y, dy, dx, dw) of torch's conv2d."""
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, torch.tensor(b), stride=stride, padding=padding)
    dy = rng.standard_normal(tuple(y.shape))
    (y * torch.tensor(dy)).sum().backward()
    return y.detach().numpy(), dy, xt.grad.numpy(), wt.grad.numpy()


def torch_pool(x, k, s, rng):
    """(y, dy, dx) of torch's max_pool2d."""
    xt = torch.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, k, s)
    dy = rng.standard_normal(tuple(y.shape))
    (y * torch.tensor(dy)).sum().backward()
    return y.detach().numpy(), dy, xt.grad.numpy()


def torch_log_softmax(x, rng):
    """(y, dy, dx) of torch's log_softmax over the classes."""
    xt = torch.tensor(x, requires_grad=True)
    y = F.log_softmax(xt, dim=1)
    dy = rng.standard_normal(tuple(y.shape))
    (y * torch.tensor(dy)).sum().backward()
    return y.detach().numpy(), dy, xt.grad.numpy()


def conv_case(rng, shape=(2, 3, 7, 6), out=4, k=3, stride=1, padding=1):
    x = rng.standard_normal(shape)
    w, b = rng.standard_normal((out, shape[1], k, k)) / k, rng.standard_normal(out)
    y, dy, dx, dw = torch_conv(x, w, b, stride, padding, rng)
    kwargs = dict(in_channels=shape[1], out_channels=out, kernel_size=k, stride=stride, padding=padding)
    return dict(x=x, w=w, b=b, y=y, dy=dy, dx=dx, dw=dw, kwargs=kwargs,
                inputs=dict(x=x, dy=dy, params={"weight": w, "bias": b}))  # what the check gives the diagnosis


# ---- a student's loops, each with a switch for its classic bug ----

def student_conv(x, w, b, stride, padding, *, size=None, swap_kernel=False):
    """Conv forward, one kernel offset at a time; ``size``: the output size as the student computed it."""
    (sh, sw), (ph, pw), (kh, kw) = stride, padding, w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = size or ((xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1)
    y = np.zeros((x.shape[0], w.shape[0], ho, wo)) + b[:, None, None]
    for i in range(kh):
        for j in range(kw):
            tap = w[:, :, j, i] if swap_kernel else w[:, :, i, j]  # the bug: H and W swapped in the kernel index
            y += np.einsum("nchw,oc->nohw", xp[:, :, i:i + sh * ho:sh, j:j + sw * wo:sw], tap)
    return y


def student_dx_padded(dy, w, x_shape, stride, padding, *, overwrite=False, by_offset=False):
    """Conv backward for x before the padding is cut off: each output position sends w * dy back to its window
    (output rows then columns), or, ``by_offset``, one kernel offset at a time; ``overwrite``: with = for +=."""
    (sh, sw), (ph, pw), (kh, kw) = stride, padding, w.shape[2:]
    n, c, h, wd = x_shape
    dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    ho, wo = dy.shape[2:]
    if by_offset:
        for i in range(kh):
            for j in range(kw):
                part = np.einsum("nohw,oc->nchw", dy, w[:, :, i, j])
                if overwrite:
                    dxp[:, :, i:i + sh * ho:sh, j:j + sw * wo:sw] = part  # the bug
                else:
                    dxp[:, :, i:i + sh * ho:sh, j:j + sw * wo:sw] += part
        return dxp
    for r in range(ho):
        for q in range(wo):
            part = np.einsum("no,ocij->ncij", dy[:, :, r, q], w)
            if overwrite:
                dxp[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw] = part  # the bug
            else:
                dxp[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw] += part
    return dxp


def student_pool_dx(x, dy, k, s, *, overwrite=False, whole_window=False):
    """Max-pool backward, window by window: dy to the window's first maximum; ``overwrite``: with = for +=
    (``whole_window``: the window written whole, zeros and all)."""
    dx = np.zeros_like(x)
    n, c = np.indices(dy.shape[:2])
    for r in range(dy.shape[2]):
        for q in range(dy.shape[3]):
            window = x[:, :, r * s:r * s + k, q * s:q * s + k].reshape(*dy.shape[:2], -1)
            at = window.argmax(axis=-1)
            if whole_window:
                block = np.zeros_like(window)
                block[n, c, at] = dy[:, :, r, q]
                dx[:, :, r * s:r * s + k, q * s:q * s + k] = block.reshape(*dy.shape[:2], k, k)
            elif overwrite:
                dx[n, c, r * s + at // k, q * s + at % k] = dy[:, :, r, q]
            else:
                dx[n, c, r * s + at // k, q * s + at % k] += dy[:, :, r, q]
    return dx


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- 1. overwritten instead of accumulated ----

@pytest.mark.parametrize("stride, padding, by_offset", [(1, 1, False), (2, 1, False), (1, 0, True), (2, 1, True)])
def test_conv_col2im_with_equals_is_overwritten(rng, stride, padding, by_offset):
    c = conv_case(rng, stride=stride, padding=padding)
    dxp = student_dx_padded(c["dy"], c["w"], c["x"].shape, (stride,) * 2, (padding,) * 2, overwrite=True,
                            by_offset=by_offset)
    got = dxp[:, :, padding:padding + 7, padding:padding + 6]
    found = diagnose(evidence("grad_input", got, c["dx"], "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "overwritten" and "use +=" in found.hint, found
    assert ("kernel offsets" in found.hint) == by_offset


@pytest.mark.parametrize("whole_window", [False, True])
def test_overlapping_max_pool_backward_with_equals_is_overwritten(rng, whole_window):
    x = rng.standard_normal((2, 3, 9, 7))
    y, dy, dx = torch_pool(x, 3, 2, rng)
    got = student_pool_dx(x, dy, 3, 2, overwrite=True, whole_window=whole_window)
    found = diagnose(evidence("grad_input", got, dx, "MaxPool2d", dict(kernel_size=3, stride=2), x=x, dy=dy))
    assert found.code == "overwritten" and "replaces an earlier" in found.hint, found


def test_overwritten_is_not_claimed_by_a_correct_value_or_another_bug(rng):
    c = conv_case(rng, stride=2, padding=1)
    inputs = c["inputs"]
    correct = student_dx_padded(c["dy"], c["w"], c["x"].shape, (2, 2), (1, 1))[:, :, 1:8, 1:7]
    assert np.allclose(correct, c["dx"])
    assert overwritten(evidence("grad_input", correct, c["dx"], "Conv2d", c["kwargs"], **inputs)) is None
    no_stride = student_dx_padded(c["dy"], c["w"], c["x"].shape, (1, 1), (1, 1))  # windows put back at (r, c)
    found = diagnose(evidence("grad_input", no_stride[:, :, 1:8, 1:7], c["dx"], "Conv2d", c["kwargs"], **inputs))
    assert found.code == "stride", found
    x = rng.standard_normal((2, 3, 8, 6))  # windows that do not overlap: = is as good as +=
    y, dy, dx = torch_pool(x, 2, 2, rng)
    assert np.allclose(student_pool_dx(x, dy, 2, 2, overwrite=True), dx)


# ---- 2. softmax's Jacobian in log-softmax's backward ----

@pytest.mark.parametrize("use_output", [False, True])
def test_softmax_backward_in_log_softmax_is_named(rng, use_output):
    x = 3 * rng.standard_normal((5, 10))
    y, dy, dx = torch_log_softmax(x, rng)
    v = y if use_output else softmax(x)
    got = v * (dy - (dy * v).sum(axis=1, keepdims=True))
    found = diagnose(evidence("grad_input", got, dx, "LogSoftmax", dict(dim=1), x=x, dy=dy))
    assert found.code == "softmax-jacobian" and "softmax's backward" in found.hint, found
    assert ("log_softmax(x)" in found.hint.split("is softmax")[0]) == use_output


def test_softmax_jacobian_is_not_claimed_by_a_correct_value_or_another_bug(rng):
    x = 3 * rng.standard_normal((5, 10))
    y, dy, dx = torch_log_softmax(x, rng)
    correct = dy - softmax(x) * dy.sum(axis=1, keepdims=True)
    assert softmax_jacobian(evidence("grad_input", correct, dx, "LogSoftmax", dict(dim=1), x=x, dy=dy)) is None
    diagonal = dy * (1 - softmax(x))
    found = diagnose(evidence("grad_input", diagonal, dx, "LogSoftmax", dict(dim=1), x=x, dy=dy))
    assert found.code == "elementwise-grad", found


# ---- 3. a hard-coded padding crop ----

@pytest.mark.parametrize("padding, crop, words", [(2, 1, "fixed 1 off each side"), (0, 2, "fixed 2 off each side"),
                                                  (1, 2, "fixed 2 off each side"), (2, 1, "fixed offset 1")])
def test_a_fixed_crop_of_the_padded_gradient_is_named(rng, padding, crop, words):
    c = conv_case(rng, shape=(2, 3, 9, 8), k=5, padding=padding)
    dxp = student_dx_padded(c["dy"], c["w"], c["x"].shape, (1, 1), (padding,) * 2)
    got = dxp[:, :, crop:9 + crop, crop:8 + crop] if "offset" in words else dxp[:, :, crop:-crop, crop:-crop]
    found = diagnose(evidence("grad_input", got, c["dx"], "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "crop" and words in found.hint and f"padding is {padding}" in found.hint, found


def test_no_crop_at_all_stays_padding_not_cut_off_and_the_right_crop_is_not_claimed(rng):
    c = conv_case(rng, shape=(2, 3, 9, 8), k=5, padding=2)
    dxp = student_dx_padded(c["dy"], c["w"], c["x"].shape, (1, 1), (2, 2))
    found = diagnose(evidence("grad_input", dxp, c["dx"], "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "shape" and "padding was not cut off" in found.hint, found
    right = evidence("grad_input", dxp[:, :, 2:-2, 2:-2], c["dx"], "Conv2d", c["kwargs"], **c["inputs"])
    assert hard_coded_crop(right) is None


# ---- 4. height and width swapped ----

def test_a_reshape_or_transpose_naming_w_before_h_is_named_on_non_square_inputs(rng):
    c = conv_case(rng, shape=(2, 3, 7, 5), padding=0)  # output 5x3
    n, o, ho, wo = c["y"].shape
    inputs = c["inputs"]
    found = diagnose(evidence("output", c["y"].reshape(n, o, wo, ho), c["y"], "Conv2d", c["kwargs"], **inputs))
    assert found.code == "hw-swap" and "W before H" in found.hint, found
    found = diagnose(evidence("output", c["y"].swapaxes(2, 3), c["y"], "Conv2d", c["kwargs"], **inputs))
    assert found.code == "hw-swap" and "transposed in H and W" in found.hint, found


def test_a_kernel_read_with_its_axes_swapped_is_named(rng):
    c = conv_case(rng, shape=(2, 3, 8, 8), padding=1)
    got = student_conv(c["x"], c["w"], c["b"], (1, 1), (1, 1), swap_kernel=True)
    found = diagnose(evidence("output", got, c["y"], "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "hw-swap" and "w[:, :, j, i]" in found.hint, found


def test_a_max_pool_walking_its_windows_column_by_column_is_named_where_maxima_tie(rng):
    """The same as running on x.swapaxes(-1, -2): where a window holds tied maxima, the first one found is another."""
    x = rng.integers(-2, 3, (2, 3, 6, 8)) / 2  # few distinct values: tied maxima
    y, dy, dx = torch_pool(x, 2, 2, rng)
    got = student_pool_dx(x.swapaxes(2, 3), dy.swapaxes(2, 3), 2, 2).swapaxes(2, 3)
    found = diagnose(evidence("grad_input", got, dx, "MaxPool2d", dict(kernel_size=2), x=x, dy=dy))
    assert found.code == "hw-swap" and "x.swapaxes(-1, -2)" in found.hint, found


def test_h_w_swaps_do_not_claim_a_square_transpose_a_flipped_kernel_or_another_reshape(rng):
    c = conv_case(rng, shape=(2, 3, 8, 8), padding=1)
    inputs = c["inputs"]
    transposed = diagnose(evidence("output", c["y"].swapaxes(2, 3), c["y"], "Conv2d", c["kwargs"], **inputs))
    assert transposed.code == "permutation", transposed
    flipped = student_conv(c["x"], c["w"][:, :, ::-1, ::-1], c["b"], (1, 1), (1, 1))
    assert diagnose(evidence("output", flipped, c["y"], "Conv2d", c["kwargs"], **inputs)).code == "flipped-kernel"
    c = conv_case(rng, shape=(2, 3, 7, 5), padding=0)
    flat = c["y"].reshape(2, 4, 1, -1)
    found = diagnose(evidence("output", flat, c["y"], "Conv2d", c["kwargs"], x=c["x"]))
    assert found.code == "shape" and "same number of values" in found.hint, found


# ---- 5. partial coverage ----

def student_pool(x, k, s, *, rows_short=0, cols_short=0):
    """Max-pool forward into zeros, window by window; ``*_short``: the loops stop that many short."""
    ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    y = np.zeros((*x.shape[:2], ho, wo))
    for r in range(ho - rows_short):
        for q in range(wo - cols_short):
            y[:, :, r, q] = x[:, :, r * s:r * s + k, q * s:q * s + k].max(axis=(2, 3))
    return y


@pytest.mark.parametrize("rows, cols, words", [(1, 1, "last 1 row and 1 column of output are 0"),
                                               (2, 0, "last 2 rows of output are 0")])
def test_a_loop_that_stops_short_leaves_a_zero_band_that_is_named(rng, rows, cols, words):
    x = rng.standard_normal((2, 3, 9, 7))
    y, dy, dx = torch_pool(x, 3, 2, rng)
    got = student_pool(x, 3, 2, rows_short=rows, cols_short=cols)
    found = diagnose(evidence("output", got, y, "MaxPool2d", dict(kernel_size=3, stride=2), x=x, dy=dy))
    assert found.code == "partial" and words in found.hint, found
    assert ("one short" in found.hint) == (rows == 1)


def student_dw(x, dy, k, padding, channels):
    """Conv backward for the weight (stride 1), input channel by input channel: only the first ``channels``."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = dy.shape[2:]
    dw = np.zeros((dy.shape[1], x.shape[1], k, k))
    for c in range(channels):
        for i in range(k):
            for j in range(k):
                dw[:, c, i, j] = np.einsum("nohw,nhw->o", dy, xp[:, c, i:i + ho, j:j + wo])
    return dw


def test_the_last_batch_item_or_channels_never_computed_are_named(rng):
    c = conv_case(rng)
    got = np.zeros_like(c["y"])
    for n in range(len(c["x"]) - 1):  # the batch loop stops one short
        got[n] = student_conv(c["x"][n:n + 1], c["w"], c["b"], (1, 1), (1, 1))[0]
    found = diagnose(evidence("output", got, c["y"], "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "partial" and "last 1 batch item of output" in found.hint, found
    got = student_dw(c["x"], c["dy"], 3, 1, channels=c["x"].shape[1] - 2)
    assert np.allclose(student_dw(c["x"], c["dy"], 3, 1, channels=c["x"].shape[1]), c["dw"])
    found = diagnose(evidence("grad_weight", got, c["dw"], "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "partial" and "last 2 channels of grad_weight" in found.hint, found


def test_zeros_torch_has_too_are_left_out_and_wrong_values_elsewhere_are_not_partial(rng):
    x = rng.standard_normal((1, 3, 7, 8))
    y, dy, dx = torch_pool(x, 3, 3, rng)
    assert not dx[:, :, -1:].any() and not dx[..., -2:].any()  # floor mode: no window reaches them
    got = np.concatenate([student_pool_dx(x[:, :2], dy[:, :2], 3, 3), np.zeros_like(x[:, :1])], axis=1)
    found = diagnose(evidence("grad_input", got, dx, "MaxPool2d", dict(kernel_size=3), x=x, dy=dy))
    assert found.code == "partial" and "the last 1 channel of grad_input are 0" in found.hint, found
    x = rng.standard_normal((2, 3, 9, 7))
    y, dy, dx = torch_pool(x, 3, 2, rng)
    wrong = student_pool(x, 3, 2, rows_short=1) + 0.1 * (np.arange(y.shape[2]) < 2)[:, None]
    assert diagnose(evidence("output", wrong, y, "MaxPool2d", dict(kernel_size=3, stride=2), x=x)).code != "partial"
    zeros = diagnose(evidence("output", np.zeros_like(y), y, "MaxPool2d", dict(kernel_size=3, stride=2)))
    assert zeros.code != "partial", zeros


# ---- 6. the expression behind a wrong shape ----

@pytest.mark.parametrize("stride, padding, size, words", [
    (1, 1, lambda h, k, s, p: (h - k) // s + 1, "the padding term 2*padding is missing"),
    (2, 1, lambda h, k, s, p: (h + 2 * p - k) // s, "the + 1 is missing"),
    (2, 1, lambda h, k, s, p: (h + p - k) // s + 1, "one side only"),
])
def test_a_wrong_output_size_names_its_formula(rng, stride, padding, size, words):
    c = conv_case(rng, shape=(2, 3, 9, 8), stride=stride, padding=padding)
    sizes = (size(9, 3, stride, padding), size(8, 3, stride, padding))
    got = student_conv(c["x"], c["w"], c["b"], (stride,) * 2, (padding,) * 2, size=sizes)
    found = diagnose(evidence("output", got, c["y"], "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "shape" and words in found.hint and f"{sizes[0]}x{sizes[1]}" in found.hint, found


@pytest.mark.parametrize("cls", ["Conv2d", "MaxPool2d"])
def test_a_size_without_the_stride_division_is_named(rng, cls):
    """The stride forgotten in the size and in the loop: the layer as if with stride 1."""
    c = conv_case(rng, shape=(2, 3, 9, 7), stride=2, padding=0)
    if cls == "Conv2d":
        got, expected, kwargs = student_conv(c["x"], c["w"], c["b"], (1, 1), (0, 0)), c["y"], c["kwargs"]
    else:
        got, expected = student_pool(c["x"], 3, 1), torch_pool(c["x"], 3, 2, rng)[0]
        kwargs = dict(kernel_size=3, stride=2)
    found = diagnose(evidence("output", got, expected, cls, kwargs, x=c["x"]))
    assert found.code == "shape" and "division by the stride is missing" in found.hint and "7x5" in found.hint, found


def test_an_empty_crop_and_a_grid_sized_dx_name_their_expression(rng):
    c = conv_case(rng, shape=(2, 3, 9, 8), stride=2, padding=0)
    dxp = student_dx_padded(c["dy"], c["w"], c["x"].shape, (2, 2), (0, 0))
    inputs = c["inputs"]
    found = diagnose(evidence("grad_input", dxp[:, :, 0:-0, 0:-0], c["dx"], "Conv2d", c["kwargs"], **inputs))
    assert found.code == "shape" and "p:-p" in found.hint and "use dx_pad[:, :, p:p+H, p:p+W]" in found.hint, found
    ho, wo = c["dy"].shape[2:]
    grid = dxp[:, :, :(ho - 1) * 2 + 3, :(wo - 1) * 2 + 3]  # 9x7: the last column no window reaches is dropped
    found = diagnose(evidence("grad_input", grid, c["dx"], "Conv2d", c["kwargs"], **inputs))
    assert found.code == "shape" and "window grid" in found.hint and "9x7" in found.hint, found


def test_shapes_without_a_known_expression_keep_their_plain_causes(rng):
    c = conv_case(rng, shape=(2, 3, 9, 8), padding=1)
    y = c["y"]
    assert "off by one" in diagnose(evidence("output", y[:, :, :-1, :-1], y, "Conv2d", c["kwargs"])).hint
    found = diagnose(evidence("output", y[:, :, :-3], y, "Conv2d", c["kwargs"], **c["inputs"]))
    assert found.code == "shape" and found.hint == f"shape {y[:, :, :-3].shape} instead of {y.shape}", found


# ---- 7. an epsilon inside the log ----

@pytest.mark.parametrize("scale, eps", [(3, 1e-7), (3, 1e-8), (1e4, 1e-10), (1e4, 1e-15)])
def test_log_of_softmax_plus_eps_is_named_with_its_eps(rng, scale, eps):
    x = scale * rng.standard_normal((4, 10))
    y, dy, dx = torch_log_softmax(x, rng)
    found = diagnose(evidence("output", np.log(softmax(x) + eps), y, "LogSoftmax", dict(dim=1), x=x, dy=dy))
    assert found.code == "log-eps" and f"log(softmax(x) + {eps:g})" in found.hint, found


def test_a_loss_of_minus_log_p_plus_eps_is_named(rng):
    logp = F.log_softmax(torch.tensor(4 * rng.standard_normal((6, 10))), dim=1).numpy()
    targets = rng.integers(0, 10, 6)
    expected = F.nll_loss(torch.tensor(logp), torch.tensor(targets)).item()
    got = -np.log(np.exp(logp[np.arange(6), targets]) + 1e-7).mean()
    found = diagnose(evidence("loss", got, expected, "NLLLoss", {}, x=logp, targets=targets))
    assert found.code == "log-eps" and "-log(p + 1e-07)" in found.hint, found


def test_log_eps_is_not_claimed_by_a_correct_value_a_shift_or_a_loss_a_little_off(rng):
    x = 3 * rng.standard_normal((4, 10))
    y, dy, dx = torch_log_softmax(x, rng)
    assert log_eps(evidence("output", y, y, "LogSoftmax", dict(dim=1), x=x)) is None
    assert diagnose(evidence("output", y + 1e-3, y, "LogSoftmax", dict(dim=1), x=x)).code == "offset"
    logp, targets = y, rng.integers(0, 10, 4)
    loss = -logp[np.arange(4), targets].mean()
    higher = loss * (1 + 3e-7)  # an eps inside the log only ever lowers the loss
    assert diagnose(evidence("loss", higher, loss, "NLLLoss", {}, x=logp, targets=targets)).code != "log-eps"


# ---- each cause through the real check: a buggy class, the first failure's diagnosis ----

class ConvCol2imOverwrites(Conv2d):
    """col2im with = where += belongs: LeNet's 5x5 windows overlap, so the snapshot sees it."""

    def forward(self, x):
        self._x_shape = x.shape
        return super().forward(x)

    def backward(self, dy):
        super().backward(dy)  # the weight and bias gradients stay right
        (ph, pw), (n, c, h, w) = self.padding, self._x_shape
        dxp = student_dx_padded(dy, self.params["weight"], self._x_shape, self.stride, self.padding, overwrite=True)
        return dxp[:, :, ph:ph + h, pw:pw + w]


class PoolGradOverwrites(MaxPool2d):
    """dx[max] = dy window by window: right for LeNet's 2x2 pools, wrong where the sweep's windows overlap."""

    def forward(self, x):
        self._x = x
        return super().forward(x)

    def backward(self, dy):
        return student_pool_dx(self._x, dy, self.kernel_size[0], self.stride[0], overwrite=True)


class LogSoftmaxWithSoftmaxBackward(LogSoftmax):
    def forward(self, x):
        self._s = softmax(x)
        return super().forward(x)

    def backward(self, dy):
        s = self._s
        return s * (dy - (dy * s).sum(axis=1, keepdims=True))


class ConvCropsOne(Conv2d):
    """Cuts dx_pad[:, :, 1:-1, 1:-1], written for a padding-1 conv; LeNet's have padding 0."""

    def forward(self, x):
        self._x_shape = x.shape
        return super().forward(x)

    def backward(self, dy):
        super().backward(dy)
        return student_dx_padded(dy, self.params["weight"], self._x_shape, self.stride, self.padding)[:, :, 1:-1, 1:-1]


class ConvReshapesWH(Conv2d):
    """The output reshaped to (N, O, W_out, H_out): right on LeNet's square images, wrong on the sweep's others."""

    def forward(self, x):
        y = super().forward(x)
        n, o, ho, wo = y.shape
        return y.reshape(n, o, -1).reshape(n, o, wo, ho)


class PoolLoopsStopShort(MaxPool2d):
    def forward(self, x):
        super().forward(x)  # keeps backward's cache
        return student_pool(x, self.kernel_size[0], self.stride[0], rows_short=1, cols_short=1)


class ConvSizeWithoutPadding(Conv2d):
    """H_out = (H - k) // s + 1: right for LeNet's padding 0, wrong for the sweep's padding-1 conv."""

    def forward(self, x):
        super().forward(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        size = ((x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1)
        return student_conv(x, self.params["weight"], self.params["bias"], self.stride, self.padding, size=size)


class ConvCropsMinusZero(Conv2d):
    """dx = dx_pad[:, :, p:-p, p:-p]: empty for LeNet's padding 0."""

    def forward(self, x):
        self._x_shape = x.shape
        return super().forward(x)

    def backward(self, dy):
        super().backward(dy)
        (p, _) = self.padding
        return student_dx_padded(dy, self.params["weight"], self._x_shape, self.stride, self.padding)[:, :, p:-p, p:-p]


class LogSoftmaxLogEps(LogSoftmax):
    def forward(self, x):
        super().forward(x)
        return np.log(softmax(x) + 1e-8)


@pytest.mark.parametrize("cls, kind, code, words", [
    (ConvCol2imOverwrites, "conv", "overwritten", "use +="),
    (PoolGradOverwrites, "pool", "overwritten", "dx[window] = ..."),
    (LogSoftmaxWithSoftmaxBackward, "logsoftmax", "softmax-jacobian", "s = softmax(x)"),
    (ConvCropsOne, "conv", "crop", "a fixed 1 off each side"),
    (ConvReshapesWH, "conv", "hw-swap", "W before H"),
    (PoolLoopsStopShort, "pool", "partial", "last 1 row and 1 column of output"),
    (ConvSizeWithoutPadding, "conv", "shape", "the padding term 2*padding is missing"),
    (ConvCropsMinusZero, "conv", "shape", "slicing dx_pad[:, :, p:-p, p:-p] with padding 0"),
    (LogSoftmaxLogEps, "logsoftmax", "log-eps", "log(softmax(x) + 1e-08)"),
])
def test_the_real_check_names_each_cause_at_the_first_failure(cls, kind, code, words):
    run = check_layer(cls, kind, dtype="float64", modes=["snapshot", "sweep"])
    first = run.first_failure
    assert first is not None and (first.likely().code, words in first.likely().hint) == (code, True), \
        (first.describe() if first else None, first.likely() if first else None)


# ---- causes found on the convention class (tests/convention_class/): the whole window, an unmasked ReLU ----

@pytest.mark.parametrize(("divide", "words"), [(False, "every element of each window got the gradient"),
                                                (True, "averaged over each window")])
def test_max_pool_backward_sending_dy_to_the_whole_window_is_named(rng, divide, words):
    x = rng.standard_normal((2, 3, 8, 6))
    y, dy, dx = torch_pool(x, 2, 2, rng)
    spread = np.repeat(np.repeat(dy, 2, axis=2), 2, axis=3) / (4 if divide else 1)  # each window gets dy
    found = diagnose(evidence("grad_input", spread, dx, "MaxPool2d", dict(kernel_size=2, stride=2), x=x, dy=dy))
    assert found.code == "whole-window" and words in found.hint, found
    ties = np.zeros((2, 3, 8, 6))  # every element tied: "every tied maximum" is the truer cause, and it wins
    y, dy, dx = torch_pool(ties, 2, 2, rng)
    every = np.repeat(np.repeat(dy, 2, axis=2), 2, axis=3)
    found = diagnose(evidence("grad_input", every, dx, "MaxPool2d", dict(kernel_size=2, stride=2), x=ties, dy=dy))
    assert found.code == "tie-break", found


def test_relu_backward_returning_dy_unmasked_is_named_and_not_claimed_by_a_correct_one(rng):
    x = rng.standard_normal((4, 6, 5, 5))
    dy = rng.standard_normal(x.shape)
    expected = dy * (x > 0)
    found = diagnose(evidence("grad_input", dy, expected, "ReLU", {}, x=x, dy=dy))
    assert found.code == "relu-mask" and "unmasked" in found.hint, found
    assert diagnose(evidence("grad_input", expected * 2, expected, "ReLU", {}, x=x, dy=dy)).code == "scale"
