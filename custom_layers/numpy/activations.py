"""ReLU, Tanh and Sigmoid in NumPy, mirroring torch.nn.ReLU / Tanh / Sigmoid.

ReLU: y = max(x, 0); the gradient at exactly 0 is 0, as in torch. Tanh and Sigmoid compute their gradient
from their output, as torch does; Sigmoid stays finite and warning-free for any |x| (see Sigmoid._function).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, masked, require_cache, upstream


class ReLU:
    array_kind = "numpy"

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        x = as_float(x, "ReLU.forward")
        self._cache = (x > 0, x.dtype)  # strict: x == 0 passes no gradient (torch's threshold_backward)
        return np.maximum(x, 0)  # NaN propagates, like torch.relu

    def backward(self, dy: Any) -> np.ndarray:
        positive, dtype = require_cache(self)
        dy = upstream(dy, positive.shape, dtype, "ReLU")
        return masked(dy, positive)

    def __repr__(self) -> str:
        return "ReLU()"


class _FromOutput:
    """An elementwise layer whose gradient is a function of its output y, which it caches (torch's
    tanh_backward and sigmoid_backward read y, not x). Subclasses give ``_function(x)`` and ``_slope(y)``."""

    array_kind = "numpy"

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        y = self._function(as_float(x, f"{type(self).__name__}.forward"))
        self._cache = y
        return y.copy()  # the caller owns its y and may change it; backward reads ours

    def backward(self, dy: Any) -> np.ndarray:
        y = require_cache(self)
        return upstream(dy, y.shape, y.dtype, type(self).__name__) * self._slope(y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Tanh(_FromOutput):
    """torch.nn.Tanh: y = tanh(x), dx = dy * (1 - y^2)."""

    @staticmethod
    def _function(x: np.ndarray) -> np.ndarray:
        return np.tanh(x)  # saturates to +-1 for large |x|, never overflows

    @staticmethod
    def _slope(y: np.ndarray) -> np.ndarray:
        return 1 - y * y


class Sigmoid(_FromOutput):
    """torch.nn.Sigmoid: y = 1 / (1 + exp(-x)), dx = dy * y * (1 - y)."""

    @staticmethod
    def _function(x: np.ndarray) -> np.ndarray:
        # 1 / (1 + exp(-x)) overflows exp() for x < -709 (x < -88 in float32); with e = exp(-|x|) <= 1 the
        # same value is 1 / (1 + e) for x >= 0 and e / (1 + e) below. NaN stays NaN (x >= 0 is False).
        e = np.exp(-np.abs(x))
        r = 1 / (1 + e)
        return np.where(x >= 0, r, e * r)

    @staticmethod
    def _slope(y: np.ndarray) -> np.ndarray:
        return y * (1 - y)
