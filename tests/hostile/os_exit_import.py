"""Hostile: os._exit(0) at import time (module top level): the process that imports this file ends with code 0."""

import os

import numpy as np

os._exit(0)


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return dy * (self.x > 0)
