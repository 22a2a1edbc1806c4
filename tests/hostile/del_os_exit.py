"""Hostile: __del__ calls os._exit(0), so the process dies whenever a layer object is freed (or at exit);
backward is WRONG."""

import os

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
        return -dy * (self.x > 0)  # wrong sign

    def __del__(self):
        os._exit(0)
