"""Flatten in NumPy, mirroring torch.nn.Flatten(start_dim=1, end_dim=-1): a reshape both ways."""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, require_cache, upstream


class Flatten:
    array_kind = "numpy"

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        x = as_float(x, "Flatten.forward")
        start, end = (d + x.ndim if d < 0 else d for d in (self.start_dim, self.end_dim))
        if not 0 <= start <= end < max(x.ndim, 1):
            raise ValueError(f"Flatten.forward: dims {self.start_dim}..{self.end_dim} are out of range "
                             f"for x of shape {x.shape}")
        y = x.reshape(*x.shape[:start], -1, *x.shape[end + 1:])
        self._cache = (x.shape, y.shape, x.dtype)
        return y

    def backward(self, dy: Any) -> np.ndarray:
        x_shape, y_shape, dtype = require_cache(self)
        return upstream(dy, y_shape, dtype, "Flatten").reshape(x_shape)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"
