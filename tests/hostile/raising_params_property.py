"""Hostile (issue 20, attack 6): ``params`` is a property that raises RuntimeError("hostile params property") on
every read; backward is WRONG (sign). Where the checker reads .params, the error crosses the worker as a remote
RuntimeError and escapes the checker's hasattr()/getattr() calls (they only swallow AttributeError): a traceback.

A fixed harness: the layer fails, with the reason naming params and the error, or its wrong backward (exit 1),
never a traceback.
"""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.grads = {}

    @property
    def params(self):
        raise RuntimeError("hostile params property")

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
