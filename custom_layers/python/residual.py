"""Residual in pure Python, mirroring lenet_parity.reference.model.Residual: y = x + conv2d(x, w, b, padding=k//2).

The convolution is this backend's Conv2d, not a copy of it.
"""

from __future__ import annotations

from lenet_parity.custom_layers.python._lists import map_rows, positive_int
from lenet_parity.custom_layers.python.conv import Conv2d


def _add(a: list, b: list) -> list:
    return [u + v for u, v in zip(a, b)]


class Residual:
    """A shape-preserving block: params weight (C, C, k, k) and bias (C,), those of its convolution."""

    array_kind = "list"

    def __init__(self, channels, kernel_size=3):
        self.channels = positive_int(channels, "channels")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"Residual: kernel_size must be odd so that padding k//2 keeps x's shape, "
                             f"got {kernel_size}")
        self._conv = Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.grads: dict = {}

    @property
    def params(self) -> dict:
        return self._conv.params  # one dict: replacing an entry (or the whole dict) reaches the conv

    @params.setter
    def params(self, value: dict) -> None:
        self._conv.params = value

    def forward(self, x: list) -> list:
        return map_rows(_add, x, self._conv.forward(x))  # (N, C, H, W)

    def backward(self, dy: list) -> list:
        dx_conv = self._conv.backward(dy)
        self.grads = self._conv.grads
        return map_rows(_add, dy, dx_conv)  # the skip path passes dy straight through

    def __repr__(self) -> str:
        return f"Residual(channels={self.channels}, kernel_size={self.kernel_size})"
