"""Hostile: forward calls os._exit(0): the process ends at once with code 0, no exception, no cleanup."""

import os

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        os._exit(0)

    def backward(self, dy):
        return dy * (self.x > 0)
