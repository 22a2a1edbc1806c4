"""MyConv2d: a user's own 2-D convolution in NumPy (torch.nn.Conv2d's arguments and layout), in one file.

Check it against PyTorch, forward and backward, on LeNet's conv1 and conv2 and on other shapes:

    lenet-parity check conv --impl examples/my_conv.py:MyConv2d

The layer protocol (lenet_parity/custom_layers/protocol.py) asks for: torch's constructor arguments,
``array_kind``, ``params`` with torch's names and shapes, ``forward(x) -> y``, ``backward(dy) -> dx``,
and ``grads`` with a gradient per trainable param after each backward.
"""

from __future__ import annotations

import numpy as np


def _pair(value):
    """torch's _pair: 3 -> (3, 3), (3, 2) -> (3, 2); (height, width)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class MyConv2d:
    array_kind = "numpy"  # the harness hands us numpy arrays, float32 or float64, NCHW

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        self.out_channels = out_channels
        self.kh, self.kw = _pair(kernel_size)
        self.sh, self.sw = _pair(stride)
        self.ph, self.pw = _pair(padding)
        # torch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the harness loads torch's values anyway
        bound = 1.0 / np.sqrt(in_channels * self.kh * self.kw)
        rng = np.random.default_rng(0)
        self.params = {"weight": rng.uniform(-bound, bound, (out_channels, in_channels, self.kh, self.kw))}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels)
        self.grads = {}
        self.cache = None

    def _offsets(self, ho, wo):
        """For each kernel offset (i, j): the slice of the padded input that offset sees in every window."""
        for i in range(self.kh):
            for j in range(self.kw):
                rows = slice(i, i + self.sh * (ho - 1) + 1, self.sh)
                cols = slice(j, j + self.sw * (wo - 1) + 1, self.sw)
                yield i, j, (slice(None), slice(None), rows, cols)

    def forward(self, x):
        w = np.asarray(self.params["weight"], dtype=x.dtype)  # (O, C, kh, kw)
        xp = np.pad(x, ((0, 0), (0, 0), (self.ph, self.ph), (self.pw, self.pw)))  # (N, C, H + 2ph, W + 2pw)
        ho = (xp.shape[2] - self.kh) // self.sh + 1
        wo = (xp.shape[3] - self.kw) // self.sw + 1
        y = np.zeros((x.shape[0], self.out_channels, ho, wo), dtype=x.dtype)  # (N, O, ho, wo)
        for i, j, window in self._offsets(ho, wo):
            # cross-correlation, as torch: y[n, o] += sum_c w[o, c, i, j] * x[n, c, i + s*h, j + s*w]
            y += np.einsum("nchw,oc->nohw", xp[window], w[:, :, i, j])
        if "bias" in self.params:
            y += np.asarray(self.params["bias"], dtype=x.dtype)[None, :, None, None]
        self.cache = (xp, x.shape, w)
        return y

    def backward(self, dy):
        xp, x_shape, w = self.cache
        dy = np.asarray(dy, dtype=xp.dtype)  # (N, O, ho, wo)
        dxp = np.zeros_like(xp)
        dw = np.zeros_like(w)
        for i, j, window in self._offsets(dy.shape[2], dy.shape[3]):
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dy, xp[window])  # summed over the batch and every pixel
            dxp[window] += np.einsum("nohw,oc->nchw", dy, w[:, :, i, j])  # += : with stride < kernel, windows overlap
        self.grads = {"weight": dw}
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2, 3))
        return dxp[:, :, self.ph:self.ph + x_shape[2], self.pw:self.pw + x_shape[3]]  # drop the padding
