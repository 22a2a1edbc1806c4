"""BUGGY copy of heidi_multifile (multi-file style). BUG (layer: relu, tensor: grad_input), in
layers/activations.py: ReLU.backward builds its mask from the layer OUTPUT with >= 0,
(self.out >= 0), which is True everywhere, so the gradient also flows where the input
was negative. Forward output is correct. Every other file is identical to heidi_multifile.

layers/dense.py -- FCLayer and Flatten for heidi_multifile.

FCLayer(n_in, n_out): weights (n_in, n_out), biases (n_out,), out = x @ weights + biases;
grads in grad_weights / grad_biases.
"""
import numpy as np


class Flatten:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class FCLayer:
    def __init__(self, n_in, n_out):
        self.weights = np.random.randn(n_in, n_out) * np.sqrt(2.0 / n_in)
        self.biases = np.zeros(n_out)
        self.grad_weights = np.zeros_like(self.weights)
        self.grad_biases = np.zeros_like(self.biases)

    def forward(self, x):
        self.x = x
        return np.dot(x, self.weights) + self.biases

    def backward(self, dout):
        self.grad_weights = np.dot(self.x.T, dout)
        self.grad_biases = np.sum(dout, axis=0)
        return np.dot(dout, self.weights.T)
