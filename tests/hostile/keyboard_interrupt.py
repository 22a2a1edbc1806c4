"""Hostile: forward raises KeyboardInterrupt (a BaseException a checker might treat as Ctrl-C and stop on)."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        raise KeyboardInterrupt

    def backward(self, dy):
        return dy * (self.x > 0)
