"""bug_im2col_logsoftmax_sum_wrong_axis.py -- BUGGY copy of laura_im2col.py (im2col, params/grads dicts).

BUG (layer: logsoftmax, tensor: grad_input): LogSoftmax.backward sums the upstream
gradient over axis=0 (the batch) instead of axis=1 (the classes):
dx = dout - softmax * dout.sum(axis=0, keepdims=True). Shapes still broadcast, so it
runs silently. Forward output is correct.

Based on laura_im2col.py -- original style description follows.

laura_im2col.py -- student: Laura.

Style: vectorised im2col (as_strided) with parameters and gradients in dicts
keyed 'W' and 'b'.

    Convolution2D(in_channels, out_channels, kernel_size, stride=1, padding=0)
        params['W'] (out, in, k, k), params['b'] (out,); grads['W'], grads['b'] same shapes
    MaxPooling2D(pool_size=2, stride=2)
    ReLU(), Flatten()
    FullyConnected(in_features, out_features)
        params['W'] (in_features, out_features), params['b'] (out_features,); y = x @ W + b
    LogSoftmax()
    NLLLoss(): forward(logp, y) -> mean loss; backward() -> d logp
Every layer has ``params`` and ``grads`` dicts (empty for layers without
parameters), ``forward(x)`` and ``backward(dout)`` returning dx. Data NCHW.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def im2col(x, kh, kw, stride, pad):
    """x (N, C, H, W) -> cols (N*Ho*Wo, C*kh*kw), rows ordered (n, i, j)."""
    xp = np.ascontiguousarray(np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))))
    N, C, H, W = xp.shape
    Ho = (H - kh) // stride + 1
    Wo = (W - kw) // stride + 1
    sN, sC, sH, sW = xp.strides
    view = as_strided(xp, shape=(N, Ho, Wo, C, kh, kw),
                      strides=(sN, sH * stride, sW * stride, sC, sH, sW), writeable=False)
    return view.reshape(N * Ho * Wo, C * kh * kw), Ho, Wo


def col2im(cols, x_shape, kh, kw, stride, pad):
    N, C, H, W = x_shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    Ho = (Hp - kh) // stride + 1
    Wo = (Wp - kw) // stride + 1
    cols = cols.reshape(N, Ho, Wo, C, kh, kw)
    xp = np.zeros((N, C, Hp, Wp), dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            xp[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride] += \
                cols[:, :, :, :, a, b].transpose(0, 3, 1, 2)
    return xp[:, :, pad:pad + H, pad:pad + W]


class Convolution2D:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.stride, self.padding, self.k = stride, padding, kernel_size
        scale = np.sqrt(2.0 / (in_channels * kernel_size * kernel_size))
        self.params = {'W': np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * scale,
                       'b': np.zeros(out_channels)}
        self.grads = {'W': np.zeros_like(self.params['W']), 'b': np.zeros_like(self.params['b'])}

    def forward(self, x):
        W, b = self.params['W'], self.params['b']
        F = W.shape[0]
        N = x.shape[0]
        self.x_shape = x.shape
        self.cols, Ho, Wo = im2col(x, self.k, self.k, self.stride, self.padding)
        out = self.cols @ W.reshape(F, -1).T + b           # (N*Ho*Wo, F)
        return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)

    def backward(self, dout):
        W = self.params['W']
        F = W.shape[0]
        dout_mat = dout.transpose(0, 2, 3, 1).reshape(-1, F)    # (N*Ho*Wo, F)
        self.grads['W'] = (dout_mat.T @ self.cols).reshape(W.shape)
        self.grads['b'] = dout_mat.sum(axis=0)
        dcols = dout_mat @ W.reshape(F, -1)
        return col2im(dcols, self.x_shape, self.k, self.k, self.stride, self.padding)


class MaxPooling2D:
    def __init__(self, pool_size=2, stride=2):
        self.pool_size, self.stride = pool_size, stride
        self.params, self.grads = {}, {}

    def forward(self, x):
        N, C, H, W = x.shape
        k = self.pool_size
        self.x_shape = x.shape
        cols, Ho, Wo = im2col(x, k, k, self.stride, 0)       # (N*Ho*Wo, C*k*k)
        cols = cols.reshape(-1, C, k * k)
        self.arg = np.argmax(cols, axis=2)                   # (N*Ho*Wo, C)
        out = np.max(cols, axis=2)
        return out.reshape(N, Ho, Wo, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        N, C, Ho, Wo = dout.shape
        k = self.pool_size
        dcols = np.zeros((N * Ho * Wo, C, k * k), dtype=dout.dtype)
        rows = np.arange(N * Ho * Wo)[:, None]
        chans = np.arange(C)[None, :]
        dcols[rows, chans, self.arg] = dout.transpose(0, 2, 3, 1).reshape(-1, C)
        return col2im(dcols.reshape(N * Ho * Wo, -1), self.x_shape, k, k, self.stride, 0)


class ReLU:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class Flatten:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.x_shape)


class FullyConnected:
    def __init__(self, in_features, out_features):
        self.params = {'W': np.random.randn(in_features, out_features) * np.sqrt(2.0 / in_features),
                       'b': np.zeros(out_features)}
        self.grads = {'W': np.zeros_like(self.params['W']), 'b': np.zeros_like(self.params['b'])}

    def forward(self, x):
        self.x = x
        return x @ self.params['W'] + self.params['b']

    def backward(self, dout):
        self.grads['W'] = self.x.T @ dout
        self.grads['b'] = dout.sum(axis=0)
        return dout @ self.params['W'].T


class LogSoftmax:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        z = x - np.max(x, axis=1, keepdims=True)
        self.out = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return self.out

    def backward(self, dout):
        return dout - np.exp(self.out) * np.sum(dout, axis=0, keepdims=True)


class NLLLoss:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, logp, y):
        self.logp, self.y = logp, y
        return -np.mean(logp[np.arange(logp.shape[0]), y])

    def backward(self):
        N = self.logp.shape[0]
        d = np.zeros_like(self.logp)
        d[np.arange(N), self.y] = -1.0 / N
        return d


class Model:
    def __init__(self, layers):
        self.layers = layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def sgd(self, lr):
        for layer in self.layers:
            for key in layer.params:
                layer.params[key] -= lr * layer.grads[key]
