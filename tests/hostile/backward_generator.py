"""Hostile: backward returns a generator instead of an array."""

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
        return (v for v in (dy * (self.x > 0)).ravel())
