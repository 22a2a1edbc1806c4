"""Hostile: forward spins forever in pure Python (while True: pass): only a timeout ends it."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        while True:
            pass

    def backward(self, dy):
        return dy * (self.x > 0)
