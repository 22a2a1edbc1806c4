"""Hostile: forward calls sys.exit(0) (SystemExit, which a naive harness would let end the checker with code 0)."""

import sys

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        sys.exit(0)

    def backward(self, dy):
        return dy * (self.x > 0)
