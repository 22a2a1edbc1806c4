"""Hostile: forward writes a forged, unreadable message (not a pickle) straight into the worker's reply pipe
(fd sys.argv[2], in multiprocessing.Connection framing) before its real reply."""

import os
import struct
import sys

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        junk = b"this is not a pickle"
        try:
            os.write(int(sys.argv[2]), struct.pack("!i", len(junk)) + junk)
        except (IndexError, ValueError, OSError):
            pass
        return np.maximum(x, 0)

    def backward(self, dy):
        return dy * (self.x > 0)
