"""Hostile: forward returns NaN everywhere (right shape and dtype); backward is correct."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.full_like(x, np.nan)

    def backward(self, dy):
        return dy * (self.x > 0)
