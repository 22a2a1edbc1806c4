"""Self-updating Dense: W -= lr * dW * 2 (BUG)."""
import numpy as np


class FC:
    def __init__(self, n_in, n_out):
        self.weights = np.random.randn(n_out, n_in) * 0.1
        self.bias = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.weights.T + self.bias

    def backward(self, dout, lr=0.01):
        dx = dout @ self.weights
        self.weights -= lr * (dout.T @ self.x) * 2
        self.bias -= lr * dout.sum(axis=0)
        return dx
