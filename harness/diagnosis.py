"""Diagnoses by hypothesis: for a failing tensor, compute what each classic bug would have produced and name the
one the layer's values match (within the tolerance). None matches: ``unknown``. No pattern-matching of names.

Each hypothesis is a small function ``(Evidence) -> Diagnosis | None`` whose docstring names the classic bug;
``HYPOTHESES`` lists them in the order they are tried (the cheapest and most specific first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Diagnosis:
    code: str  # shape, dtype, crash, in-place, scale, sign, offset, permutation, flipped-kernel, border, ...
    hint: str  # one plain sentence: what the student most likely did

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "hint": self.hint}


UNKNOWN = Diagnosis("unknown", "no classic bug reproduces these values; compare the worst element by hand")


@dataclass
class Evidence:
    """What the hypotheses may look at: the two tensors, and when the check had them, the layer's inputs."""

    tensor: str  # output, loss, grad_input, grad_weight, grad_bias, running_var, ...
    got: np.ndarray
    expected: np.ndarray
    atol: float
    rtol: float
    cls: str = ""  # the torch class the layer mirrors: Conv2d, MaxPool2d, ...
    kwargs: dict = field(default_factory=dict)  # its constructor's arguments
    x: np.ndarray | None = None  # the layer's input (log-probabilities for the loss)
    dy: np.ndarray | None = None  # the upstream gradient
    params: dict[str, np.ndarray] = field(default_factory=dict)
    targets: np.ndarray | None = None  # the loss's class indices

    dtype_size: int = 8  # bytes per element of the check's dtype (4 for float32)

    def matches(self, candidate: Any) -> bool:
        c = np.asarray(candidate, dtype=np.float64)
        g = np.asarray(self.got, dtype=np.float64)
        if c.shape != g.shape or not np.all(np.isfinite(c)):
            return False
        return bool(np.allclose(g, c, atol=self.atol, rtol=self.rtol))

    @property
    def batch(self) -> int | None:
        return int(self.x.shape[0]) if self.x is not None and self.x.ndim >= 1 else None


def _pair(v: Any) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ---- the hypotheses ----

def wrong_shape(ev: Evidence) -> Diagnosis | None:
    """A wrong output size: the classic off-by-one in (H + 2p - k) // s + 1, a transposed weight gradient, or a
    missing reshape."""
    if ev.got.shape == ev.expected.shape:
        return None
    got, want = ev.got.shape, ev.expected.shape
    if ev.expected.ndim == 2 and got == want[::-1] and ev.matches(ev.expected.T):
        return Diagnosis("transpose", f"{ev.tensor} is transposed: torch's layout is {want}; for a Linear, "
                                      f"dW = dy.T @ x (out, in), not x.T @ dy")
    if len(got) == len(want) == 4 and got[:2] == want[:2] and ev.tensor == "output":
        off = (got[2] - want[2], got[3] - want[3])
        if set(off) <= {-1, 0, 1} and off != (0, 0):
            return Diagnosis("shape", f"the output is {got[2]}x{got[3]}, torch's {want[2]}x{want[3]}: off by one in "
                                      f"the output-size formula, which is (H + 2*padding - kernel) // stride + 1")
    if ev.tensor == "grad_input" and len(got) == len(want) == 4 and got[:2] == want[:2] and ev.kwargs.get("padding"):
        return Diagnosis("shape", f"grad_input is {got[2]}x{got[3]}, the input was {want[2]}x{want[3]}: the padding "
                                  f"was not cut off dx again")
    if ev.got.size == ev.expected.size:
        return Diagnosis("shape", f"shape {got} instead of {want}, the same number of values: a reshape or transpose "
                                  f"is missing or wrong")
    return Diagnosis("shape", f"shape {got} instead of {want}")


def overflow(ev: Evidence) -> Diagnosis | None:
    """NaN or Inf where torch is finite: exp() of large logits without subtracting the max, or a division by 0."""
    finite = np.isfinite(ev.expected)
    if np.all(np.isfinite(ev.got[finite])):
        return None
    if ev.cls in ("LogSoftmax", "Softmax", "NLLLoss", "CrossEntropyLoss"):
        return Diagnosis("overflow", "exp() overflowed: subtract each row's maximum before exp (log-sum-exp trick)")
    return Diagnosis("overflow", "NaN or Inf where torch's values are finite: an overflow or a division by zero")


def sign(ev: Evidence) -> Diagnosis | None:
    """The right magnitude with the wrong sign: a gradient ascended instead of descended, a minus dropped."""
    if ev.matches(-ev.expected):
        return Diagnosis("sign", f"{ev.tensor} has the wrong sign (got = -expected)")
    return None


def _named_factor(c: float, ev: Evidence) -> tuple[str, str] | None:
    """c as a fraction a reader recognises, with what it usually means."""
    n = ev.batch
    candidates: list[tuple[float, str, str]] = []
    if n and n > 1:
        candidates += [(1 / n, f"1/N (N={n})", "averaged over the batch instead of summing"),
                       (float(n), f"N (N={n})", "summed over the batch instead of averaging")]
    if ev.dy is not None and ev.dy.ndim == 4:  # a conv's gradient sums over the batch and every output position
        m = ev.dy.shape[0] * ev.dy.shape[2] * ev.dy.shape[3]
        candidates.append((1 / m, f"1/(N*H*W) = 1/{m}", "averaged over the batch and the output positions instead "
                                                        "of summing"))
    p = ev.kwargs.get("p")
    if isinstance(p, (int, float)) and 0 < p < 1:
        candidates += [(1 - p, f"1-p (p={p:g})", "the kept values were not rescaled by 1/(1-p)"),
                       (1 / (1 - p), f"1/(1-p) (p={p:g})", "rescaled by 1/(1-p) twice")]
    for value, name, meaning in candidates:
        if abs(c - value) <= 1e-6 * max(1.0, abs(value)):
            return name, meaning
    frac = Fraction(c).limit_denominator(16)
    if abs(float(frac) - c) <= 1e-6 * max(1.0, abs(c)):
        return str(frac), ""
    return None


def scale(ev: Evidence) -> Diagnosis | None:
    """got = c x expected: a mean where torch sums (1/N) or the reverse (N), a missing 1/(1-p), a factor 2."""
    e = ev.expected.astype(np.float64).ravel()
    denominator = float(e @ e)
    if denominator == 0:
        return None
    c = float(ev.got.astype(np.float64).ravel() @ e / denominator)
    if abs(c - 1) < 1e-9 or abs(c + 1) < 1e-9 or not ev.matches(c * ev.expected):
        return None
    named = _named_factor(c, ev)
    if named is None and ev.expected.size == 1:  # any single number is some multiple of another
        return None
    if named is None:
        return Diagnosis("scale", f"{ev.tensor} is the expected one times {c:.6g}")
    factor, meaning = named
    return Diagnosis("scale", f"{ev.tensor} is the expected one times {factor}" + (f": {meaning}" if meaning else ""))


def offset(ev: Evidence) -> Diagnosis | None:
    """A constant per channel or feature: the bias missing, added twice, or added where it should not be."""
    if ev.got.ndim < 2 or ev.tensor not in ("output", "loss"):
        return None
    axis = 1
    d = ev.got.astype(np.float64) - ev.expected.astype(np.float64)
    other = tuple(i for i in range(d.ndim) if i != axis)
    per = d.mean(axis=other, keepdims=True)
    if not ev.matches(ev.expected + per) or np.allclose(per, 0, atol=ev.atol):
        return None
    bias = ev.params.get("bias")
    if bias is not None and np.allclose(per.ravel(), -np.asarray(bias).ravel(), atol=10 * ev.atol, rtol=1e-3):
        return Diagnosis("offset", "the output lacks the bias: add params['bias'] (one value per output channel)")
    if bias is not None and np.allclose(per.ravel(), np.asarray(bias).ravel(), atol=10 * ev.atol, rtol=1e-3):
        return Diagnosis("offset", "the bias is added twice")
    return Diagnosis("offset", f"{ev.tensor} is off by a constant per channel: a bias problem")


def _conv(ev: Evidence, weight: np.ndarray | None = None, x: np.ndarray | None = None, **kwargs: Any):
    """Our NumPy Conv2d with the evidence's params (or another weight), run forward on x (and backward on dy)."""
    from lenet_parity.custom_layers.numpy import Conv2d

    layer = Conv2d(**{**ev.kwargs, **kwargs})
    layer.params = {k: np.asarray(v, dtype=np.float64) for k, v in ev.params.items()}
    if weight is not None:
        layer.params["weight"] = weight
    y = layer.forward(np.asarray(ev.x if x is None else x, dtype=np.float64))
    dx = layer.backward(np.asarray(ev.dy, dtype=np.float64)) if ev.dy is not None and x is None else None
    return y, dx


def flipped_kernel(ev: Evidence) -> Diagnosis | None:
    """A true convolution (kernel flipped) where torch's Conv2d computes a cross-correlation; in backward, dx
    computed with the kernel unflipped (or flipped twice), or dW returned flipped."""
    if ev.cls != "Conv2d" or ev.x is None or "weight" not in ev.params:
        return None
    flipped = np.asarray(ev.params["weight"], dtype=np.float64)[:, :, ::-1, ::-1].copy()
    if ev.tensor == "grad_weight" and ev.matches(ev.expected[:, :, ::-1, ::-1]):
        return Diagnosis("flipped-kernel", "grad_weight is flipped in both spatial axes: dW[o, c, ky, kx] sums "
                                           "dy[o, y, x] * x[c, y+ky, x+kx], with no flip")
    if ev.tensor not in ("output", "grad_input"):
        return None
    y, dx = _conv(ev, weight=flipped)
    if ev.tensor == "output" and ev.matches(y):
        return Diagnosis("flipped-kernel", "the kernel is flipped (a true convolution): torch's Conv2d slides the "
                                           "weight as it is (cross-correlation), w[o, c, ky, kx] * x[.., y+ky, x+kx]")
    if ev.tensor == "grad_input" and dx is not None and ev.matches(dx):
        return Diagnosis("flipped-kernel", "dx is computed with the kernel the wrong way round: the full "
                                           "correlation of dy needs the kernel flipped (w[:, :, ::-1, ::-1]), once")
    return None


def stride_ignored_in_backward(ev: Evidence) -> Diagnosis | None:
    """Conv backward scattering output (r, c)'s window back at (r, c), not (r*stride, c*stride): a loop tested
    with stride 1 only."""
    s = _pair(ev.kwargs.get("stride", 1))
    if ev.cls != "Conv2d" or ev.tensor != "grad_input" or ev.dy is None or s == (1, 1) or "weight" not in ev.params:
        return None
    w = np.asarray(ev.params["weight"], dtype=np.float64)
    ph, pw = _pair(ev.kwargs.get("padding", 0))
    n, c, h, wd = ev.expected.shape
    ho, wo = ev.dy.shape[2:]
    dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            block = np.einsum("nohw,oc->nchw", ev.dy, w[:, :, i, j])
            dxp[:, :, i:i + ho, j:j + wo] += block[:, :, :max(0, dxp.shape[2] - i), :max(0, dxp.shape[3] - j)]
    if ev.matches(dxp[:, :, ph:ph + h, pw:pw + wd]):
        return Diagnosis("stride", "backward puts output (r, c)'s window back at (r, c); with a stride it belongs at "
                                   "(r*stride, c*stride): the loop was only ever run with stride 1")
    return None


def one_sided_padding(ev: Evidence) -> Diagnosis | None:
    """Padding 2p added on one side and none on the other, where torch pads p on every side (a conv, or the conv
    inside a residual block, y = x + conv(x))."""
    if ev.cls not in ("Conv2d", "Residual") or ev.tensor != "output" or ev.x is None or "weight" not in ev.params:
        return None
    residual = ev.cls == "Residual"
    kwargs = ev.kwargs
    if residual:
        k = kwargs.get("kernel_size", 3)
        kwargs = dict(in_channels=kwargs["channels"], out_channels=kwargs["channels"], kernel_size=k, padding=k // 2)
    ph, pw = _pair(kwargs.get("padding", 0))
    if not (ph or pw):
        return None
    x = np.asarray(ev.x, dtype=np.float64)
    for before, after, where in (((2 * ph, 2 * pw), (0, 0), "top and left"), ((0, 0), (2 * ph, 2 * pw), "bottom and right")):
        padded = np.pad(x, ((0, 0), (0, 0), (before[0], after[0]), (before[1], after[1])))
        y, _ = _conv(Evidence(ev.tensor, ev.got, ev.expected, ev.atol, ev.rtol, "Conv2d", kwargs, padded,
                              params=ev.params), x=padded, padding=0)
        if ev.matches(x + y if residual else y):
            return Diagnosis("border", f"the padding went all to the {where} (2*padding on one side, none on the "
                                       f"other); torch pads `padding` zeros on every side")
    return None


def nll_block_index(ev: Evidence) -> Diagnosis | None:
    """NLL indexed with logp[:, target] (an N x N block) instead of logp[range(N), target]."""
    if ev.cls not in ("NLLLoss", "CrossEntropyLoss") or ev.tensor != "loss" or ev.x is None or ev.targets is None:
        return None
    if ev.matches(-np.asarray(ev.x, dtype=np.float64)[:, np.asarray(ev.targets)].mean()):
        return Diagnosis("wrong-index", "logp[:, target] picks an N x N block; the loss needs one value per row: "
                                        "logp[np.arange(N), target]")
    return None


def softmax_wrong_axis(ev: Evidence) -> Diagnosis | None:
    """Log-softmax's backward summing dy over the wrong axis (the batch instead of the classes)."""
    if ev.cls != "LogSoftmax" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None or ev.x.ndim != 2:
        return None
    x = np.asarray(ev.x, dtype=np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if ev.matches(ev.dy - p * ev.dy.sum(axis=0, keepdims=True)):
        return Diagnosis("wrong-axis", "dx = dy - softmax * sum(dy) sums dy over the batch (axis 0); it must sum "
                                       "over the classes of each row (axis 1, keepdims=True)")
    if ev.matches(ev.dy * (1 - p)):
        return Diagnosis("elementwise-grad", "dx = dy * (1 - softmax) keeps only the Jacobian's diagonal; every class "
                                             "moves every log-probability: dx = dy - softmax * dy.sum(axis=1, keepdims=True)")
    return None


def biased_running_var(ev: Evidence) -> Diagnosis | None:
    """Batchnorm storing the biased variance (divided by n) in running_var; torch stores the unbiased one (n - 1)."""
    if not ev.cls.startswith("BatchNorm") or ev.tensor != "running_var" or ev.x is None or "running_var" not in ev.params:
        return None
    x = np.asarray(ev.x, dtype=np.float64)
    axes = (0, 2, 3) if x.ndim == 4 else (0, 2) if x.ndim == 3 else (0,)
    m = ev.kwargs.get("momentum", 0.1)
    if ev.matches((1 - m) * np.asarray(ev.params["running_var"], dtype=np.float64) + m * x.var(axis=axes)):
        return Diagnosis("biased-variance", "running_var stores the biased variance (divided by n); torch normalises "
                                            "with it but stores the unbiased one, var * n / (n - 1)")
    return None


def short_window(ev: Evidence) -> Diagnosis | None:
    """A pooling window one short in each direction: range(k - 1) where range(k) was meant."""
    if ev.cls != "MaxPool2d" or ev.tensor != "output" or ev.x is None:
        return None
    k = _pair(ev.kwargs.get("kernel_size", 2))
    s = _pair(ev.kwargs.get("stride") or k)
    if min(k) < 2:
        return None
    x = np.asarray(ev.x, dtype=np.float64)
    ho, wo = (x.shape[2] - k[0]) // s[0] + 1, (x.shape[3] - k[1]) // s[1] + 1
    short = np.full((x.shape[0], x.shape[1], ho, wo), -np.inf)
    for i in range(k[0] - 1):
        for j in range(k[1] - 1):
            short = np.maximum(short, x[:, :, i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1]])
    if ev.matches(short):
        return Diagnosis("window", f"each window is one short: it reads {k[0] - 1}x{k[1] - 1} of its {k[0]}x{k[1]} "
                                   f"values (range(k - 1) where range(k) was meant)")
    return None


def permutation(ev: Evidence) -> Diagnosis | None:
    """The right values in another order: channels-last flatten, a transpose before a reshape, Fortran order."""
    if ev.got.size != ev.expected.size or ev.got.size < 2:
        return None
    g, e = np.sort(ev.got.astype(np.float64).ravel()), np.sort(ev.expected.astype(np.float64).ravel())
    if not np.allclose(g, e, atol=ev.atol, rtol=ev.rtol):
        return None
    if ev.x is not None and ev.x.ndim == 4 and ev.tensor == "output":
        n = ev.x.shape[0]
        if ev.matches(ev.x.transpose(0, 2, 3, 1).reshape(n, -1)):
            return Diagnosis("permutation", "flattened in channels-last (N, H, W, C) order; torch flattens (N, C, H, W): "
                                            "x.reshape(N, -1)")
        if ev.matches(np.stack([xi.ravel(order="F") for xi in ev.x])):
            return Diagnosis("permutation", "flattened in column-major (Fortran) order; torch flattens row-major")
    if ev.expected.ndim == 2 and ev.matches(ev.expected.T.reshape(ev.expected.shape)):
        return Diagnosis("permutation", f"{ev.tensor} holds the transpose reshaped to {ev.expected.shape}: compute it "
                                        f"in torch's (out, in) layout (dy.T @ x) instead of reshaping (x.T @ dy)")
    return Diagnosis("permutation", f"{ev.tensor} holds the right values in another order: a transpose, reshape "
                                    f"or axis order is off")


def border(ev: Evidence) -> Diagnosis | None:
    """Errors only at the borders of the image: padding applied on one side, not at all, or cut off wrong."""
    if ev.got.ndim != 4 or ev.got.shape != ev.expected.shape or min(ev.got.shape[2:]) < 5:
        return None
    bad = ~np.isclose(ev.got, ev.expected, atol=ev.atol, rtol=ev.rtol)
    inner = bad[:, :, 2:-2, 2:-2]
    if bad.any() and not inner.any():
        shifted = [(axis, s) for axis in (2, 3) for s in (1, -1) if ev.matches(np.roll(ev.expected, s, axis=axis))]
        where = f" (shifted by {shifted[0][1]} along {'H' if shifted[0][0] == 2 else 'W'})" if shifted else ""
        return Diagnosis("border", f"{ev.tensor} is wrong only near the borders{where}: padding is applied on one "
                                   f"side, not at all, or removed at the wrong offset")
    return None


def _windows(x: np.ndarray, k: tuple[int, int], s: tuple[int, int]):
    n, c, h, w = x.shape
    for oy in range((h - k[0]) // s[0] + 1):
        for ox in range((w - k[1]) // s[1] + 1):
            yield oy, ox, x[:, :, oy * s[0]:oy * s[0] + k[0], ox * s[1]:ox * s[1] + k[1]].reshape(n, c, -1)


def tie_break(ev: Evidence) -> Diagnosis | None:
    """Max-pool's gradient sent to the LAST tied maximum, or to every one; torch sends it to the first."""
    if ev.cls != "MaxPool2d" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None:
        return None
    k = _pair(ev.kwargs.get("kernel_size", 2))
    s = _pair(ev.kwargs.get("stride") or k)
    last, every = np.zeros_like(ev.x, dtype=np.float64), np.zeros_like(ev.x, dtype=np.float64)
    for oy, ox, win in _windows(np.asarray(ev.x, dtype=np.float64), k, s):
        flat_last = win.shape[2] - 1 - np.argmax(win[:, :, ::-1], axis=2)
        tied = win == win.max(axis=2, keepdims=True)
        for (n, c), idx in np.ndenumerate(flat_last):
            ky, kx = divmod(int(idx), k[1])
            last[n, c, oy * s[0] + ky, ox * s[1] + kx] += ev.dy[n, c, oy, ox]
            for j in np.flatnonzero(tied[n, c]):
                ky, kx = divmod(int(j), k[1])
                every[n, c, oy * s[0] + ky, ox * s[1] + kx] += ev.dy[n, c, oy, ox]
    if ev.matches(last):
        return Diagnosis("tie-break", "where a window holds tied maxima the gradient went to the LAST one; torch sends "
                                      "it to the first in row-major order (compare with >, not >=)")
    if ev.matches(every):
        return Diagnosis("tie-break", "where a window holds tied maxima every one of them got the gradient; torch sends "
                                      "it to the first only (a mask x == max marks them all)")
    return None


def relu_at_zero(ev: Evidence) -> Diagnosis | None:
    """ReLU's gradient taken as 1 at exactly x == 0 (a mask x >= 0); torch's is 0 there."""
    if ev.cls != "ReLU" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None:
        return None
    if ev.matches(ev.dy * (ev.x >= 0)):
        return Diagnosis("relu-at-zero", "the gradient passes where x == 0 exactly (a mask x >= 0); torch's ReLU passes "
                                         "none there: use x > 0")
    return None


def precision(ev: Evidence) -> Diagnosis | None:
    """Values that are numbers of a lower precision, as close as that precision allows: a step through float16."""
    g = ev.got.astype(np.float64)
    for lower, name in ((np.float16, "float16"), (np.float32, "float32")):
        if not np.array_equal(g.astype(lower).astype(np.float64), g):
            continue  # not all numbers of that precision
        if np.dtype(lower).itemsize >= ev.dtype_size:
            continue
        err = np.abs(g - ev.expected)
        if err.max() <= 2 * np.finfo(lower).eps * max(np.abs(ev.expected).max(), np.finfo(lower).tiny):
            return Diagnosis("precision", f"{ev.tensor} is right only to {name} precision: a step computes in {name}")
    return None


HYPOTHESES: list[Callable[[Evidence], Diagnosis | None]] = [
    wrong_shape, overflow, sign, scale, offset, flipped_kernel, one_sided_padding, softmax_wrong_axis, nll_block_index,
    biased_running_var, short_window, stride_ignored_in_backward, tie_break,
    relu_at_zero, permutation, border, precision,
]


def diagnose_values(tensor: str, got: Any, expected: Any, atol: float, rtol: float) -> Diagnosis:
    """A diagnosis from the two tensors alone (the hybrid and train modes do not keep a layer's inputs)."""
    to_array = lambda v: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float64)  # noqa: E731
    return diagnose(Evidence(tensor, to_array(got), to_array(expected), atol, rtol))


def diagnose(ev: Evidence) -> Diagnosis:
    """The first hypothesis whose candidate the layer's values match, else unknown."""
    with np.errstate(all="ignore"):
        for hypothesis in HYPOTHESES:
            found = hypothesis(ev)
            if found is not None:
                return found
    return UNKNOWN


# ---- rows without numbers: what the failure itself says ----

_FINDINGS = {
    "dtype": ("dtype", None), "input_unchanged": ("in-place", None), "dy_unchanged": ("in-place", None),
    "latest_input": ("stale-cache", None), "grads_overwritten": ("accumulated", None),
    "deterministic": ("nondeterministic", None),
}


def from_failure(tensor: str, *, finding: str | None, error: str | None, reason: str | None,
                 dtypes: tuple[str, str] = ("", "")) -> Diagnosis | None:
    """The diagnosis of a row that failed without values to test hypotheses on (None: test them)."""
    if finding is not None:
        code = _FINDINGS.get(tensor, ("unknown", None))[0]
        return Diagnosis(code, finding)
    if error is not None:
        if error.startswith("not run"):
            return Diagnosis("not-run", error)
        if error.startswith("unsupported"):
            return Diagnosis("unsupported", error)
        return Diagnosis("crash", error)
    if reason == "dtype":
        return Diagnosis("dtype", f"dtype {dtypes[0]} where torch's is {dtypes[1]}: keep the input's dtype")
    return None
