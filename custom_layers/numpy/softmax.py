"""LogSoftmax and Softmax in NumPy, mirroring torch.nn.LogSoftmax / torch.nn.Softmax along ``dim``.

Both subtract the maximum first, so logits of magnitude 1e4 stay finite (exp never overflows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, require_cache, upstream


def log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    z = x - x.max(axis=dim, keepdims=True)  # the largest logit becomes 0: exp(z) <= 1
    return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))


class _AlongDim:
    array_kind = "numpy"

    def __init__(self, dim: int = 1):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise ValueError(f"{type(self).__name__}: dim must be an int, got {dim!r}")
        self.dim = int(dim)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def _input(self, x: Any) -> np.ndarray:
        x = as_float(x, f"{type(self).__name__}.forward")
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{type(self).__name__}.forward: dim {self.dim} is out of range for shape {x.shape}")
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


class LogSoftmax(_AlongDim):
    def forward(self, x: Any) -> np.ndarray:
        y = log_softmax(self._input(x), self.dim)
        self._cache = y
        return y

    def backward(self, dy: Any) -> np.ndarray:
        y = require_cache(self)
        dy = upstream(dy, y.shape, y.dtype, "LogSoftmax")
        return dy - np.exp(y) * dy.sum(axis=self.dim, keepdims=True)  # (I - softmax 1^T) applied to dy


class Softmax(_AlongDim):
    def forward(self, x: Any) -> np.ndarray:
        x = self._input(x)
        e = np.exp(x - x.max(axis=self.dim, keepdims=True))
        y = e / e.sum(axis=self.dim, keepdims=True)
        self._cache = y
        return y

    def backward(self, dy: Any) -> np.ndarray:
        y = require_cache(self)
        dy = upstream(dy, y.shape, y.dtype, "Softmax")
        return y * (dy - (dy * y).sum(axis=self.dim, keepdims=True))
