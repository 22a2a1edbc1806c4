"""Hostile: forward closes the worker's reply pipe (fd sys.argv[2] of worker_main) and then hangs, alive: the parent
sees end-of-file but the process has not exited."""

import os
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
            os.close(int(sys.argv[2]))
        except (IndexError, ValueError, OSError):
            pass
        while True:
            time.sleep(1)

    def backward(self, dy):
        return dy * (self.x > 0)
