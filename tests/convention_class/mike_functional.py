"""mike_functional.py -- student: Mike.

Style: plain functions with (out, cache) / (dout, cache), but NOT the CS231n
names: no "_naive", different argument conventions.

    conv_forward(x, w, b, stride=1, pad=0) -> (out, cache)     w (F, C, kh, kw), b (F,)
    conv_backward(dout, cache) -> (dx, dw, db)
    maxpool_forward(x, size=2, stride=2) -> (out, cache)
    maxpool_backward(dout, cache) -> dx
    relu_forward(x) -> (out, cache);        relu_backward(dout, cache) -> dx
    flatten_forward(x) -> (out, cache);     flatten_backward(dout, cache) -> dx
    fc_forward(x, w, b) -> (out, cache)     w (out, in) torch layout: out = x @ w.T + b
    fc_backward(dout, cache) -> (dx, dw, db)
    logsoftmax_forward(x) -> (out, cache);  logsoftmax_backward(dout, cache) -> dx
    nll_forward(logp, y) -> (loss, cache);  nll_backward(dloss, cache) -> dlogp   (mean loss)

Conv backward uses the textbook derivation: dx is the FULL correlation of the
stride-dilated upstream gradient with the 180-degree-rotated kernels, and dw
is the correlation of the padded input with the dilated upstream gradient.
Data NCHW.
"""
import numpy as np


def _corr(x, w, stride=1):
    """Valid cross-correlation: x (N, C, H, W), w (F, C, kh, kw) -> (N, F, Ho, Wo)."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho = (H - kh) // stride + 1
    Wo = (W - kw) // stride + 1
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w))
    for a in range(kh):
        for b in range(kw):
            xs = x[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride]
            out += np.einsum('nchw,fc->nfhw', xs, w[:, :, a, b])
    return out


def _dilate(d, stride):
    if stride == 1:
        return d
    N, F, Ho, Wo = d.shape
    out = np.zeros((N, F, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1), dtype=d.dtype)
    out[:, :, ::stride, ::stride] = d
    return out


def conv_forward(x, w, b, stride=1, pad=0):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = _corr(xp, w, stride) + b.reshape(1, -1, 1, 1)
    cache = (x, w, b, stride, pad)
    return out, cache


def conv_backward(dout, cache):
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Hp, Wp = xp.shape[2], xp.shape[3]

    db = dout.sum(axis=(0, 2, 3))

    dd = _dilate(dout, stride)                                   # (N, F, Hd, Wd)
    Hd, Wd = dd.shape[2], dd.shape[3]

    # dw[f, c] = corr(xp[:, c], dd[:, f]) summed over the batch
    dw = _corr(xp.transpose(1, 0, 2, 3), dd.transpose(1, 0, 2, 3), 1)   # (C, F, Hp-Hd+1, Wp-Wd+1)
    dw = dw[:, :, :kh, :kw].transpose(1, 0, 2, 3)

    # dx = full correlation of dd with the rotated kernels (channels swapped)
    ddp = np.pad(dd, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    w_rot = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)             # (C, F, kh, kw)
    core = _corr(ddp, w_rot, 1)                                   # (N, C, Hd+kh-1, Wd+kw-1)
    dxp = np.zeros((N, C, Hp, Wp), dtype=core.dtype)
    dxp[:, :, :core.shape[2], :core.shape[3]] = core              # rows never seen by a window get 0
    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def maxpool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho = (H - size) // stride + 1
    Wo = (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    idx = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for i in range(Ho):
        for j in range(Wo):
            win = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].reshape(N, C, -1)
            idx[:, :, i, j] = win.argmax(axis=2)
            out[:, :, i, j] = win.max(axis=2)
    return out, (x.shape, idx, size, stride)


def maxpool_backward(dout, cache):
    x_shape, idx, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    n = np.arange(N)[:, None]
    c = np.arange(C)[None, :]
    for i in range(Ho):
        for j in range(Wo):
            r = i * stride + idx[:, :, i, j] // size
            q = j * stride + idx[:, :, i, j] % size
            dx[n, c, r, q] += dout[:, :, i, j]
    return dx


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)


def flatten_forward(x):
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)


def fc_forward(x, w, b):
    return x @ w.T + b, (x, w)


def fc_backward(dout, cache):
    x, w = cache
    dx = dout @ w
    dw = dout.T @ x
    db = dout.sum(axis=0)
    return dx, dw, db


def logsoftmax_forward(x):
    m = x.max(axis=1, keepdims=True)
    out = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    return out, out


def logsoftmax_backward(dout, cache):
    return dout - np.exp(cache) * dout.sum(axis=1, keepdims=True)


def nll_forward(logp, y):
    n = logp.shape[0]
    loss = -logp[np.arange(n), y].mean()
    return loss, (logp.shape, y)


def nll_backward(dloss, cache):
    shape, y = cache
    n = shape[0]
    d = np.zeros(shape)
    d[np.arange(n), y] = -dloss / n
    return d
