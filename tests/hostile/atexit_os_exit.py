"""Hostile: registers atexit os._exit(0) at import (whatever the exit code would be, it becomes 0); backward is WRONG."""

import atexit
import os

import numpy as np

atexit.register(os._exit, 0)


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
