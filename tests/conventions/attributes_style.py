"""The attributes convention, written as many students write it: other names, W/b attributes, dW/db gradients,
a bias of shape (F, 1), a Dense weight stored (in, out), a textbook ReLU that writes into dout."""

import numpy as np

from lenet_math import (conv_backward, conv_forward, log_softmax, log_softmax_backward, nll, nll_backward,
                        pool_backward, pool_forward)


class Conv2D:
    def __init__(self, in_ch, num_filters, filter_size, stride=1, pad=0):
        self.W = np.random.randn(num_filters, in_ch, filter_size, filter_size) * 0.1
        self.b = np.zeros((num_filters, 1))
        self.stride, self.pad = stride, pad

    def forward(self, x):
        self.x = x
        return conv_forward(x, self.W, self.b.ravel(), self.stride, self.pad)

    def backward(self, dout):
        dx, self.dW, db = conv_backward(dout, self.x, self.W, self.stride, self.pad)
        self.db = db.reshape(-1, 1)
        return dx


class MaxPool:
    def __init__(self, pool_size, stride):
        self.k, self.stride = pool_size, stride

    def forward(self, x):
        self.x = x
        return pool_forward(x, self.k, self.stride)

    def backward(self, dout):
        return pool_backward(dout, self.x, self.k, self.stride)


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # as the textbook does: dx is dout
        return dout


class Dense:
    def __init__(self, input_dim, output_dim):
        self.W = np.random.randn(input_dim, output_dim) * 0.1
        self.b = np.zeros(output_dim)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class FlattenLayer:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class LogSoftmaxLayer:
    def forward(self, x):
        self.y = log_softmax(x)
        return self.y

    def backward(self, dout):
        return log_softmax_backward(dout, self.y)


class NLLLossLayer:
    def forward(self, logp, target):
        self.logp, self.target = logp, target
        return nll(logp, target)

    def backward(self):
        return nll_backward(self.logp, self.target)
