"""Linear in NumPy, mirroring torch.nn.Linear: y = x @ weight.T + bias, weight (out, in), x (..., in)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import (as_float, param, positive_int, require_cache,
                                                        torch_default_init, upstream)


class Linear:
    array_kind = "numpy"

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.has_bias = bool(bias)
        self.params: dict[str, np.ndarray] = {
            "weight": torch_default_init((self.out_features, self.in_features), self.in_features)}
        if self.has_bias:
            self.params["bias"] = torch_default_init((self.out_features,), self.in_features)
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        x = as_float(x, "Linear.forward")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear.forward: x has shape {x.shape}, expected (..., {self.in_features})")
        w = param(self, "weight", (self.out_features, self.in_features), x.dtype)
        x2 = x.reshape(-1, self.in_features)  # (M, in): every leading dim is a batch dim
        y = x2 @ w.T  # (M, out)
        if self.has_bias:
            y += param(self, "bias", (self.out_features,), x.dtype)
        self._cache = (x2, w, x.shape)
        return y.reshape(*x.shape[:-1], self.out_features)

    def backward(self, dy: Any) -> np.ndarray:
        x2, w, x_shape = require_cache(self)
        dy = upstream(dy, (*x_shape[:-1], self.out_features), x2.dtype, "Linear")
        dy2 = dy.reshape(-1, self.out_features)  # (M, out)
        self.grads = {"weight": dy2.T @ x2}  # (out, in)
        if self.has_bias:
            self.grads["bias"] = dy2.sum(axis=0)
        return (dy2 @ w).reshape(x_shape)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.has_bias})"
