"""Hostile: forward returns a list that contains itself twice (l = [l, l]): a reply encoder that walks it without
a visited set does 2**depth work."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        loop = []
        loop.extend([loop, loop])
        return loop

    def backward(self, dy):
        return dy * (self.x > 0)
