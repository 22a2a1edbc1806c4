"""Layers whose backward(dout, lr) updates their own weights and never exposes a gradient; other names
(Conv, FC, ReLULayer ...), tuple-free, accumulate nothing."""

import numpy as np

from lenet_math import conv_backward, conv_forward, pool_backward, pool_forward


class Conv:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.filters = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * 0.1
        self.biases = np.zeros(out_channels)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        self.x = x
        return conv_forward(x, self.filters, self.biases, self.stride, self.padding)

    def backward(self, dout, lr):
        dx, dw, db = conv_backward(dout, self.x, self.filters, self.stride, self.padding)
        self.filters -= lr * dw
        self.biases -= lr * db
        return dx


class FC:
    def __init__(self, n_in, n_out):
        self.weights = np.random.randn(n_out, n_in) * 0.1  # (out, in), as torch
        self.bias = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.weights.T + self.bias

    def backward(self, dout, learning_rate=0.01):
        dx = dout @ self.weights
        self.weights -= learning_rate * (dout.T @ self.x)
        self.bias -= learning_rate * dout.sum(axis=0)
        return dx


class MaxPoolLayer:
    def __init__(self, size, stride):
        self.size, self.stride = size, stride

    def forward(self, x):
        self.x = x
        return pool_forward(x, self.size, self.stride)

    def backward(self, dout, lr=None):
        return pool_backward(dout, self.x, self.size, self.stride)
