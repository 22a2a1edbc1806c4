"""Hostile (issue 20, attack 6): ``grads`` is a property that raises RuntimeError("hostile grads property") on
every read and every write; backward is WRONG (sign). Today the error escapes the checker's getattr(layer, "grads",
None) (which only swallows AttributeError): a traceback instead of a failed layer.

A fixed harness: the layer fails, with the reason naming grads and the error, or its wrong backward (exit 1),
never a traceback.
"""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}

    @property
    def grads(self):
        raise RuntimeError("hostile grads property")

    @grads.setter
    def grads(self, value):
        raise RuntimeError("hostile grads property (set)")

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
