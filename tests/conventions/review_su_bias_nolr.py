"""Self-updating Dense: the bias update forgets the learning rate (BUG)."""
import numpy as np


class FC:
    def __init__(self, n_in, n_out):
        self.weights = np.random.randn(n_out, n_in) * 0.1
        self.bias = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.weights.T + self.bias

    def backward(self, dout, learning_rate=0.01):
        dx = dout @ self.weights
        self.weights -= learning_rate * (dout.T @ self.x)
        self.bias -= dout.sum(axis=0)          # BUG: no learning_rate
        return dx
