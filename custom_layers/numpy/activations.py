"""ReLU in NumPy, mirroring torch.nn.ReLU: y = max(x, 0); the gradient at exactly 0 is 0, as in torch."""

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
