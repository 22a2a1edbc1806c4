"""Hostile: backward calls sys.exit(0) after a correct forward."""

import sys

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
        sys.exit(0)
