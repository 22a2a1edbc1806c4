"""The textbook's style ("deep learning from scratch"): weights given to the constructor (Affine(W, b) with W of
shape (in, out), Convolution(W, b, stride=1, pad=0)), Pooling(pool_h, pool_w, stride=2, pad=0), dW/db attributes,
and float64 everywhere whatever the input."""

import numpy as np

from lenet_math import (conv_backward, conv_forward, log_softmax, log_softmax_backward, nll, nll_backward,
                        pool_backward, pool_forward)


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        self.x = np.asarray(x, dtype=np.float64)
        return conv_forward(self.x, self.W.astype(np.float64), self.b, self.stride, self.pad)

    def backward(self, dout):
        dx, self.dW, self.db = conv_backward(dout, self.x, self.W.astype(np.float64), self.stride, self.pad)
        return dx


class Pooling:
    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h, self.stride = pool_h, stride

    def forward(self, x):
        self.x = np.asarray(x, dtype=np.float64)
        return pool_forward(self.x, self.pool_h, self.stride)

    def backward(self, dout):
        return pool_backward(dout, self.x, self.pool_h, self.stride)


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.shape = x.shape
        self.x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.shape)


class Flatten:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class LogSoftmax:
    def forward(self, x):
        self.y = log_softmax(np.asarray(x, dtype=np.float64))
        return self.y

    def backward(self, dout):
        return log_softmax_backward(dout, self.y)


class NLLLoss:
    def forward(self, logp, target):
        self.logp, self.target = logp, target
        return nll(logp, target)

    def backward(self, dout=1):
        return nll_backward(self.logp, self.target) * dout
