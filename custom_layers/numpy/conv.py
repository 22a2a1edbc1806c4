"""Conv2d in NumPy, mirroring torch.nn.Conv2d (cross-correlation, NCHW, weight (out, in, kh, kw)).

Forward is im2col + one batched matmul, or, for many input channels on the wide grid, a row unfold and
one matmul per kernel row; backward is matmuls for the weight and im2col.input_grad for x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import (as_float, pair, param, positive_int, require_cache,
                                                        torch_default_init, upstream)
from lenet_parity.custom_layers.numpy.im2col import (geometry, im2col, input_grad, narrow, row_window,
                                                       unfold_rows, widen)

# The row unfold copies kh times less than im2col but runs kh smaller matmuls: faster from C*kw = 30 on
# (batch 64, float32, 1 thread: LeNet's conv2 0.69 -> 0.56 ms, C=16 k5 3.0 -> 2.3 ms), slower below
# (conv1, C*kw = 5: 0.53 -> 0.92 ms; C=3 k3 1.1 -> 1.6 ms)
ROW_UNFOLD_MIN_WIDTH = 30


class Conv2d:
    array_kind = "numpy"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, bias: bool = True):
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding", minimum=0)
        self.has_bias = bool(bias)
        kh, kw = self.kernel_size
        fan_in = self.in_channels * kh * kw
        self.params: dict[str, np.ndarray] = {
            "weight": torch_default_init((self.out_channels, self.in_channels, kh, kw), fan_in)}
        if self.has_bias:
            self.params["bias"] = torch_default_init((self.out_channels,), fan_in)
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        # drop the last call's columns first: the allocator can hand their (still cached) memory straight
        # back for this call's, which made a training step ~2% faster than holding both
        self._cache = None
        x = as_float(x, "Conv2d.forward", (4,), "(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d.forward: x has {x.shape[1]} channels, expected {self.in_channels}")
        w = param(self, "weight", (self.out_channels, self.in_channels, *self.kernel_size), x.dtype)
        g = geometry(x.shape, self.kernel_size, self.stride, self.padding, "Conv2d.forward",
                     wide=bool(np.isfinite(x).all() and np.isfinite(w).all()))
        if g.wide and g.c * g.kw >= ROW_UNFOLD_MIN_WIDTH:
            rows = unfold_rows(x, g)  # (N, C*kw, (ho + kh - 1)*pitch)
            y = np.matmul(self._kernel_row(w, 0), row_window(rows, g, 0))  # (N, O, ho*pitch)
            for i in range(1, g.kh):
                y += np.matmul(self._kernel_row(w, i), row_window(rows, g, i))
            self._cache = ("rows", rows, w, g, x.dtype)
        else:
            cols = im2col(x, g)  # (N, C*kh*kw, ho*pitch)
            y = np.matmul(w.reshape(self.out_channels, -1), cols)  # (N, O, ho*pitch)
            self._cache = ("cols", cols, w, g, x.dtype)
        if self.has_bias:
            y += param(self, "bias", (self.out_channels,), x.dtype)[:, None]
        return narrow(y, g)  # (N, O, ho, wo)

    def _kernel_row(self, w: np.ndarray, i: int) -> np.ndarray:
        return w[:, :, i, :].reshape(self.out_channels, -1)  # (O, C*kw), columns (c, j) like unfold_rows' rows

    def backward(self, dy: Any) -> np.ndarray:
        layout, unfolded, w, g, dtype = require_cache(self)
        dy = upstream(dy, (g.n, self.out_channels, g.ho, g.wo), dtype, "Conv2d")
        with np.errstate(invalid="ignore"):  # an inf in dy meeting a zero weight is NaN, silently, as in torch
            return self._gradients(dy, layout, unfolded, w, g)

    def _gradients(self, dy: np.ndarray, layout: str, unfolded: np.ndarray, w: np.ndarray, g) -> np.ndarray | None:
        dy_wide_t = widen(dy, g).transpose(0, 2, 1)  # (N, ho*pitch, O), zeros in the garbage columns
        # cols @ dy_wide^T, not dy_wide @ cols^T: the same sums, but BLAS is ~2x faster at this shape
        if layout == "cols":
            dw = np.matmul(unfolded, dy_wide_t).sum(axis=0).T  # (O, C*kh*kw)
        else:  # kernel row i's (C*kw, O) block, stacked (kh, C, kw, O)
            dw = np.stack([np.matmul(row_window(unfolded, g, i), dy_wide_t).sum(axis=0) for i in range(g.kh)])
            dw = dw.reshape(g.kh, g.c, g.kw, self.out_channels).transpose(3, 1, 0, 2)
        self.grads = {"weight": np.ascontiguousarray(dw).reshape(self.out_channels, self.in_channels,
                                                                 *self.kernel_size)}
        if self.has_bias:
            self.grads["bias"] = dy.sum(axis=(0, 2, 3))
        if not getattr(self, "needs_input_grad", True):  # the first layer: nobody reads dx (torch skips it too)
            return None
        return input_grad(dy, w, g)

    def __repr__(self) -> str:
        s = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s + (")" if self.has_bias else ", bias=False)")
