"""Hostile (issue 20, attack 6): ``backward`` is a property that sleeps 30 s before returning the (correct)
method; forward is WRONG (abs). Any read of .backward, even hasattr(layer, "backward"), outlasts --timeout in the
worker; today the checker's WorkerError escapes a hasattr() (which swallows only AttributeError): a traceback.

A fixed harness: the read is the timeout ("no answer after 5 s during reading .backward"), the layer fails,
exit 1, never a traceback; the run ends near --timeout.
"""

import time

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.abs(x)  # wrong

    @property
    def backward(self):
        time.sleep(30)
        return self._backward

    def _backward(self, dy):
        return dy * (self.x > 0)
