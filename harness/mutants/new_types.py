"""Broken twins of the 1998 LeNet-5's and the variants' head layers (torch.nn.Tanh, Sigmoid, Softmax, AvgPool2d,
CrossEntropyLoss), one classic bug each.

Each class subclasses the correct NumPy layer and overrides as little as it can, so the bug is the only
difference; the docstring says what is wrong and where such code is found.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, require_cache, upstream
from lenet_parity.custom_layers.numpy.activations import Sigmoid, Tanh
from lenet_parity.custom_layers.numpy.losses import CrossEntropyLoss
from lenet_parity.custom_layers.numpy.pool import AvgPool2d
from lenet_parity.custom_layers.numpy.softmax import Softmax


class TanhGradFromInput(Tanh):
    """dx = dy * (1 - x^2) with x the forward's INPUT: the derivative 1 - tanh(x)^2 written as 1 - x^2.
    Close to right only where |x| << 1 (the error is about (2/3) x^4); at x = 40 it gives -1599 * dy."""

    def forward(self, x: Any) -> np.ndarray:
        self._x = np.array(as_float(x, "Tanh.forward"))  # the bug needs the input kept; a copy, as the caller owns x
        return super().forward(x)

    def backward(self, dy: Any) -> np.ndarray:
        y = require_cache(self)
        return upstream(dy, y.shape, y.dtype, "Tanh") * (1 - self._x * self._x)  # the bug: x for y


class SigmoidNoOneMinus(Sigmoid):
    """dx = dy * s: the derivative s * (1 - s) without its (1 - s) factor. Worst where s -> 1 (large x),
    where it passes dy instead of 0."""

    @staticmethod
    def _slope(y: np.ndarray) -> np.ndarray:
        return y  # the bug: y * (1 - y)


class SoftmaxGradElementwise(Softmax):
    """dx = dy * s * (1 - s): softmax's backward as if it were elementwise, the Jacobian's diagonal only, missing
    the coupling -s_i * s_j of every other class; right only where the output is one-hot."""

    def backward(self, dy: Any) -> np.ndarray:
        y = require_cache(self)
        return upstream(dy, y.shape, y.dtype, "Softmax") * y * (1 - y)  # the bug: y * (dy - sum(dy * y))


class AvgPoolGradNotDivided(AvgPool2d):
    """The backward copies each window's dy to every element of the window without dividing by kh * kw (the
    forward divides): the gradient is kh * kw times too large, 4 times for LeNet-5's 2x2 windows."""

    def backward(self, dy: Any) -> np.ndarray:
        g, dtype = require_cache(self)
        dy = upstream(dy, (g.n, g.c, g.ho, g.wo), dtype, "AvgPool2d")
        dx = np.zeros((g.n, g.c, g.h, g.w), dtype=dtype)
        for _, rows, cols in self._offsets(g):
            dx[:, :, rows, cols] += dy  # the bug: dy / (kh * kw)
        return dx


class CrossEntropyLossSummed(CrossEntropyLoss):
    """The loss summed over the batch instead of averaged (and its gradient softmax - onehot without the 1/N):
    N times too large, the effective learning rate grows with the batch size. Right for a batch of one."""

    def forward(self, x: Any, target: Any) -> float:
        super().forward(x, target)  # checks the input and keeps the backward's cache
        logp, target = self._cache
        return float(-logp[np.arange(len(target)), target].sum())  # the bug: no division by N

    def _scale(self, n: int) -> float:
        return 1.0  # the gradient forgets the 1/N too


class CrossEntropyLossNoMaxShift(CrossEntropyLoss):
    """softmax(x) = exp(x) / sum(exp(x)) inside the loss without subtracting each row's maximum first: exp
    overflows to inf for logits above ~88 (float32) or ~709 (float64), and inf / inf is NaN in the loss and
    its gradient. Fine on ordinary logits."""

    def forward(self, x: Any, target: Any) -> float:
        x, target = self._check(x, target)
        e = np.exp(x)  # the bug: np.exp(x - x.max(axis=1, keepdims=True))
        logp = np.log(e / e.sum(axis=1, keepdims=True))  # (N, C)
        self._cache = (logp, target)
        return float(-logp[np.arange(len(target)), target].mean() if self.reduction == "mean"
                     else -logp[np.arange(len(target)), target].sum())
