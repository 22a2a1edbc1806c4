"""Hostile: forward writes a reply header announcing 1 GB into the worker's reply pipe (fd sys.argv[2]), sends
only a few bytes of it and hangs: a parent that waits only for the first byte and then reads blocking never returns."""

import os
import struct
import sys
import time

import numpy as np


class Layer:
    array_kind = "numpy"

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        try:
            os.write(int(sys.argv[2]), struct.pack("!i", 1 << 30) + b"\x80\x05")
        except (IndexError, ValueError, OSError):
            pass
        while True:
            time.sleep(1)

    def backward(self, dy):
        return dy * (self.x > 0)
