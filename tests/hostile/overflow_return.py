"""Hostile (issue 20, attack 6): forward returns ``[10**400]``, a list holding a Python int too large for any
float or int64 (backward is a correct ReLU). Today the int travels back as an int and a checker's conversion to an
array overflows (OverflowError: a traceback, not a report).

A fixed harness: whatever a layer returns becomes that layer's failure with its reason ("not an array of
numbers", "too large", "OverflowError ..."), exit 1, never a traceback.
"""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return [10**400]

    def backward(self, dy):
        return dy * (self.x > 0)
