"""Hostile: forward asks NumPy for 800 GB at once (np.ones(10**11)); it must fail on the memory limit, not the machine."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        big = np.ones(10**11)
        return np.maximum(x, 0) + big[:1]

    def backward(self, dy):
        return dy * (self.x > 0)
