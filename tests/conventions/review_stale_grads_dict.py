"""Dense whose optimizer reads self.grads, aliased to dW/db at init; backward rebinds dW/db, so grads stays zero (BUG)."""
import numpy as np


class Dense:
    def __init__(self, input_dim, output_dim):
        self.W = np.random.randn(input_dim, output_dim) * 0.1
        self.b = np.zeros(output_dim)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.params = {"W": self.W, "b": self.b}
        self.grads = {"W": self.dW, "b": self.db}   # what step() uses

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout        # BUG: rebinding, self.grads keeps the zeros
        self.db = dout.sum(axis=0)
        return dout @ self.W.T

    def step(self, lr):
        for k in self.params:
            self.params[k] -= lr * self.grads[k]
