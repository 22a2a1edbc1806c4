"""bug_cs231n_conv_dw_divided_by_n.py -- BUGGY copy of carol_cs231n.py (CS231n function style).

BUG (layer: conv, tensor: grad_weight): conv_backward_naive divides dw by the batch size N
("average the filter gradient over the batch"). The loss is already a mean, so the
correct dw is the plain SUM over the batch; this dw is N times too small. Forward, dx and
db are unchanged.

Based on carol_cs231n.py -- original style description follows.

carol_cs231n.py -- student: Carol.

Style: CS231n assignment functions (no classes). Every forward returns
``(out, cache)`` and every backward takes ``(dout, cache)``.

    conv_forward_naive(x, w, b, conv_param)   conv_param = {'stride': s, 'pad': p}
        x (N, C, H, W), w (F, C, HH, WW), b (F,)
    conv_backward_naive(dout, cache) -> (dx, dw, db)
    max_pool_forward_naive(x, pool_param)    pool_param = {'pool_height', 'pool_width', 'stride'}
    max_pool_backward_naive(dout, cache) -> dx
    relu_forward(x) -> (out, cache);          relu_backward(dout, cache) -> dx
    flatten_forward(x) -> (out, cache);       flatten_backward(dout, cache) -> dx
    affine_forward(x, w, b) -> (out, cache)   w is (D, M): out = x.reshape(N, D) @ w + b
    affine_backward(dout, cache) -> (dx, dw, db)    (dx has x's original shape)
    log_softmax_forward(x) -> (out, cache);   log_softmax_backward(dout, cache) -> dx
    nll_loss_forward(logp, y) -> (loss, cache);   nll_loss_backward(dloss, cache) -> dlogp
    nll_loss(logp, y) -> (loss, dlogp)        (the usual CS231n "loss function" shape)

Loss is the mean over the batch; y holds integer class labels.
"""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    out = None
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    out[n, f, i, j] = np.sum(x_pad[n, :, h0:h0 + HH, w0:w0 + WW] * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    dx, dw, db = None, None, None
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    dw[f] += x_pad[n, :, h0:h0 + HH, w0:w0 + WW] * dout[n, f, i, j]
                    dx_pad[n, :, h0:h0 + HH, w0:w0 + WW] += w[f] * dout[n, f, i, j]
    dw /= N  # average over the batch
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    out = None
    N, C, H, W = x.shape
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    out[n, c, i, j] = np.max(x[n, c, h0:h0 + ph, w0:w0 + pw])
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    dx = None
    x, pool_param = cache
    N, C, H, W = x.shape
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    window = x[n, c, h0:h0 + ph, w0:w0 + pw]
                    k = np.argmax(window)            # first max, like torch
                    dx[n, c, h0 + k // pw, w0 + k % pw] += dout[n, c, i, j]
    return dx


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def flatten_forward(x):
    out = x.reshape(x.shape[0], -1)
    cache = x.shape
    return out, cache


def flatten_backward(dout, cache):
    return dout.reshape(cache)


def affine_forward(x, w, b):
    N = x.shape[0]
    out = x.reshape(N, -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def log_softmax_forward(x):
    shifted = x - np.max(x, axis=1, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    cache = out
    return out, cache


def log_softmax_backward(dout, cache):
    out = cache
    dx = dout - np.exp(out) * np.sum(dout, axis=1, keepdims=True)
    return dx


def nll_loss_forward(logp, y):
    N = logp.shape[0]
    loss = -np.sum(logp[np.arange(N), y]) / N
    cache = (logp.shape, y)
    return loss, cache


def nll_loss_backward(dloss, cache):
    shape, y = cache
    N = shape[0]
    dlogp = np.zeros(shape)
    dlogp[np.arange(N), y] = -dloss / N
    return dlogp


def nll_loss(logp, y):
    loss, cache = nll_loss_forward(logp, y)
    dlogp = nll_loss_backward(1.0, cache)
    return loss, dlogp
