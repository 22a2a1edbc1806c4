"""CORRECT Dense: W stored (in, out), its gradient dW kept (out, in) (its update does W -= lr * dW.T)."""
import numpy as np


class Dense:
    def __init__(self, input_dim, output_dim):
        self.W = np.random.randn(input_dim, output_dim) * 0.1
        self.b = np.zeros(output_dim)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = dout.T @ self.x          # (out, in)
        self.db = dout.sum(axis=0)
        return dout @ self.W.T

    def step(self, lr):
        self.W -= lr * self.dW.T
        self.b -= lr * self.db
