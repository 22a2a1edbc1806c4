"""Hostile (issue 20, attack 6): the class's metaclass has a ``__signature__`` property that raises
RuntimeError("hostile __signature__"), so inspect.signature(Layer), which the harness uses to ask whether the
constructor takes torch's keyword arguments, raises something other than TypeError/ValueError: today a traceback.
The layer is WRONG (backward sign).

A fixed harness: the layer fails, with the reason (the signature or the constructor cannot be inspected, or the
wrong backward), exit 1, never a traceback.
"""

import numpy as np


class _Meta(type):
    @property
    def __signature__(cls):
        raise RuntimeError("hostile __signature__")


class Layer(metaclass=_Meta):
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
