"""Hostile: forward grows a list of 64 MiB blocks (each written, so really resident) without end: the memory limit must stop it."""

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        hog = []
        while True:
            hog.append(bytearray(64 << 20))  # zero-filled: the pages are touched

    def backward(self, dy):
        return dy * (self.x > 0)
