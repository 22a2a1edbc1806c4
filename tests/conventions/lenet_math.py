"""Plain NumPy math for the convention test layers (one place; each convention file wraps it its own way)."""

import numpy as np


def conv_forward(x, w, b, stride=1, pad=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, f, oh, ow), dtype=np.result_type(x, w))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b.reshape(1, -1, 1, 1)


def conv_backward(dout, x, w, stride=1, pad=0):
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            dw += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
            dxp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.tensordot(
                dout[:, :, i, j], w, axes=([1], [0]))
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def pool_forward(x, k, stride):
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k].max(axis=(2, 3))
    return out


def pool_backward(dout, x, k, stride):
    dx = np.zeros_like(x)
    n, c = x.shape[:2]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k].reshape(n, c, -1)
            first = window.argmax(axis=2)
            rows, cols = np.divmod(first, k)
            for a in range(n):
                for b in range(c):
                    dx[a, b, i * stride + rows[a, b], j * stride + cols[a, b]] += dout[a, b, i, j]
    return dx


def log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(dout, y):
    return dout - np.exp(y) * dout.sum(axis=1, keepdims=True)


def nll(logp, target):
    n = len(target)
    return -logp[np.arange(n), target].mean()


def nll_backward(logp, target):
    grad = np.zeros_like(logp)
    grad[np.arange(len(target)), target] = -1.0 / len(target)
    return grad
