"""Hostile: forward raises an exception whose __str__ itself raises, so formatting the error in the worker fails."""

import numpy as np


class EvilError(Exception):
    def __str__(self):
        raise RuntimeError("my __str__ refuses")


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        raise EvilError()

    def backward(self, dy):
        return dy * (self.x > 0)
