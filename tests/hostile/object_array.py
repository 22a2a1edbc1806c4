"""Hostile: forward returns a NumPy array of dtype object (the right numbers, as Python floats) instead of floats."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0).astype(object)

    def backward(self, dy):
        return dy * (self.x > 0)
