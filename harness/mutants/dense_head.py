"""Broken twins of the other layers (torch.nn.Linear, ReLU, BatchNorm2d, Dropout, LogSoftmax, NLLLoss), one classic bug each.

Each class subclasses the correct NumPy layer and overrides as little as it can, so the bug is the only
difference; the docstring says what is wrong and where such code is found.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import require_cache
from lenet_parity.custom_layers.numpy.activations import ReLU
from lenet_parity.custom_layers.numpy.batchnorm import BatchNorm2d
from lenet_parity.custom_layers.numpy.dropout import Dropout
from lenet_parity.custom_layers.numpy.linear import Linear
from lenet_parity.custom_layers.numpy.losses import NLLLoss
from lenet_parity.custom_layers.numpy.softmax import LogSoftmax


class LinearBiasGradMean(Linear):
    """db = mean(dy) over the batch instead of the sum: the loss's 1/N applied a second time (the
    upstream gradient already carries it). Right for a batch of one only."""

    def backward(self, dy: Any) -> np.ndarray:
        dx = super().backward(dy)
        if self.has_bias:
            self.grads["bias"] = np.asarray(dy, dx.dtype).reshape(-1, self.out_features).mean(axis=0)
        return dx


class LinearWeightGradReshaped(Linear):
    """dw = (x^T dy).reshape(out, in) where it needs .T: x^T dy is (in, out), and a reshape gives the right
    shape with the numbers in the wrong places (a random dy shows it; all ones would hide much of it)."""

    def backward(self, dy: Any) -> np.ndarray:
        dx = super().backward(dy)
        x2 = self._cache[0]  # (M, in)
        dy2 = np.asarray(dy, x2.dtype).reshape(-1, self.out_features)  # (M, out)
        self.grads["weight"] = (x2.T @ dy2).reshape(self.out_features, self.in_features)  # the bug: not .T
        return dx


class ReLUGradOneAtZero(ReLU):
    """The gradient mask is x >= 0: at exactly 0 it passes dy, where torch (threshold_backward) passes 0.
    Real inputs are rarely exactly 0, so only adversarial zeros show it."""

    def forward(self, x: Any) -> np.ndarray:
        y = super().forward(x)
        self._cache = (np.asarray(x) >= 0, self._cache[1])  # the bug: >= for >
        return y


class BatchNormRunningVarBiased(BatchNorm2d):
    """running_var is updated with the batch's biased variance (divided by n); torch normalises with that one
    but stores the unbiased one (n - 1). The output is right, the evaluation-mode statistics drift."""

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        old = np.asarray(self.params["running_var"], dtype=x.dtype)
        y = super().forward(x)
        if self.training:
            m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            self.params["running_var"] = (1 - m) * old + m * x.var(axis=(0, *range(2, x.ndim)))  # the bug: biased
        return y


class DropoutNotRescaled(Dropout):
    """Keeps or drops but forgets the 1/(1-p) of inverted dropout: the training-mode activations are (1-p)
    times too small, and evaluation, which does not scale, no longer matches training."""

    def _draw(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        return (self.rng.random(shape) >= self.p).astype(dtype)  # the bug: not divided by 1 - p

    def forward(self, x: Any) -> np.ndarray:
        if self.mask is not None:
            self.mask = np.asarray(self.mask) != 0  # the given mask read as keep/drop only: the same bug
        return super().forward(x)


class LogSoftmaxNoMaxShift(LogSoftmax):
    """log_softmax(x) = x - log(sum(exp(x))) without subtracting the maximum first: exp overflows to inf
    for logits above ~88 (float32) or ~709 (float64). Fine on ordinary logits."""

    def forward(self, x: Any) -> np.ndarray:
        x = self._input(x)
        y = x - np.log(np.exp(x).sum(axis=self.dim, keepdims=True))  # the bug: no x - max(x)
        self._cache = y
        return y


class LogSoftmaxGradElementwise(LogSoftmax):
    """The backward treats log-softmax as elementwise, dx_i = dy_i * (1 - softmax_i): only the diagonal of the
    Jacobian, missing the coupling -softmax_i * sum_{j != i} dy_j."""

    def backward(self, dy: Any) -> np.ndarray:
        y = require_cache(self)
        return np.asarray(dy, y.dtype) * (1 - np.exp(y))  # the bug: dy - softmax * sum(dy)


class NLLLossSummed(NLLLoss):
    """The loss summed over the batch instead of averaged (and its gradient -1 instead of -1/N): the
    effective learning rate grows with the batch size."""

    def forward(self, logp: Any, target: Any) -> float:
        super().forward(logp, target)  # checks the input and keeps the backward's cache
        logp, target = self._check(logp, target)
        return float(-logp[np.arange(len(target)), target].sum())  # the bug: no division by N

    def _scale(self, n: int) -> float:
        return 1.0  # the gradient forgets the 1/N too
