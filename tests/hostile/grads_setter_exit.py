"""Hostile: its process exits when the harness sets .grads after a backward (the hybrid and train modes do, on a
layer snapshotted for gradcheck); backward is WRONG."""

import os

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self._grads = {}
        self._armed = False

    @property
    def grads(self):
        return self._grads

    @grads.setter
    def grads(self, value):
        if self._armed:
            os._exit(0)
        self._grads = value

    def forward(self, x):
        self.x = x
        self._armed = True
        return np.maximum(x, 0)

    def backward(self, dy):
        return -dy * (self.x > 0)  # wrong sign
