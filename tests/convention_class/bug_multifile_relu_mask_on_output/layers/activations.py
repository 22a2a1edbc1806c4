"""BUGGY copy of heidi_multifile (multi-file style). BUG (layer: relu, tensor: grad_input), in
layers/activations.py: ReLU.backward builds its mask from the layer OUTPUT with >= 0,
(self.out >= 0), which is True everywhere, so the gradient also flows where the input
was negative. Forward output is correct. Every other file is identical to heidi_multifile.

layers/activations.py -- ReLU and LogSoftmax for heidi_multifile."""
import numpy as np


class ReLU:
    def forward(self, x):
        self.out = np.maximum(0, x)
        return self.out

    def backward(self, dout):
        mask = self.out >= 0
        return dout * mask


class LogSoftmax:
    """Log-softmax over axis 1 (the class axis)."""

    def forward(self, x):
        shifted = x - np.max(x, axis=1, keepdims=True)
        self.out = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return self.out

    def backward(self, dout):
        softmax = np.exp(self.out)
        return dout - softmax * np.sum(dout, axis=1, keepdims=True)
