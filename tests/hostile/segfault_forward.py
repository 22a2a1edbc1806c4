"""Hostile: forward segfaults by reading address 0 with ctypes.string_at(0)."""

import ctypes

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        ctypes.string_at(0)
        return np.maximum(x, 0)

    def backward(self, dy):
        return dy * (self.x > 0)
