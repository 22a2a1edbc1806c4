"""Hostile: forward prints about 30 MB to stdout and 1 MB to stderr (one huge line among them), then os._exit(3)."""

import os
import sys

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        line = "flood " * 170 + "\n"  # ~1 kB
        for _ in range(30_000):
            sys.stdout.write(line)
        sys.stderr.write("E" * (1 << 20) + "\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(3)

    def backward(self, dy):
        return dy * (self.x > 0)
