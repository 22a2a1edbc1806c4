"""Hostile: monkeypatches NumPy at import (np.abs returns zeros, np.allclose/array_equal always True) hoping the
checker's comparison runs in the same process; its backward is WRONG."""

import numpy as np

np.abs = lambda x, *a, **k: np.zeros_like(x)
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones_like(a, dtype=bool)


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
