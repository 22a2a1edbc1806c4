"""CORRECT conv storing its kernels (F, kh, kw, C) (channels-last, as TensorFlow's exports)."""
import numpy as np
from lenet_math import conv_forward, conv_backward


class Conv2D:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.W = np.random.randn(out_channels, kernel_size, kernel_size, in_channels) * 0.1
        self.b = np.zeros(out_channels)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        self.x = x
        return conv_forward(x, self.W.transpose(0, 3, 1, 2), self.b, self.stride, self.padding)

    def backward(self, dout):
        dx, dw, self.db = conv_backward(dout, self.x, self.W.transpose(0, 3, 1, 2), self.stride, self.padding)
        self.dW = dw.transpose(0, 2, 3, 1)
        return dx
