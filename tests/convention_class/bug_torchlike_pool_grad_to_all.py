"""bug_torchlike_pool_grad_to_all.py -- BUGGY copy of alice_torchlike.py (torch-like style).

BUG (layer: pool / MaxPool2d, tensor: grad_input): MaxPool2d.backward sends the upstream
gradient to EVERY element of each pooling window instead of only to the arg-max element
(the stored argmax is ignored). Forward output is correct.

Based on alice_torchlike.py -- original style description follows.

alice_torchlike.py -- student: Alice.

Style: "torch-like". Classes are named exactly like torch.nn (Conv2d, MaxPool2d,
ReLU, Linear, Flatten, LogSoftmax, NLLLoss) and take torch's keyword names
(in_channels, out_channels, kernel_size, stride, padding; in_features,
out_features; kernel_size/stride for pooling; dim for LogSoftmax).
Parameters live in ``self.params = {"weight": ..., "bias": ...}`` with torch
layouts (conv weight (out, in, kH, kW), linear weight (out, in), biases 1-D),
gradients in ``self.grads`` with the same keys (overwritten by each backward).
``forward(x)`` returns y, ``backward(dy)`` returns dx. NLLLoss.forward(input,
target) returns a scalar (mean over batch), NLLLoss.backward(grad=1.0) returns
d input. Data is NCHW. Convolution is computed with one tensordot per output
position.
"""
import numpy as np


def _pair(v):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v, v)


class Module:
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def zero_grad(self):
        for k in getattr(self, "grads", {}):
            if self.grads[k] is not None:
                self.grads[k] = np.zeros_like(self.grads[k])


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(in_channels * kh * kw)
        self.params = {
            "weight": np.random.uniform(-bound, bound, (out_channels, in_channels, kh, kw)),
            "bias": np.random.uniform(-bound, bound, (out_channels,)) if bias else None,
        }
        self.grads = {"weight": np.zeros_like(self.params["weight"]),
                      "bias": np.zeros(out_channels) if bias else None}

    def forward(self, x):
        w = self.params["weight"]
        b = self.params["bias"]
        N, C, H, W = x.shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph, pw = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        Ho = (H + 2 * ph - kh) // sh + 1
        Wo = (W + 2 * pw - kw) // sw + 1
        out = np.zeros((N, self.out_channels, Ho, Wo), dtype=np.result_type(x, w))
        for i in range(Ho):
            for j in range(Wo):
                patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]   # (N, C, kh, kw)
                out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        self.cache = (x.shape, xp)
        return out

    def backward(self, dy):
        x_shape, xp = self.cache
        w = self.params["weight"]
        N, C, H, W = x_shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph, pw = self.padding
        Ho, Wo = dy.shape[2], dy.shape[3]
        dxp = np.zeros_like(xp, dtype=np.result_type(xp, dy))
        dw = np.zeros_like(w, dtype=np.result_type(w, dy))
        for i in range(Ho):
            for j in range(Wo):
                patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                g = dy[:, :, i, j]                                          # (N, F)
                dw += np.tensordot(g, patch, axes=([0], [0]))               # (F, C, kh, kw)
                dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.tensordot(g, w, axes=([1], [0]))
        self.grads["weight"] = dw
        if self.params["bias"] is not None:
            self.grads["bias"] = dy.sum(axis=(0, 2, 3))
        return dxp[:, :, ph:ph + H, pw:pw + W]


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride) if stride is not None else self.kernel_size
        self.params = {}
        self.grads = {}

    def forward(self, x):
        N, C, H, W = x.shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        Ho = (H - kh) // sh + 1
        Wo = (W - kw) // sw + 1
        out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
        argmax = np.zeros((N, C, Ho, Wo), dtype=np.int64)
        for i in range(Ho):
            for j in range(Wo):
                win = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(N, C, kh * kw)
                idx = np.argmax(win, axis=2)
                argmax[:, :, i, j] = idx
                out[:, :, i, j] = np.take_along_axis(win, idx[..., None], axis=2)[..., 0]
        self.cache = (x.shape, argmax)
        return out

    def backward(self, dy):
        x_shape, argmax = self.cache
        N, C, H, W = x_shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        dx = np.zeros(x_shape, dtype=dy.dtype)
        for i in range(dy.shape[2]):
            for j in range(dy.shape[3]):
                # the gradient flows back through the pooling window
                dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += dy[:, :, i, j][:, :, None, None]
        return dx


class ReLU(Module):
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0.0).astype(x.dtype)

    def backward(self, dy):
        return dy * self.mask


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim = start_dim
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(x.shape[:self.start_dim] + (-1,))

    def backward(self, dy):
        return dy.reshape(self.in_shape)


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / np.sqrt(in_features)
        self.params = {
            "weight": np.random.uniform(-bound, bound, (out_features, in_features)),
            "bias": np.random.uniform(-bound, bound, (out_features,)) if bias else None,
        }
        self.grads = {"weight": np.zeros((out_features, in_features)),
                      "bias": np.zeros(out_features) if bias else None}

    def forward(self, x):
        self.x = x
        y = x @ self.params["weight"].T
        if self.params["bias"] is not None:
            y = y + self.params["bias"]
        return y

    def backward(self, dy):
        self.grads["weight"] = dy.T @ self.x
        if self.params["bias"] is not None:
            self.grads["bias"] = dy.sum(axis=0)
        return dy @ self.params["weight"]


class LogSoftmax(Module):
    def __init__(self, dim=1):
        self.dim = dim
        self.params = {}
        self.grads = {}

    def forward(self, x):
        shifted = x - x.max(axis=self.dim, keepdims=True)
        self.out = shifted - np.log(np.exp(shifted).sum(axis=self.dim, keepdims=True))
        return self.out

    def backward(self, dy):
        return dy - np.exp(self.out) * dy.sum(axis=self.dim, keepdims=True)


class NLLLoss(Module):
    def __init__(self, reduction="mean"):
        assert reduction == "mean"
        self.params = {}
        self.grads = {}

    def forward(self, input, target):
        target = np.asarray(target).astype(np.int64)
        self.shape = input.shape
        self.dtype = input.dtype
        self.target = target
        N = input.shape[0]
        return -input[np.arange(N), target].sum() / N

    def backward(self, grad=1.0):
        N = self.shape[0]
        dx = np.zeros(self.shape, dtype=self.dtype)
        dx[np.arange(N), self.target] = -grad / N
        return dx


class LeNet5(Module):
    """Conv(1,6,5,p=2) -> Pool -> ReLU -> Conv(6,16,5) -> Pool -> ReLU -> Flatten -> FC x3 -> LogSoftmax."""

    def __init__(self):
        self.layers = [Conv2d(1, 6, 5, padding=2), MaxPool2d(2), ReLU(),
                       Conv2d(6, 16, 5), MaxPool2d(2), ReLU(), Flatten(),
                       Linear(400, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, 10),
                       LogSoftmax(dim=1)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy
