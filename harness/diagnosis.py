"""Diagnoses by hypothesis: for a failing tensor, compute what each classic bug would have produced and name the
one the layer's values match (within the tolerance). None matches: ``unknown``. No pattern-matching of names.

Each hypothesis is a small function ``(Evidence) -> Diagnosis | None`` whose docstring names the classic bug;
``HYPOTHESES`` lists them in the order they are tried (the most specific first). The generic ones on values live
here; those on shapes in diagnosis_shapes.py, those of the window layers (conv, pool) in diagnosis_windows.py, those
of the dense head (log-softmax, the loss, ...) in diagnosis_dense_head.py, those of tanh's and sigmoid's backward
in diagnosis_activations.py.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

import numpy as np

from lenet_parity.harness import (diagnosis_activations as activations, diagnosis_dense_head as head,
                                  diagnosis_im2col as im2col, diagnosis_shapes as shapes, diagnosis_windows as windows)
from lenet_parity.harness.diagnosis_evidence import UNKNOWN, Diagnosis, Evidence  # noqa: F401 - re-exported


# ---- the hypotheses ----

_OVERFLOWS = {  # a class's classic overflow: what exp() was given, and the stable way
    "LogSoftmax": "exp() overflowed: subtract each row's maximum before exp (log-sum-exp trick): "
                  "z = x - x.max(axis=1, keepdims=True); z - log(sum(exp(z)))",
    "Softmax": "exp() overflowed (inf / inf = NaN on huge logits): subtract each row's maximum before exp: "
               "e = exp(x - x.max(axis=1, keepdims=True)); e / e.sum(axis=1, keepdims=True)",
    "NLLLoss": "exp() or log() overflowed: subtract each row's maximum before exp (log-sum-exp trick)",
    "CrossEntropyLoss": "the softmax inside the loss overflowed (exp of huge logits, inf / inf = NaN): subtract each "
                        "row's maximum before exp, or use log_softmax: z = x - x.max(axis=1, keepdims=True)",
    "Tanh": "exp() overflowed: tanh as (exp(x) - exp(-x)) / (exp(x) + exp(-x)) is inf / inf = NaN once |x| > ~88 "
            "(float32) or ~709 (float64); np.tanh(x) saturates to +-1",
    "Sigmoid": "exp() overflowed: exp(x) / (1 + exp(x)) is inf / inf = NaN for large x (1 / (1 + exp(-x)) for large "
               "-x); call exp only on -|x|: e = exp(-|x|), 1 / (1 + e) where x >= 0, e / (1 + e) below",
}


_LOG_SOFTMAX = "take the log-softmax directly: z = x - x.max(axis=1, keepdims=True); logp = z - log(exp(z).sum(axis=1, keepdims=True))"


def log_of_zero(ev: Evidence) -> Diagnosis | None:
    """An infinite (never NaN) log-probability or loss where torch is finite: a max-shifted softmax whose small
    probabilities underflow to 0 before the log (CS231n's ``-np.log(P[range(N), y])``), log(0) = -inf. A row of
    log-softmax with a finite entry was shifted (without the shift, log(sum(exp)) overflows the whole row); an
    infinite loss from logits whose exp() overflows could be either bug, and the hint says both."""
    if ev.cls not in ("LogSoftmax", "CrossEntropyLoss") or ev.tensor not in ("output", "loss"):
        return None
    got, finite = np.asarray(ev.got, dtype=np.float64), np.isfinite(ev.expected)
    if np.isnan(got).any() or np.all(np.isfinite(got[finite])):
        return None
    underflow = ("log(softmax(x)) is log(0) = -inf where a probability underflows (a logit ~745 below the row's "
                 "maximum in float64, ~104 in float32): the max shift alone is not enough; " + _LOG_SOFTMAX)
    if ev.cls == "LogSoftmax":
        rows = got.reshape(got.shape[0], -1) if got.ndim > 1 else got[None]
        return Diagnosis("log-of-zero", underflow) if np.isfinite(rows).any(axis=1).all() else None
    x = None if ev.x is None else np.asarray(ev.x, dtype=np.float64)
    exp_overflows = x is None or x.max() > np.log(np.finfo(np.float32 if ev.dtype_size == 4 else np.float64).max)
    if not exp_overflows:
        return Diagnosis("log-of-zero", underflow)
    return Diagnosis("overflow", "the loss is infinite on huge logits: exp() overflowed (no max shift), or the softmax "
                                 "was shifted and log(P) took the log of a probability that underflowed to 0; "
                                 + _LOG_SOFTMAX + " avoids both")


def overflow(ev: Evidence) -> Diagnosis | None:
    """NaN or Inf where torch is finite: exp() of large logits without subtracting the max (softmax, the loss), a
    naive exp() in tanh or sigmoid, or a division by 0."""
    finite = np.isfinite(ev.expected)
    if np.all(np.isfinite(ev.got[finite])):
        return None
    if ev.cls in _OVERFLOWS:
        return Diagnosis("overflow", _OVERFLOWS[ev.cls])
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
    if ev.cls == "AvgPool2d":  # first: LeNet-5's 2x2 window is 4, and so may be the batch
        (kh, kw), _, _ = windows.geometry(ev)
        k, where = kh * kw, f"kh*kw = {kh}*{kw} = {kh * kw}"
        if ev.tensor == "grad_input":
            candidates += [(float(k), where, "the average-pool gradient is not divided by the window's kh*kw: each "
                                             "element of a window gets dy / (kh*kw)"),
                           (1 / k, f"1/({where})", "the average-pool gradient is divided by kh*kw twice")]
        else:
            candidates += [(float(k), where, "each window's sum, not its mean: divide by the window's kh*kw"),
                           (1 / k, f"1/({where})", "each window's mean divided by kh*kw a second time")]
    if n and n > 1:
        candidates += [(1 / n, f"1/N (N={n})", "averaged over the batch instead of summing"),
                       (float(n), f"N (N={n})", "summed over the batch instead of averaging: not divided by N")]
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


_AXIS_NAMES = {1: ("entry",), 2: ("row", "column"), 3: ("batch item", "channel", "position"),
               4: ("batch item", "channel", "row", "column")}


def _trailing_zeros(a: np.ndarray, axis: int) -> int:
    """How many of the last indices along ``axis`` hold only exact zeros."""
    zero = ~np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1).any(axis=1)
    return len(zero) - 1 - int(np.flatnonzero(~zero)[-1]) if not zero.all() else len(zero)


def partial_coverage(ev: Evidence) -> Diagnosis | None:
    """A loop that stops early (range(H - 1)) or a region never written: the expected values, except exactly 0 on
    a trailing band of rows, columns, channels or batch items."""
    if ev.got.shape != ev.expected.shape or ev.got.ndim not in _AXIS_NAMES or not ev.got.any():
        return None
    candidate, bands = ev.expected.astype(np.float64), []
    for axis, name in enumerate(_AXIS_NAMES[ev.got.ndim]):
        t = _trailing_zeros(ev.got, axis)
        band = np.moveaxis(candidate, axis, 0)[candidate.shape[axis] - t:]
        if t and band.any():  # a band torch also leaves 0 says nothing
            band[...] = 0
            bands.append(f"{t} {name}{'s' if t > 1 else ''}")
    if not bands or not ev.matches(candidate):
        return None
    short = "one short (range(n - 1))" if all(b.startswith("1 ") for b in bands) else "short"
    return Diagnosis("partial", f"the last {' and '.join(bands)} of {ev.tensor} are 0 where torch's are not: a loop "
                                f"stops {short}, or that region is never written")



# Tried in order: shapes (the specific expressions first), then values, a layer's classic bugs before the
# generic patterns (a zero band, a permutation, the borders) that would also describe them less precisely.
HYPOTHESES: list[Callable[[Evidence], Diagnosis | None]] = [
    windows.hard_coded_crop, shapes.size_expression, shapes.hw_swapped_shape, shapes.wrong_shape,
    log_of_zero, overflow, head.log_eps, head.softmax_jacobian, activations.grad_from_input, activations.wrong_derivative,
    activations.chain_rule, head.elementwise_grad, head.softmax_wrong_axis, head.xent_grad_no_onehot,
    sign, scale, offset,
    windows.flipped_kernel, im2col.im2col_order, windows.stride_ignored_in_forward, windows.one_sided_padding,
    head.nll_block_index, head.biased_running_var, windows.short_window, windows.stride_ignored_in_backward,
    windows.stride_as_kernel, windows.overwritten, windows.tie_break, windows.whole_window, windows.hw_swapped_layer,
    head.relu_mask_from_dy, head.relu_unmasked, head.relu_at_zero,
    partial_coverage, permutation, border, precision,
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
