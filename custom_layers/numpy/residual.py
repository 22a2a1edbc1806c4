"""Residual in NumPy, mirroring lenet_parity.reference.model.Residual: y = x + conv2d(x, w, b, padding=k//2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import positive_int
from lenet_parity.custom_layers.numpy.conv import Conv2d


class Residual:
    array_kind = "numpy"

    def __init__(self, channels: int, kernel_size: int = 3):
        self.channels = positive_int(channels, "channels")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"Residual: kernel_size must be odd so that padding k//2 keeps x's shape, "
                             f"got {kernel_size}")
        self._conv = Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.grads: dict[str, np.ndarray] = {}

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self._conv.params  # one dict: replacing an entry (or the dict) reaches the conv

    @params.setter
    def params(self, value: dict[str, np.ndarray]) -> None:
        self._conv.params = value

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        return x + self._conv.forward(x)  # (N, C, H, W)

    def backward(self, dy: Any) -> np.ndarray:
        dx_conv = self._conv.backward(dy)
        self.grads = self._conv.grads
        return np.asarray(dy, dtype=dx_conv.dtype) + dx_conv  # the skip path passes dy straight through

    def __repr__(self) -> str:
        return f"Residual(channels={self.channels}, kernel_size={self.kernel_size})"
