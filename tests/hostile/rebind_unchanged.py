"""Hostile (issue 20, attack 2): an in-place ReLU (forward writes into x: np.maximum(x, 0, out=x)) that, at import,
replaces the worker's in-place detector ``__main__._unchanged`` by ``lambda *a: True``. The worker then reports no
argument as changed, the checker keeps its own unchanged copy of x, and the state mode's "forward changed its
input in place" check passes: the bug is invisible in every mode.

A fixed harness judges in the checker: the worker returns the arguments as they are after the call (plain data),
and the checker compares them with what it sent, so no global of the worker can hide the change: the state mode
fails with "forward changed its input in place".
"""

import sys

import numpy as np

_main = sys.modules.get("__main__")
if _main is not None and hasattr(_main, "_unchanged"):
    _main._unchanged = lambda *args: True


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0, out=x)  # in place: x is the output now (wrong)

    def backward(self, dy):
        return dy * self.mask
