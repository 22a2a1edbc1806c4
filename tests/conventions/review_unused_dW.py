"""CORRECT Dense: gradients in self.grads (used by its optimizer); a leftover self.dW from __init__ never used."""
import numpy as np


class Dense:
    def __init__(self, input_dim, output_dim):
        self.W = np.random.randn(input_dim, output_dim) * 0.1
        self.b = np.zeros(output_dim)
        self.dW = np.zeros_like(self.W)   # leftover, unused
        self.db = np.zeros_like(self.b)
        self.grads = {}

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.W.T
