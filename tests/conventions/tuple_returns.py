"""backward returns (dx, dW, db); weights in `weights`/`bias` with a (F, 1) bias; a Linear that accumulates its
gradients until zero_grad(); NHWC-style conv weights (kh, kw, in, out) with NCHW data."""

import numpy as np

from lenet_math import conv_backward, conv_forward


class ConvLayer:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.weights = np.random.randn(kernel_size, kernel_size, in_channels, out_channels) * 0.1  # (kh, kw, in, out)
        self.bias = np.zeros((out_channels, 1))
        self.stride, self.padding = stride, padding

    def _torch_weight(self):
        return self.weights.transpose(3, 2, 0, 1)

    def forward(self, x):
        self.x = x
        return conv_forward(x, self._torch_weight(), self.bias.ravel(), self.stride, self.padding)

    def backward(self, dout):
        dx, dw, db = conv_backward(dout, self.x, self._torch_weight(), self.stride, self.padding)
        return dx, dw.transpose(2, 3, 1, 0), db.reshape(-1, 1)


class LinearLayer:
    def __init__(self, in_features, out_features):
        self.W = np.random.randn(out_features, in_features) * 0.1
        self.b = np.zeros((1, out_features))
        self.zero_grad()

    def zero_grad(self):
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b)

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dout):
        self.grad_W += dout.T @ self.x
        self.grad_b += dout.sum(axis=0, keepdims=True)
        self.dx = dout @ self.W  # dx left in an attribute
        return None
