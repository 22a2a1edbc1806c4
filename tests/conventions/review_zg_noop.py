"""Dense accumulating gradients; zero_grad resets the wrong thing (BUG: never resets)."""
import numpy as np


class Dense:
    def __init__(self, input_dim, output_dim):
        self.W = np.random.randn(input_dim, output_dim) * 0.1
        self.b = np.zeros(output_dim)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.grads = {}

    def zero_grad(self):
        self.grads = {}   # BUG: the gradients live in dW/db

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW += self.x.T @ dout
        self.db += dout.sum(axis=0)
        return dout @ self.W.T
