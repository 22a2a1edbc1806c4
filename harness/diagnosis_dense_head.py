"""Hypotheses for the layers after the convolutions: ReLU, batchnorm's running stats, (log-)softmax and the loss.

Registered in diagnosis.py's HYPOTHESES. Their broken twins, for the bug zoo, live in mutants/dense_head.py.
"""

from __future__ import annotations

import numpy as np

from lenet_parity.custom_layers.numpy.softmax import log_softmax
from lenet_parity.harness.diagnosis_evidence import Diagnosis, Evidence

# the epsilons people put inside a log, the most common first (the best-fitting one is named)
EPSILONS = (1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, 1e-6, 1e-5)


def _two_d(ev: Evidence, cls: tuple[str, ...], tensor: str, *, needs_dy: bool = False) -> np.ndarray | None:
    """The evidence's x as float64 when it is a 2-D input of one of ``cls`` and the failing tensor is ``tensor``."""
    if ev.cls not in cls or ev.tensor != tensor or ev.x is None or ev.x.ndim != 2 or (needs_dy and ev.dy is None):
        return None
    return np.asarray(ev.x, dtype=np.float64)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return np.exp(log_softmax(x, axis))


def softmax_wrong_axis(ev: Evidence) -> Diagnosis | None:
    """(Log-)softmax along the wrong axis (the batch instead of the classes): the forward's max and sum over
    axis 0, or log-softmax's backward summing dy over axis 0."""
    x = _two_d(ev, ("LogSoftmax", "Softmax"), "output")
    if x is not None:
        along0 = log_softmax(x, 0) if ev.cls == "LogSoftmax" else _softmax(x, 0)
        if ev.matches(along0) and not ev.matches(ev.expected):
            return Diagnosis("wrong-axis", f"{ev.cls.lower()} is taken over the batch (axis 0): each column sums to 1; "
                                           f"the max and the sum run over the classes of each row (axis=1, "
                                           f"keepdims=True)")
    x = _two_d(ev, ("LogSoftmax",), "grad_input", needs_dy=True)
    if x is not None and ev.matches(ev.dy - _softmax(x, 1) * ev.dy.sum(axis=0, keepdims=True)):
        return Diagnosis("wrong-axis", "dx = dy - softmax * sum(dy) sums dy over the batch (axis 0); it must sum "
                                       "over the classes of each row (axis 1, keepdims=True)")
    return None


def elementwise_grad(ev: Evidence) -> Diagnosis | None:
    """(Log-)softmax's backward as if it were elementwise, the Jacobian's diagonal only: log-softmax's
    dy * (1 - s), softmax's dy * s * (1 - s), with s = softmax(x)."""
    x = _two_d(ev, ("LogSoftmax", "Softmax"), "grad_input", needs_dy=True)
    if x is None:
        return None
    s = _softmax(x, 1)
    if ev.cls == "LogSoftmax" and ev.matches(ev.dy * (1 - s)):
        return Diagnosis("elementwise-grad", "dx = dy * (1 - softmax) keeps only the Jacobian's diagonal; every class "
                                             "moves every log-probability: dx = dy - softmax * dy.sum(axis=1, "
                                             "keepdims=True)")
    candidate = ev.dy * s * (1 - s)
    if ev.cls == "Softmax" and ev.matches(candidate) and not ev.matches(ev.expected):  # one-hot rows: both ~0
        return Diagnosis("elementwise-grad", "dx = dy * s * (1 - s) keeps only the Jacobian's diagonal, as if softmax "
                                             "were elementwise; every class moves every probability (-s_i * s_j): "
                                             "dx = s * (dy - (dy * s).sum(axis=1, keepdims=True))")
    return None


def xent_grad_no_onehot(ev: Evidence) -> Diagnosis | None:
    """Cross-entropy's gradient softmax(x) / N without the one-hot: the -1 at each row's true class is missing."""
    x = _two_d(ev, ("CrossEntropyLoss",), "grad_input")
    if x is None or ev.targets is None:
        return None
    n = x.shape[0] if ev.kwargs.get("reduction", "mean") == "mean" else 1
    if ev.matches(_softmax(x, 1) / n):
        return Diagnosis("missing-onehot", "the gradient is softmax(x) / N: the -1 at each row's true class is "
                                           "missing; dx = (softmax(x) - onehot(target)) / N")
    return None


def softmax_jacobian(ev: Evidence) -> Diagnosis | None:
    """Softmax's backward used for log-softmax: dx = s * (dy - sum(dy * s)) with s = softmax(x) (or with the
    log-softmax output y in place of s)."""
    x = _two_d(ev, ("LogSoftmax",), "grad_input", needs_dy=True)
    if x is None:
        return None
    y = log_softmax(x, 1)
    for v, sym, what in ((np.exp(y), "s", "softmax(x)"), (y, "y", "log_softmax(x) (the layer's output)")):
        if ev.matches(v * (ev.dy - (ev.dy * v).sum(axis=1, keepdims=True))):
            return Diagnosis("softmax-jacobian", f"dx = {sym} * (dy - sum(dy * {sym})) with {sym} = {what} is "
                                                 f"softmax's backward, not log-softmax's: dx = dy - softmax(x) * "
                                                 f"dy.sum(axis=1, keepdims=True)")
    return None


def log_eps(ev: Evidence) -> Diagnosis | None:
    """An epsilon inside the log: log-softmax computed as log(softmax(x) + eps), the loss as -log(p + eps); right
    except where p is tiny."""
    x = _two_d(ev, ("LogSoftmax",), "output")
    if x is not None:
        p, where = np.exp(log_softmax(x, 1)), "log(softmax(x) + eps)"
        exact = "log_softmax is x - max - log(sum(exp(x - max)))"
        candidate = lambda eps: np.log(p + eps)  # noqa: E731
    else:
        x = _two_d(ev, ("NLLLoss", "CrossEntropyLoss"), "loss")
        if x is None or ev.targets is None or ev.kwargs.get("reduction", "mean") != "mean":
            return None
        logp = x if ev.cls == "NLLLoss" else log_softmax(x, 1)  # NLLLoss reads log-probabilities
        picked, where = np.exp(logp[np.arange(len(x)), np.asarray(ev.targets)]), "-log(p + eps)"
        exact = "the loss is -mean(logp[range(N), target]), with the log-probabilities as they are"
        candidate = lambda eps: -np.log(picked + eps).mean()  # noqa: E731
    fits = [eps for eps in EPSILONS if ev.matches(candidate(eps))]
    if not fits or ev.matches(ev.expected):  # an eps too small to show is no evidence
        return None
    eps = min(fits, key=lambda e: float(np.max(np.abs(candidate(e) - ev.got))))
    return Diagnosis("log-eps", f"{ev.tensor} is {where.replace('eps', f'{eps:g}')}: an epsilon inside the log moves "
                                f"each value by about eps/p, most where p is tiny; torch needs none: {exact}")


def nll_block_index(ev: Evidence) -> Diagnosis | None:
    """NLL indexed with logp[:, target] (an N x N block) instead of logp[range(N), target]: in the loss (its mean,
    or its sum over N) or in the gradient (every row gets -1/N in every target's column)."""
    if ev.cls not in ("NLLLoss", "CrossEntropyLoss") or ev.x is None or ev.targets is None:
        return None
    x, targets = np.asarray(ev.x, dtype=np.float64), np.asarray(ev.targets)
    n = x.shape[0]
    if ev.tensor == "loss":
        block = -x[:, targets]
        if ev.matches(block.mean()) or ev.matches(block.sum() / n):
            return Diagnosis("wrong-index", "logp[:, target] picks an N x N block; the loss needs one value per row: "
                                            "logp[np.arange(N), target]")
    elif ev.tensor == "grad_input":
        candidate = np.zeros_like(x)
        candidate[:, targets] = -1.0 / n
        if ev.matches(candidate):
            return Diagnosis("wrong-index", "dlogp[:, target] = -1/N sets every row's entries of every target's "
                                            "column; only (i, target[i]) gets -1/N: dlogp[np.arange(N), target]")
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


def relu_mask_from_dy(ev: Evidence) -> Diagnosis | None:
    """ReLU's backward masking with the gradient (dy > 0) instead of the forward input (x > 0): ReLU of dy."""
    if ev.cls != "ReLU" or ev.tensor != "grad_input" or ev.dy is None:
        return None
    if ev.matches(np.maximum(ev.dy, 0)):
        return Diagnosis("relu-mask", "backward keeps dy where dy > 0 (ReLU applied to the gradient); the mask comes "
                                      "from the forward input: dx = dy * (x > 0)")
    return None


def relu_unmasked(ev: Evidence) -> Diagnosis | None:
    """ReLU's backward returning dy as it is: no mask, or one that is always true (``out >= 0`` on the output)."""
    if ev.cls != "ReLU" or ev.tensor != "grad_input" or ev.dy is None:
        return None
    if ev.matches(np.asarray(ev.dy)):
        return Diagnosis("relu-mask", "backward returns dy unmasked: the mask was never applied, or is always true "
                                      "(e.g. out >= 0 on the output, where every value is >= 0); dx = dy * (x > 0)")
    return None


def relu_at_zero(ev: Evidence) -> Diagnosis | None:
    """ReLU's gradient taken as 1 at exactly x == 0 (a mask x >= 0); torch's is 0 there."""
    if ev.cls != "ReLU" or ev.tensor != "grad_input" or ev.x is None or ev.dy is None:
        return None
    if ev.matches(ev.dy * (ev.x >= 0)):
        return Diagnosis("relu-at-zero", "the gradient passes where x == 0 exactly (a mask x >= 0); torch's ReLU passes "
                                         "none there: use x > 0")
    return None
