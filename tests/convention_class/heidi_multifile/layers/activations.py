"""layers/activations.py -- ReLU and LogSoftmax for heidi_multifile."""
import numpy as np


class ReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(0, x)

    def backward(self, dout):
        dx = dout.copy()
        dx[self.x <= 0] = 0
        return dx


class LogSoftmax:
    """Log-softmax over axis 1 (the class axis)."""

    def forward(self, x):
        shifted = x - np.max(x, axis=1, keepdims=True)
        self.out = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return self.out

    def backward(self, dout):
        softmax = np.exp(self.out)
        return dout - softmax * np.sum(dout, axis=1, keepdims=True)
