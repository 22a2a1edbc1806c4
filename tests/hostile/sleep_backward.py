"""Hostile: backward sleeps for 1e6 seconds after a correct forward."""

import time

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
        time.sleep(1e6)
        return dy * (self.x > 0)
