"""CORRECT arrays-convention conv: Convolution(W, b, stride, pad), W as (F, kh, kw, C)."""
import numpy as np
from lenet_math import conv_forward as _f, conv_backward as _b


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        self.x = x
        return _f(x, self.W.transpose(0, 3, 1, 2), self.b, self.stride, self.pad)

    def backward(self, dout):
        dx, dw, self.db = _b(dout, self.x, self.W.transpose(0, 3, 1, 2), self.stride, self.pad)
        self.dW = dw.transpose(0, 2, 3, 1)
        return dx
