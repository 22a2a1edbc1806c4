"""Self-updating Dense: weight update uses lr twice (lr * lr) - invisible at lr = 1 (BUG)."""
import numpy as np


class FC:
    def __init__(self, n_in, n_out):
        self.weights = np.random.randn(n_out, n_in) * 0.1
        self.bias = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.weights.T + self.bias

    def backward(self, dout, lr=0.01):
        dW = lr * (dout.T @ self.x)             # scaled here ...
        dx = dout @ self.weights
        self.weights -= lr * dW                 # BUG: ... and again here
        self.bias -= lr * dout.sum(axis=0)
        return dx
