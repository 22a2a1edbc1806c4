"""The functions convention (CS231n's): forward functions returning (out, cache), backward functions taking
(dout, cache); affine's w is (D, M) and flattens x inside; conv_param and pool_param dicts."""

import lenet_math
from lenet_math import conv_backward, conv_forward, log_softmax, nll, nll_backward, pool_backward, pool_forward


def conv_forward_naive(x, w, b, conv_param):
    out = conv_forward(x, w, b, conv_param["stride"], conv_param["pad"])
    return out, (x, w, conv_param)


def conv_backward_naive(dout, cache):
    x, w, conv_param = cache
    return conv_backward(dout, x, w, conv_param["stride"], conv_param["pad"])


def max_pool_forward_naive(x, pool_param):
    return pool_forward(x, pool_param["pool_height"], pool_param["stride"]), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    return pool_backward(dout, x, pool_param["pool_height"], pool_param["stride"])


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    return dx, x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return x * (x > 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def flatten_forward(x):
    return x.reshape(len(x), -1), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)


def log_softmax_forward(x):
    y = log_softmax(x)
    return y, y


def log_softmax_backward(dout, cache):
    return lenet_math.log_softmax_backward(dout, cache)


def nll_loss(logp, y):
    return nll(logp, y), nll_backward(logp, y)
