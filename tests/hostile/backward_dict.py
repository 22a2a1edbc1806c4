"""Hostile: backward returns a dict (holding the right array) instead of an array."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return {"dx": dy * (self.x > 0)}
