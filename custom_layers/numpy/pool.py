"""MaxPool2d and AvgPool2d in NumPy, mirroring torch.nn.MaxPool2d / torch.nn.AvgPool2d (floor mode, no padding
or dilation).

Torch routes each max window's gradient to the FIRST maximum in row-major order (a later element must be
strictly greater to win; a NaN always wins), and sums the gradients of overlapping windows; so do we.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, masked, pair, require_cache, upstream
from lenet_parity.custom_layers.numpy.im2col import geometry


class _Pool2d:
    """What both pools share: kernel_size and stride (None: the kernel, as in torch), and the window grid."""

    array_kind = "numpy"

    def __init__(self, kernel_size: Any, stride: Any = None):
        self._kernel_arg = kernel_size
        self._stride_arg = kernel_size if stride is None else stride
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(self._stride_arg, "stride")
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    @staticmethod
    def _offsets(g):
        """(offset index k, row slice, column slice) for each kernel offset in row-major order: the slices
        pick that offset's element of every window, an (N, C, ho, wo) view."""
        for i in range(g.kh):
            for j in range(g.kw):
                yield (i * g.kw + j, slice(i, i + g.sh * (g.ho - 1) + 1, g.sh),
                       slice(j, j + g.sw * (g.wo - 1) + 1, g.sw))

    def _input(self, x: Any) -> tuple[np.ndarray, Any]:
        """x as a 4-D float array, and its window grid (ValueError if x is smaller than one window)."""
        name = f"{type(self).__name__}.forward"
        x = as_float(x, name, (4,), "(N, C, H, W)")
        return x, geometry(x.shape, self.kernel_size, self.stride, (0, 0), name)


class MaxPool2d(_Pool2d):
    def forward(self, x: Any) -> np.ndarray:
        x, g = self._input(x)
        y = np.empty((g.n, g.c, g.ho, g.wo), dtype=x.dtype)
        idx = np.zeros(y.shape, dtype=np.int8 if g.kh * g.kw <= 127 else np.int32)  # argmax offset
        for k, rows, cols in self._offsets(g):
            v = x[:, :, rows, cols]
            if k == 0:
                y[...] = v
                continue
            better = v > y  # strict: a tie keeps the earlier offset
            idx += better * (idx.dtype.type(k) - idx)  # idx = k where better; arithmetic beats masking
            np.maximum(y, v, out=y)  # propagates NaN, like torch
        if np.isnan(y).any():  # torch's kernel takes any NaN (`val > max || isnan(val)`): the last one wins
            for k, rows, cols in self._offsets(g):
                idx[np.isnan(x[:, :, rows, cols])] = k
        self._cache = (idx, g, x.dtype)
        return y  # (N, C, ho, wo)

    def backward(self, dy: Any) -> np.ndarray:
        idx, g, dtype = require_cache(self)
        dy = upstream(dy, (g.n, g.c, g.ho, g.wo), dtype, "MaxPool2d")
        overlapping = g.sh < g.kh or g.sw < g.kw
        # windows that tile x exactly (LeNet's 2x2, stride 2) write every element once: no zero-fill needed
        tiled = (g.sh, g.sw) == (g.kh, g.kw) and (g.h, g.w) == (g.ho * g.sh, g.wo * g.sw)
        dx = (np.empty if tiled else np.zeros)((g.n, g.c, g.h, g.w), dtype=dtype)
        finite = bool(np.isfinite(dy).all())  # then dy * mask is exact (no 0 * inf): multiply straight into dx
        chosen = np.empty(idx.shape, dtype=bool)
        for k, rows, cols in self._offsets(g):
            np.equal(idx, k, out=chosen)
            if overlapping:  # an element can be the max of several windows: sum their gradients
                dx[:, :, rows, cols] += masked(dy, chosen)
            elif finite:
                np.multiply(dy, chosen, out=dx[:, :, rows, cols])
            else:
                dx[:, :, rows, cols] = np.where(chosen, dy, 0)
        return dx

    def __repr__(self) -> str:
        return (f"MaxPool2d(kernel_size={self._kernel_arg}, stride={self._stride_arg}, padding=0, "
                f"dilation=1, ceil_mode=False)")


class AvgPool2d(_Pool2d):
    """y = the mean of each kh x kw window; backward gives each of a window's elements dy / (kh * kw), and an
    element in several windows (stride < kernel) the sum of their shares.

    Takes torch's signature but only what MaxPool2d supports: padding 0, floor mode, the divisor kh * kw; any
    other value is a ValueError naming the argument (the sweep reports it as declined, not as a failure).
    count_include_pad only matters with padding, so either value is accepted.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: Any = None):
        super().__init__(kernel_size, stride)
        for name, value, unsupported in (("padding", padding, pair(padding, "padding", minimum=0) != (0, 0)),
                                         ("ceil_mode", ceil_mode, bool(ceil_mode)),
                                         ("divisor_override", divisor_override, divisor_override is not None)):
            if unsupported:
                raise ValueError(f"AvgPool2d: {name}={value!r} is not supported (only padding=0, ceil_mode=False "
                                 f"and divisor_override=None)")
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: Any) -> np.ndarray:
        x, g = self._input(x)
        y = np.zeros((g.n, g.c, g.ho, g.wo), dtype=x.dtype)
        for _, rows, cols in self._offsets(g):
            y += x[:, :, rows, cols]
        y /= g.kh * g.kw  # torch divides the window's sum (no padding: every window holds kh * kw elements)
        self._cache = (g, x.dtype)
        return y  # (N, C, ho, wo)

    def backward(self, dy: Any) -> np.ndarray:
        g, dtype = require_cache(self)
        dy = upstream(dy, (g.n, g.c, g.ho, g.wo), dtype, "AvgPool2d")
        share = dy / dtype.type(g.kh * g.kw)  # each window's elements get an equal share of its dy
        dx = np.zeros((g.n, g.c, g.h, g.w), dtype=dtype)  # zeros: floor mode leaves rows no window reads
        for _, rows, cols in self._offsets(g):
            dx[:, :, rows, cols] += share  # overlapping windows (stride < kernel) add up
        return dx

    def __repr__(self) -> str:
        return f"AvgPool2d(kernel_size={self._kernel_arg}, stride={self._stride_arg}, padding=0)"
