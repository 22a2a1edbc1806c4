"""Hostile (issue 20, attack 9): a ReLU that is correct for every batch size but 64 (the README's training batch),
where it lets 1% of the negative inputs through (a leaky slope of 0.01, in forward and in backward). Today no check
uses a batch of 64: it passes every mode, exit 0.

A fixed harness sweeps batch 64 and the README's other batch sizes: the sweep fails with the output mismatched.
"""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        if np.shape(x)[0] == 64:
            return np.where(x > 0, x, 0.01 * x).astype(x.dtype)  # wrong, only for a batch of 64
        return np.maximum(x, 0)

    def backward(self, dy):
        if np.shape(dy)[0] == 64:
            return np.where(self.x > 0, dy, 0.01 * dy).astype(dy.dtype)
        return dy * (self.x > 0)
