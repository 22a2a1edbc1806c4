"""MaxPool2d in NumPy, mirroring torch.nn.MaxPool2d (floor mode, no padding or dilation).

Torch routes each window's gradient to the FIRST maximum in row-major order (a later element must be
strictly greater to win), and sums the gradients of overlapping windows; so do we.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, pair, require_cache, upstream
from lenet_parity.custom_layers.numpy.im2col import geometry


class MaxPool2d:
    array_kind = "numpy"

    def __init__(self, kernel_size: Any, stride: Any = None):
        self._kernel_arg = kernel_size
        self._stride_arg = kernel_size if stride is None else stride
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(self._stride_arg, "stride")
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    def _windows(self, g):
        """(offset index, row slice, column slice) of every kernel offset, in row-major order."""
        for i in range(g.kh):
            for j in range(g.kw):
                yield (i * g.kw + j, slice(i, i + g.sh * (g.ho - 1) + 1, g.sh),
                       slice(j, j + g.sw * (g.wo - 1) + 1, g.sw))

    def forward(self, x: Any) -> np.ndarray:
        x = as_float(x, "MaxPool2d.forward", (4,), "(N, C, H, W)")
        g = geometry(x.shape, self.kernel_size, self.stride, (0, 0), "MaxPool2d.forward")
        y = idx = None
        for k, rows, cols in self._windows(g):
            v = x[:, :, rows, cols]  # (N, C, ho, wo): this offset's element of every window
            if y is None:
                y, idx = v.copy(), np.zeros(v.shape, dtype=np.int16 if g.kh * g.kw < 2**15 else np.int64)
                continue
            # strictly greater, so ties keep the earlier offset; a NaN always takes over, as in torch's
            # kernel (`val > maxval || isnan(val)`)
            better = (v > y) | np.isnan(v)
            np.copyto(y, v, where=better)
            np.copyto(idx, k, where=better)
        self._cache = (idx, g, x.dtype)
        return y  # (N, C, ho, wo)

    def backward(self, dy: Any) -> np.ndarray:
        idx, g, dtype = require_cache(self)
        dy = upstream(dy, (g.n, g.c, g.ho, g.wo), dtype, "MaxPool2d")
        dx = np.zeros((g.n, g.c, g.h, g.w), dtype=dtype)
        overlapping = g.sh < g.kh or g.sw < g.kw
        for k, rows, cols in self._windows(g):
            hit = idx == k
            if overlapping:  # one input element can be the max of several windows: sum their gradients
                dx[:, :, rows, cols] += np.where(hit, dy, 0)
            else:
                np.copyto(dx[:, :, rows, cols], dy, where=hit)
        return dx

    def __repr__(self) -> str:
        return (f"MaxPool2d(kernel_size={self._kernel_arg}, stride={self._stride_arg}, padding=0, "
                f"dilation=1, ceil_mode=False)")
