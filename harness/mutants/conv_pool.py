"""Broken twins of the spatial layers (torch.nn.Conv2d, MaxPool2d, Flatten and our Residual), one classic bug each.

Each class subclasses the correct NumPy layer and overrides as little as it can, so the bug is the only
difference; the docstring says what is wrong and where such code is found.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lenet_parity.custom_layers.numpy._checks import as_float, require_cache
from lenet_parity.custom_layers.numpy.conv import Conv2d
from lenet_parity.custom_layers.numpy.pool import MaxPool2d
from lenet_parity.custom_layers.numpy.residual import Residual
from lenet_parity.custom_layers.numpy.shape import Flatten


class ConvBiasGradSign(Conv2d):
    """db = -sum(dy): the sign flipped when the loss's minus is moved around by hand."""

    def backward(self, dy: Any) -> np.ndarray:
        dx = super().backward(dy)
        if self.has_bias:
            self.grads["bias"] = -self.grads["bias"]
        return dx


class ConvFlippedKernel(Conv2d):
    """A true convolution (kernel flipped in both axes) where torch computes a cross-correlation: the
    textbook definition, or scipy.signal.convolve2d. Its own gradients are consistent (finite differences
    pass); only a comparison with torch shows it."""

    def forward(self, x: Any) -> np.ndarray:
        w = self.params["weight"]
        self.params["weight"] = np.asarray(w)[:, :, ::-1, ::-1]
        try:
            return super().forward(x)
        finally:
            self.params["weight"] = w

    def backward(self, dy: Any) -> np.ndarray:
        dx = super().backward(dy)
        self.grads["weight"] = np.ascontiguousarray(self.grads["weight"][:, :, ::-1, ::-1])  # d/dw of its own forward
        return dx


class ConvStrideIgnoredInBackward(Conv2d):
    """The backward scatters output position (r, c)'s window back at (r, c), not (r * stride, c * stride):
    a naive loop written and tested with stride 1 only. dw and db stay right."""

    def backward(self, dy: Any) -> np.ndarray:
        super().backward(dy)  # the weight and bias gradients
        _, _, w, g, dtype = require_cache(self)
        dy = np.asarray(dy, dtype=dtype)
        dxp = np.zeros((g.n, g.c, g.hp, g.wp), dtype=dtype)
        for i in range(g.kh):
            for j in range(g.kw):
                # the bug: rows i .. i + ho, one apart, where stride s puts them at i, i + s, ...
                dxp[:, :, i:i + g.ho, j:j + g.wo] += np.einsum("nohw,oc->nchw", dy, w[:, :, i, j])
        return dxp[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w]


class ConvGradsAccumulate(Conv2d):
    """Each backward adds to the previous gradients instead of overwriting them (``grads[k] += ...`` with no
    zero_grad): one backward is right, so only training for several steps shows it."""

    def backward(self, dy: Any) -> np.ndarray:
        previous = self.grads
        dx = super().backward(dy)
        self.grads = {k: previous[k] + g if k in previous else g for k, g in self.grads.items()}
        return dx


class _OneSidedPaddingConv2d(Conv2d):
    """All 2p of the padding on the top and left, none on the bottom and right (the output keeps its shape,
    shifted by p): how TF's SAME padding puts an odd total, applied to an even one."""

    def forward(self, x: Any) -> np.ndarray:
        ph, pw = self._padding = self.padding
        xp = np.pad(np.asarray(x), ((0, 0), (0, 0), (2 * ph, 0), (2 * pw, 0)))
        self.padding = (0, 0)
        try:
            return super().forward(xp)
        finally:
            self.padding = self._padding

    def backward(self, dy: Any) -> np.ndarray:
        ph, pw = self.padding
        return super().backward(dy)[:, :, 2 * ph:, 2 * pw:]  # dx of the unpadded input


class ResidualOneSidedPadding(Residual):
    """The residual block's 'same' convolution padded on one side only (see _OneSidedPaddingConv2d)."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__(channels, kernel_size)
        self._conv = _OneSidedPaddingConv2d(channels, channels, kernel_size, padding=kernel_size // 2)


class PoolGradToEveryTiedMax(MaxPool2d):
    """The backward sends a window's gradient to every element equal to its maximum; torch sends it to the
    first only. The rav-lad/CNN-from-scratch bug (``mask = (x == x.max())``); after a ReLU, all-zero windows
    are common, so real batches hit it."""

    def forward(self, x: Any) -> np.ndarray:
        y = super().forward(x)
        self._x_y = (np.asarray(x), y)
        return y

    def backward(self, dy: Any) -> np.ndarray:
        _, g, dtype = require_cache(self)
        x, y = self._x_y
        dy = np.asarray(dy, dtype=dtype)
        dx = np.zeros(x.shape, dtype=dtype)
        for _, rows, cols in self._offsets(g):
            dx[:, :, rows, cols] += np.where(x[:, :, rows, cols] == y, dy, 0)  # the bug: every tie wins
        return dx


class PoolWindowOffByOne(MaxPool2d):
    """Each window stops one element short, ``range(k - 1)`` for ``range(k)``: its last row and column are
    never read (a 2x2 pool becomes a stride-2 subsampling)."""

    @staticmethod
    def _offsets(g):
        for i in range(g.kh - 1):
            for j in range(g.kw - 1):
                yield (i * g.kw + j, slice(i, i + g.sh * (g.ho - 1) + 1, g.sh),
                       slice(j, j + g.sw * (g.wo - 1) + 1, g.sw))

    def backward(self, dy: Any) -> np.ndarray:
        """Each window's gradient to its chosen element; the elements no window reads get 0 (the correct
        layer's tiled fast path writes every element, which these short windows do not)."""
        idx, g, dtype = require_cache(self)
        dx = np.zeros((g.n, g.c, g.h, g.w), dtype=dtype)
        for k, rows, cols in self._offsets(g):
            dx[:, :, rows, cols] += np.where(idx == k, np.asarray(dy, dtype=dtype), 0)
        return dx


class FlattenNHWC(Flatten):
    """Flattens in channels-last order, (N, H, W, C) -> (N, H*W*C), as a port from TF/Keras does: the
    following Linear's weights then meet the features in another order."""

    def forward(self, x: Any) -> np.ndarray:
        x = as_float(x, "FlattenNHWC.forward", (4,), "(N, C, H, W)")
        self._cache = x.shape
        return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1)  # the bug: channels last

    def backward(self, dy: Any) -> np.ndarray:
        n, c, h, w = require_cache(self)
        return np.asarray(dy).reshape(n, h, w, c).transpose(0, 3, 1, 2)
